"""The one exception type for problems a user can cause and fix.

The CLI catches :class:`NeuralgaeError` at its boundary and prints its message
as a single line, without a traceback. Library code raises it (or a subclass)
for bad input: unknown names, unreadable files, impossible sizes, bad specs.
"""

from __future__ import annotations

import contextlib
import contextvars
import difflib
import re
from collections.abc import Iterable, Iterator, Mapping

ENGINE_SPELLINGS: dict[str, str] = {
    "resume": "resume=True",
    "overwrite": "overwrite=True",
    "out": "out=FOLDER",
    "frames": "frames",
    "set": "the override",
    "grid": "grid axis",
    "images": "image folder",
    "classes": "class selection",
    "workers": "workers",
    "threads_per_worker": "threads_per_worker",
    "device": "device=",
    "record": "a record folder",
    "size": "size",
    "top": "k",
    "chapter_size": "chapter_size",
    "hooks": "PluginHost.empty",
    "network_list": "PluginHost.network_names()",
    "weights": "weights=",
}
"""How the engine's messages name an option when no front end says otherwise: as the Python keyword that sets it."""

_OPTION = re.compile("\u27e8([a-z_]+)\u27e9")
_spellings: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar("neuralgae_spellings", default=ENGINE_SPELLINGS)


def option(name: str) -> str:
    """A placeholder for option ``name`` in an engine message, spelt by the front end that shows it.

    The engine never names a command-line flag: it writes
    ``f"add {option('resume')} to continue it"``, which reads "add
    resume=True to continue it" to a Python caller and "add --resume to
    continue it" on nd's command line (:func:`spelling`).
    """
    return f"\u27e8{name}\u27e9"


@contextlib.contextmanager
def spelling(spellings: Mapping[str, str]) -> Iterator[None]:
    """Within this context (this thread), messages name options as ``spellings`` says (the CLI: ``--resume``)."""
    token = _spellings.set({**ENGINE_SPELLINGS, **spellings})
    try:
        yield
    finally:
        _spellings.reset(token)


def spell(text: str) -> str:
    """``text`` with its :func:`option` placeholders spelt for the current front end."""
    table = _spellings.get()
    return _OPTION.sub(lambda m: table.get(m.group(1), m.group(1)), text)


class NeuralgaeError(Exception):
    """A problem with the user's input, described in one actionable sentence.

    The message may name options through :func:`option`; ``options`` lists
    them (a structured field for front ends) and ``str()`` spells them for
    the front end showing it.
    """

    def __init__(self, message: str = "", *args):
        super().__init__(message, *args)

    @property
    def template(self) -> str:
        """The message with its option placeholders unspelt."""
        return str(self.args[0]) if self.args else ""

    @property
    def options(self) -> tuple[str, ...]:
        """The options the message names (``("resume", "overwrite")``), in order."""
        return tuple(dict.fromkeys(_OPTION.findall(self.template)))

    def __str__(self) -> str:
        return spell(self.template)


def check_all(checks: Iterable[tuple[bool, str]]) -> None:
    """Raise :class:`NeuralgaeError` with the message of the first ``(ok, message)`` pair that failed."""
    for ok, message in checks:
        if not ok:
            raise NeuralgaeError(message)


def did_you_mean(word: str, choices: Iterable[str], n: int = 3, cutoff: float = 0.6) -> str:
    """Return a ``"; did you mean 'x'?"`` suffix for the closest choices, or ``""``."""
    choices = list(choices)
    close = difflib.get_close_matches(word, choices, n=n, cutoff=cutoff)
    if not close:
        lowered = {c.lower(): c for c in choices}
        close = [lowered[c] for c in difflib.get_close_matches(word.lower(), list(lowered), n=n, cutoff=cutoff)]
    if not close:
        return ""
    if len(close) == 1:
        return f"; did you mean '{close[0]}'?"
    return "; did you mean " + ", ".join(f"'{c}'" for c in close[:-1]) + f" or '{close[-1]}'?"
