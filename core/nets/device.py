"""Where the engine runs and in what precision: ``--device`` and ``--precision``.

A *placement* is a torch device and a precision. Users name them as text
(``auto``, ``cpu``, ``cuda``, ``cuda:1``, ``mps``; ``auto``, ``fp32``,
``bf16``, ``fp16``), on the command line or in the ``ND_DEVICE`` and
``ND_PRECISION`` environment variables; specs never do, so a spec renders
anywhere. The image being dreamed and its update always stay float32; the
precision is the network's.

``auto`` picks the device CUDA, then Apple's MPS, then the CPU. The
automatic precision is bf16 on CUDA devices that run it (fp16 on older
ones), fp32 on MPS, and on the CPU bf16 only where the processor runs it
natively (AVX512-BF16 or AMX) *and* it was measured faster than fp32 on the
network at hand (:func:`neuralgae.core.precision_probe.bf16_pays_off`):
never slower than fp32 by default.

Every capability probe is a small function of its own, so that tests can
fake the hardware.
"""

from __future__ import annotations

import logging
import os
import platform
import re
from dataclasses import dataclass

import torch

from ..host.errors import NeuralgaeError

NOTICES = logging.getLogger("neuralgae")
"""One-line notices the engine gives while it works (an out-of-memory retry,
a measurement); ``nd`` prints them as ``nd: note: ...``."""

DEVICE_ENV = "ND_DEVICE"
PRECISION_ENV = "ND_PRECISION"
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


# -- capability probes (faked in tests) ------------------------------------------


def cuda_count() -> int:
    """How many CUDA devices torch can use (0 without a CUDA build or driver)."""
    try:
        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    except (RuntimeError, AssertionError):  # pragma: no cover - broken drivers
        return 0


def mps_available() -> bool:
    """Whether Apple's Metal backend is usable (macOS on Apple silicon or AMD)."""
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def cuda_bf16(index: int) -> bool:
    """Whether CUDA device ``index`` runs bf16 natively (compute capability 8.0 or newer)."""
    major, _ = torch.cuda.get_device_capability(index)
    return major >= 8


def cpu_flags() -> set[str]:
    """The processor's feature flags from /proc/cpuinfo (empty where there is none)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.partition(":")[2].split())
    except OSError:
        pass
    return set()


def cpu_native_bf16() -> bool:
    """Whether the CPU computes bf16 in hardware (AVX512-BF16 or AMX) and oneDNN uses it.

    Without it torch emulates bf16 and is slower than float32.
    """
    flags = cpu_flags()
    if flags:
        native = bool(flags & {"avx512_bf16", "amx_bf16"})
    else:  # no /proc/cpuinfo (macOS, Windows): ask oneDNN alone
        native = platform.machine().lower() in ("x86_64", "amd64")
    try:
        return native and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # pragma: no cover - builds without oneDNN
        return False


def cpu_description() -> str:
    """The processor's model and its bf16-relevant flags, for benchmarks and metadata."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.partition(":")[2].strip()
                    break
    except OSError:
        pass
    flags = sorted(cpu_flags() & {"avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"})
    return f"{model} ({' '.join(flags) or 'no AVX flags read'})"


# -- devices ---------------------------------------------------------------------


def available_devices() -> list[str]:
    """The devices this machine offers, in the order ``auto`` prefers them."""
    found = [f"cuda:{i}" for i in range(cuda_count())]
    if mps_available():
        found.append("mps")
    return found + ["cpu"]


_DEVICE = re.compile(r"^(auto|cpu|mps|cuda)(?::(\d+))?$")


def resolve_device(name: str | None = None) -> torch.device:
    """The torch device for ``name`` (or ``ND_DEVICE``, or ``auto``), checked to exist.

    A device that is not there is one error naming what is available.
    """
    text = ((name if name is not None else os.environ.get(DEVICE_ENV, "")).strip() or "auto").lower()  # empty: auto
    m = _DEVICE.match(text)
    if not m or (m.group(2) is not None and m.group(1) != "cuda"):
        raise NeuralgaeError(
            f"unknown device '{text}'; use auto, cpu, cuda, cuda:N or mps (this machine has: {', '.join(available_devices())})"
        )
    kind, index = m.group(1), m.group(2)
    if kind == "auto":
        if cuda_count():
            return torch.device("cuda", 0)
        if mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if kind == "cpu":
        return torch.device("cpu")
    if kind == "mps":
        if not mps_available():
            raise NeuralgaeError(
                f"device 'mps' is not available (Apple's Metal backend runs only on macOS with a supported GPU); "
                f"this machine has: {', '.join(available_devices())}"
            )
        return torch.device("mps")
    count = cuda_count()
    i = int(index) if index is not None else 0
    if count == 0:
        why = "this torch build has no CUDA" if not torch.backends.cuda.is_built() else "no CUDA GPU or driver was found"
        raise NeuralgaeError(f"device '{text}' is not available ({why}); this machine has: {', '.join(available_devices())}")
    if i >= count:
        raise NeuralgaeError(
            f"device '{text}' does not exist: this machine has {count} CUDA GPU{'s' if count > 1 else ''} "
            f"(cuda:0{f' to cuda:{count - 1}' if count > 1 else ''})"
        )
    return torch.device("cuda", i)


# -- precision -------------------------------------------------------------------


def check_precision(name: str | None) -> str:
    """``name`` (or ``ND_PRECISION``, or ``auto``) as one of :data:`PRECISIONS`."""
    text = ((name if name is not None else os.environ.get(PRECISION_ENV, "")).strip() or "auto").lower()  # empty: auto
    aliases = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16", "half": "fp16"}
    text = aliases.get(text, text)
    if text not in PRECISIONS:
        raise NeuralgaeError(f"unknown precision '{text}'; use {', '.join(PRECISIONS)}")
    return text


def resolve_precision(name: str | None, device: torch.device, *, bf16_faster=None) -> str:
    """The precision to run the network in on ``device``: 'fp32', 'bf16' or 'fp16'.

    ``auto`` follows the module docstring's rules; ``bf16_faster`` (a
    callable returning whether bf16 was measured faster on this CPU for the
    network at hand) is asked only where the CPU runs bf16 natively. An
    explicit precision the device cannot run is an error.
    """
    wanted = check_precision(name)
    kind = device.type
    if wanted == "auto":
        if kind == "cuda":
            return "bf16" if cuda_bf16(device.index or 0) else "fp16"
        if kind == "cpu" and cpu_native_bf16() and bf16_faster is not None and bf16_faster():
            return "bf16"
        return "fp32"
    if wanted == "fp16" and kind == "cpu":
        raise NeuralgaeError(
            "precision fp16 is not supported on the CPU (torch computes it slowly and with little range there); "
            "use bf16 or fp32"
        )
    return wanted


@dataclass(frozen=True)
class Placement:
    """A device and the network's precision on it."""

    device: torch.device
    precision: str = "fp32"

    @property
    def dtype(self) -> torch.dtype:
        return DTYPES[self.precision]

    def describe(self) -> str:
        """``cuda:0 bf16``, ``cpu fp32``: what the manifest and PNG metadata record."""
        return f"{device_label(self.device)} {self.precision}"

    def as_dict(self) -> dict:
        return {"device": device_label(self.device), "precision": self.precision}


def device_label(device: torch.device) -> str:
    """``cpu``, ``mps``, ``cuda:0``: a device as users write it."""
    return f"cuda:{device.index or 0}" if device.type == "cuda" else device.type


def configure_device(device: torch.device, *, deterministic: bool = True) -> None:
    """Process-wide settings that make ``device`` fast and repeatable.

    On CUDA: cuDNN picks its fastest algorithms for each new shape
    (``benchmark``) among the deterministic ones, and TF32 is off so
    float32 means float32. Elsewhere nothing changes.
    """
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cudnn.deterministic = deterministic
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False


def free_memory(device: torch.device) -> int | None:
    """Bytes free on ``device`` (CUDA only; None where torch cannot tell)."""
    if device.type != "cuda":
        return None
    free, _total = torch.cuda.mem_get_info(device)
    return int(free)


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is a device running out of memory (CUDA or MPS)."""
    oom = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", None)
    if oom is not None and isinstance(exc, oom):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def release_cached_memory(device: torch.device) -> None:
    """Give the allocator's cached blocks back after an out-of-memory error."""
    if device.type == "cuda":
        torch.cuda.empty_cache()
    elif device.type == "mps" and hasattr(torch, "mps"):
        torch.mps.empty_cache()
