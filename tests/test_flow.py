"""Optical flow, warping, reliability masks, the coherent blend and the flicker measure, on exact small cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuralgae.core.media import flow_torch
from neuralgae.core.host.errors import NeuralgaeError
from neuralgae.core.media.flow import (
    Motion,
    _estimate_flow_torch,
    _frame_motion_torch,
    coherent_result,
    coherent_start,
    estimate_flow,
    flow_device,
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


# -- the torch flow (core/media/flow_torch.py) ------------------------------------------

CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Run torch on one thread here: these tensors are small, and on a shared 2-core machine
    OpenMP's barriers between two threads can make each op many times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def texture(rng: np.random.Generator, side: int) -> np.ndarray:
    """A smooth grey texture in [0, 1], with some margin to sample moved copies from."""
    from scipy.ndimage import gaussian_filter

    noise = gaussian_filter(rng.random((side, side)), 2.0)
    return ((noise - noise.min()) / (noise.max() - noise.min())).astype(np.float32)


def moved(image: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """A moved copy of ``image``: pixel ``q`` of it shows ``image`` at ``positions[:, q]`` (cubic spline).

    With ``positions = q - s`` the content moves by ``s``: ``image(p)`` lies at ``p + s`` in the copy.
    """
    from scipy.ndimage import map_coordinates

    return map_coordinates(image.astype(np.float64), positions, order=3, mode="nearest").astype(np.float32)


def end_point_error(a: np.ndarray, b: np.ndarray, axis: int = 0) -> np.ndarray:
    """Per-pixel length of the difference of two flows whose (dy, dx) lie along ``axis``."""
    return np.sqrt(((a - b) ** 2).sum(axis))


def test_torch_tvl1_recovers_a_subpixel_translation(rng):
    reference = texture(rng, 96)
    rows, cols = np.mgrid[0:96, 0:96].astype(np.float64)
    shift = (1.4, -2.3)  # reference(p) lies at p + shift in the moving frame
    moving = moved(reference, np.stack([rows - shift[0], cols - shift[1]]))
    flow = flow_torch.optical_flow_tvl1(torch.from_numpy(reference), torch.from_numpy(moving)).numpy()
    assert flow.shape == (2, 96, 96) and flow.dtype == np.float32
    inner = flow[:, 12:-12, 12:-12]
    truth = np.array(shift, np.float32).reshape(2, 1, 1)
    error = end_point_error(inner, np.broadcast_to(truth, inner.shape))
    assert float(error.mean()) < 0.1
    assert float(np.percentile(error, 95)) < 0.25


def test_torch_tvl1_recovers_a_smooth_rotation(rng):
    side, angle = 96, np.deg2rad(4.0)
    reference = texture(rng, side)
    rows, cols = np.mgrid[0:side, 0:side].astype(np.float64)
    c = (side - 1) / 2
    cos, sin = np.cos(angle), np.sin(angle)
    # the moving frame reads reference at R^-1 (q - c) + c, so reference(p) lies at R (p - c) + c there
    back_y = cos * (rows - c) + sin * (cols - c) + c
    back_x = -sin * (rows - c) + cos * (cols - c) + c
    moving = moved(reference, np.stack([back_y, back_x]))
    truth = np.stack([cos * (rows - c) - sin * (cols - c) + c - rows, sin * (rows - c) + cos * (cols - c) + c - cols])
    assert np.abs(truth).max() > 3  # a real motion: several pixels at the corners
    flow = flow_torch.optical_flow_tvl1(torch.from_numpy(reference), torch.from_numpy(moving)).numpy()
    error = end_point_error(flow[:, 16:-16, 16:-16], truth[:, 16:-16, 16:-16])
    assert float(error.mean()) < 0.15
    assert float(np.percentile(error, 95)) < 0.35


def shifted_pair(rng: np.random.Generator, side: int = 96) -> tuple[np.ndarray, np.ndarray]:
    reference = texture(rng, side)
    rows, cols = np.mgrid[0:side, 0:side].astype(np.float64)
    return reference, moved(reference, np.stack([rows - 0.8 - 0.01 * cols, cols + 1.7]))


@pytest.mark.parametrize("prefilter", [False, True])
def test_torch_tvl1_agrees_with_scikit_image(rng, prefilter):
    from skimage.registration import optical_flow_tvl1

    reference, moving = shifted_pair(rng)
    expected = np.stack(optical_flow_tvl1(reference, moving, prefilter=prefilter))
    got = flow_torch.optical_flow_tvl1(torch.from_numpy(reference), torch.from_numpy(moving), prefilter=prefilter).numpy()
    error = end_point_error(got, expected)
    assert float(error.mean()) < 0.01  # the same algorithm: only float rounding differs
    assert float(np.percentile(error, 99)) < 0.05


def test_torch_tvl1_batches_pairs_that_stop_at_different_warps(rng):
    reference, moving = shifted_pair(rng, 64)
    still = texture(np.random.default_rng(7), 64)  # a pair with no motion stops after its first warp
    refs = torch.from_numpy(np.stack([reference, still]))
    movs = torch.from_numpy(np.stack([moving, still]))
    batch = flow_torch.optical_flow_tvl1(refs, movs)
    one = flow_torch.optical_flow_tvl1(refs[0], movs[0])
    np.testing.assert_allclose(batch[0].numpy(), one.numpy(), atol=1e-5)  # not cut short by the still pair
    np.testing.assert_allclose(batch[1].numpy(), flow_torch.optical_flow_tvl1(refs[1], movs[1]).numpy(), atol=1e-5)
    assert float(batch[1].abs().max()) < 1e-3


def test_torch_pyramid_resize_and_flow_enlargement_follow_scikit_image(rng):
    from skimage.registration._optical_flow_utils import _resize_flow
    from skimage.transform import pyramid_reduce, resize

    image = texture(rng, 80)[:70, :75]
    levels = flow_torch.pyramid(torch.from_numpy(image)[None])
    assert [tuple(level.shape[-2:]) for level in levels] == [(18, 19), (35, 38), (70, 75)]
    np.testing.assert_allclose(levels[1][0].numpy(), pyramid_reduce(image, 2, channel_axis=None), atol=1e-6)
    for size in [(23, 31), (140, 150)]:
        np.testing.assert_allclose(flow_torch.resize(torch.from_numpy(image), size).numpy(),
                                   resize(image, size, preserve_range=True), atol=1e-6)
    flow = rng.standard_normal((2, 18, 19)).astype(np.float32)
    np.testing.assert_array_equal(flow_torch.enlarge_flow(torch.from_numpy(flow)[None], (35, 38))[0].numpy(),
                                  _resize_flow(flow, (35, 38)))


def smooth_flow(rng: np.random.Generator, h: int, w: int, scale: float = 3.0) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    field = gaussian_filter(rng.standard_normal((h, w, 2)), (6, 6, 0))
    return (scale * field / np.abs(field).max()).astype(np.float32)


def test_torch_warp_matches_the_scipy_warp(rng):
    image = textured(rng, 40, 56)
    flow = smooth_flow(rng, 40, 56)
    expected = warp(image, flow)
    got = flow_torch.warp(torch.from_numpy(image), torch.from_numpy(flow)).numpy()
    assert got.shape == image.shape
    # away from the borders (where the two clamp the last half pixel differently, if at all)
    np.testing.assert_allclose(got[4:-4, 4:-4], expected[4:-4, 4:-4], atol=1e-4)
    grey = flow_torch.warp(torch.from_numpy(image[..., 0]), torch.from_numpy(flow)).numpy()
    np.testing.assert_allclose(grey[4:-4, 4:-4], expected[4:-4, 4:-4, 0], atol=1e-4)
    batched = flow_torch.warp(torch.from_numpy(np.stack([image, image])), torch.from_numpy(np.stack([flow, -flow]))).numpy()
    np.testing.assert_allclose(batched[0], got, atol=1e-6)
    np.testing.assert_allclose(batched[1][4:-4, 4:-4], warp(image, -flow)[4:-4, 4:-4], atol=1e-4)


def test_torch_bicubic_warp_shifts_exactly_and_stays_close_to_the_cubic_spline(rng):
    image = textured(rng, 24, 32)
    shift = np.zeros((24, 32, 2), np.float32)
    shift[..., 1] = 2
    got = flow_torch.warp(torch.from_numpy(image), torch.from_numpy(shift), mode="bicubic").numpy()
    np.testing.assert_allclose(got[:, :-2], image[:, 2:], atol=1e-5)
    flow = smooth_flow(rng, 24, 32, scale=2.0)
    cubic = flow_torch.warp(torch.from_numpy(image), torch.from_numpy(flow), mode="bicubic").numpy()
    assert float(np.abs(cubic - warp(image, flow, order=3))[3:-3, 3:-3].max()) < 0.02
    with pytest.raises(ValueError, match="bilinear or bicubic"):
        flow_torch.warp(torch.from_numpy(image), torch.from_numpy(flow), mode="nearest")


def test_torch_frame_motion_gives_the_cpu_mask(chelsea):
    previous, frame = chelsea[:120, :160], chelsea[2:122, 3:163]
    cpu = frame_motion(frame, previous)
    torch_path = _frame_motion_torch(frame, previous, max_side=256, device=CPU)
    assert torch_path.flow.shape == cpu.flow.shape and torch_path.mask.shape == cpu.mask.shape
    assert torch_path.flow.dtype == np.float32 and torch_path.mask.dtype == np.float32
    assert 0.5 < float(cpu.mask.mean())
    assert float(np.abs(torch_path.mask - cpu.mask).mean()) < 0.01
    assert float(end_point_error(torch_path.flow, cpu.flow, -1).mean()) < 0.02
    cut = chelsea[-120:, -160:][::-1, ::-1].copy()  # another view: a scene cut carries nothing over
    assert _frame_motion_torch(cut, previous, max_side=256, device=CPU).mask.max() == 0.0


def test_torch_flow_is_estimated_small_and_scaled_back_as_on_the_cpu(chelsea):
    previous, frame = chelsea[:100, :150], chelsea[3:103, 4:154]
    cpu = estimate_flow(frame, previous, max_side=64)
    got = _estimate_flow_torch(frame, previous, max_side=64, device=CPU)
    assert got.shape == cpu.shape == (100, 150, 2)
    assert float(end_point_error(got, cpu, -1).mean()) < 0.02


def test_the_device_argument(rng):
    assert flow_device(None) is None
    assert flow_device("cpu") is None and flow_device(" CPU ") is None and flow_device(torch.device("cpu")) is None
    previous, frame = pan(textured(rng), 3, 56)
    np.testing.assert_array_equal(estimate_flow(frame, previous, device="cpu"), estimate_flow(frame, previous))
    with pytest.raises(NeuralgaeError, match="unknown device 'gpu'") as bad:
        estimate_flow(frame, previous, device="gpu")
    assert "\n" not in str(bad.value)
    if not torch.cuda.is_available():
        with pytest.raises(NeuralgaeError, match="not available"):
            frame_motion(frame, previous, device="cuda:0")
        with pytest.raises(NeuralgaeError, match="not available"):
            frame_motion(frame, previous, device=torch.device("cuda"))


@pytest.mark.parametrize("prefilter", [False, True])
@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_cuda_tvl1_agrees_with_scikit_image(rng, prefilter):
    from skimage.registration import optical_flow_tvl1

    reference, moving = shifted_pair(rng, 128)
    expected = np.stack(optical_flow_tvl1(reference, moving, prefilter=prefilter))
    got = flow_torch.optical_flow_tvl1(torch.from_numpy(reference).cuda(), torch.from_numpy(moving).cuda(), prefilter=prefilter)
    assert got.device.type == "cuda"
    error = end_point_error(got.cpu().numpy(), expected)
    assert float(error.mean()) < 0.01
    assert float(np.percentile(error, 99)) < 0.05


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_cuda_warp_matches_the_scipy_warp(rng):
    image = textured(rng, 40, 56)
    flow = smooth_flow(rng, 40, 56)
    got = flow_torch.warp(torch.from_numpy(image).cuda(), torch.from_numpy(flow).cuda()).cpu().numpy()
    np.testing.assert_allclose(got[4:-4, 4:-4], warp(image, flow)[4:-4, 4:-4], atol=1e-4)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_cuda_frame_motion_gives_the_cpu_mask(chelsea):
    previous, frame = chelsea[:, :400], chelsea[2:, 3:403]
    previous = previous[: frame.shape[0]]
    cpu = frame_motion(frame, previous)
    gpu = frame_motion(frame, previous, device="cuda")
    assert gpu.flow.shape == cpu.flow.shape and isinstance(gpu.mask, np.ndarray)
    assert float(np.abs(gpu.mask - cpu.mask).mean()) < 0.01
    assert float(end_point_error(gpu.flow, cpu.flow, -1).mean()) < 0.02
    assert frame_motion(previous, previous, device=torch.device("cuda", 0)).mask.mean() > 0.9
