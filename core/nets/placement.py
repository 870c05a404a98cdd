"""Putting a network on a device in a precision, and measuring whether bf16 pays off on this CPU.

:func:`place_network` is the one place where a requested device and
precision (text, as users write them) become a placed network:

- a network with a ``place(placement)`` method (the built-in EfficientNets)
  places itself: it keeps float32 master weights and runs its deeper layers
  in the lower precision;
- any other ``torch.nn.Module`` network is moved with ``.to(device)`` and, in
  a lower precision, runs its forward pass under ``torch.autocast``;
- a network that is not a module runs where it is: asking for another
  device than the CPU is then an error.

On a CPU with native bf16, ``auto`` runs a short measurement the first time
a network is placed (a few dream steps at 384 px in each precision, about a
second) and remembers the verdict in ``~/.cache/neuralgae/precision.json``
(``ND_CACHE_DIR`` moves it), keyed by network, processor, torch version and
thread count.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import torch

from .device import (
    NOTICES,
    Placement,
    configure_device,
    cpu_description,
    cpu_native_bf16,
    device_label,
    resolve_device,
    resolve_precision,
)
from ..host.errors import NeuralgaeError
from ..host.atomic import atomic_write_text

CACHE_ENV = "ND_CACHE_DIR"
PROBE_SIDE = 384
PROBE_STEPS = 3
BF16_MARGIN = 0.95
"""bf16 is chosen only when a step takes under this fraction of a float32 step."""


class AutocastNetwork:
    """A third-party module network run under ``torch.autocast`` in a lower precision.

    ``features`` returns float32 activations, so objectives compute as usual.
    Every other attribute is the wrapped network's.
    """

    def __init__(self, net, placement: Placement):
        self._net = net
        self.placement = placement

    def __getattr__(self, name):
        if name in ("_net", "placement"):  # not set yet (copy, pickle): no endless lookup
            raise AttributeError(name)
        return getattr(self._net, name)

    def features(self, x, layers):
        with torch.autocast(self.placement.device.type, dtype=self.placement.dtype):
            out = self._net.features(x, layers)
        return {k: v.float() for k, v in out.items()}

    def __call__(self, x):
        with torch.autocast(self.placement.device.type, dtype=self.placement.dtype):
            return self._net(x).float()


def cache_file() -> Path:
    """Where the bf16 verdicts are remembered."""
    base = os.environ.get(CACHE_ENV) or os.path.join(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "neuralgae")
    return Path(base) / "precision.json"


def _probe_key(net) -> str:
    return f"{getattr(net, 'name', type(net).__name__)} | {cpu_description()} | torch {torch.__version__} | {torch.get_num_threads()} threads"


def _read_cache() -> dict:
    try:
        data = json.loads(cache_file().read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_cache(data: dict) -> None:
    """Write the verdicts atomically; a cache that cannot be written is only measured again next time."""
    path = cache_file()
    text = json.dumps(data, indent=1, sort_keys=True)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, text)
    except OSError:
        pass


def probe_layer(net) -> str:
    """The layer the bf16 measurement dreams on: the default dream layer where the network has it."""
    names = [layer.name for layer in net.layers]
    if "block10" in names:
        return "block10"
    plain = [n for n in names if n != "logits"]
    return plain[len(plain) * 2 // 3] if plain else names[-1]


def time_step(net, layer: str, *, side: int = PROBE_SIDE, steps: int = PROBE_STEPS) -> float:
    """The fastest of ``steps`` dream steps (forward and backward to ``layer``) at ``side`` px, in seconds."""
    x0 = torch.rand(1, 3, side, side, generator=torch.Generator().manual_seed(0))
    best = float("inf")
    for i in range(steps + 1):  # the first one builds the kernels
        start = time.perf_counter()
        x = x0.detach().requires_grad_(True)
        a = net.features(x, [layer])[layer]
        torch.autograd.grad(a.float().pow(2).sum(), x)
        if i:
            best = min(best, time.perf_counter() - start)
    return best


def measure_bf16(net) -> dict:
    """Time a float32 and a bf16 step of ``net`` on the CPU, interleaved; returns both and the verdict."""
    layer = probe_layer(net)
    cpu = torch.device("cpu")
    times = {"fp32": float("inf"), "bf16": float("inf")}
    for _ in range(2):
        for precision in ("fp32", "bf16"):
            net.place(Placement(cpu, precision))
            with torch.enable_grad():
                times[precision] = min(times[precision], time_step(net, layer))
    net.place(Placement(cpu, "fp32"))
    return {"fp32_s": round(times["fp32"], 5), "bf16_s": round(times["bf16"], 5), "layer": layer,
            "bf16_faster": times["bf16"] < BF16_MARGIN * times["fp32"]}


def bf16_pays_off(net) -> bool:
    """Whether bf16 was measured faster than float32 for ``net`` on this CPU (measured once, then remembered)."""
    if not hasattr(net, "place"):
        return False  # autocast on a CPU: no measured benefit for arbitrary modules
    key = _probe_key(net)
    cache = _read_cache()
    if isinstance(cache.get(key), dict) and "bf16_faster" in cache[key]:
        return bool(cache[key]["bf16_faster"])
    NOTICES.info("measuring whether bf16 is faster than fp32 for %s on this CPU (once)", getattr(net, "name", "the network"))
    verdict = measure_bf16(net)
    cache[key] = verdict
    _write_cache(cache)
    return bool(verdict["bf16_faster"])


def place_network(net, device: str | None = None, precision: str | None = None):
    """``net`` on the requested device in the requested precision (text or None for ``ND_*``/auto).

    Returns the placed network (the same object, or an autocast wrapper for
    third-party modules); its ``placement`` attribute says where it runs.
    """
    target = resolve_device(device)
    configure_device(target)
    chosen = resolve_precision(precision, target, bf16_faster=lambda: target.type == "cpu" and bf16_pays_off(net))
    if chosen == "bf16" and target.type == "cpu" and not cpu_native_bf16():
        NOTICES.warning("this CPU has no native bf16 (AVX512-BF16 or AMX): bf16 is emulated and slower than fp32")
    placement = Placement(target, chosen)
    if hasattr(net, "place"):
        return net.place(placement)
    if isinstance(net, torch.nn.Module):
        net.to(target)
        if chosen == "fp32":
            net.placement = placement
            return net
        return AutocastNetwork(net, placement)
    if target.type != "cpu" or chosen != "fp32":
        raise NeuralgaeError(
            f"network '{getattr(net, 'name', net)}' is not a torch module, so it runs only on the CPU in fp32; "
            f"asked for {device_label(target)} {chosen}"
        )
    return net


__all__ = ["place_network", "bf16_pays_off", "measure_bf16", "AutocastNetwork"]
