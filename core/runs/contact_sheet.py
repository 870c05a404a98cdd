"""A batch's record: ``batch.json`` (the plan and every outcome) and ``index.html``, its contact sheet.

The contact sheet shows each variation's last frame as a thumbnail, labelled,
failures with their error. Run folders are read as untrusted input. The page
scaffolding is :mod:`neuralgae.core.media.html_page`, shared with the book.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from ..host.errors import NeuralgaeError
from ..media.html_page import escape, figure, page, write_page
from .batch_cluster import Outcome
from .batch_plan import Variation

BATCH_FILE = "batch.json"
INDEX_FILE = "index.html"
THUMBS = "thumbs"
THUMB_SIZE = 224


def _write_text(path: Path, text: str) -> Path:
    """``text`` into ``path`` atomically; an OSError (a full or read-only disk) as one clear line."""
    return write_page(path, text, hint="is the batch folder writable?")


def write_batch_file(folder: Path, *, spec: str, base_overrides: Sequence[str], frames: int | None,
                     variations: Sequence[Variation], outcomes: dict[str, Outcome]) -> Path:
    """``batch.json``: the plan (spec, overrides, every variation) and each variation's outcome so far."""
    data = {
        "spec": spec,
        "set": list(base_overrides),
        "frames": frames,
        "variations": [
            {
                "name": v.name,
                "label": v.label,
                "overrides": list(v.overrides),
                "class_index": v.class_index,
                "class_name": v.class_name,
                **({k: x for k, x in asdict(outcomes[v.name]).items() if k != "name"} if v.name in outcomes else {"status": "pending"}),
            }
            for v in variations
        ],
    }
    text = json.dumps(data, indent=1) + "\n"
    return _write_text(Path(folder) / BATCH_FILE, text)


def _title(spec: str) -> str:
    """The contact sheet's title: a spec file's stem, a built-in spec's name."""
    return Path(spec).stem if spec.endswith(".toml") else spec


# -- the contact sheet ------------------------------------------------------------------------------


def thumbnail(source: Path, target: Path, *, size: int = THUMB_SIZE) -> Path:
    """A JPEG of ``source`` whose longer side is ``size`` px; kept when newer than the source."""
    from ..media.images import load_image, resize, save_image

    if target.is_file() and target.stat().st_mtime >= source.stat().st_mtime:
        return target
    image = load_image(source)
    h, w = image.shape[:2]
    scale = min(1.0, size / max(h, w))
    small = resize(image, max(1, round(h * scale)), max(1, round(w * scale)))
    return save_image(target, small.clip(0, 1))


def last_frame(run_dir: Path) -> Path | None:
    """The last complete frame of the run in ``run_dir``, or None."""
    from .runfolder import read_manifest

    entries = read_manifest(Path(run_dir))
    return Path(run_dir) / entries[-1]["file"] if entries else None


_STYLE = """
body { margin: 0; background: #121416; color: #e4e0d8; font: 15px/1.45 'Helvetica Neue', Arial, sans-serif; }
header { padding: 1.6rem 2rem 0.6rem; }
h1 { font: normal 2rem Georgia, 'Times New Roman', serif; letter-spacing: 0.03em; margin: 0 0 0.3rem; }
.summary { color: #8c9699; margin: 0; }
.summary .failed { color: #e08a7a; }
main { display: grid; grid-template-columns: repeat(auto-fill, minmax(168px, 1fr)); gap: 1.1rem 0.9rem; padding: 1.2rem 2rem 3rem; }
figure { margin: 0; }
figure > a { display: block; aspect-ratio: 1; background: #1c2024; border-radius: 3px; overflow: hidden; }
figure img { width: 100%; height: 100%; object-fit: contain; display: block; transition: transform 0.25s; }
figure > a:hover img { transform: scale(1.04); }
figcaption { margin-top: 0.35rem; font-size: 0.86rem; line-height: 1.3; overflow-wrap: anywhere; }
figcaption .detail { display: block; color: #8c9699; font-size: 0.78rem; }
figure .missing strong { display: block; text-transform: uppercase; letter-spacing: 0.08em; margin-bottom: 0.3rem; }
figcaption a.movie { font-size: 0.75rem; color: #8fd3c7; margin-left: 0.3rem; }
figcaption .index { font: 0.75rem ui-monospace, 'DejaVu Sans Mono', monospace; color: #7c8a8d; margin-right: 0.35rem; }
figure.failed .missing { aspect-ratio: 1; border: 1px dashed #6b3b33; border-radius: 3px; padding: 0.7rem;
  box-sizing: border-box; font-size: 0.75rem; color: #e08a7a; overflow: auto; }
figure.pending .missing { aspect-ratio: 1; border: 1px dashed #3a4246; border-radius: 3px; }
"""


def _card_frame(variation: Variation, folder: Path) -> tuple[Path, Path] | None:
    """The last frame of a variation's run and its thumbnail (made now), or None; an error when either is unsafe or no image.

    The run folder is read as untrusted input: its manifest may not point
    outside it, and the thumbnails are written only inside the batch folder.
    """
    from .runfolder import inside

    if not variation.out.is_dir():
        return None
    frame = last_frame(variation.out)
    if frame is None:
        return None
    thumbs = inside(folder, THUMBS, "the thumbnails folder")
    try:
        return frame, thumbnail(frame, thumbs / f"{variation.name}.jpg")
    except OSError as exc:
        raise NeuralgaeError(f"cannot make the thumbnail of '{frame}': {exc.strerror or exc}") from None


def _card(variation: Variation, outcome: Outcome | None, folder: Path) -> str:
    if variation.class_index is not None:
        caption = f'<span class="index">{variation.class_index}</span>{escape(variation.class_name)}'
        if variation.label:
            caption += f'<span class="detail">{escape(variation.label)}</span>'
    else:
        caption = escape(variation.label or variation.name)
    status = outcome.status if outcome else "pending"
    try:
        frame = _card_frame(variation, folder) if status != "failed" else None
    except NeuralgaeError as exc:  # a damaged run folder spoils its card, not the sheet
        frame, outcome, status = None, Outcome(variation.name, "failed", str(exc)), "failed"
    if frame is not None:
        frame, thumb = frame
        href = escape(os.path.relpath(frame, folder))
        src = escape(os.path.relpath(thumb, folder))
        alt = escape(variation.description)
        for movie in sorted(variation.out.glob("*.gif")) + sorted(variation.out.glob("*.mp4")):
            caption += f' <a class="movie" href="{escape(os.path.relpath(movie, folder))}">{movie.suffix[1:]}</a>'
        return figure(f'<a href="{href}"><img src="{src}" alt="{alt}" loading="lazy"></a>', caption, id=variation.name)
    if outcome and outcome.message:
        note = f"<strong>failed</strong> {escape(outcome.message)}"
    elif status in ("done", "skipped"):  # a worker wrote it somewhere this machine cannot see
        note = f"finished on {escape(outcome.worker or 'a worker')}, but its frames are not visible here: is the batch folder on storage every worker shares?"
    else:
        note = "not run yet"
    return figure(f'<div class="missing">{note}</div>', caption, id=variation.name, css_class=status)


def write_index(folder: Path, variations: Sequence[Variation], outcomes: Sequence[Outcome | None], *, title: str) -> Path:
    """Write ``index.html``: a contact sheet of each variation's last frame, labelled, failures with their error."""
    folder = Path(folder)
    cards = [_card(v, o, folder) for v, o in zip(variations, outcomes)]
    failed = sum(1 for o in outcomes if o is not None and o.status == "failed")
    summary = f"{len(variations)} variation{'s' if len(variations) != 1 else ''}"
    if failed:
        summary += f', <span class="failed">{failed} failed</span>'
    header = f'<header><h1>{escape(title)}</h1><p class="summary">{summary}</p></header>'
    return _write_text(folder / INDEX_FILE, page(f"{title}: batch", "\n".join(cards), style=_STYLE, header=header))
