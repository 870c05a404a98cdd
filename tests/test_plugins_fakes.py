"""Small fake plugins (a tiny network, renderers, transforms, samplers) for pipeline and spec tests.

They register under the built-in names (``dream``, ``zoom``...) in a host
made with ``builtins=False``, so these tests do not depend on the real
renderers and stay fast.
"""

from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path
from typing import Literal

import numpy as np
import pytest
import torch

from neuralgae.core.host.hookspecs import hookimpl
from neuralgae.core.nets.network import LayerInfo
from neuralgae.core.host.plugins import PluginHost


class TinyNetwork:
    """A fixed random 1x1 convolution to 1000 logits: enough to classify deterministically."""

    name = "tiny"
    input_size = 32
    num_classes = 1000
    layers = (LayerInfo("logits", 1000, 1, "fixed random logits"),)

    def __init__(self):
        g = torch.Generator().manual_seed(0)
        self.weight = torch.randn(1000, 3, generator=g) * 4

    def features(self, x, layers):
        return {"logits": torch.einsum("kc,nchw->nkhw", self.weight, x)}


def dream(
    image: np.ndarray,
    ctx,
    *,
    layers: str = "block10",
    steps: int = 10,
    step_size: float = 0.01,
    tiling: Literal["auto", "always", "never"] = "auto",
) -> np.ndarray:
    """Fake dream: mix in this frame's noise (and a tint from ctx.classes) so frames differ and depend on the rng."""
    if ctx.index == FAIL_AT.get("index"):
        raise RuntimeError(f"boom on frame {ctx.index}")
    CALLS.append({"index": ctx.index, "classes": ctx.classes, "seed": ctx.seed})
    noise = ctx.rng.random(image.shape, dtype=np.float32)
    out = (1 - step_size * steps) * image + step_size * steps * noise
    if ctx.classes:
        out[..., 0] = 0.5 * out[..., 0] + 0.5 * (sum(i for i, _ in ctx.classes) % 97) / 97
    ctx.progress(1, 1, "fake step")
    return out.astype(np.float32)


def draw(image: np.ndarray, ctx, *, classes: str | None = None, size: int = 40) -> np.ndarray:
    """Fake draw: a new canvas of ``size`` pixels, tinted by the classes."""
    CALLS.append({"index": ctx.index, "classes": ctx.classes, "seed": ctx.seed})
    out = np.full((size, size, 3), 0.5, np.float32)
    out += 0.3 * ctx.rng.random(out.shape, dtype=np.float32)
    return np.clip(out, 0, 1)


def zoom(image: np.ndarray, ctx, *, scale: float = 0.05, order: int = 1) -> np.ndarray:
    """Fake zoom: roll down a pixel and fade towards this frame's noise by ``scale``."""
    rolled = np.roll(image, 1, axis=0)
    return ((1 - scale) * rolled + scale * ctx.rng.random(image.shape, dtype=np.float32)).astype(np.float32)


def blur(image: np.ndarray, ctx, *, sigma: float = 1.0) -> np.ndarray:
    """Fake blur: average with the image shifted right."""
    return (0.5 * image + 0.5 * np.roll(image, 1, axis=1)).astype(np.float32)


def shrink(image: np.ndarray, ctx) -> np.ndarray:
    """A broken transform: changes the shape."""
    return image[1:]


def top(probs: np.ndarray, ctx, *, k: int = 3) -> list[tuple[int, float]]:
    """Fake sampler: the top k classes, recording the history length it saw."""
    HISTORY_LENGTHS.append(len(ctx.history))
    order = np.argsort(-probs)[:k]
    return [(int(i), 1.0) for i in order]


def pick(probs: np.ndarray, ctx, *, classes: list[str]) -> list[tuple[int, float]]:
    """Fake sampler with a required parameter."""
    return [(1, 1.0)]


CALLS: list[dict] = []
FAIL_AT: dict = {}  # {"index": k} makes the fake dream raise on frame k
HISTORY_LENGTHS: list[int] = []

fakes = types.ModuleType("fake_plugins")


@hookimpl
def _register_networks(register):
    register("tiny", TinyNetwork, description="a fixed random 1x1 convolution")


@hookimpl
def _register_renderers(register):
    register(dream)
    register(draw)


@hookimpl
def _register_transforms(register):
    register(zoom)
    register(blur)
    register(shrink)


@hookimpl
def _register_samplers(register):
    register(top)
    register(pick)


fakes.register_networks = _register_networks
fakes.register_renderers = _register_renderers
fakes.register_transforms = _register_transforms
fakes.register_samplers = _register_samplers


def fake_host(*extra) -> PluginHost:
    """A host with only the fakes (and ``extra`` plugins): no built-ins, no entry points."""
    return PluginHost(builtins=False, entry_points=False, extra=[fakes, *extra])


class StopAfter:
    """A plugin whose frame_written raises KeyboardInterrupt: a simulated Ctrl-C after frame ``index``."""

    __name__ = "stop_after"

    def __init__(self, index: int):
        self.index = index

    @hookimpl
    def frame_written(self, run, frame):
        if frame.index == self.index:
            raise KeyboardInterrupt


# -- fake distributions: plugins installed the way pip installs them ----------------


def fake_distribution(site: Path, name: str, entry: str, module: str | None = None, version: str = "1.0") -> None:
    """A distribution ``name`` with the entry point ``broken = entry`` (and, given ``module``, that module's code)."""
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[neuralgae]\nbroken = {entry}\n")
    if module is not None:
        (site / f"{entry}.py").write_text(module)


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A folder on sys.path whose fake distributions importlib.metadata sees; their modules are forgotten after."""
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    importlib.invalidate_caches()
    before = set(sys.modules)
    yield folder
    for name in set(sys.modules) - before:
        if name.startswith("nd_"):
            sys.modules.pop(name, None)
    importlib.invalidate_caches()


def test_fake_host_registers_the_fakes():
    host = fake_host()
    assert set(host.renderers) == {"dream", "draw"}
    assert set(host.transforms) == {"zoom", "blur", "shrink"}
    assert set(host.samplers) == {"top", "pick"}
    assert host.networks["tiny"].source == "fake_plugins"
