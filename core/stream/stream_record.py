"""Recording a live stream as a run folder: the frames and a manifest, as `nd run` writes them.

Each computed frame becomes ``frame_00000.png`` (atomic, carrying its
recipe) and one line of ``manifest.jsonl`` with its subjects as the frame's
classes, so ``nd gif DIR`` turns a session into an animation and
:func:`neuralgae.core.runs.runfolder.read_manifest` reads it. Recording into a
folder that already holds a stream recording continues it, from its last frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..host.errors import NeuralgaeError, option
from ..media.images import as_rgb_float, load_image, to_uint8
from ..runs.runfolder import MANIFEST, FrameRecord, read_manifest, write_frame, write_manifest
from ..runs.spec import DEFAULT_FRAME_PATTERN

RENDERER_NAME = "stream"


class StreamRecorder:
    """Writes computed frames of a stream into ``folder``, numbering on from any earlier recording."""

    def __init__(self, folder: str | Path, *, settings: dict, seed: int, placement: dict | None = None):
        self.folder = Path(folder)
        self.settings = dict(settings)
        self.seed = int(seed)
        self.placement = dict(placement or {})  # {"device": ..., "precision": ...} of the stream's network
        self.entries = check_record_folder(self.folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        write_manifest(self.folder, self.entries)  # drops a torn last line of an interrupted recording

    @property
    def count(self) -> int:
        return len(self.entries)

    def last_image(self) -> np.ndarray | None:
        """The last recorded frame, to continue the stream from, or None for a new recording."""
        return load_image(self.folder / self.entries[-1]["file"]) if self.entries else None

    def write(self, image: np.ndarray, *, subjects: Sequence[int], seconds: float = 0.0) -> Path:
        """Save one computed frame with its subjects; returns its path."""
        index = len(self.entries)
        pixels = to_uint8(image)
        renderer = {"name": RENDERER_NAME, **self.settings}
        transforms = [{"name": "zoom", "zoom": self.settings.get("zoom"), "rotate": self.settings.get("rotate")}] if index else []
        record = FrameRecord(
            index=index,
            path=self.folder / DEFAULT_FRAME_PATTERN.format(index=index),
            image=as_rgb_float(pixels),
            renderer=renderer,
            transforms=transforms,
            classes=[(int(i), 1.0) for i in subjects],
            seen=None,
            render_seed=self.seed,
            seconds=seconds,
            extra=dict(self.placement),
        )
        recipe = {"frame": index, "seed": self.seed, "renderer": renderer, "transforms": transforms,
                  "classes": [[int(i), 1.0] for i in subjects], "command": "serve", **self.placement}
        entry = write_frame(self.folder, record, pixels, recipe)
        self.entries.append(entry)
        return record.path


def check_record_folder(folder: Path) -> list[dict]:
    """The entries of an earlier stream recording in ``folder`` (empty for a new one), or a clear error."""
    if folder.exists() and not folder.is_dir():
        raise NeuralgaeError(f"cannot record into '{folder}': it is a file; give a folder with {option('record')}")
    if not folder.is_dir() or not any(folder.iterdir()):
        return []
    if not (folder / MANIFEST).exists():
        raise NeuralgaeError(f"cannot record into '{folder}': it holds other files; give an empty or new folder with {option('record')}")
    entries = read_manifest(folder)
    if entries and entries[0].get("renderer", {}).get("name") != RENDERER_NAME:
        raise NeuralgaeError(
            f"cannot record into '{folder}': it holds an `nd run` run, not a stream recording; give another folder with {option('record')}"
        )
    return entries


__all__ = ["StreamRecorder", "check_record_folder"]
