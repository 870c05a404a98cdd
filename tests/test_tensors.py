"""The shared tensor helpers and the denormal setting: renderers leave the caller's setting as they found it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuralgae.core.optvis.tensors import flush_denormals, flushing_denormals, resize_tensor, to_image, to_tensor


def test_to_tensor_and_back():
    image = np.random.default_rng(0).random((5, 7, 3), dtype=np.float32)
    t = to_tensor(image)
    assert t.shape == (1, 3, 5, 7) and t.dtype == torch.float32 and t.is_contiguous()
    assert np.array_equal(to_image(t), image)
    assert to_tensor(np.zeros((4, 6))).shape == (1, 1, 4, 6)  # a mask


def test_resize_tensor_keeps_a_same_size_tensor_and_antialiases_when_either_side_shrinks():
    t = torch.rand(1, 3, 32, 32)
    assert resize_tensor(t, (32, 32)) is t
    stripes = torch.zeros(1, 1, 32, 32)
    stripes[..., ::2] = 1.0
    narrow = resize_tensor(stripes, (32, 8))  # only the width shrinks: still anti-aliased, so the stripes average out
    assert torch.allclose(narrow, torch.full_like(narrow, 0.5), atol=0.05)


@pytest.mark.parametrize("before", [False, True])
def test_flush_denormals_restores_the_callers_setting(before):
    torch.set_flush_denormal(before)
    try:
        assert flushing_denormals() is before
        with flush_denormals():
            assert flushing_denormals()
        assert flushing_denormals() is before
    finally:
        torch.set_flush_denormal(False)


def test_rendering_does_not_change_the_denormal_setting(net):
    from neuralgae.core.optvis.draw import render_draw, start_canvas, targets_from_classes
    from neuralgae.core.optvis.draw_schedule import preset, with_steps
    from neuralgae.core.optvis.dream import DreamSettings, build_objective, dream
    from neuralgae.core.nets.network import parse_layer_selections

    rng = np.random.default_rng(0)
    canvas = start_canvas(64, 64, rng)
    for before in (False, True):
        torch.set_flush_denormal(before)
        try:
            dream(net, canvas, build_objective(net, parse_layer_selections("block3")), settings=DreamSettings(octaves=1, steps=1), rng=rng)
            assert flushing_denormals() is before
            render_draw(net, canvas, targets_from_classes([(1, 1.0)]), settings=with_steps(preset("fast"), 1), rng=rng)
            assert flushing_denormals() is before
        finally:
            torch.set_flush_denormal(False)
