"""The scaffolding of the self-contained HTML pages neuralgae writes: a batch's contact sheet and the book.

One page head (charset, viewport, title, inline style), escaping, a figure
with its caption, and writing the page atomically, so that the contact sheet
(:mod:`neuralgae.core.runs.contact_sheet`) and the book
(:mod:`neuralgae.core.chain.book`) differ only in their style and body.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from ..host.atomic import atomic_write_text
from ..host.errors import NeuralgaeError

__all__ = ["escape", "figure", "page", "write_page"]


def page(title: str, body: str, *, style: str, header: str = "") -> str:
    """A whole HTML document: ``title`` (escaped here), ``style`` inline, ``header`` then ``body`` in ``<main>``."""
    top = f"{header}\n" if header else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{escape(title)}</title>\n<style>{style}</style>\n</head>\n<body>\n"
        f"{top}<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def figure(content: str, caption: str, *, id: str, css_class: str | None = None) -> str:
    """One ``<figure>`` of a grid: ``content`` and ``caption`` are HTML already; ``id`` and ``css_class`` are escaped."""
    cls = f' class="{escape(css_class)}"' if css_class else ""
    return f'<figure{cls} id="{escape(id)}">{content}<figcaption>{caption}</figcaption></figure>'


def write_page(path: Path, text: str, *, hint: str | None = None) -> Path:
    """``text`` into ``path`` atomically; with ``hint``, an OSError (a full or read-only disk) becomes one clear line ending in it."""
    try:
        return atomic_write_text(path, text)
    except OSError as exc:
        if hint is None:
            raise
        raise NeuralgaeError(f"cannot write '{path}': {exc.strerror or exc}; {hint}") from None
