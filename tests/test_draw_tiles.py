"""Spiral tiles: full coverage, centre first, ring order, never outside the canvas."""

import numpy as np
import torch
import pytest

from neuralgae.core.optvis.draw_tiles import coverage, random_offset, spiral_tiles, tile_window


@pytest.mark.parametrize("shape", [(500, 700), (224, 224), (300, 1000), (1000, 230)])
@pytest.mark.parametrize("offset", [(0.0, 0.0), (37.0, -61.0)])
def test_tiles_cover_every_pixel_and_stay_inside(shape, offset):
    h, w = shape
    boxes = spiral_tiles(h, w, 224, overlap=0.25, offset=offset)
    assert (coverage(h, w, boxes) >= 1).all()
    for top, bottom, left, right in boxes:
        assert 0 <= top < bottom <= h and 0 <= left < right <= w
        assert bottom - top == min(224, h) and right - left == min(224, w)


def test_first_tile_is_centred():
    top, bottom, left, right = spiral_tiles(600, 800, 224)[0]
    assert ((top + bottom) / 2, (left + right) / 2) == (300, 400)


def test_tiles_go_out_ring_by_ring():
    h, w, tile = 900, 900, 200
    boxes = spiral_tiles(h, w, tile, overlap=0.0)
    centre = np.array([h / 2, w / 2])
    rings = [np.abs(np.array([(t + b) / 2, (l + r) / 2]) - centre).max() for t, b, l, r in boxes]
    assert rings == sorted(rings)
    assert rings[0] == 0
    # the first ring round the centre holds the 8 neighbours, going round clockwise from the top
    first_ring = boxes[1:9]
    angles = [np.arctan2((l + r) / 2 - w / 2, -((t + b) / 2 - h / 2)) % (2 * np.pi) for t, b, l, r in first_ring]
    assert angles == sorted(angles)


def test_small_canvas_is_one_tile():
    assert spiral_tiles(100, 150, 224) == [(0, 100, 0, 150)]


def test_random_offsets_move_the_grid():
    rng = np.random.default_rng(0)
    grids = {tuple(spiral_tiles(700, 700, 224, offset=random_offset(224, 0.25, rng))) for _ in range(5)}
    assert len(grids) > 1


def test_window_fades_but_never_vanishes():
    win = tile_window(64, 64, 16)
    assert win.shape == (64, 64)
    assert win[32, 32] == 1.0
    assert 0 < win[0, 0] < win[0, 32] < win[32, 32]


def test_tiles_batched_through_the_network_get_the_gradients_they_get_alone(net, monkeypatch):
    """A step's tiles go through the network together; each tile's gradient is the one it would get alone."""
    import neuralgae.core.optvis.draw as draw_module
    from neuralgae.core.optvis.draw import canvas_gradient, start_canvas, targets_from_classes
    from neuralgae.core.optvis.tensors import to_tensor
    from neuralgae.core.optvis.draw_aim import aim_masks
    from neuralgae.core.optvis.draw_schedule import preset

    h, w = 260, 380
    targets = targets_from_classes([("goldfish", 1.0), ("volcano", 1.0)], masks=aim_masks("top,bottom", 2, h, w))
    canvas = to_tensor(start_canvas(h, w, np.random.default_rng(0)))
    masks = [to_tensor(t.mask) for t in targets]
    settings = preset("default")
    batched, v_batched = canvas_gradient(net, canvas, targets, masks, settings, 128, np.random.default_rng(4))
    monkeypatch.setattr(draw_module, "BATCH_PIXELS", 1)  # one tile per pass
    alone, v_alone = canvas_gradient(net, canvas, targets, masks, settings, 128, np.random.default_rng(4))
    assert torch.allclose(batched, alone, rtol=1e-4, atol=1e-5 * float(alone.abs().max()))
    assert abs(float(v_batched) - float(v_alone)) < 1e-4 * abs(float(v_alone)) + 1e-6
