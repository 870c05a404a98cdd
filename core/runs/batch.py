"""Many independent runs of one spec at once: planning, running on Dask, and the contact sheet.

A batch is a spec plus variations. Each variation is exactly an ``nd run`` of
that spec with a few extra ``--set`` overrides and its own output folder, so
its frames, manifest and resume rule are those of :func:`~neuralgae.core.runs.pipeline.run_spec`.
Variations come from three kinds of *axes*, combined as a cartesian product:

- a parameter grid, ``KEY.PATH=V1,V2,...`` (each value written as for ``--set``);
- a folder of images, one ``source.image`` per file;
- a class list (``all``, ``"goldfish, 9, 100-115"`` or a file), one
  ``renderer.classes`` per class: a class atlas.

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
"""

from __future__ import annotations

import html
import itertools
import json
import math
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from ..host.components import ProgressCallback, no_progress
from ..host.errors import NeuralgaeError, option
from ..host.atomic import atomic_write_text
from ..media.images import probe_image
from ..host.limits import max_variations

GRID, IMAGES, CLASSES, OUT = (option(n) for n in ("grid", "images", "classes", "out"))  # named as the front end spells them

BATCH_FILE = "batch.json"
INDEX_FILE = "index.html"
THUMBS = "thumbs"
THUMB_SIZE = 224
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
MAX_SLUG = 48

_UNSAFE = re.compile(r"[^A-Za-z0-9.+\-]+")
_RANGE = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$")


# -- the plan ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """One value on one axis: a folder-name piece, the override it makes, and a label for people."""

    slug: str
    override: str
    label: str
    class_index: int | None = None


@dataclass(frozen=True)
class Variation:
    """One run of the batch: ``nd run SPEC --set BASE... --set OVERRIDES... --out OUT``.

    ``name`` is its folder name inside the batch folder (stable and
    filesystem-safe); ``label`` says in words what differs; ``class_index`` is
    set for the variations of a class atlas (whose ``label`` then leaves the
    class out).
    """

    name: str
    overrides: tuple[str, ...]
    out: Path
    label: str = ""
    class_index: int | None = None

    @property
    def class_name(self) -> str | None:
        """The name of the atlas class this variation draws, or None."""
        if self.class_index is None:
            return None
        from ..nets.classes import imagenet_classes

        return imagenet_classes()[self.class_index].name

    @property
    def description(self) -> str:
        """Its class (index and name) and its other differences, in words."""
        head = f"{self.class_index} {self.class_name}" if self.class_index is not None else ""
        return ", ".join(p for p in (head, self.label) if p) or self.name


def slugify(text: str, *, limit: int = MAX_SLUG) -> str:
    """A filesystem-safe piece of a folder name: letters, digits, ``.+-``; other runs become ``_``."""
    slug = _UNSAFE.sub("_", str(text).strip()).strip("_.")
    return (slug[:limit].rstrip("_.") or "x") if slug else "x"


def split_values(text: str) -> list[str]:
    """Split ``"1, [2, 3], 'a,b'"`` at the commas that are not inside brackets or quotes."""
    parts, depth, quote, current = [], 0, "", []
    for ch in text:
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    parts.append("".join(current).strip())
    return parts


def parse_grid_item(item: str) -> tuple[str, list[str]]:
    """``"renderer.steps=10,20"`` -> (``"renderer.steps"``, ``["10", "20"]``), each value raw TOML as for ``--set``."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key or not raw.strip():
        raise NeuralgaeError(f"{GRID} {item}: write KEY.PATH=VALUE1,VALUE2,..., e.g. {GRID} renderer.steps=10,20")
    values = split_values(raw)
    if any(not v for v in values):
        raise NeuralgaeError(f"{GRID} {item}: has an empty value; separate values with single commas, e.g. 10,20")
    if len(set(values)) != len(values):
        raise NeuralgaeError(f"{GRID} {item}: repeats a value; give each value once")
    return key, values


def grid_axes(items: Sequence[str]) -> list[list[Choice]]:
    """One axis per ``--grid KEY=V1,V2`` item; folder names use the key's last part (the full path when two collide)."""
    parsed = [parse_grid_item(item) for item in items]
    keys = [k for k, _ in parsed]
    for k in keys:
        if keys.count(k) > 1:
            raise NeuralgaeError(f"{GRID} gives '{k}' twice; list all its values in one {GRID} {k}=V1,V2")
    shorts = [k.rpartition(".")[2] for k in keys]
    axes = []
    for (key, values), short in zip(parsed, shorts):
        name = short if shorts.count(short) == 1 else key
        axes.append([Choice(f"{slugify(name)}-{slugify(v.strip(chr(34) + chr(39)))}", f"{key}={v}", f"{name} = {v}") for v in values])
    return axes


def image_files(folder: Path) -> list[Path]:
    """The image files directly inside ``folder`` (by suffix), sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise NeuralgaeError(f"{IMAGES} '{folder}' is not a folder; give a folder of photos")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise NeuralgaeError(f"{IMAGES} '{folder}' holds no images ({', '.join(IMAGE_SUFFIXES)}); add some or choose another folder")
    for p in files:  # a file posing as a photo fails the batch now, not its run on a worker
        probe_image(p, "photo")
    return files


def image_axis(folder: Path) -> list[Choice]:
    """One ``source.image`` override per image in ``folder`` (absolute paths, so any worker finds them)."""
    files = image_files(folder)
    stems = [p.stem.lower() for p in files]
    choices = []
    for p in files:
        slug = slugify(p.stem if stems.count(p.stem.lower()) == 1 else f"{p.stem}-{p.suffix[1:]}")
        choices.append(Choice(slug, f"source.image={json.dumps(str(p.resolve()))}", p.name))
    return choices


def parse_class_selection(text: str) -> list[int]:
    """Class indices from ``"all"``, ``"goldfish, 9, 100-115"`` or a file of such items (one or more a line).

    Lines of a file may carry ``#`` comments. Names are looked up as ``nd classes``
    does, with suggestions for near misses; repeats are dropped, order kept.
    """
    from ..nets.classes import NUM_CLASSES, lookup_class

    text = str(text).strip()
    if text.lower() == "all":
        return list(range(NUM_CLASSES))
    path = Path(text).expanduser()
    if path.is_file():
        lines = path.read_text(encoding="utf-8").splitlines()
        items = [i for line in lines for i in line.split("#", 1)[0].split(",")]
    else:
        items = text.split(",")
    out: list[int] = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        m = _RANGE.match(item)
        if m:
            lo, hi = int(m.group(1)), int(m.group(2))
            if hi < lo or hi >= NUM_CLASSES:
                raise NeuralgaeError(f"{CLASSES} range '{item}' must go up, within 0-{NUM_CLASSES - 1}")
            out.extend(range(lo, hi + 1))
        else:
            out.append(lookup_class(item).index)
    if not out:
        raise NeuralgaeError(f"{CLASSES} names no class; give 'all', names such as 'goldfish, hen', ranges such as 0-15, or a file")
    return list(dict.fromkeys(out))


def class_axis(indices: Sequence[int]) -> list[Choice]:
    """One ``renderer.classes`` override per class (by index: names such as 'Cardigan' are ambiguous)."""
    from ..nets.classes import imagenet_classes

    table = imagenet_classes()
    return [
        Choice(f"{i:04d}-{slugify(table[i].name.lower())}", f'renderer.classes=["{i}"]', table[i].name, i)
        for i in indices
    ]


def plan_variations(axes: Sequence[Sequence[Choice]], *, out: Path) -> list[Variation]:
    """The cartesian product of the axes: one :class:`Variation` per combination, in a stable order.

    Folder names join the pieces with ``_``; a name that would repeat gets ``-2``, ``-3``...
    """
    if not axes or any(not axis for axis in axes):
        raise NeuralgaeError(f"a batch needs variations; give {GRID} KEY=V1,V2, {IMAGES} FOLDER or {CLASSES} LIST")
    total = math.prod(len(axis) for axis in axes)
    limit = max_variations()
    if total > limit:
        sizes = " x ".join(str(len(axis)) for axis in axes)
        raise NeuralgaeError(
            f"the batch would make {total:,} runs ({sizes}), more than the limit of {limit:,}; "
            "give fewer values, or set ND_MAX_VARIATIONS to lift the limit"
        )
    out = Path(out).expanduser().absolute()
    seen: dict[str, int] = {}
    variations = []
    for combo in itertools.product(*axes):
        name = "_".join(c.slug for c in combo)
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name = f"{name}-{seen[name]}"
        classes = [c.class_index for c in combo if c.class_index is not None]
        variations.append(
            Variation(
                name=name,
                overrides=tuple(c.override for c in combo),
                out=out / name,
                label=", ".join(c.label for c in combo if c.class_index is None or len(classes) > 1),
                class_index=classes[0] if len(classes) == 1 else None,
            )
        )
    return variations


def absolute_overrides(overrides: Sequence[str], *, cwd: Path | None = None) -> list[str]:
    """``source.image=rel.png`` -> ``source.image="/abs/rel.png"`` (also ``source.video``), so workers in other folders find the file."""
    from .spec import CWD_RELATIVE_KEYS, cwd_relative, parse_value

    out = []
    for item in overrides:
        key, sep, raw = item.partition("=")
        value = parse_value(raw.strip()) if sep else None
        if sep and key.strip() in CWD_RELATIVE_KEYS and isinstance(value, str):
            absolute = Path(cwd_relative(value, cwd)).absolute()
            item = f"{key.strip()}={json.dumps(str(absolute))}"
        out.append(item)
    return out


# -- running one variation (on a worker) -------------------------------------------------------


@dataclass
class Outcome:
    """What became of one variation: ``status`` is ``done``, ``skipped`` (already finished) or ``failed``.

    ``message`` is the one-line error of a failure; ``rendered`` the frames
    made now; ``last_frame`` the file name of the run's last frame; ``warm``
    whether the worker already had the network loaded. ``cpu_seconds`` is the
    CPU time its worker process spent meanwhile: far below ``seconds`` when
    the run waited for cores that other work held.
    """

    name: str
    status: str
    message: str = ""
    rendered: int = 0
    seconds: float = 0.0
    last_frame: str | None = None
    worker: str = ""
    warm: bool = False
    cpu_seconds: float = 0.0


_host_lock = threading.Lock()


def worker_host():
    """The plugin host of this process (one per worker, so networks load once and stay)."""
    from ..nets.memory import keep_freed_memory
    from ..host.plugins import default_host

    keep_freed_memory()  # as in `nd` itself: workers dream step after step
    with _host_lock:
        return default_host()


_loaded_networks: set[tuple[int, str]] = set()  # (id of host, network) pairs this process has loaded


def load_variation(spec: str, variation: Variation, *, host, base_overrides: Sequence[str] = (), frames: int | None = None):
    """The spec of one variation, exactly as ``nd run SPEC --set ... --frames N --out DIR`` loads it."""
    from .spec import load_spec

    return load_spec(spec, host=host, overrides=[*base_overrides, *variation.overrides], frames=frames, out=variation.out)


def check_axes(
    spec: str, axes: Sequence[Sequence[Choice]], *, host, out: Path, base_overrides: Sequence[str] = (), frames: int | None = None
) -> None:
    """Load one variation for every value of every axis before any run starts.

    A value no run could use (an unknown parameter, NaN steps) then fails the
    whole batch at once, in one line naming it, instead of failing each of
    its variations on the workers. Each value is tried with the first value
    of the other axes, so this costs one spec load per value, not per
    variation; class axes are skipped (their names were looked up already).
    """
    first = [axis[0] for axis in axes]
    for a, axis in enumerate(axes):
        if all(c.class_index is not None for c in axis):
            continue
        for choice in axis:
            combo = [*first[:a], choice, *first[a + 1 :]]
            variation = Variation(name="check", overrides=tuple(c.override for c in combo), out=Path(out) / "check")
            try:
                load_variation(spec, variation, host=host, base_overrides=base_overrides, frames=frames)
            except NeuralgaeError as exc:
                raise NeuralgaeError(f"no run of the batch could use {choice.label or choice.override}: {exc}") from None


def check_variation(
    spec: str, variation: Variation, *, host, base_overrides: Sequence[str] = (), frames: int | None = None, overwrite: bool = False
) -> Outcome | None:
    """Without running anything: a failed outcome when the variation's spec does not load or its folder
    cannot be resumed, a skipped one when its run is finished, else None (it has work to do)."""
    from .runfolder import inside, prepare_output

    try:
        inside(variation.out.parent, variation.out.name, f"run folder '{variation.out.name}'")  # a link would run elsewhere
        loaded = load_variation(spec, variation, host=host, base_overrides=base_overrides, frames=frames)
        if overwrite:
            return None
        entries = prepare_output(loaded, resume=True)
    except NeuralgaeError as exc:
        return Outcome(variation.name, "failed", str(exc))
    if len(entries) >= loaded.frames:
        return Outcome(variation.name, "skipped", last_frame=entries[loaded.frames - 1]["file"])
    return None


def run_variation(
    spec: str,
    variation: Variation,
    *,
    base_overrides: Sequence[str] = (),
    frames: int | None = None,
    overwrite: bool = False,
    torch_threads: int | None = None,
    host=None,
    device: str | None = None,
    precision: str | None = None,
) -> Outcome:
    """Run one variation to the end (resuming a partial run, skipping a finished one); never raises for its errors.

    ``torch_threads`` sets this process's torch threads first, so that
    workers sharing a machine do not oversubscribe its cores. ``device`` and
    ``precision`` are as the user gave them (None: ``ND_DEVICE``/auto),
    resolved on the worker: ``auto`` on a worker pinned to one GPU (dask-cuda
    sets its ``CUDA_VISIBLE_DEVICES``) is that GPU.
    """
    import socket

    began, cpu_began = time.monotonic(), time.process_time()
    where = f"{socket.gethostname()}:{os.getpid()}"
    outcome = Outcome(variation.name, "failed", worker=where)
    try:
        from .pipeline import run_spec
        from .runfolder import prepare_output

        import torch

        if torch_threads:
            torch.set_num_threads(int(torch_threads))
        host = host or worker_host()
        if (host.device, host.precision) != (device, precision):
            host.use(device=device, precision=precision)
        loaded = load_variation(spec, variation, host=host, base_overrides=base_overrides, frames=frames)
        outcome.warm = all((id(host), name) in _loaded_networks for name in loaded.networks)
        if not overwrite:
            entries = prepare_output(loaded, resume=True)
            if len(entries) >= loaded.frames:
                outcome.status, outcome.last_frame = "skipped", entries[loaded.frames - 1]["file"]
                return outcome
        with _host_lock:  # one thread of a worker loads the network; the others wait for it
            host.networks_of(loaded)
            _loaded_networks.update((id(host), name) for name in loaded.networks)
        run = run_spec(loaded, host=host, resume=not overwrite, overwrite=overwrite)
        outcome.status, outcome.rendered = "done", len(run.records)
        outcome.last_frame = run.entries[-1]["file"] if run.entries else None
    except NeuralgaeError as exc:
        outcome.message = str(exc)
    except Exception as exc:  # a bug in a plugin must not take the batch down: report it as this run's failure
        outcome.message = f"{type(exc).__name__}: {exc}"
    finally:
        outcome.seconds = round(time.monotonic() - began, 3)
        outcome.cpu_seconds = round(time.process_time() - cpu_began, 3)
    return outcome


# -- the cluster ----------------------------------------------------------------------------------


def available_cores() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def local_cluster_size(cores: int, *, workers: int | None = None, threads_per_worker: int | None = None) -> tuple[int, int]:
    """(worker processes, torch threads each) for a local cluster on ``cores`` cores.

    By default one single-threaded worker per core (independent runs scale
    best as processes); a given side of the product fixes the other.
    """
    for name, value in ((option("workers"), workers), (option("threads_per_worker"), threads_per_worker)):
        if value is not None and value < 1:
            raise NeuralgaeError(f"{name} must be at least 1; got {value}")
    cores = max(1, int(cores))
    if workers is None and threads_per_worker is None:
        return cores, 1
    if workers is None:
        return max(1, cores // threads_per_worker), threads_per_worker
    if threads_per_worker is None:
        return workers, max(1, cores // workers)
    return workers, threads_per_worker


@dataclass
class Cluster:
    """A Dask client and the torch threads each run should use."""

    client: object
    torch_threads: int | None
    address: str
    workers: int


def gpu_workers(device: str | None) -> int:
    """How many GPU workers a local batch on ``device`` starts: one per CUDA GPU for ``auto``/``cuda``,
    one for ``cuda:N``, none off CUDA."""
    from ..nets.device import cuda_count, resolve_device

    resolved = resolve_device(device)
    if resolved.type != "cuda":
        return 0
    text = (device if device is not None else os.environ.get("ND_DEVICE", "") or "auto").strip().lower()
    return 1 if ":" in text else cuda_count()


def local_gpu_cluster(gpus: int, *, most_workers: int | None, silence):
    """A local cluster of one worker per GPU, each pinned to its device by dask-cuda's ``LocalCUDACluster``.

    One GPU needs no dask-cuda: a single worker sees it as ``cuda:0``.
    """
    from distributed import LocalCluster

    n = max(1, min(gpus, most_workers or gpus))
    if gpus == 1:
        return LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=silence)
    try:
        from dask_cuda import LocalCUDACluster
    except ImportError:
        raise NeuralgaeError(
            f"a batch on {gpus} GPUs needs dask-cuda to pin one worker to each GPU: pip install 'neuralgae[gpu]' "
            f"(or run on one GPU with {option('device')}cuda:0)"
        ) from None
    return LocalCUDACluster(n_workers=n, threads_per_worker=1, dashboard_address=None, silence_logs=silence)


@contextmanager
def dask_cluster(
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    threads_per_worker: int | None = None,
    most_workers: int | None = None,
    gpus: int = 0,
) -> Iterator[Cluster]:
    """A client of the scheduler at ``scheduler``, or of an embedded ``LocalCluster`` closed on exit.

    The local cluster runs one task at a time per worker process (one Dask
    thread) and each run uses ``threads_per_worker`` torch threads.
    ``most_workers`` caps the worker count (no point starting 8 for 3 runs).
    With ``gpus`` > 0 the local cluster has one worker per GPU instead
    (:func:`local_gpu_cluster`). On an existing cluster each Dask thread
    runs one run with ``threads_per_worker`` torch threads (default 1), on
    the device each worker resolves (its own GPU, where it has one).
    The workers' own logs are kept to errors; this process's ``distributed``
    logger is the caller's to set (``nd batch`` keeps it to errors).
    """
    import logging

    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise NeuralgaeError(f"cannot reach the Dask scheduler at '{scheduler}' ({exc}); check the address and that it is running") from None
        try:
            count = len(client.scheduler_info().get("workers", {}))
            yield Cluster(client, threads_per_worker or 1, scheduler, count)
        finally:
            client.close()
        return
    if gpus:
        cluster = local_gpu_cluster(gpus if workers is None else min(gpus, workers), most_workers=most_workers, silence=logging.ERROR)
        n, threads = len(cluster.workers), threads_per_worker
    else:
        n, threads = local_cluster_size(available_cores(), workers=workers, threads_per_worker=threads_per_worker)
        if most_workers is not None:
            n = max(1, min(n, most_workers))
        cluster = LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.ERROR
        )
    try:
        client = Client(cluster)
        try:
            yield Cluster(client, threads, cluster.scheduler_address, n)
        finally:
            client.close()
    finally:
        cluster.close()


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


def _write_text(path: Path, text: str) -> Path:
    """``text`` into ``path`` atomically; an OSError (a full or read-only disk) as one clear line."""
    try:
        return atomic_write_text(path, text)
    except OSError as exc:
        raise NeuralgaeError(f"cannot write '{path}': {exc.strerror or exc}; is the batch folder writable?") from None


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


def _run_on_dask(cluster: Cluster, spec: str, todo: Sequence[Variation], options: dict, record) -> None:
    """Submit one task per variation and record each outcome as it completes; a lost task is a failure."""
    from distributed import as_completed

    client = cluster.client
    futures = {}
    for v in todo:
        future = client.submit(
            run_variation, spec, v, torch_threads=cluster.torch_threads, key=f"neuralgae-{v.name}-{time.time_ns()}",
            pure=False, retries=0, **options,
        )
        futures[future] = v
    try:
        for future in as_completed(futures):
            v = futures[future]
            try:
                record(future.result())
            except Exception as exc:  # the worker died or the task was lost: this variation failed, the rest go on
                record(Outcome(v.name, "failed", _lost_message(exc)))
    finally:
        client.cancel(list(futures))


def _lost_message(exc: BaseException) -> str:
    """One line for a task that ended without an outcome."""
    from distributed.scheduler import KilledWorker

    if isinstance(exc, KilledWorker):
        return "the worker processes running it died (out of memory?); run the batch again to retry it"
    return f"{type(exc).__name__}: {exc}".splitlines()[0] + " (on the Dask cluster; run the batch again to retry it)"


def _title(spec: str) -> str:
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
        caption = f'<span class="index">{variation.class_index}</span>{html.escape(variation.class_name)}'
        if variation.label:
            caption += f'<span class="detail">{html.escape(variation.label)}</span>'
    else:
        caption = html.escape(variation.label or variation.name)
    status = outcome.status if outcome else "pending"
    try:
        frame = _card_frame(variation, folder) if status != "failed" else None
    except NeuralgaeError as exc:  # a damaged run folder spoils its card, not the sheet
        frame, outcome, status = None, Outcome(variation.name, "failed", str(exc)), "failed"
    if frame is not None:
        frame, thumb = frame
        href = html.escape(os.path.relpath(frame, folder))
        src = html.escape(os.path.relpath(thumb, folder))
        alt = html.escape(variation.description)
        for movie in sorted(variation.out.glob("*.gif")) + sorted(variation.out.glob("*.mp4")):
            caption += f' <a class="movie" href="{html.escape(os.path.relpath(movie, folder))}">{movie.suffix[1:]}</a>'
        return (
            f'<figure id="{html.escape(variation.name)}"><a href="{href}"><img src="{src}" alt="{alt}" loading="lazy"></a>'
            f"<figcaption>{caption}</figcaption></figure>"
        )
    if outcome and outcome.message:
        note = f"<strong>failed</strong> {html.escape(outcome.message)}"
    elif status in ("done", "skipped"):  # a worker wrote it somewhere this machine cannot see
        note = f"finished on {html.escape(outcome.worker or 'a worker')}, but its frames are not visible here: is the batch folder on storage every worker shares?"
    else:
        note = "not run yet"
    return f'<figure class="{status}" id="{html.escape(variation.name)}"><div class="missing">{note}</div><figcaption>{caption}</figcaption></figure>'


def write_index(folder: Path, variations: Sequence[Variation], outcomes: Sequence[Outcome | None], *, title: str) -> Path:
    """Write ``index.html``: a contact sheet of each variation's last frame, labelled, failures with their error."""
    folder = Path(folder)
    cards = [_card(v, o, folder) for v, o in zip(variations, outcomes)]
    failed = sum(1 for o in outcomes if o is not None and o.status == "failed")
    summary = f"{len(variations)} variation{'s' if len(variations) != 1 else ''}"
    if failed:
        summary += f', <span class="failed">{failed} failed</span>'
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}: batch</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f'<header><h1>{html.escape(title)}</h1><p class="summary">{summary}</p></header>\n<main>\n'
        + "\n".join(cards)
        + "\n</main>\n</body>\n</html>\n"
    )
    return _write_text(folder / INDEX_FILE, page)
