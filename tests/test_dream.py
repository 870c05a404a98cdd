import numpy as np
import pytest
import torch

from neuralgae.core.dream import (
    DreamSettings,
    ascent_step,
    build_objective,
    dream,
    keep_colours,
    objective_gradient,
    octave_shapes,
    tiled_gradient,
    to_tensor,
)
from neuralgae.core.errors import NeuralgaeError
from neuralgae.core.images import resize
from neuralgae.core.network import parse_layer_selections
from neuralgae.core.tiling import tile_boxes, tile_cuts


@pytest.fixture(scope="module")
def small_cat(chelsea):
    return resize(chelsea, 96, 144)


def objective_for(net, text="block6"):
    return build_objective(net, parse_layer_selections(text, net))


def test_dream_step_increases_the_objective(net, small_cat):
    objective = objective_for(net)
    image = to_tensor(small_cat)
    settings = DreamSettings(jitter=0, step_size=0.01)
    _, before = objective_gradient(net, objective, image)
    for _ in range(3):
        image, _ = ascent_step(net, objective, image, settings, np.random.default_rng(0))
    _, after = objective_gradient(net, objective, image)
    assert after > before * 1.1


def test_dream_keeps_size_range_and_is_deterministic(net, small_cat):
    objective = objective_for(net)
    settings = DreamSettings(octaves=2, steps=2)
    a = dream(net, small_cat, objective, settings=settings, rng=np.random.default_rng(5))
    b = dream(net, small_cat, objective, settings=settings, rng=np.random.default_rng(5))
    c = dream(net, small_cat, objective, settings=settings, rng=np.random.default_rng(6))
    assert a.shape == small_cat.shape and a.dtype == np.float32
    assert a.min() >= 0 and a.max() <= 1
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert np.abs(a - small_cat).mean() > 0.005  # it dreamed something


def test_tiled_gradient_is_close_to_whole_image_gradient(net, chelsea):
    objective = objective_for(net, "block4")
    image = to_tensor(resize(chelsea, 256, 384))
    whole, v_whole = objective_gradient(net, objective, image)
    tiled, v_tiled = tiled_gradient(net, objective, image, 160, np.random.default_rng(0), overlap=32)
    bare, v_bare = tiled_gradient(net, objective, image, 160, np.random.default_rng(0), overlap=0)
    corr = lambda a, b: float(torch.corrcoef(torch.stack([a.flatten(), b.flatten()]))[0, 1])
    assert corr(whole, tiled) > 0.5
    assert corr(whole, tiled) > corr(whole, bare)  # context around tiles helps
    assert abs(v_bare - v_whole) / v_whole < 0.3  # without overlap, tiles sum to about the whole


def test_tiled_dream_is_close_to_whole_dream(net, chelsea):
    from scipy.ndimage import gaussian_filter

    objective = objective_for(net, "block4")
    image = resize(chelsea, 256, 384)
    base = dict(octaves=1, steps=5, jitter=8, tile_size=160, tile_overlap=32)
    whole = dream(net, image, objective, settings=DreamSettings(tiling="never", **base), rng=np.random.default_rng(0))
    tiled = dream(net, image, objective, settings=DreamSettings(tiling="always", **base), rng=np.random.default_rng(0))
    value = lambda img: objective_gradient(net, objective, to_tensor(img))[1]
    start = value(image)
    # The tiled dream raises the whole-image objective nearly as much as the whole-image dream...
    assert value(tiled) - start > 0.9 * (value(whole) - start)
    # ...and puts its structures in the same places (compared after a blur).
    dw, dt = (gaussian_filter(d - image, (3, 3, 0)).ravel() for d in (whole, tiled))
    assert np.corrcoef(dw, dt)[0, 1] > 0.7


@pytest.mark.parametrize("length, tile, offset", [(100, 30, 0), (100, 30, 7), (64, 64, 3), (1000, 256, 255), (20, 64, 5)])
def test_tile_cuts_cover_without_slivers(length, tile, offset):
    cuts = tile_cuts(length, tile, offset)
    assert cuts[0] == 0 and cuts[-1] == length and cuts == sorted(cuts)
    segments = np.diff(cuts)
    if length > tile:
        assert segments.min() >= tile // 2 and segments.max() <= 1.5 * tile


def test_tile_boxes_cover_every_pixel_once(rng):
    cover = np.zeros((300, 451), int)
    for top, bottom, left, right in tile_boxes(300, 451, 128, rng):
        cover[top:bottom, left:right] += 1
    assert (cover == 1).all()


def test_tile_grid_moves_between_steps():
    rng = np.random.default_rng(0)
    grids = {tuple(tile_boxes(500, 500, 128, rng)) for _ in range(5)}
    assert len(grids) > 1


def test_octave_shapes_stop_at_the_minimum_size():
    assert octave_shapes(300, 400, 3, 1.4)[-1] == (300, 400)
    assert len(octave_shapes(300, 400, 3, 1.4)) == 3
    assert len(octave_shapes(40, 40, 5, 1.4)) == 1
    assert octave_shapes(100, 100, 3, 2.0) == [(50, 50), (100, 100)]


def test_guided_dream_moves_toward_the_guide(net, small_cat):
    import skimage.data

    from neuralgae.core.images import as_rgb_float

    guide = resize(as_rgb_float(skimage.data.coffee()), 96, 128)
    sels = parse_layer_selections("block8", net)
    objective = build_objective(net, sels, guide)
    out = dream(net, small_cat, objective, settings=DreamSettings(octaves=1, steps=4), rng=np.random.default_rng(0))
    g_before = objective_gradient(net, objective, to_tensor(small_cat))[1]
    g_after = objective_gradient(net, objective, to_tensor(out))[1]
    assert g_after > g_before


def test_keep_colours_preserves_chroma(small_cat):
    grey_dream = np.repeat(small_cat.mean(axis=2, keepdims=True), 3, axis=2)
    out = keep_colours(small_cat, grey_dream)
    from skimage.color import rgb2ycbcr

    np.testing.assert_allclose(rgb2ycbcr(out)[..., 1:], rgb2ycbcr(small_cat)[..., 1:], atol=2.0)


@pytest.mark.parametrize(
    "settings, message",
    [
        (DreamSettings(octaves=0), "octaves"),
        (DreamSettings(octave_scale=1.0), "octave scale"),
        (DreamSettings(step_size=0), "step size"),
        (DreamSettings(tile_size=10), "tile size"),
        (DreamSettings(tiling="maybe"), "tiling"),
    ],
)
def test_bad_settings(net, small_cat, settings, message):
    with pytest.raises(NeuralgaeError, match=message):
        dream(net, small_cat, objective_for(net), settings=settings)


def test_too_small_image(net):
    with pytest.raises(NeuralgaeError, match="too small"):
        dream(net, np.zeros((16, 16, 3), np.float32), objective_for(net))


def test_auto_tiling_only_bounds_memory():
    from neuralgae.core.dream import WHOLE_IMAGE_MAX_PIXELS, uses_tiles

    auto = DreamSettings()
    assert not uses_tiles((1024, 1024), auto) and not uses_tiles((600, 2400), auto)
    assert uses_tiles((1300, 1300), auto) and uses_tiles((4096, 4096), auto)
    assert WHOLE_IMAGE_MAX_PIXELS < 1300 * 1300
    assert uses_tiles((100, 100), DreamSettings(tiling="always"))
    assert not uses_tiles((4096, 4096), DreamSettings(tiling="never"))

