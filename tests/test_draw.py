"""deepdraw engine: the objective rises, targets win, aims hold, seeds repeat, masks confine."""

from dataclasses import replace

import numpy as np
import pytest

from neuralgae.core.optvis.draw import DrawTarget, class_scores, render_draw, start_canvas, targets_from_classes
from neuralgae.core.optvis.draw_aim import region_mask
from neuralgae.core.optvis.draw_schedule import PRESETS, DrawSettings, Octave, preset, with_steps
from neuralgae.core.host.errors import NeuralgaeError

GOLDFISH, VOLCANO, SHARK = 1, 980, 2


@pytest.fixture(scope="module")
def net():
    import torch

    from neuralgae.core.nets.efficientnet_lite import load_efficientnet_lite0

    torch.set_num_threads(2)
    return load_efficientnet_lite0()


def tiny(iterations=24, **changes) -> DrawSettings:
    octaves = (Octave(iterations // 2, 0.75, (0.6, 0.4), (0.04, 0.03)), Octave(iterations - iterations // 2, 1.0, (0.4, 0.2), (0.03, 0.02)))
    return replace(PRESETS["default"], octaves=octaves, **changes)


def draw(net, targets, *, size=(96, 96), seed=0, settings=None, **kw):
    rng = np.random.default_rng(seed)
    start = start_canvas(*size, rng)
    return render_draw(net, start, targets, settings=settings or tiny(), rng=rng, **kw)


def test_objective_rises(net):
    values = []
    draw(net, [DrawTarget(GOLDFISH)], on_step=lambda i, v: values.append(v))
    assert len(values) == 24
    assert np.mean(values[-4:]) > np.mean(values[:4]) + 5


def test_target_becomes_top1(net):
    for cls in (GOLDFISH, VOLCANO):
        out = draw(net, [DrawTarget(cls)])
        assert out.shape == (96, 96, 3) and out.dtype == np.float32
        assert 0 <= out.min() and out.max() <= 1
        assert int(np.argmax(class_scores(net, out))) == cls


def test_hybrid_raises_both_classes(net):
    start = start_canvas(96, 96, np.random.default_rng(0))
    before = class_scores(net, start)
    out = draw(net, targets_from_classes([("goldfish", 1.0), ("volcano", 1.0)]))
    after = class_scores(net, out)
    assert after[GOLDFISH] > before[GOLDFISH] + 5 and after[VOLCANO] > before[VOLCANO] + 5
    top10 = list(np.argsort(-after)[:10])
    assert GOLDFISH in top10 and VOLCANO in top10, top10


def test_aimed_classes_dominate_their_halves(net):
    h, w = 192, 96  # tall enough for a 6 x 3 logit map: halves the network can tell apart
    top, bottom = region_mask("top", h, w), region_mask("bottom", h, w)
    targets = [DrawTarget(GOLDFISH, mask=top), DrawTarget(VOLCANO, mask=bottom)]
    out = draw(net, targets, size=(h, w), settings=tiny(40))  # 30 steps split seed 0 by a hair
    scores = class_scores(net, out, masks=[top, bottom])
    assert scores[0, GOLDFISH] > scores[0, VOLCANO]
    assert scores[1, VOLCANO] > scores[1, GOLDFISH]


def test_same_seed_same_drawing_other_seed_other_drawing(net):
    a = draw(net, [DrawTarget(SHARK)], settings=tiny(6), seed=3)
    b = draw(net, [DrawTarget(SHARK)], settings=tiny(6), seed=3)
    c = draw(net, [DrawTarget(SHARK)], settings=tiny(6), seed=4)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_clipping_mask_confines_change(net):
    rng = np.random.default_rng(0)
    start = start_canvas(96, 96, rng)
    mask = region_mask("centre", 96, 96)
    out = render_draw(net, start, [DrawTarget(GOLDFISH)], settings=tiny(8), rng=rng, clip_mask=mask)
    change = np.abs(out - start).mean(axis=2)
    assert change[mask == 0].max() < 1e-6
    assert change[mask == 1].mean() > 0.02


def test_lucid_dream_keeps_the_photo(net):
    from skimage import data

    from neuralgae.core.media.images import resize

    photo = resize(data.chelsea().astype(np.float32) / 255, 96, 128)
    rng = np.random.default_rng(0)
    out = render_draw(net, photo, [DrawTarget(GOLDFISH)], settings=tiny(12), rng=rng, keep_image=True)
    change = np.abs(out - photo).mean()
    assert 0.01 < change < 0.2  # the classes grow into the photo without replacing it
    assert np.corrcoef(out.ravel(), photo.ravel())[0, 1] > 0.6
    assert class_scores(net, out)[GOLDFISH] > class_scores(net, photo)[GOLDFISH] + 3


def test_large_canvas_is_drawn_everywhere_in_tiles(net):
    settings = replace(tiny(4), tile=64, zoom_views=0)
    rng = np.random.default_rng(0)
    start = start_canvas(96, 200, rng)
    out = render_draw(net, start, [DrawTarget(GOLDFISH)], settings=settings, rng=rng)
    change = np.abs(out - start).mean(axis=2)
    # every 16x16 block changed: no tile left undrawn, edges included
    blocks = change[: 96 // 16 * 16, : 200 // 16 * 16].reshape(6, 16, 12, 16).mean(axis=(1, 3))
    assert blocks.min() > 0.01


def test_focus_points_draw_near_their_points(net):
    settings = replace(tiny(6), tile=64, focus_spread=0.0)
    rng = np.random.default_rng(0)
    start = np.full((64, 192, 3), 0.5, np.float32)  # flat: blur alone changes nothing
    out = render_draw(net, start, [DrawTarget(GOLDFISH, focus=(0.0, 0.5))], settings=settings, rng=rng)
    change = np.abs(out - start).mean(axis=(0, 2))
    assert change[:48].mean() > 5 * change[-48:].mean()


def test_progress_is_reported(net):
    calls = []
    draw(net, [DrawTarget(GOLDFISH)], settings=tiny(4), progress=lambda d, t, m: calls.append((d, t)))
    assert calls[-1] == (4, 4) and len(calls) == 4


@pytest.mark.parametrize("targets,words", [
    ([], "no classes"),
    ([DrawTarget(1000)], "out of range"),
    ([DrawTarget(1, weight=0.0)], "weight"),
    ([DrawTarget(1, focus=(1.5, 0.5))], "focus point"),
    ([DrawTarget(1, mask=np.zeros((96, 96)))], "empty"),
])
def test_bad_targets_say_what_is_wrong(net, targets, words):
    with pytest.raises(NeuralgaeError, match=words):
        draw(net, targets, settings=tiny(2))


def test_bad_images_and_settings(net):
    with pytest.raises(NeuralgaeError, match="too small"):
        render_draw(net, np.zeros((16, 16, 3), np.float32), [DrawTarget(1)], settings=tiny(2))
    with pytest.raises(NeuralgaeError, match="RGB"):
        render_draw(net, np.zeros((64, 64), np.float32), [DrawTarget(1)], settings=tiny(2))
    with pytest.raises(NeuralgaeError, match="jitter"):
        render_draw(net, np.zeros((64, 64, 3), np.float32), [DrawTarget(1)], settings=replace(tiny(2), jitter=-1))


def test_presets_and_steps():
    assert preset("deepdraw").iterations == 500
    assert with_steps(preset("default"), 30).iterations == 30
    with pytest.raises(NeuralgaeError, match="did you mean 'deepdraw'"):
        preset("deepdrow")
    for name, settings in PRESETS.items():
        settings.validate()


def test_unknown_class_names_get_suggestions():
    with pytest.raises(NeuralgaeError, match="goldfish"):
        targets_from_classes([("goldfsh", 1.0)])


def test_renderer_plugin_joins_sampled_classes(net):
    from neuralgae.core.host.components import RenderContext
    from neuralgae.core.host.plugins import PluginHost

    renderer = PluginHost(entry_points=False).get("renderer", "draw")
    params = renderer.bind({"classes": ["goldfish"], "steps": 16, "preset": "fast"})
    start = start_canvas(96, 96, np.random.default_rng(0))
    before = class_scores(net, start)
    ctx = RenderContext(network=net, rng=np.random.default_rng(1), classes=[(VOLCANO, 1.0)])
    out = renderer(start, ctx, **params)
    after = class_scores(net, out)
    assert out.shape == start.shape
    assert after[GOLDFISH] > before[GOLDFISH] + 3 and after[VOLCANO] > before[VOLCANO] + 3


def test_renderer_plugin_needs_classes(net):
    from neuralgae.core.host.components import RenderContext
    from neuralgae.core.host.plugins import PluginHost

    renderer = PluginHost(entry_points=False).get("renderer", "draw")
    with pytest.raises(NeuralgaeError, match="no classes"):
        renderer(start_canvas(64, 64, np.random.default_rng(0)), RenderContext(network=net, rng=np.random.default_rng(0)), **renderer.bind({}))
    with pytest.raises(NeuralgaeError, match="preset"):
        renderer.bind({"preset": "deepdrow"})
