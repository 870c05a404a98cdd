"""A run folder: its manifest, its resolved spec, its frames, and the rules for resuming and replacing it.

Layout::

    frame_00000.png ...   the frames, written atomically, each carrying its recipe
    manifest.jsonl        one JSON line per frame, appended once the frame is in place
    spec.toml             the resolved spec (defaults filled in, paths absolute)

A run folder may come from elsewhere (shared, downloaded): everything read
from it is untrusted. A manifest entry must name a file inside the folder,
a torn last line is dropped, and nothing nd deletes, overwrites or copies
may lie outside the folder it owns. The pipeline, the stream recorder,
``nd batch`` and ``nd book`` all read and write run folders through this
module.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..host.atomic import PART_SUFFIX, atomic_write_text
from ..host.errors import NeuralgaeError, option
from ..media.images import check_output_folder, save_image
from .spec import Spec, first_difference, read_toml

MANIFEST = "manifest.jsonl"
SPEC_FILE = "spec.toml"
RESUME, OVERWRITE = option("resume"), option("overwrite")  # named as the front end spells them


# -- the record of one frame ---------------------------------------------------------------------


@dataclass
class FrameRecord:
    """One written frame: where it is, the image as written, and what made it.

    ``image`` is the quantised float32 (H, W, 3) image (what the PNG holds).
    ``classes`` are the (class index, weight) pairs passed to the renderer
    (None without a sampler); ``seen`` the top classes of the previous frame
    as the network classified it (None without a sampler or for frame 0).
    """

    index: int
    path: Path
    image: np.ndarray
    renderer: dict
    transforms: list[dict]
    classes: list[tuple[int, float]] | None
    seen: list[tuple[int, float]] | None
    render_seed: int
    seconds: float = 0.0
    sha256: str = ""
    extra: dict = field(default_factory=dict)

    PNG_EXTRAS = ("source_frame", "network", "weights_sha256", "device", "precision",
                  "best_of", "best_of_index", "judge", "judge_score", "judge_scores")
    """The frame's extra facts that its PNG records too (the rest stay in the manifest)."""

    def recipe(self, spec: Spec) -> dict:
        """Everything needed to remake this frame from the previous one: stored in the PNG."""
        return {
            "frame": self.index,
            "seed": spec.seed,
            "render_seed": self.render_seed,
            "renderer": self.renderer,
            "transforms": self.transforms,
            "classes": _pairs(self.classes),
            "spec": spec.to_dict(include_output=False),
            "spec_name": spec.name,
            **{k: v for k, v in self.extra.items() if k in self.PNG_EXTRAS},
        }

    def manifest_entry(self) -> dict:
        return {
            "index": self.index,
            "file": self.path.name,
            "sha256": self.sha256,
            "render_seed": self.render_seed,
            "renderer": self.renderer,
            "transforms": self.transforms,
            "classes": _pairs(self.classes),
            "class_names": _class_names(self.classes),
            "seen": _pairs(self.seen),
            "seconds": round(self.seconds, 3),
            **self.extra,
        }


def _pairs(classes) -> list[list] | None:
    return None if classes is None else [[int(i), float(w)] for i, w in classes]


def _class_names(classes) -> list[str] | None:
    if classes is None:
        return None
    from ..nets.classes import NUM_CLASSES, imagenet_classes

    table = imagenet_classes()
    return [table[int(i)].name if 0 <= int(i) < NUM_CLASSES else str(i) for i, _ in classes]


# -- the output folder -------------------------------------------------------------


def read_manifest(folder: Path) -> list[dict]:
    """The complete entries of a manifest: contiguous from frame 0, each with its file present.

    A torn last line (a kill while writing it) and entries after a gap are dropped.
    """
    return [entry for entry, _ in _complete_lines(folder)]


def _complete_lines(folder: Path) -> list[tuple[dict, str]]:
    """The manifest's complete (entry, line) pairs, contiguous from frame 0.

    A line that is not UTF-8 JSON, not an object, out of order or whose file is
    missing ends the list (a torn write); an entry whose file lies outside
    ``folder`` raises, since the manifest is untrusted input.
    """
    path = folder / MANIFEST
    if not path.is_file():
        return []
    out: list[tuple[dict, str]] = []
    with path.open("rb") as fh:
        for raw in fh:
            try:
                line = raw.decode("utf-8")
                entry = json.loads(line)
            except (UnicodeDecodeError, json.JSONDecodeError):
                break
            if not line.endswith("\n") or not isinstance(entry, dict) or entry.get("index") != len(out):
                break
            name = entry.get("file")
            if not isinstance(name, str) or not name:
                break
            inside(folder, name, f"{MANIFEST} entry {len(out)} (file {name!r})")
            if not (folder / name).is_file():
                break
            out.append((entry, line))
    return out


def _lies_inside(folder: Path, path: Path) -> bool:
    """Whether ``path`` (symlinks followed) lies inside ``folder``."""
    try:
        inside(folder, path, "path")
    except NeuralgaeError:
        return False
    return True


def inside(folder: Path, name: str | Path, what: str) -> Path:
    """``folder / name``, checked to lie inside ``folder`` once symlinks are followed; else a clear error.

    A run folder may come from elsewhere (shared, downloaded), so a path it
    names is never trusted to stay in it: nothing ``nd`` deletes, overwrites
    or copies may lie outside the folder it owns.
    """
    folder = Path(folder)
    path = folder / name
    root = folder.resolve()
    try:
        target = path.resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop
        raise NeuralgaeError(f"{what} in '{folder}' cannot be followed ({exc}); remove it from the folder") from None
    if target != root and root not in target.parents:
        raise NeuralgaeError(
            f"{what} in '{folder}' points outside the folder (to '{target}'); "
            "nd only touches files inside a run folder: remove that entry or choose another folder"
        )
    return path


def write_manifest(folder: Path, entries: list[dict]) -> None:
    """Replace the run's manifest with ``entries`` in one atomic write."""
    text = "".join(json.dumps(e, default=str) + "\n" for e in entries)
    atomic_write_text(folder / MANIFEST, text)


def append_manifest(folder: Path, entry: dict) -> None:
    """Add one frame's entry to the manifest, on disk before the call returns (a torn line is dropped on resume)."""
    with (folder / MANIFEST).open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, default=str) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def _frame_glob(pattern: str) -> str:
    start = pattern.index("{")
    end = pattern.index("}", start)
    return pattern[:start] + "*" + pattern[end + 1 :]


def _fingerprint_of(data: dict) -> dict:
    d = {k: v for k, v in data.items() if k not in ("frames", "description", "output")}
    d.setdefault("transforms", [])  # TOML writes no key for an empty array of tables
    d["frame_pattern"] = data.get("output", {}).get("frame_pattern")
    return d


def _clear_run(folder: Path, spec: Spec) -> None:
    """Remove what a run writes (frames, manifest, spec, animations, torn temporaries); leave other files.

    Every path is checked to lie inside ``folder`` before the first is
    deleted, so a crafted manifest or a symlink cannot make it remove a file elsewhere.
    """
    doomed: set[Path] = {folder / e["file"] for e in read_manifest(folder)}  # read_manifest checks each entry
    doomed.update(folder.glob(_frame_glob(spec.output.frame_pattern)))
    doomed.update(folder.glob(f".*{PART_SUFFIX}"))
    for name in (MANIFEST, SPEC_FILE):
        doomed.add(folder / name)
    for kind in ("gif", "mp4"):
        p = spec.output.animation_path(kind, spec.name)
        if p is not None and (p.is_symlink() or _lies_inside(folder, p)):  # one the spec puts elsewhere is replaced at the end
            doomed.add(p)
    for p in doomed:
        if p.is_symlink() or p.is_file():  # removing a link never touches its target
            p.unlink()


def prepare_output(spec: Spec, *, resume: bool = False, overwrite: bool = False) -> list[dict]:
    """Check the output folder before any work; return the manifest entries to continue from.

    A fresh run needs an empty (or missing) folder unless ``overwrite``;
    ``resume`` continues a run of the same spec (or starts one in an empty folder).
    """
    folder = spec.output.dir
    check_output_folder(folder)
    has_run = (folder / MANIFEST).exists() or (folder / SPEC_FILE).exists()
    busy = folder.is_dir() and any(folder.iterdir())
    if resume and overwrite:
        raise NeuralgaeError(f"{RESUME} and {OVERWRITE} contradict each other; use one of them")
    if resume:
        if has_run:
            inside(folder, MANIFEST, MANIFEST)  # appended to: a link elsewhere would write there
            return _resumable_entries(spec, folder)
        if busy:
            raise NeuralgaeError(
                f"cannot resume: output folder '{folder}' holds no run (no {MANIFEST}); "
                f"choose another with {option('out')}, or start again with {OVERWRITE}"
            )
        return []
    if busy and not overwrite:
        if has_run:
            raise NeuralgaeError(
                f"output folder '{folder}' already holds a run; add {RESUME} to continue it "
                f"or {OVERWRITE} to start again"
            )
        raise NeuralgaeError(f"output folder '{folder}' is not empty; choose another with {option('out')} or add {OVERWRITE}")
    if busy:
        _clear_run(folder, spec)
    return []


def _resumable_entries(spec: Spec, folder: Path) -> list[dict]:
    saved_path = folder / SPEC_FILE
    if not saved_path.exists():
        raise NeuralgaeError(f"cannot resume: '{saved_path}' is missing; start again with {OVERWRITE}")
    saved = read_toml(saved_path, origin=str(saved_path))
    diff = first_difference(_fingerprint_of(saved), _fingerprint_of(spec.to_dict()))
    if diff is not None:
        key, old, new = diff
        raise NeuralgaeError(
            f"cannot resume '{folder}': the spec changed at {key} (was {old!r}, now {new!r}); "
            f"restore it, or start again with {OVERWRITE}"
        )
    complete = _complete_lines(folder)
    text = "".join(line for _, line in complete)
    if (folder / MANIFEST).read_bytes() != text.encode("utf-8"):  # torn or orphaned lines: keep the complete prefix
        atomic_write_text(folder / MANIFEST, text)
    return [entry for entry, _ in complete]


def write_frame(folder: Path, record: FrameRecord, pixels: np.ndarray, recipe: dict, *, started: float | None = None) -> dict:
    """Write one frame of a run: its PNG atomically (carrying ``recipe``), then its manifest line; return the entry.

    The PNG is in place before its line is appended, so a kill in between
    leaves at most a frame the manifest does not name, which a resumed run
    writes again. ``started`` (a ``time.monotonic()``) sets ``record.seconds``.
    """
    save_image(record.path, pixels, json.loads(json.dumps(recipe, default=str)))
    record.sha256 = hashlib.sha256(record.path.read_bytes()).hexdigest()
    if started is not None:
        record.seconds = time.monotonic() - started
    entry = record.manifest_entry()
    append_manifest(folder, entry)
    return entry


def frame_paths(folder: Path) -> Sequence[Path]:
    """The frames of a finished or interrupted run, in order, from its manifest."""
    return [folder / e["file"] for e in read_manifest(Path(folder))]
