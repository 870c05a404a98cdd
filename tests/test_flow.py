"""Optical flow, warping, reliability masks, the coherent blend and the flicker measure, on exact small cases."""

from __future__ import annotations

import numpy as np
import pytest

from neuralgae.core.flow import (
    Motion,
    coherent_result,
    coherent_start,
    estimate_flow,
    frame_motion,
    fresh_share,
    reliable_mask,
    warp,
    warp_error,
)


def textured(rng: np.random.Generator, h: int = 48, w: int = 72) -> np.ndarray:
    """Smooth colour texture: enough structure everywhere for the flow to lock on."""
    from scipy.ndimage import gaussian_filter

    noise = gaussian_filter(rng.random((h, w, 3)).astype(np.float32), (2, 2, 0))
    noise -= noise.min()
    return (noise / noise.max()).astype(np.float32)


def pan(image: np.ndarray, shift: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Two frames of a camera panning right by ``shift`` pixels: content moves left."""
    return image[:, :width], image[:, shift : shift + width]


def test_flow_recovers_a_translation(rng):
    previous, frame = pan(textured(rng), 3, 56)
    flow = estimate_flow(frame, previous)
    inner = flow[8:-8, 8:-8]
    assert abs(float(np.median(inner[..., 1])) - 3.0) < 0.25  # frame(p) lies at p + 3 px in x in the previous frame
    assert abs(float(np.median(inner[..., 0]))) < 0.25


def test_flow_is_estimated_small_and_scaled_back(rng):
    image = textured(rng, 96, 140)
    previous, frame = pan(image, 4, 128)
    flow = estimate_flow(frame, previous, max_side=48)
    assert flow.shape == (96, 128, 2)
    assert abs(float(np.median(flow[16:-16, 16:-16, 1])) - 4.0) < 0.6


def test_warp_with_zero_flow_is_the_identity_and_integer_flow_a_shift(rng):
    image = textured(rng, 20, 24)
    zero = np.zeros((20, 24, 2), np.float32)
    np.testing.assert_allclose(warp(image, zero), image, atol=1e-6)
    shift = zero.copy()
    shift[..., 1] = 2
    np.testing.assert_allclose(warp(image, shift)[:, :-2], image[:, 2:], atol=1e-6)
    np.testing.assert_allclose(warp(image, shift, order=3)[:, :-2], image[:, 2:], atol=1e-5)


def test_mask_drops_content_that_came_in_from_outside(rng):
    previous, frame = pan(textured(rng), 4, 56)
    flow = np.zeros(frame.shape[:2] + (2,), np.float32)
    flow[..., 1] = 4
    mask = reliable_mask(frame, previous, flow, -flow, softness=0)
    assert mask[:, :50].min() == 1.0
    assert mask[:, -3:].max() == 0.0  # p + 4 lies outside the previous frame


def test_mask_drops_pixels_that_change_colour(rng):
    previous = textured(rng)
    frame = previous.copy()
    patch = frame[10:20, 10:20]
    frame[10:20, 10:20] = np.where(patch < 0.5, patch + 0.4, patch - 0.4)  # a flash the motion does not explain
    zero = np.zeros(frame.shape[:2] + (2,), np.float32)
    mask = reliable_mask(frame, previous, zero, zero)
    assert mask[12:18, 12:18].max() == 0.0
    assert mask[30:, 30:].min() == 1.0


def test_mask_drops_inconsistent_flow(rng):
    image = textured(rng)
    forward = np.zeros(image.shape[:2] + (2,), np.float32)
    backward = forward.copy()
    backward[:24, :, 1] = 5  # the way back disagrees in the top half
    mask = reliable_mask(image, image, forward, backward, softness=0)
    assert mask[:20].max() == 0.0 and mask[28:].min() == 1.0


def test_coherent_start_carries_the_previous_dream_detail():
    frame = np.full((8, 8, 3), 0.5, np.float32)
    previous_frame = np.full((8, 8, 3), 0.4, np.float32)
    previous_dream = previous_frame + np.linspace(-0.1, 0.1, 8, dtype=np.float32)[None, :, None]
    still = Motion(np.zeros((8, 8, 2), np.float32), np.ones((8, 8), np.float32))
    start = coherent_start(frame, previous_frame, previous_dream, still, weight=0.5)
    np.testing.assert_allclose(start, frame + 0.5 * (previous_dream - previous_frame), atol=1e-6)
    assert coherent_start(frame, previous_frame, previous_dream, still, weight=0.0) is frame
    occluded = Motion(still.flow, np.zeros((8, 8), np.float32))
    np.testing.assert_allclose(coherent_start(frame, previous_frame, previous_dream, occluded, weight=0.9), frame)


def test_coherent_result_keeps_a_power_preserving_share_of_the_new_change():
    assert fresh_share(0.8) == pytest.approx(0.6)
    assert fresh_share(0.0) == 1.0
    start = np.full((4, 4, 3), 0.5, np.float32)
    rendered = np.full((4, 4, 3), 0.7, np.float32)
    mask = np.ones((4, 4), np.float32)
    mask[:, :2] = 0
    motion = Motion(np.zeros((4, 4, 2), np.float32), mask)
    out = coherent_result(start, rendered, motion, weight=0.8)
    np.testing.assert_allclose(out[:, 2:], 0.5 + 0.6 * 0.2, atol=1e-6)  # reliable: 60% of the new change
    np.testing.assert_allclose(out[:, :2], 0.7, atol=1e-6)  # occluded: the full dream
    np.testing.assert_array_equal(coherent_result(start, rendered, motion, weight=0.0), rendered)


def test_warp_error_ignores_motion_the_source_explains_and_counts_the_rest(rng):
    image = textured(rng)
    previous, frame = pan(image, 3, 56)
    motion = frame_motion(frame, previous)
    assert warp_error(previous, frame, motion) < 0.01  # the source's own motion costs (almost) nothing
    flicker = frame + 0.1 * rng.standard_normal(frame.shape).astype(np.float32)
    assert warp_error(previous, flicker, motion) > 0.05
    assert warp_error(previous, frame, Motion(motion.flow, np.zeros_like(motion.mask))) == 0.0


def test_a_scene_cut_carries_nothing_over(rng):
    previous = textured(rng)
    other = textured(np.random.default_rng(99))
    assert frame_motion(other, previous).mask.max() == 0.0
    assert frame_motion(previous, previous).mask.mean() > 0.9
