"""Many independent runs of one spec at once: the batch itself, tying together plan, cluster and contact sheet.

A batch is a spec plus variations. Each variation is exactly an ``nd run`` of
that spec with a few extra ``--set`` overrides and its own output folder, so
its frames, manifest and resume rule are those of :func:`~neuralgae.core.runs.pipeline.run_spec`.
Variations come from parameter grids, folders of images and class lists
(a class atlas), combined as a cartesian product (:mod:`.batch_plan`).

Batch folder layout::

    NAME/...           one run folder per variation (frames, manifest.jsonl, spec.toml)
    batch.json         the plan and each variation's outcome
    index.html         a contact sheet of every variation's last frame
    thumbs/NAME.jpg    its thumbnails

The runs execute on a Dask cluster: an embedded ``LocalCluster`` of worker
processes, or an existing scheduler. Each worker process keeps one plugin host,
so it loads the network once and reuses it for every run it is given. A run
that fails is reported as (variation, one-line message) and the others go on;
running the same batch again skips every finished variation and resumes
partial ones. The engine never prints: :func:`run_batch` reports through a
``progress(done, total, message)`` callback.

The parts live in their own modules: the plan in :mod:`.batch_plan`, the
Dask cluster and its workers in :mod:`.batch_cluster`, ``batch.json`` and the
contact sheet in :mod:`.contact_sheet`. This module runs a batch with them,
and re-exports their public names, so ``neuralgae.core.runs.batch`` stays the
one place ``nd batch`` and programs import from.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from ..host.components import ProgressCallback, no_progress
from ..host.errors import NeuralgaeError

# the parts of a batch, re-exported: the CLI, bench/ and programs import them from here
from .batch_cluster import (
    Cluster,
    Outcome,
    _run_on_dask,
    available_cores,
    check_variation,
    dask_cluster,
    gpu_workers,
    local_cluster_size,
    local_gpu_cluster,
    run_variation,
    worker_host,
)
from .batch_plan import (
    CLASSES,
    GRID,
    IMAGE_SUFFIXES,
    IMAGES,
    MAX_SLUG,
    OUT,
    Choice,
    Variation,
    absolute_overrides,
    check_axes,
    class_axis,
    grid_axes,
    image_axis,
    image_files,
    load_variation,
    parse_class_selection,
    parse_grid_item,
    plan_variations,
    slugify,
    split_values,
)
from .contact_sheet import (
    BATCH_FILE,
    INDEX_FILE,
    THUMB_SIZE,
    THUMBS,
    _title,
    last_frame,
    thumbnail,
    write_batch_file,
    write_index,
)


# -- the batch ------------------------------------------------------------------------------------


@dataclass
class BatchResult:
    """Every variation's outcome, in plan order, and where the batch wrote its files."""

    folder: Path
    variations: list[Variation]
    outcomes: list[Outcome]
    index: Path | None = None
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "failed"]


def batch_message(counts: dict[str, int], *, elapsed: float, runs_done: int, left: int) -> str:
    """``"3 done, 1 skipped, 1 failed, about 40 s left"`` for the progress bar."""
    parts = [f"{counts.get(s, 0)} {s}" for s in ("done", "skipped", "failed") if counts.get(s, 0)]
    if runs_done and left:
        eta = elapsed / runs_done * left
        parts.append(f"about {eta / 60:.0f} min left" if eta >= 120 else f"about {eta:.0f} s left")
    return ", ".join(parts)


def batch_folder(folder: Path) -> Path:
    """The batch folder, absolute and created; a clear error when it is a file or cannot be written."""
    folder = Path(folder).expanduser().absolute()
    if folder.exists() and not folder.is_dir():
        raise NeuralgaeError(f"batch folder '{folder}' is a file, not a folder; choose another with {OUT}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise NeuralgaeError(f"cannot make the batch folder '{folder}': {exc.strerror or exc}; choose another with {OUT}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise NeuralgaeError(f"cannot write into the batch folder '{folder}'; choose another with {OUT}")
    return folder



def resolve_spec_argument(spec: str, *, host, cwd: Path | None = None) -> str:
    """A spec file as an absolute path (workers may run elsewhere); a built-in spec's name unchanged."""
    from .spec import find_spec, is_spec_name

    path, _, _ = find_spec(spec, host)
    if is_spec_name(spec, host):
        return spec
    return str(((cwd or Path.cwd()) / path).absolute())


def run_batch(
    spec: str,
    variations: Sequence[Variation],
    *,
    folder: Path,
    cluster: Cluster | Callable[[int], AbstractContextManager[Cluster]] | None = None,
    base_overrides: Sequence[str] = (),
    frames: int | None = None,
    overwrite: bool = False,
    host=None,
    progress: ProgressCallback = no_progress,
) -> BatchResult:
    """Run every variation on ``cluster`` (or here, one after another, when None); gather outcomes as they finish.

    ``cluster`` may also be a function of the number of runs to do returning a
    context manager of a :class:`Cluster` (such as :func:`dask_cluster`): it
    is started only when some run is left to do. Variations whose spec does
    not load (a grid value the spec rejects) fail, and finished ones are
    skipped, here, without reaching a worker. Writes ``batch.json`` as
    outcomes arrive and the contact sheet at the end.
    """
    from ..host.plugins import default_host

    host = host or default_host()
    folder = batch_folder(folder)
    names = [v.name for v in variations]
    if len(set(names)) != len(names):
        raise NeuralgaeError("two variations share a folder name; give each a distinct name")
    began = time.monotonic()
    outcomes: dict[str, Outcome] = {}
    counts = {"done": 0, "skipped": 0, "failed": 0}
    runs_done = 0
    todo: list[Variation] = []
    for v in variations:
        outcome = check_variation(spec, v, host=host, base_overrides=base_overrides, frames=frames, overwrite=overwrite)
        if outcome is None:
            todo.append(v)
        else:
            outcomes[v.name] = outcome
            counts[outcome.status] += 1
    total = len(variations)
    write_batch_file(folder, spec=spec, base_overrides=base_overrides, frames=frames, variations=variations, outcomes=outcomes)
    progress(len(outcomes), total, batch_message(counts, elapsed=0, runs_done=0, left=total - len(outcomes)))
    last_write = time.monotonic()

    def record(outcome: Outcome) -> None:
        nonlocal runs_done, last_write
        outcomes[outcome.name] = outcome
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
        runs_done += outcome.status != "skipped"
        left = total - len(outcomes)
        progress(len(outcomes), total, batch_message(counts, elapsed=time.monotonic() - began, runs_done=runs_done, left=left))
        if time.monotonic() - last_write > 5 or not left:
            write_batch_file(folder, spec=spec, base_overrides=base_overrides, frames=frames, variations=variations, outcomes=outcomes)
            last_write = time.monotonic()

    options = dict(base_overrides=list(base_overrides), frames=frames, overwrite=overwrite,
                   device=getattr(host, "device", None), precision=getattr(host, "precision", None))
    if todo and cluster is None:
        for v in todo:
            record(run_variation(spec, v, host=host, **{**options, "device": host.device, "precision": host.precision}))
    elif todo and isinstance(cluster, Cluster):
        _run_on_dask(cluster, spec, todo, options, record)
    elif todo:
        progress(len(outcomes), total, ", ".join(filter(None, [batch_message(counts, elapsed=0, runs_done=0, left=0), "starting the cluster"])))
        with cluster(len(todo)) as started:
            _run_on_dask(started, spec, todo, options, record)
    write_batch_file(folder, spec=spec, base_overrides=base_overrides, frames=frames, variations=variations, outcomes=outcomes)
    ordered = [outcomes[v.name] for v in variations]
    index = write_index(folder, variations, ordered, title=_title(spec))
    return BatchResult(folder, list(variations), ordered, index, round(time.monotonic() - began, 3))
