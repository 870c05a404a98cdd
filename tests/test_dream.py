import numpy as np
import pytest
import torch

from neuralgae.core.optvis.dream import (
    DreamSettings,
    ascent_step,
    build_objective,
    dream,
    keep_colours,
    objective_gradient,
    octave_shapes,
    tiled_gradient,
)
from neuralgae.core.host.errors import NeuralgaeError
from neuralgae.core.media.images import resize
from neuralgae.core.nets.network import parse_layer_selections
from neuralgae.core.optvis.tensors import to_tensor
from neuralgae.core.optvis.tiling import axis_tiles, border_room, tile_boxes


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
    from scipy.ndimage import gaussian_filter

    objective = objective_for(net, "block10")
    image = to_tensor(resize(chelsea, 512, 640))
    whole, v_whole = objective_gradient(net, objective, image)

    def corr(a, b):  # compared at the scale of the dream's structures, not pixel by pixel
        a, b = (gaussian_filter(g[0].numpy(), (0, 2, 2)).ravel() for g in (a, b))
        return float(np.corrcoef(a, b)[0, 1])

    with_context, without = [], []
    for seed in range(4):
        tiled, v_tiled = tiled_gradient(net, objective, image, 256, np.random.default_rng(seed), overlap=32)
        bare, _ = tiled_gradient(net, objective, image, 256, np.random.default_rng(seed), overlap=0)
        with_context.append(corr(whole, tiled))
        without.append(corr(whole, bare))
        assert abs(v_tiled - v_whole) / v_whole < 0.3  # the tiles' value estimates the whole image's
    assert min(with_context) > 0.65
    assert np.mean(with_context) > np.mean(without) + 0.08  # context around tiles helps


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


@pytest.mark.parametrize("length", [20, 100, 129, 130, 131, 200, 517, 1000, 4096])
@pytest.mark.parametrize("tile, overlap", [(30, 0), (64, 16), (100, 32), (512, 32)])
def test_axis_tiles_cover_the_axis_with_equal_windows(length, tile, overlap):
    rng = np.random.default_rng(0)
    for _ in range(10):
        segments = axis_tiles(length, tile, overlap, rng)
        assert segments[0][0] == 0 and segments[-1][1] == length
        assert all(a[1] == b[0] for a, b in zip(segments, segments[1:]))  # contiguous, no gaps
        assert len({ws - we for _, _, ws, we in segments}) == 1  # one window length
        size = segments[0][3] - segments[0][2]
        assert size <= tile + 2 * overlap + border_room(tile) and size <= length
        for start, end, ws, we in segments:
            assert 0 <= ws <= start < end <= we <= length
            assert start - ws >= min(overlap, start) and we - end >= min(overlap, length - end)


def test_axis_tile_borders_move_over_a_range():
    ends = {axis_tiles(2048, 512, 32, np.random.default_rng(seed))[0][1] for seed in range(200)}
    assert max(ends) - min(ends) >= 4 * border_room(512)  # two layouts, each with room to move


def test_axis_tiles_use_few_windows_in_two_layouts():
    # 4096 px in 512 px tiles: 8 windows (each 512 + 2 * 32 context + room for the borders to move) or 9
    assert len(axis_tiles(4096, 512, 32)) == 8
    layouts = {len(axis_tiles(4096, 512, 32, np.random.default_rng(seed))) for seed in range(20)}
    assert layouts == {8, 9}
    assert len(axis_tiles(560, 512, 32, np.random.default_rng(0))) == 1


@pytest.mark.parametrize("height, width, tile, overlap", [(300, 451, 128, 32), (90, 700, 64, 16), (700, 700, 100, 0), (50, 60, 128, 32)])
def test_tile_boxes_cover_once_with_equal_windows_and_full_context(height, width, tile, overlap):
    rng = np.random.default_rng(1)
    window = tile + 2 * overlap
    shapes = set()
    for _ in range(10):
        cover = np.zeros((height, width), int)
        windows = tile_boxes(height, width, tile, overlap, rng)
        for (top, bottom, left, right), (t, b, l, r) in windows:
            cover[top:bottom, left:right] += 1
            # within a step one window shape (at most four per octave, below)
            assert (b - t, r - l) == (windows[0].window[1] - windows[0].window[0], windows[0].window[3] - windows[0].window[2])
            assert b - t <= min(height, window + border_room(tile)) and r - l <= min(width, window + border_room(tile))
            shapes.add((b - t, r - l))
            assert 0 <= t <= top < bottom <= b <= height and 0 <= l <= left < right <= r <= width
            # context on every side, unless the image ends there
            assert top - t >= min(overlap, top) and b - bottom >= min(overlap, height - bottom)
            assert left - l >= min(overlap, left) and r - right >= min(overlap, width - right)
        assert (cover == 1).all()
    assert len(shapes) <= 4  # two layouts per axis


def test_tile_grid_moves_between_steps():
    rng = np.random.default_rng(0)
    grids = {tuple(tile_boxes(500, 500, 128, 16, rng)) for _ in range(5)}
    assert len(grids) > 1


def test_tile_boxes_reject_impossible_sizes():
    with pytest.raises(ValueError, match="tile must be positive"):
        tile_boxes(100, 100, 0)


def test_octave_shapes_stop_at_the_minimum_size():
    assert octave_shapes(300, 400, 3, 1.4)[-1] == (300, 400)
    assert len(octave_shapes(300, 400, 3, 1.4)) == 3
    assert len(octave_shapes(40, 40, 5, 1.4)) == 1
    assert octave_shapes(100, 100, 3, 2.0) == [(50, 50), (100, 100)]


def test_guided_dream_moves_toward_the_guide(net, small_cat):
    import skimage.data

    from neuralgae.core.media.images import as_rgb_float

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
    from neuralgae.core.optvis.dream import WHOLE_IMAGE_MAX_PIXELS, uses_tiles

    auto = DreamSettings()
    assert not uses_tiles((1024, 1024), auto) and not uses_tiles((600, 2400), auto)
    assert uses_tiles((1300, 1300), auto) and uses_tiles((4096, 4096), auto)
    assert WHOLE_IMAGE_MAX_PIXELS < 1300 * 1300
    assert uses_tiles((100, 100), DreamSettings(tiling="always"))
    assert not uses_tiles((4096, 4096), DreamSettings(tiling="never"))

