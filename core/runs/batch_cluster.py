"""Running a batch on Dask: the local or remote cluster, its (GPU) workers, one variation per task, the outcomes.

Each worker process keeps one plugin host, so it loads the network once and
reuses it for every run it is given. A run that fails is reported as an
:class:`Outcome` with a one-line message and the others go on. Kept apart
from the plan (:mod:`.batch_plan`) and the contact sheet
(:mod:`.contact_sheet`): this is the only part that needs ``distributed``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from ..host.errors import NeuralgaeError, option
from .batch_plan import Variation, load_variation

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
