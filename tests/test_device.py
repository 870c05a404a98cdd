"""Devices and precision: resolution (with faked hardware), placement, bf16 on the CPU, OOM retries, errors."""

from __future__ import annotations

import json
import logging
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from neuralgae.core.nets import device as dev
from neuralgae.core.nets import placement
from neuralgae.core.nets.device import Placement, resolve_device, resolve_precision
from neuralgae.core.host.errors import NeuralgaeError


@pytest.fixture
def hardware(monkeypatch):
    """Fake capability probes: ``hardware(cuda=2, mps=False, bf16_gpu=True, cpu_bf16=False)``."""

    def fake(*, cuda=0, mps=False, bf16_gpu=True, cpu_bf16=False):
        monkeypatch.setattr(dev, "cuda_count", lambda: cuda)
        monkeypatch.setattr(dev, "mps_available", lambda: mps)
        monkeypatch.setattr(dev, "cuda_bf16", lambda index: bf16_gpu)
        monkeypatch.setattr(dev, "cpu_native_bf16", lambda: cpu_bf16)

    monkeypatch.delenv("ND_DEVICE", raising=False)
    monkeypatch.delenv("ND_PRECISION", raising=False)
    return fake


# -- devices ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "cuda, mps, expected",
    [(2, True, "cuda:0"), (1, False, "cuda:0"), (0, True, "mps"), (0, False, "cpu")],
)
def test_auto_prefers_cuda_then_mps_then_cpu(hardware, cuda, mps, expected):
    hardware(cuda=cuda, mps=mps)
    assert dev.device_label(resolve_device("auto")) == expected
    assert dev.device_label(resolve_device(None)) == expected  # no option, no ND_DEVICE: auto


def test_explicit_devices_resolve(hardware):
    hardware(cuda=2, mps=True)
    assert resolve_device("cuda") == torch.device("cuda", 0)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    assert resolve_device(" CPU ") == torch.device("cpu")
    assert resolve_device("mps") == torch.device("mps")
    assert dev.available_devices() == ["cuda:0", "cuda:1", "mps", "cpu"]


def test_device_from_the_environment(hardware, monkeypatch):
    hardware(cuda=2)
    monkeypatch.setenv("ND_DEVICE", "cuda:1")
    assert resolve_device() == torch.device("cuda", 1)
    monkeypatch.setenv("ND_DEVICE", "")
    assert resolve_device() == torch.device("cuda", 0)  # empty means auto


@pytest.mark.parametrize(
    "cuda, mps, name, words",
    [
        (0, False, "cuda", ["'cuda' is not available", "this machine has: cpu"]),
        (2, False, "cuda:3", ["does not exist", "2 CUDA GPUs", "cuda:0 to cuda:1"]),
        (1, False, "cuda:1", ["does not exist", "1 CUDA GPU ", "(cuda:0)"]),
        (0, False, "mps", ["'mps' is not available", "macOS", "this machine has: cpu"]),
        (1, True, "tpu", ["unknown device 'tpu'", "auto, cpu, cuda, cuda:N or mps", "cuda:0, mps, cpu"]),
        (0, False, "cpu:1", ["unknown device 'cpu:1'"]),
        (0, False, "cuda:x", ["unknown device"]),
    ],
)
def test_missing_devices_are_one_clear_line(hardware, cuda, mps, name, words):
    hardware(cuda=cuda, mps=mps)
    with pytest.raises(NeuralgaeError) as info:
        resolve_device(name)
    message = str(info.value)
    assert "\n" not in message
    for word in words:
        assert word in message


# -- precision -------------------------------------------------------------------


def test_auto_precision_per_kind_of_hardware(hardware):
    hardware(cuda=1, bf16_gpu=True)
    assert resolve_precision("auto", torch.device("cuda", 0)) == "bf16"
    hardware(cuda=1, bf16_gpu=False)
    assert resolve_precision("auto", torch.device("cuda", 0)) == "fp16"
    hardware(mps=True)
    assert resolve_precision("auto", torch.device("mps")) == "fp32"


def test_auto_on_the_cpu_takes_bf16_only_where_native_and_measured_faster(hardware):
    asked = []

    def faster(answer):
        return lambda: asked.append(answer) or answer

    cpu = torch.device("cpu")
    hardware(cpu_bf16=False)
    assert resolve_precision("auto", cpu, bf16_faster=faster(True)) == "fp32"
    assert asked == []  # not measured where the CPU would emulate bf16
    hardware(cpu_bf16=True)
    assert resolve_precision("auto", cpu, bf16_faster=faster(False)) == "fp32"
    assert resolve_precision("auto", cpu, bf16_faster=faster(True)) == "bf16"
    assert resolve_precision("auto", cpu) == "fp32"  # nothing measured: never slower than fp32


def test_explicit_precision_names_and_errors(hardware, monkeypatch):
    cpu = torch.device("cpu")
    assert resolve_precision("bf16", cpu) == "bf16"
    assert resolve_precision("float32", cpu) == "fp32"
    monkeypatch.setenv("ND_PRECISION", "bfloat16")
    assert resolve_precision(None, cpu) == "bf16"
    with pytest.raises(NeuralgaeError, match="fp16 is not supported on the CPU"):
        resolve_precision("fp16", cpu)
    with pytest.raises(NeuralgaeError, match="unknown precision 'fp8'; use auto, fp32, bf16, fp16"):
        resolve_precision("fp8", cpu)


# -- placing networks ------------------------------------------------------------


def _photo(size: int) -> torch.Tensor:
    import skimage.data

    from neuralgae.core.media.images import as_rgb_float, resize

    image = resize(as_rgb_float(skimage.data.astronaut()), size, size)
    return torch.from_numpy(image).permute(2, 0, 1)[None].contiguous()


def _dream_gradient(net, x, layer="block10"):
    x = x.detach().requires_grad_(True)
    a = net.features(x, [layer])[layer]
    assert a.dtype == torch.float32  # objectives always see float32
    (g,) = torch.autograd.grad(0.5 * a.pow(2).sum() / a.shape[1], x)
    return g


def test_bf16_gradient_agrees_with_fp32_on_block10_at_512(net):
    """The fidelity bar: the step's gradient keeps a cosine similarity of at least 0.98 (photo, block10, 512 px)."""
    x = _photo(512)
    cpu = torch.device("cpu")
    try:
        g32 = _dream_gradient(net.place(Placement(cpu, "fp32")), x)
        g16 = _dream_gradient(net.place(Placement(cpu, "bf16")), x)
    finally:
        net.place(Placement(cpu, "fp32"))
    assert float(F.cosine_similarity(g32.flatten(), g16.flatten(), dim=0)) >= 0.98


def test_placing_again_in_fp32_restores_the_exact_network(net):
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    cpu = torch.device("cpu")
    before = net.features(x, ["logits"])["logits"]
    net.place(Placement(cpu, "bf16"))
    low = net.features(x, ["logits"])["logits"]
    net.place(Placement(cpu, "fp32"))
    after = net.features(x, ["logits"])["logits"]
    assert torch.equal(before, after)  # the float32 master weights were never rounded
    assert not torch.equal(before, low) and torch.allclose(before, low, atol=0.5, rtol=0.1)


def test_a_bf16_dream_is_deterministic_and_close_to_fp32(net, chelsea):
    from neuralgae.core.optvis.dream import DreamSettings, build_objective, dream
    from neuralgae.core.media.images import resize
    from neuralgae.core.nets.network import parse_layer_selections

    image = resize(chelsea, 96, 128)
    settings = DreamSettings(octaves=2, steps=3)
    objective = build_objective(net, parse_layer_selections("block6"))
    cpu = torch.device("cpu")
    try:
        net.place(Placement(cpu, "bf16"))
        a = dream(net, image, objective, settings=settings, rng=np.random.default_rng(1))
        b = dream(net, image, objective, settings=settings, rng=np.random.default_rng(1))
        net.place(Placement(cpu, "fp32"))
        c = dream(net, image, objective, settings=settings, rng=np.random.default_rng(1))
    finally:
        net.place(Placement(cpu, "fp32"))
    from scipy.ndimage import gaussian_filter

    np.testing.assert_array_equal(a, b)
    # the same picture, not the same bits: what each dream changed, compared at the scale of its structures
    changed_16, changed_32 = (gaussian_filter(d - image, (2, 2, 0)).ravel() for d in (a, c))
    assert np.corrcoef(changed_16, changed_32)[0, 1] > 0.75


class TinyModuleNet(torch.nn.Module):
    """A third-party network: a torch module with the engine's contract and no place()."""

    name = "tiny"
    input_size = 32
    num_classes = 4

    def __init__(self):
        super().__init__()
        from neuralgae.core.nets.network import LayerInfo

        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.layers = (LayerInfo("conv", 4, 1), LayerInfo("logits", 4, 1))

    def features(self, x, layers):
        y = self.conv(x)
        return {name: y for name in layers}

    def forward(self, x):
        return self.conv(x).mean(dim=(2, 3))


def test_third_party_module_networks_run_under_autocast(hardware):
    net = placement.place_network(TinyModuleNet(), "cpu", "bf16")
    assert isinstance(net, placement.AutocastNetwork) and net.placement.precision == "bf16"
    out = net.features(torch.rand(1, 3, 16, 16), ["conv"])["conv"]
    assert out.dtype == torch.float32 and out.shape == (1, 4, 16, 16)
    assert net.name == "tiny" and net(torch.rand(1, 3, 16, 16)).dtype == torch.float32
    plain = placement.place_network(TinyModuleNet(), "cpu", "fp32")
    assert plain.placement.describe() == "cpu fp32"


def test_a_network_that_is_not_a_module_stays_on_the_cpu(hardware):
    class NotAModule:
        name = "numpy-net"

    thing = NotAModule()
    assert placement.place_network(thing, "cpu", "fp32") is thing
    with pytest.raises(NeuralgaeError, match="not a torch module, so it runs only on the CPU in fp32"):
        placement.place_network(NotAModule(), "cpu", "bf16")


def test_bf16_measurement_is_done_once_and_remembered(net, monkeypatch, tmp_path):
    monkeypatch.setenv("ND_CACHE_DIR", str(tmp_path))
    calls = []
    monkeypatch.setattr(placement, "measure_bf16", lambda n: calls.append(1) or {"bf16_faster": True, "fp32_s": 2, "bf16_s": 1})
    assert placement.bf16_pays_off(net) is True
    assert placement.bf16_pays_off(net) is True
    assert calls == [1]
    saved = json.loads((tmp_path / "precision.json").read_text())
    assert list(saved.values())[0]["bf16_faster"] is True
    (tmp_path / "precision.json").write_text("{not json")  # a broken cache is measured again, not an error
    assert placement.bf16_pays_off(net) is True and calls == [1, 1]


def test_measure_bf16_times_both_precisions_and_leaves_fp32(net, monkeypatch):
    monkeypatch.setattr(placement, "PROBE_SIDE", 64)
    verdict = placement.measure_bf16(net)
    assert verdict["fp32_s"] > 0 and verdict["bf16_s"] > 0 and verdict["layer"] == "block10"
    assert net.placement.precision == "fp32"


def test_host_places_its_networks_and_checks_the_request_early(hardware):
    from neuralgae.core.host.plugins import PluginHost

    host = PluginHost(entry_points=False)
    with pytest.raises(NeuralgaeError, match="fp16 is not supported on the CPU"):
        host.use(device="cpu", precision="fp16")
    with pytest.raises(NeuralgaeError, match="'cuda' is not available"):
        host.use(device="cuda")
    host.use(device="cpu", precision="bf16")
    net = host.network("efficientnet-lite0")
    assert net.placement.describe() == "cpu bf16"
    from neuralgae.core.nets.network import placement_record

    assert placement_record(net) == {"device": "cpu", "precision": "bf16"}


# -- memory ------------------------------------------------------------------------


class FlakyMemoryNet:
    """Wraps a network; runs out of memory on inputs with more than ``limit`` pixels, as a small GPU would."""

    def __init__(self, net, limit: int):
        self.net, self.limit, self.sizes = net, limit, []
        self.name, self.layers, self.input_size = net.name, net.layers, net.input_size

    def features(self, x, layers):
        self.sizes.append(tuple(x.shape[-2:]))
        if x.shape[-2] * x.shape[-1] > self.limit:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (simulated)")
        return self.net.features(x, layers)


def test_out_of_memory_retries_the_step_with_smaller_tiles(net, chelsea, caplog):
    from neuralgae.core.optvis.dream import DreamSettings, build_objective, dream
    from neuralgae.core.media.images import resize
    from neuralgae.core.nets.network import parse_layer_selections

    flaky = FlakyMemoryNet(net, limit=200 * 200)
    image = resize(chelsea, 240, 360)
    objective = build_objective(net, parse_layer_selections("block4"))
    settings = DreamSettings(octaves=1, steps=3, tile_size=512, tile_overlap=16, tiling="auto")
    with caplog.at_level(logging.WARNING, logger="neuralgae"):
        out = dream(flaky, image, objective, settings=settings, rng=np.random.default_rng(0))
    assert out.shape == image.shape and np.abs(out - image).mean() > 0.001
    notes = [r.getMessage() for r in caplog.records if "out of memory" in r.getMessage()]
    assert notes and all("\n" not in n for n in notes)
    assert len(notes) == len(set(notes))  # once per size, not once per step
    assert max(h * w for h, w in flaky.sizes[-3:]) <= 200 * 200  # later steps keep the size that fits


def test_out_of_memory_at_the_smallest_tile_is_one_clear_error(net, chelsea):
    from neuralgae.core.optvis.dream import DreamSettings, build_objective, dream
    from neuralgae.core.media.images import resize
    from neuralgae.core.nets.network import parse_layer_selections

    flaky = FlakyMemoryNet(net, limit=10)
    objective = build_objective(net, parse_layer_selections("block4"))
    with pytest.raises(NeuralgaeError, match="ran out of memory even with 128 px tiles"):
        dream(flaky, resize(chelsea, 240, 360), objective, settings=DreamSettings(octaves=1, steps=1), rng=np.random.default_rng(0))


def test_other_errors_are_not_taken_for_out_of_memory(net, chelsea):
    from neuralgae.core.optvis.dream import DreamSettings, build_objective, dream
    from neuralgae.core.nets.network import parse_layer_selections

    class Broken(FlakyMemoryNet):
        def features(self, x, layers):
            raise RuntimeError("shape mismatch")

    objective = build_objective(net, parse_layer_selections("block4"))
    with pytest.raises(RuntimeError, match="shape mismatch"):
        dream(Broken(net, 0), chelsea[:64, :64], objective, settings=DreamSettings(octaves=1, steps=1))


def test_gpu_tiles_are_sized_from_free_memory(monkeypatch):
    import importlib

    from neuralgae.core.optvis.dream import DreamSettings, fit_to_device

    dream_mod = importlib.import_module("neuralgae.core.optvis.dream")  # the module; neuralgae.core.dream the name is the function

    settings = DreamSettings()
    monkeypatch.setattr(dream_mod, "step_memory", lambda device: 16 * 2**30)  # a 16 GB GPU, nearly empty
    small = fit_to_device(settings, torch.zeros(1, 3, 1024, 1024))
    assert small.tiling == "never"
    huge = fit_to_device(settings, torch.zeros(1, 3, 8192, 8192))
    assert huge.tiling == "always" and 1024 <= huge.tile_size <= 4096 and huge.tile_size % 32 == 0
    pixels = (huge.tile_size + 2 * huge.tile_overlap) ** 2
    assert pixels * dream_mod.GPU_BYTES_PER_PIXEL["fp32"] <= 16 * 2**30 * dream_mod.GPU_MEMORY_SHARE
    assert fit_to_device(DreamSettings(tiling="always", tile_size=300), torch.zeros(1, 3, 8192, 8192)).tile_size == 300
    monkeypatch.setattr(dream_mod, "step_memory", lambda device: None)  # the CPU: unchanged
    assert fit_to_device(settings, torch.zeros(1, 3, 8192, 8192)) == settings


# -- batch -------------------------------------------------------------------------


def test_batch_starts_one_worker_per_gpu(hardware):
    from neuralgae.core.runs.batch_cluster import gpu_workers

    hardware(cuda=4)
    assert gpu_workers("auto") == 4 and gpu_workers("cuda") == 4 and gpu_workers("cuda:2") == 1
    assert gpu_workers("cpu") == 0
    hardware(cuda=0)
    assert gpu_workers(None) == 0


def test_several_gpus_without_dask_cuda_is_one_clear_error(monkeypatch):
    import builtins

    from neuralgae.core.runs.batch_cluster import local_gpu_cluster

    real_import = builtins.__import__

    def no_dask_cuda(name, *args, **kwargs):
        if name.startswith("dask_cuda"):
            raise ImportError("No module named 'dask_cuda'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dask_cuda)
    with pytest.raises(NeuralgaeError, match=r"needs dask-cuda .* pip install 'neuralgae\[gpu\]'"):
        local_gpu_cluster(2, most_workers=None, silence=logging.ERROR)


# -- the command line ----------------------------------------------------------------


def test_cli_device_errors_are_one_line_before_any_work(tmp_path):
    from typer.testing import CliRunner

    from neuralgae_cli.main import app

    out = tmp_path / "x.png"
    for args in (
        ["dream", "noise:64x64", "-o", str(out), "--device", "cuda:7"],
        ["draw", "--classes", "goldfish", "-o", str(out), "--device", "mps"],
        ["classify", str(tmp_path / "missing.png"), "--device", "quantum"],
        ["dream", "noise:64x64", "-o", str(out), "--precision", "fp16", "--device", "cpu"],
        ["run", "zoom", "--out", str(tmp_path / "run"), "--device", "cuda"],
    ):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 1, (args, result.output)
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("nd: error:"), result.output
    assert not out.exists() and not (tmp_path / "run").exists()


def test_png_and_manifest_record_device_and_precision(tmp_path):
    from typer.testing import CliRunner

    from neuralgae.core.media.images import read_metadata
    from neuralgae_cli.main import app

    out = tmp_path / "d.png"
    result = CliRunner().invoke(app, ["dream", "noise:64x64", "-o", str(out), "--octaves", "1", "--steps", "1",
                                      "--device", "cpu", "--precision", "bf16"])
    assert result.exit_code == 0, result.output
    meta = read_metadata(out)
    assert meta["device"] == "cpu" and meta["precision"] == "bf16"
    run = tmp_path / "run"
    result = CliRunner().invoke(app, ["run", "zoom", "--frames", "2", "--out", str(run), "-q", "--set", "renderer.steps=1",
                                      "--set", "renderer.octaves=1", "--set", "source.resize=64x64", "--device", "cpu",
                                      "--precision", "fp32"])
    assert result.exit_code == 0, result.output
    entries = [json.loads(line) for line in (run / "manifest.jsonl").read_text().splitlines()]
    assert [(e["device"], e["precision"]) for e in entries] == [("cpu", "fp32")] * 2
    assert read_metadata(run / entries[1]["file"])["precision"] == "fp32"
    assert "device" not in (run / "spec.toml").read_text()  # specs stay portable


# -- on a GPU ------------------------------------------------------------------------

gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")


@pytest.mark.gpu
@gpu
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_gpu_dream_is_deterministic_and_matches_the_cpu(net, chelsea, precision):
    from neuralgae.core.optvis.dream import DreamSettings, build_objective, dream
    from neuralgae.core.media.images import resize
    from neuralgae.core.nets.network import parse_layer_selections

    image = resize(chelsea, 128, 192)
    settings = DreamSettings(octaves=2, steps=3)
    objective = build_objective(net, parse_layer_selections("block6"))
    cuda = torch.device("cuda", 0)
    try:
        net.place(Placement(cuda, precision))
        a = dream(net, image, objective, settings=settings, rng=np.random.default_rng(2))
        b = dream(net, image, objective, settings=settings, rng=np.random.default_rng(2))
    finally:
        net.place(Placement(torch.device("cpu"), "fp32"))
    c = dream(net, image, objective, settings=settings, rng=np.random.default_rng(2))
    from scipy.ndimage import gaussian_filter

    np.testing.assert_array_equal(a, b)
    changed_gpu, changed_cpu = (gaussian_filter(d - image, (2, 2, 0)).ravel() for d in (a, c))
    assert np.corrcoef(changed_gpu, changed_cpu)[0, 1] > 0.75


@pytest.mark.gpu
@gpu
def test_gpu_steps_copy_nothing_to_the_host(net, chelsea):
    """A profiler trace of dream steps on CUDA shows no device-to-host copies."""
    from torch.profiler import ProfilerActivity, profile

    from neuralgae.core.optvis.dream import DreamSettings, ascent_step, build_objective
    from neuralgae.core.nets.network import parse_layer_selections

    cuda = torch.device("cuda", 0)
    try:
        net.place(Placement(cuda, "fp32"))
        objective = build_objective(net, parse_layer_selections("block10"))
        image = torch.rand(1, 3, 256, 256, device=cuda)
        rng = np.random.default_rng(0)
        ascent_step(net, objective, image, DreamSettings(), rng)
        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as trace:
            for _ in range(3):
                ascent_step(net, objective, image, DreamSettings(), rng)
            torch.cuda.synchronize()
    finally:
        net.place(Placement(torch.device("cpu"), "fp32"))
    copies = [e.name for e in trace.events() if "Memcpy DtoH" in e.name or "Memcpy D2H" in e.name]
    assert copies == []


def test_deepdraw_out_of_memory_draws_fewer_tiles_at_a_time(net, caplog, monkeypatch):
    import neuralgae.core.optvis.draw as draw_module
    from neuralgae.core.optvis.draw import DrawTarget, render_draw, start_canvas
    from neuralgae.core.optvis.draw_schedule import preset, with_steps

    class FewCrops(FlakyMemoryNet):
        def features(self, x, layers):
            self.sizes.append(x.shape[0])
            if x.shape[0] > 2:
                raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
            return self.net.features(x, layers)

    monkeypatch.setattr(draw_module, "_fits", {})
    flaky = FewCrops(net, 0)
    rng = np.random.default_rng(0)
    with caplog.at_level(logging.WARNING, logger="neuralgae"):
        settings = replace(with_steps(preset("fast"), 4), tile=64)  # many small tiles a step
        out = render_draw(flaky, start_canvas(200, 300, rng), [DrawTarget(1)], settings=settings, rng=rng)
    assert out.shape == (200, 300, 3)
    notes = [r.getMessage() for r in caplog.records if "out of memory" in r.getMessage()]
    assert notes and len(notes) == len(set(notes))  # once per size, not once per step
    assert max(flaky.sizes[-3:]) <= 2
    assert draw_module._fits


def test_deepdraw_out_of_memory_on_one_tile_is_one_clear_error(net, monkeypatch):
    import neuralgae.core.optvis.draw as draw_module
    from neuralgae.core.optvis.draw import DrawTarget, render_draw, start_canvas
    from neuralgae.core.optvis.draw_schedule import preset, with_steps

    class NoRoom(FlakyMemoryNet):
        def features(self, x, layers):
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")

    monkeypatch.setattr(draw_module, "_fits", {})
    rng = np.random.default_rng(0)
    with pytest.raises(NeuralgaeError, match="ran out of memory drawing a single tile"):
        render_draw(NoRoom(net, 0), start_canvas(64, 64, rng), [DrawTarget(1)], settings=with_steps(preset("fast"), 2), rng=rng)


def test_fp16_gradients_are_loss_scaled_and_overflow_is_zeroed():
    import types

    from neuralgae.core.nets.network import FP16_LOSS_SCALE, input_gradient, loss_scale

    fp16 = types.SimpleNamespace(placement=Placement(torch.device("cpu"), "fp16"))
    assert loss_scale(fp16) == FP16_LOSS_SCALE and loss_scale(object()) == 1.0
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    assert torch.equal(input_gradient(fp16, (x * x).sum(), x), 2 * x.detach())
    y = torch.tensor([1.0, 3e38], requires_grad=True)
    grad = input_gradient(fp16, (y * y).sum(), y)  # 2 * 3e38 * 1024 overflows float32
    assert grad[0] == 2.0 and grad[1] == 0.0


def test_an_empty_device_or_precision_means_auto(hardware):
    hardware(cuda=0, mps=False)
    assert resolve_device("") == resolve_device("  ") == torch.device("cpu")
    assert resolve_precision(" ", torch.device("cpu")) == "fp32"
