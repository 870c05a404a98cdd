"""torchvision's architectures as networks, with random weights the tests write themselves (nothing is downloaded).

Each architecture is built, given BatchNorm statistics of random images (so
a random network's activations and logits follow its input, as a trained
one's do) and saved under torchvision's own file name once per module; the
tests of one architecture run together, and its network is freed before the
next is built.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from neuralgae.core.host.errors import NeuralgaeError
from neuralgae.core.nets.network import parse_layer_selections

torchvision = pytest.importorskip("torchvision")

from neuralgae.core.nets import torchvision_nets as tvn  # noqa: E402

SIDE = 96


@dataclass(frozen=True)
class Case:
    """What a test expects of one architecture: some of its layers, a layer to dream, its head and its logits."""

    arch: str
    layers: tuple[str, ...]
    dream: str
    channels: int  # of the dream layer
    head: str  # the module that classifies; it must not run for a middle layer
    last: str  # the deepest feature layer: it must not run for the dream layer either
    spatial: bool
    input_size: int = 224


CASES = {
    c.arch: c
    for c in (
        Case("googlenet", ("conv1", "conv2", "conv3", "inception3a", "inception3b", "inception4a", "inception4b",
                           "inception4c", "inception4d", "inception4e", "inception5a", "inception5b"),
             "inception4c", 512, "fc", "inception5b", True),
        Case("inception_v3", ("Conv2d_1a_3x3", "Mixed_5b", "Mixed_6b", "Mixed_6e", "Mixed_7c"), "Mixed_6b", 768, "fc",
             "Mixed_7c", True, 299),
        Case("vgg16", ("conv1_1", "conv1_2", "pool1", "conv3_3", "conv4_3", "conv5_3", "pool5"), "conv4_3", 512,
             "classifier", "features.29", False),
        Case("vgg19", ("conv1_1", "conv3_4", "conv4_4", "conv5_4", "pool5"), "conv4_2", 512, "classifier", "features.35", False),
        Case("resnet50", ("stem", "layer1.0", "layer1", "layer2", "layer3.4", "layer3", "layer4"), "layer3", 1024, "fc",
             "layer4", True),
        Case("mobilenet_v3_large", ("features.0", "features.8", "features.16"), "features.10", 80, "classifier",
             "features.16", False),
        Case("convnext_tiny", ("features.0", "features.3", "features.7"), "features.5", 384, "classifier", "features.7", False),
    )
}
assert tuple(CASES) == tvn.SHOWCASE


def lively(model: nn.Module, side: int = SIDE) -> nn.Module:
    """BatchNorm statistics of random images: a randomly initialised network whose logits follow its input smoothly."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return model
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a plain average over the batches
    aux = {name: getattr(model, name) for name in tvn.AUX_MODULES if getattr(model, name, None) is not None}
    for name in aux:  # the auxiliary heads need larger images; their weights are saved all the same
        setattr(model, name, None)
    model.train()
    with torch.no_grad():
        for seed in range(2):
            model(torch.rand(4, 3, side, side, generator=torch.Generator().manual_seed(seed)))
    model.eval()
    for m in norms:  # channels that hardly vary would amplify noise into a chaotic network
        m.running_var.clamp_(min=float(m.running_var.mean()))
    for name, module in aux.items():
        setattr(model, name, module)
    return model


def random_weights(arch: str, folder: Path) -> Path:
    """A state_dict of ``arch`` with random weights, saved under torchvision's file name for its default weights."""
    torch.manual_seed(0)
    kwargs = {"aux_logits": True, "init_weights": False} if arch in tvn.TRANSFORM_INPUT else {}
    model = lively(torchvision.models.get_model(arch, weights=None, **kwargs), {"inception_v3": 128, "maxvit_t": 224}.get(arch, SIDE))
    path = folder / tvn.file_name(tvn.weight_entries(arch)[0])
    sd = model.state_dict()
    if arch.startswith("vgg"):  # half the file (they are 0.5 GB); the network loads them as float32
        sd = {k: v.half() if v.is_floating_point() else v for k, v in sd.items()}
    torch.save(sd, path)
    return path


@dataclass
class Zoo:
    case: Case
    path: Path
    net: object


@pytest.fixture(scope="module", params=list(CASES))
def zoo(request, tmp_path_factory):
    case = CASES[request.param]
    path = random_weights(case.arch, tmp_path_factory.mktemp(case.arch))
    net = tvn.load_torchvision(case.arch, weights=path)
    yield Zoo(case, path, net)
    del net
    path.unlink()


def image(seed: int = 0, side: int = SIDE) -> torch.Tensor:
    return torch.rand(1, 3, side, side, generator=torch.Generator().manual_seed(seed))


def test_loads_with_its_layers_input_size_and_classes(zoo):
    net, case = zoo.net, zoo.case
    names = [layer.name for layer in net.layers]
    assert net.name == f"torchvision:{case.arch}" and net.input_size == case.input_size and net.num_classes == 1000
    assert set(case.layers) <= set(names), names
    assert names[-1] == "logits" and net.spatial_logits is case.spatial
    info = {layer.name: layer for layer in net.layers}
    assert info[case.dream].channels == case.channels
    strides = [layer.stride for layer in net.layers if layer.name != "logits"]
    assert strides == sorted(strides) and strides[-1] == 32  # shallow to deep, down to 1/32 of the image
    assert net.class_names is not None and len(net.class_names) == 1000
    assert len(names) == len(set(names))


def test_layer_maps_have_the_listed_channels_and_channel_selection_works(zoo):
    net = zoo.net
    middle = [layer for layer in net.layers if layer.name != "logits"][::3]
    with torch.no_grad():
        feats = net.features(image(), [layer.name for layer in middle])
    for layer in middle:
        assert feats[layer.name].ndim == 4 and feats[layer.name].shape[1] == layer.channels, layer.name
    (sel,) = parse_layer_selections(f"{zoo.case.dream}:0-15", net)
    assert sel.channels == tuple(range(16))
    with pytest.raises(NeuralgaeError, match="channel 4000 does not exist"):
        parse_layer_selections(f"{zoo.case.dream}:4000", net)


def test_the_pass_stops_at_the_deepest_layer_asked_for(zoo):
    net, case = zoo.net, zoo.case
    modules = dict(net.model.named_modules())
    ran = []  # modules that started to run
    handles = [modules[name].register_forward_pre_hook(lambda m, i, name=name: ran.append(name)) for name in (case.head, case.last)]
    try:
        with torch.no_grad():
            shallow = net.features(image(), [case.dream])
            assert ran == []  # neither the head nor the deepest layer ran
            both = net.features(image(), [case.dream, "logits"])
    finally:
        for h in handles:
            h.remove()
    torch.testing.assert_close(shallow[case.dream], both[case.dream])
    assert case.last in ran
    assert (case.head in ran) is not case.spatial  # a spatial head uses the classifier's weights per position


def test_the_mean_of_the_logits_map_is_the_models_output(zoo):
    net = zoo.net
    x = image(1)
    with torch.no_grad():
        logits_map = net.features(x, ["logits"])["logits"]
        out = net.model(net.prepare(x))
    assert logits_map.shape[:2] == (1, 1000)
    if not zoo.case.spatial:
        assert logits_map.shape[-2:] == (1, 1)
    torch.testing.assert_close(logits_map.mean(dim=(2, 3)), out, atol=1e-4, rtol=1e-4)
    assert out.std() > 1e-3  # the logits follow the image: the test weights are alive


def test_a_dream_step_increases_the_objective(zoo):
    from neuralgae.core.optvis.dream import DreamSettings, ascent_step, build_objective, objective_gradient, to_tensor

    net = zoo.net
    objective = build_objective(net, parse_layer_selections(zoo.case.dream, net))
    x = to_tensor(np.random.default_rng(0).random((SIDE, SIDE, 3), dtype=np.float32))
    _, before = objective_gradient(net, objective, x)
    x, _ = ascent_step(net, objective, x, DreamSettings(jitter=0), np.random.default_rng(0))
    _, after = objective_gradient(net, objective, x)
    assert float(after) > float(before)


def test_a_draw_step_raises_the_class_logit(zoo):
    from dataclasses import replace

    from neuralgae.core.optvis.draw import DrawTarget, class_scores, render_draw, start_canvas
    from neuralgae.core.optvis.draw_schedule import Octave, preset

    net = zoo.net
    rng = np.random.default_rng(0)
    start = start_canvas(SIDE, SIDE, rng)
    one_octave = (Octave(2, 1.0, (0.3, 0.3), (0.005, 0.005)),)  # two short steps at full size, hardly blurred
    settings = replace(preset("fast"), octaves=one_octave, jitter=0, scale_jitter=0.0, rotate=0.0)
    out = render_draw(net, start, [DrawTarget(1)], settings=settings, rng=rng)
    before, after = class_scores(net, start)[1], class_scores(net, out)[1]
    assert after > before, (before, after)


# -- weights: files, the hub cache, wrong files ---------------------------------------------


@pytest.fixture(scope="module")
def googlenet_file(tmp_path_factory):
    return random_weights("googlenet", tmp_path_factory.mktemp("googlenet-file"))


@pytest.fixture(scope="module")
def resnet18_file(tmp_path_factory):
    return random_weights("resnet18", tmp_path_factory.mktemp("resnet18-file"))


@pytest.fixture
def host():
    from neuralgae.core.host.plugins import PluginHost

    return PluginHost(entry_points=False).use(device="cpu", precision="fp32")


def one_line(exc_info) -> str:
    text = str(exc_info.value)
    assert "\n" not in text and "Traceback" not in text
    return text


def test_any_torchvision_classifier_by_name(host, resnet18_file):
    net = host.network("torchvision:resnet18", weights=resnet18_file)
    assert [layer.name for layer in net.layers][:3] == ["stem", "layer1.0", "layer1"]
    assert net.features(image(), ["layer2"])["layer2"].shape == (1, 128, 12, 12)
    assert host.network("torchvision:resnet18", weights=resnet18_file) is net  # built once
    assert set(tvn.SHOWCASE) | {"resnet18", "vit_b_16", "swin_t"} <= set(host.networks["torchvision"].known_members())


def test_a_missing_or_wrong_weights_file_is_one_line(host, googlenet_file, resnet18_file, tmp_path):
    with pytest.raises(NeuralgaeError) as missing:
        host.network("torchvision:googlenet", weights=tmp_path / "nope.pth")
    assert "does not exist" in one_line(missing) and "nope.pth" in str(missing.value)
    with pytest.raises(NeuralgaeError) as wrong:
        host.network("torchvision:googlenet", weights=resnet18_file)
    text = one_line(wrong)
    assert "do not fit torchvision:googlenet" in text and "it is torchvision's file for resnet18" in text
    assert "googlenet-1378be20.pth" in text
    junk = tmp_path / "junk.pth"
    junk.write_text("not weights at all")
    with pytest.raises(NeuralgaeError) as not_torch:
        host.network("torchvision:googlenet", weights=junk)
    assert "is not a torch weights file" in one_line(not_torch)
    pickled = tmp_path / "pickled.pth"
    torch.save({"state_dict": torch.load(googlenet_file, weights_only=True), "args": argparse.Namespace(lr=0.1)}, pickled)
    with pytest.raises(NeuralgaeError) as objects:
        host.network("torchvision:googlenet", weights=pickled)
    assert "holds Python objects besides tensors" in one_line(objects)


def test_checkpoints_holding_a_state_dict_load(host, googlenet_file, tmp_path):
    sd = torch.load(googlenet_file, weights_only=True)
    checkpoint = tmp_path / "checkpoint.pth"
    torch.save({"epoch": 3, "model": {f"module.{k}": v for k, v in sd.items()}}, checkpoint)
    net = host.network("torchvision:googlenet", weights=checkpoint)
    plain = host.network("torchvision:googlenet", weights=googlenet_file)
    x = image(2)
    with torch.no_grad():
        torch.testing.assert_close(net(x), plain(x))


def test_weights_come_from_the_hub_cache_and_are_never_fetched(host, googlenet_file, tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", lambda *a, **k: pytest.fail("nothing may be downloaded"))
    with pytest.raises(NeuralgaeError) as missing:
        host.check_network("torchvision:googlenet")
    text = one_line(missing)
    assert "googlenet-1378be20.pth" in text and str(tmp_path / "hub" / "checkpoints") in text
    assert "torchvision.models.get_weight('GoogLeNet_Weights.IMAGENET1K_V1').url" in text
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    (tmp_path / "hub" / "checkpoints" / googlenet_file.name).symlink_to(googlenet_file)
    net = host.network("torchvision:googlenet")
    assert net.weights_file.name == "googlenet-1378be20.pth"


def test_without_torchvision_one_line_says_how_to_install_it(host, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "torchvision", None)
    with pytest.raises(NeuralgaeError) as exc:
        host.check_network("torchvision:googlenet")
    assert "pip install neuralgae[zoo]" in one_line(exc)


def test_unknown_members_and_options_are_one_line(host, googlenet_file):
    with pytest.raises(NeuralgaeError, match="'torchvision' has no network 'googlnet'; did you mean 'googlenet'"):
        host.network("torchvision:googlnet")
    with pytest.raises(NeuralgaeError, match="unknown network 'googlenet'; did you mean 'torchvision:googlenet'"):
        host.network("googlenet")
    with pytest.raises(NeuralgaeError, match="has no option 'weight'; did you mean 'weights'"):
        host.network("torchvision:googlenet", weight=googlenet_file)
    with pytest.raises(NeuralgaeError, match="is a family of networks; name one of them"):
        host.network("torchvision")


def test_googlenet_is_built_as_torchvisions_weights_expect(host, googlenet_file):
    net = host.network("torchvision:googlenet", weights=googlenet_file)
    assert net.model.transform_input is True and net.model.aux1 is None and net.model.aux2 is None
    x = image(3)
    with torch.no_grad():  # transform_input: ImageNet-normalised input in, the [-1, 1] scaling the weights know
        turned = torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=False, transform_input=False)
        turned.load_state_dict({k: v for k, v in torch.load(googlenet_file, weights_only=True).items() if not k.startswith("aux")})
        torch.testing.assert_close(net(x), turned.eval()(x * 2 - 1), atol=1e-4, rtol=1e-4)


def test_bf16_on_the_cpu_runs_under_autocast(googlenet_file):
    from neuralgae.core.nets.placement import AutocastNetwork
    from neuralgae.core.host.plugins import PluginHost

    host = PluginHost(entry_points=False).use(device="cpu", precision="bf16")
    net = host.network("torchvision:googlenet", weights=googlenet_file)
    assert isinstance(net, AutocastNetwork) and net.placement.precision == "bf16"
    feats = net.features(image(), ["inception4c"])
    assert feats["inception4c"].dtype == torch.float32 and torch.isfinite(feats["inception4c"]).all()


def test_aiming_with_a_whole_image_logit_needs_tiles(resnet18_file, tmp_path):
    from neuralgae.core.optvis.draw import DrawTarget, check_aim_fits
    from neuralgae.core.optvis.draw_aim import region_mask

    vgg_like = type("Net", (), {"name": "torchvision:vgg16", "spatial_logits": False, "input_size": 224})()
    targets = [DrawTarget(1, mask=region_mask("top", 224, 224)), DrawTarget(2, mask=region_mask("bottom", 224, 224))]
    with pytest.raises(NeuralgaeError, match="one logit per class for the whole image.*draw at least 448x448"):
        check_aim_fits(vgg_like, targets, 224, 224, 224)
    check_aim_fits(vgg_like, targets, 512, 512, 224)  # tiles: each judged on its own
    check_aim_fits(vgg_like, [DrawTarget(1)], 224, 224, 224)  # no aim, no problem


# -- the command line and specs --------------------------------------------------------------


runner = CliRunner()


def nd(*args):
    from neuralgae_cli.main import app

    return runner.invoke(app, [str(a) for a in args])


def test_nd_layers_lists_a_torchvision_networks_layers(googlenet_file):
    result = nd("layers", "--network", "torchvision:googlenet", "--weights", googlenet_file)
    assert result.exit_code == 0, result.output
    for name in ("inception3b", "inception4c", "inception4d", "inception5b", "logits"):
        assert name in result.output
    missing = nd("layers", "--network", "torchvision:googlenet", "--weights", googlenet_file.with_name("nope.pth"))
    assert missing.exit_code == 1
    (line,) = missing.output.strip().splitlines()
    assert line.startswith("nd: error: --weights: the weights file") and "does not exist" in line


def test_nd_dream_records_the_network_and_its_weights(googlenet_file, tmp_path):
    from neuralgae.core.media.images import read_metadata
    from neuralgae.core.nets.weights import file_sha256

    out = tmp_path / "d.png"
    result = nd("dream", "noise:64x64", "-o", out, "--network", "torchvision:googlenet", "--weights", googlenet_file,
                "--layers", "inception4c:0-15", "--octaves", 1, "--steps", 1)
    assert result.exit_code == 0, result.output
    meta = read_metadata(out)
    assert meta["network"] == "torchvision:googlenet" and meta["weights_sha256"] == file_sha256(googlenet_file)
    assert len(meta["weights_sha256"]) == 12


def test_a_spec_takes_weights_relative_to_its_folder(googlenet_file, tmp_path, monkeypatch):
    import json

    from neuralgae.core.nets.weights import file_sha256

    folder = tmp_path / "specs"
    folder.mkdir()
    (folder / "googlenet.pth").symlink_to(googlenet_file)
    spec = folder / "g.toml"
    spec.write_text(
        'frames = 2\nnetwork = { name = "torchvision:googlenet", weights = "googlenet.pth" }\n'
        '[source]\nnoise = "64x64"\n[renderer]\nname = "dream"\nlayers = "inception4c"\noctaves = 1\nsteps = 1\n'
        '[[transforms]]\nname = "zoom"\nscale = 0.05\n'
    )
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = nd("run", spec, "--out", tmp_path / "out", "-q")
    assert result.exit_code == 0, result.output
    entries = [json.loads(line) for line in (tmp_path / "out" / "manifest.jsonl").read_text().splitlines()]
    assert {e["network"] for e in entries} == {"torchvision:googlenet"}
    assert {e["weights_sha256"] for e in entries} == {file_sha256(googlenet_file)}
    resumed = nd("run", tmp_path / "out" / "spec.toml", "--resume", "--frames", 3, "-q")  # the resolved spec keeps the file
    assert resumed.exit_code == 0, resumed.output
    spec.write_text(spec.read_text().replace('"googlenet.pth"', '"gone.pth"'))
    refused = nd("run", spec, "--out", tmp_path / "out2", "-q")
    assert refused.exit_code == 1
    (line,) = refused.output.strip().splitlines()
    assert "network: the weights file 'gone.pth' of network 'torchvision:googlenet' does not exist" in line
    assert str(folder / "gone.pth") in line and not (tmp_path / "out2").exists()  # refused before any work
    again = nd("run", spec, "--out", tmp_path / "out3", "-q", "--weights", folder / "googlenet.pth")
    assert again.exit_code == 0, again.output


# -- every other family ---------------------------------------------------------------------------


FAMILIES = {  # one small member of each other family: (a layer it must offer, whether its logits are a map)
    "squeezenet1_1": ("features.12", True),
    "shufflenet_v2_x0_5": ("stage3.0", True),
    "mnasnet0_5": ("layers.10", True),
    "regnet_y_400mf": ("trunk_output.block3", True),
    "densenet121": ("features.denseblock3", True),
    "efficientnet_b0": ("features.5", True),
    "mobilenet_v2": ("features.10", True),
    "swin_t": ("features.5", True),  # channels-last stages, read as maps
    "vit_b_16": ("encoder_layer_6", False),  # tokens laid out as a map; one input size, 224
    "alexnet": ("conv3", False),
}


@pytest.mark.parametrize("arch", list(FAMILIES))
def test_any_other_architecture_works_as_a_network(arch, tmp_path):
    layer, spatial = FAMILIES[arch]
    net = tvn.load_torchvision(arch, weights=random_weights(arch, tmp_path))
    assert layer in [info.name for info in net.layers] and net.spatial_logits is spatial
    x = image(4).requires_grad_(True)
    feats = net.features(x, [layer, "logits"])
    assert feats[layer].ndim == 4 and feats[layer].shape[1] == next(i.channels for i in net.layers if i.name == layer)
    (grad,) = torch.autograd.grad(feats[layer].pow(2).sum(), x)
    assert grad.abs().sum() > 0
    with torch.no_grad():
        out = net.model(net.prepare(x.detach()))
    torch.testing.assert_close(feats["logits"].detach().mean(dim=(2, 3)), out, atol=1e-3, rtol=1e-3)
