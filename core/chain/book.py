"""The chain's written record: ``classes.txt`` and the illustrated HTML book.

``classes.txt`` keeps the 2015 format, one line per frame::

    frame_00000.png: Gordon setter, minibus, sidewinder, ...

The book is a self-contained folder (``index.html``, one page per chapter,
``images/`` with copies of the frames) that opens from disk in any browser:
one section per frame with its image, its classes and a passage of text.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..host.errors import NeuralgaeError, option
from ..host.atomic import atomic_write_text
from ..media.html_page import escape, page, write_page
from ..media.images import probe_image

CLASSES_FILE = "classes.txt"
DEFAULT_CHAPTER_SIZE = 25
"""Frames per chapter page of a book."""


@dataclass(frozen=True)
class BookFrame:
    """One frame of a run as the book needs it: its index, image file and class names."""

    index: int
    path: Path
    classes: tuple[str, ...]


# -- classes.txt -------------------------------------------------------------------


def classes_line(path: str, names: Sequence[str]) -> str:
    """``"frame_00000.png: tench, goldfish"`` (no newline)."""
    return f"{path}: {', '.join(names)}"


def parse_classes_line(line: str) -> tuple[str, list[str]]:
    """The inverse of :func:`classes_line`: (path, class names)."""
    path, sep, rest = line.rstrip("\n").partition(": ")
    if not sep:
        raise NeuralgaeError(f"classes.txt line {line.strip()!r} has no ': '; each line must read 'PATH: class, class, ...'")
    return path, [n.strip() for n in rest.split(",") if n.strip()]


def write_classes_txt(folder: Path, entries: Sequence[dict]) -> Path:
    """Write ``classes.txt`` for the manifest ``entries`` of a run (frames without classes are left out)."""
    folder = Path(folder)
    lines = [classes_line(e["file"], e["class_names"]) + "\n" for e in entries if e.get("class_names") is not None]
    text = "".join(lines)
    target = folder / CLASSES_FILE
    try:
        atomic_write_text(target, text)
    except OSError as exc:
        raise NeuralgaeError(f"cannot write '{target}': {exc.strerror or exc}; is the run folder writable?") from None
    return target


def read_classes_txt(path: Path) -> list[tuple[str, list[str]]]:
    """Every (path, class names) line of a ``classes.txt``."""
    text = Path(path).read_text(encoding="utf-8")
    return [parse_classes_line(line) for line in text.splitlines() if line.strip()]


def book_frames(run_dir: Path) -> list[BookFrame]:
    """The frames of a finished or partial run, from its manifest, for a book.

    Raises when the folder holds no run or its frames have no classes (a run without a sampler).
    """
    from ..runs.runfolder import MANIFEST, read_manifest

    run_dir = Path(run_dir)
    if not (run_dir / MANIFEST).is_file():
        raise NeuralgaeError(f"'{run_dir}' holds no run (no {MANIFEST}); give the output folder of `nd run`")
    entries = read_manifest(run_dir)
    if not entries and b"\n" in (run_dir / MANIFEST).read_bytes():
        raise NeuralgaeError(
            f"the {MANIFEST} in '{run_dir}' is damaged: its first line is not a frame entry "
            "(a JSON object with index 0 and the file of an existing frame)"
        )
    if not entries:
        raise NeuralgaeError(f"the run in '{run_dir}' has no complete frame yet; wait for its first frame")
    if any(e.get("class_names") is None for e in entries):
        raise NeuralgaeError(
            f"the frames in '{run_dir}' have no classes (the spec has no [sampler]); a book needs a chain such as `nd run neuralgae`"
        )
    for e in entries:
        names = e["class_names"]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise NeuralgaeError(
                f"{MANIFEST} entry {e['index']} in '{run_dir}': class_names must be a list of names, not {names!r}; "
                "the manifest is damaged, run the chain again"
            )
    frames = [BookFrame(int(e["index"]), run_dir / e["file"], tuple(e["class_names"])) for e in entries]
    for frame in frames:  # a file posing as a frame is refused before anything is written
        _frame_suffix(frame)
    return frames


_SUFFIXES = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp", "TIFF": ".tif", "BMP": ".bmp", "GIF": ".gif"}


def image_suffix(path: Path, what: str) -> str:
    """The suffix of the image format ``path`` decodes as; an error when it is no image.

    A book publishes its frames, so a file posing as one (text, HTML with a
    ``.png`` name) is refused rather than copied, and the copy is named by
    what the file is, not by what the manifest calls it.
    """
    from PIL import Image

    fmt, _ = probe_image(path, what)
    try:
        with Image.open(path) as im:
            im.verify()
    except (OSError, ValueError, SyntaxError) as exc:
        raise NeuralgaeError(f"{what} '{path}' is not an image ({exc}); the run folder is damaged") from None
    if fmt not in _SUFFIXES:
        raise NeuralgaeError(f"{what} '{path}' is a {fmt} image; a book's frames must be PNG, JPEG, WebP, TIFF, BMP or GIF")
    return _SUFFIXES[fmt]


# -- the HTML book -------------------------------------------------------------------

_STYLE = """
body { margin: 0; background: #10161a; color: #e6e1d6; font: 17px/1.6 Georgia, 'Times New Roman', serif; }
main { max-width: 60rem; margin: 0 auto; padding: 2rem 1.5rem 4rem; }
h1, h2 { font-weight: normal; letter-spacing: 0.04em; }
h1 { font-size: 2.4rem; margin-bottom: 0.2rem; }
a { color: #8fd3c7; }
nav { display: flex; justify-content: space-between; gap: 1rem; margin: 1.5rem 0; font-size: 0.95rem; }
section.frame { display: grid; grid-template-columns: minmax(12rem, 24rem) 1fr; gap: 1.5rem;
  align-items: start; margin: 2.5rem 0; padding-top: 2rem; border-top: 1px solid #2a3740; }
section.frame img { width: 100%; image-rendering: auto; border-radius: 2px; box-shadow: 0 0 2rem #000a; }
.classes { font: 0.8rem/1.4 'Helvetica Neue', Arial, sans-serif; color: #98a8a8; margin: 0 0 0.8rem; }
.number { font: 0.8rem 'Helvetica Neue', Arial, sans-serif; color: #5f7373; }
.passage { white-space: pre-line; margin: 0; }
ol.chapters { line-height: 2; }
@media (max-width: 40rem) { section.frame { grid-template-columns: 1fr; } }
"""


def _page(title: str, body: str) -> str:
    return page(title, body, style=_STYLE)


def chapter_file(number: int) -> str:
    """The page name of chapter ``number`` (from 1)."""
    return f"chapter_{number:03d}.html"


def _nav(number: int, count: int) -> str:
    prev = f'<a rel="prev" href="{chapter_file(number - 1)}">&larr; chapter {number - 1}</a>' if number > 1 else "<span></span>"
    nxt = f'<a rel="next" href="{chapter_file(number + 1)}">chapter {number + 1} &rarr;</a>' if number < count else "<span></span>"
    return f'<nav>{prev}<a href="index.html">contents</a>{nxt}</nav>'


def _section(frame: BookFrame, image: str, passage: str) -> str:
    names = escape(", ".join(frame.classes))
    alt = escape(f"frame {frame.index}: {', '.join(frame.classes)}")
    return (
        f'<section class="frame" id="frame-{frame.index}">\n'
        f'<img src="{escape(image)}" alt="{alt}" loading="eager">\n'
        f'<div><p class="number">{frame.index}</p><p class="classes">{names}</p>\n'
        f'<p class="passage">{escape(passage)}</p></div>\n</section>'
    )


def build_book(
    frames: Sequence[BookFrame],
    passages: Sequence[str],
    out_dir: Path,
    *,
    title: str = "Neuralgae",
    chapter_size: int = DEFAULT_CHAPTER_SIZE,
) -> Path:
    """Write the book into ``out_dir`` (created; earlier book files replaced); return its ``index.html``.

    ``passages[i]`` is the text of ``frames[i]``. Chapters hold ``chapter_size``
    frames each and link to their neighbours and to the contents page.
    """
    if len(passages) != len(frames):
        raise NeuralgaeError(f"the text generator wrote {len(passages)} passages for {len(frames)} frames; it must write one per frame")
    if chapter_size < 1:
        raise NeuralgaeError(f"{option('chapter_size')} must be at least 1; got {chapter_size}")
    if not frames:
        raise NeuralgaeError("a book needs at least one frame")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise NeuralgaeError(f"book folder '{out_dir}' is a file, not a folder; choose another with {option('out')}")
    try:
        return _write_book(frames, passages, out_dir, title=title, chapter_size=chapter_size)
    except OSError as exc:
        raise NeuralgaeError(f"cannot write the book into '{out_dir}': {exc.strerror or exc}; choose another folder with {option('out')}") from None


def _frame_suffix(frame: BookFrame) -> str:
    if not frame.path.is_file():
        raise NeuralgaeError(f"frame image '{frame.path}' is missing; the run folder is incomplete")
    return image_suffix(frame.path, f"frame {frame.index}")


def _write_book(frames: Sequence[BookFrame], passages: Sequence[str], out_dir: Path, *, title: str, chapter_size: int) -> Path:
    """The writing half of :func:`build_book`, its arguments checked."""
    from ..runs.runfolder import inside

    copies = [f"{frame.index:05d}{_frame_suffix(frame)}" for frame in frames]  # every frame checked before any is copied
    images = inside(out_dir, "images", "the images folder")  # a link there would write elsewhere
    images.mkdir(parents=True, exist_ok=True)
    chapters = [list(range(i, min(i + chapter_size, len(frames)))) for i in range(0, len(frames), chapter_size)]
    contents = []
    for number, members in enumerate(chapters, start=1):
        sections = []
        for k in members:
            frame = frames[k]
            name = copies[k]
            shutil.copyfile(frame.path, images / name)
            sections.append(_section(frame, f"images/{name}", str(passages[k])))
        first, last = frames[members[0]].index, frames[members[-1]].index
        heading = f"<h2>Chapter {number}</h2>\n<p class=\"number\">frames {first}&ndash;{last}</p>"
        nav = _nav(number, len(chapters))
        body = f"{nav}\n{heading}\n" + "\n".join(sections) + f"\n{nav}"
        write_page(out_dir / chapter_file(number), _page(f"{title}: chapter {number}", body))
        contents.append(f'<li><a href="{chapter_file(number)}">Chapter {number}</a> <span class="number">frames {first}&ndash;{last}</span></li>')
    index_body = (
        f"<h1>{escape(title)}</h1>\n<p class=\"classes\">{len(frames)} frames in {len(chapters)} "
        f"chapter{'s' if len(chapters) != 1 else ''}</p>\n<ol class=\"chapters\">\n" + "\n".join(contents) + "\n</ol>"
    )
    index = out_dir / "index.html"
    write_page(index, _page(title, index_body))
    return index
