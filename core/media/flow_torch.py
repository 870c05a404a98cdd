"""TV-L1 optical flow, backward warping and the reliability mask in torch, on any device.

The same computation as :mod:`neuralgae.core.media.flow` does with scikit-image and
scipy on the CPU, written as small functions over float32 tensors so that it
runs where the dream runs (CUDA, MPS or the CPU). On a GPU the dream of a
frame is fast, and a numpy flow would take most of the frame's time.

:func:`optical_flow_tvl1` follows scikit-image's ``optical_flow_tvl1``
(``skimage/registration/_optical_flow.py``) step by step: the same Gaussian
pyramid (``pyramid_reduce``: sigma 2/3, factor 2, coarsest side above 16
px), the same nearest-neighbour flow enlargement between levels, and at each
level the same ``num_warp`` warps of ``num_iter`` fixed-point iterations (the
thresholded data step, then two dual/primal steps of the TV regulariser per
component), the same parameters and the same stopping rule. What differs is
float rounding (float32 throughout, torch's kernels), so results agree with
scikit-image to a small fraction of a pixel, not bit for bit.

Every function takes a leading batch dimension, so a frame's forward and
backward flows are estimated together, in one pass.

Conventions as in :mod:`neuralgae.core.media.flow`: images are float (..., H, W) or
(..., H, W, C) in [0, 1]; a flow is (..., H, W, 2) holding (dy, dx) in
pixels, mapping a pixel ``p`` of the reference frame to ``p + flow(p)`` in
the moving frame. Inside the solver flows are channels-first (B, 2, H, W),
as scikit-image returns them.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .flow import CONSISTENCY_ABSOLUTE, CONSISTENCY_RELATIVE, FLOW_SIDE, MASK_SOFTNESS, PHOTOMETRIC_LIMIT

ATTACHMENT = 15.0
"""Weight of the data term (lambda); scikit-image's default."""

TIGHTNESS = 0.3
"""Coupling between the data and the regularised flow (theta); scikit-image's default."""

NUM_WARP = 5
"""Warps of the moving image per pyramid level; scikit-image's default."""

NUM_ITER = 10
"""Fixed-point iterations per warp; scikit-image's default."""

TOL = 1e-4
"""Stop a level's warps once the squared flow change per pixel falls below this; scikit-image's default."""

REG_NUM_ITER = 2
"""Dual/primal steps of the TV regulariser per iteration, fixed in scikit-image."""

PYRAMID_DOWNSCALE = 2
PYRAMID_LEVELS = 10
PYRAMID_MIN_SIZE = 16
"""scikit-image's pyramid: halve while the shorter side exceeds 2 * 16 px, at most 10 levels."""

PYRAMID_SIGMA = 2 * PYRAMID_DOWNSCALE / 6.0
"""``pyramid_reduce``'s smoothing before each halving (covers > 99% of the Gaussian)."""

GAUSSIAN_TRUNCATE = 4.0
"""scipy's default: Gaussian kernels reach 4 sigma each side."""

GREY_WEIGHTS = (0.299, 0.587, 0.114)
"""Rec. 601 luminance, as :func:`neuralgae.core.media.flow.to_grey`."""


# -- small helpers -----------------------------------------------------------------


def to_grey(image: torch.Tensor) -> torch.Tensor:
    """(..., H, W, 3) RGB -> (..., H, W) luminance (Rec. 601 weights, as :func:`neuralgae.core.media.flow.to_grey`), float32."""
    image = image.float()
    r, g, b = GREY_WEIGHTS
    return image[..., 0] * r + image[..., 1] * g + image[..., 2] * b  # not a matmul: that may run in TF32 on a GPU


def _extend_index(n: int, radius: int, mode: str) -> np.ndarray:
    """Indices ``-radius .. n + radius - 1`` folded back into ``0 .. n-1`` the way scipy extends an axis.

    ``symmetric`` is scipy's ``reflect`` (``d c b a | a b c d``, the edge
    repeated); ``mirror`` is scipy's ``mirror`` (``d c b | a b c d``).
    """
    i = np.arange(-radius, n + radius)
    if mode == "symmetric":
        i = np.mod(i, 2 * n)
        return np.where(i >= n, 2 * n - 1 - i, i)
    if mode == "mirror":
        if n == 1:
            return np.zeros_like(i)
        i = np.mod(i, 2 * n - 2)
        return np.where(i >= n, 2 * n - 2 - i, i)
    raise ValueError(f"unknown boundary mode {mode!r}")


def _gaussian_kernel(sigma: float, truncate: float = GAUSSIAN_TRUNCATE) -> np.ndarray:
    """scipy's 1-D Gaussian: radius ``int(truncate * sigma + 0.5)``, normalised to sum 1."""
    radius = int(truncate * float(sigma) + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    phi = np.exp(-0.5 / (float(sigma) ** 2) * x**2)
    return phi / phi.sum()


def _filter_last_axis(x: torch.Tensor, kernel: np.ndarray, mode: str) -> torch.Tensor:
    """Correlate the last axis of ``x`` with ``kernel`` (odd length), extending the edges as scipy's ``mode``.

    A weighted sum of shifted views, in plain float32: a convolution kernel
    would run on cuDNN, which may compute in TF32 (10-bit mantissa) on
    recent GPUs and blur the pyramid visibly differently from scipy.
    """
    radius = (len(kernel) - 1) // 2
    n = x.shape[-1]
    index = torch.from_numpy(_extend_index(n, radius, mode)).to(x.device)
    extended = x.index_select(-1, index)
    weights = kernel.astype(np.float32).tolist()
    out = extended[..., 0:n] * weights[0]
    for tap in range(1, len(weights)):
        out = out + extended[..., tap : tap + n] * weights[tap]
    return out


def gaussian_blur(x: torch.Tensor, sigma: tuple[float, float], *, mode: str = "symmetric") -> torch.Tensor:
    """Separable Gaussian blur of the last two axes (H, W) of ``x``, as ``scipy.ndimage.gaussian_filter``.

    ``sigma`` is (sigma_y, sigma_x); an axis with sigma 0 is left alone. The
    edges extend as scipy's ``reflect`` (``mode="symmetric"``, its default)
    or ``mirror``.
    """
    sy, sx = (float(s) for s in sigma)
    if sx > 1e-15:
        x = _filter_last_axis(x, _gaussian_kernel(sx), mode)
    if sy > 1e-15:
        x = _filter_last_axis(x.transpose(-1, -2), _gaussian_kernel(sy), mode).transpose(-1, -2)
    return x.contiguous()


def _linear_along(x: torch.Tensor, dim: int, size: int) -> torch.Tensor:
    """Linear resampling of axis ``dim`` to ``size`` samples, pixel centres aligned, edges mirrored.

    The output sample ``o`` reads the input at ``(o + 0.5) * n / size - 0.5``
    (scikit-image's ``resize``: ``ndimage.zoom`` with ``grid_mode=True`` and
    mode ``mirror``). The positions are computed in float64 on the host.
    """
    n = x.shape[dim]
    if n == size:
        return x
    where = (np.arange(size, dtype=np.float64) + 0.5) * (n / size) - 0.5
    low = np.floor(where)
    frac = (where - low).astype(np.float32)
    low = low.astype(np.int64)
    period = max(2 * n - 2, 1)

    def fold(i: np.ndarray) -> np.ndarray:
        if n == 1:
            return np.zeros_like(i)
        i = np.mod(i, period)
        return np.where(i >= n, period - i, i)

    i0 = torch.from_numpy(fold(low)).to(x.device)
    i1 = torch.from_numpy(fold(low + 1)).to(x.device)
    shape = [1] * x.ndim
    shape[dim] = size
    f = torch.from_numpy(frac).to(x.device).view(shape)
    return x.index_select(dim, i0) * (1 - f) + x.index_select(dim, i1) * f


def resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize the last two axes of ``x`` to ``size`` as scikit-image's ``resize`` (order 1, mode ``reflect``).

    When either axis shrinks the image is first blurred with sigma
    ``(factor - 1) / 2`` per axis (scikit-image's automatic anti-aliasing),
    so that shrinking a frame for the flow does not alias its texture.
    """
    h, w = x.shape[-2:]
    oh, ow = int(size[0]), int(size[1])
    if oh < h or ow < w:
        x = gaussian_blur(x, (max(0.0, (h / oh - 1) / 2), max(0.0, (w / ow - 1) / 2)), mode="mirror")
    return _linear_along(_linear_along(x, x.ndim - 2, oh), x.ndim - 1, ow)


def pyramid(image: torch.Tensor) -> list[torch.Tensor]:
    """scikit-image's TV-L1 pyramid of (B, H, W) images, coarse to fine.

    Each level is the one above blurred (sigma 2/3, edges symmetric) and
    halved (``ceil(n / 2)``); halving stops once the shorter side is no more
    than 32 px, or after 10 levels.
    """
    levels = [image]
    side = min(image.shape[-2:])
    while len(levels) < PYRAMID_LEVELS and side > PYRAMID_DOWNSCALE * PYRAMID_MIN_SIZE:
        smooth = gaussian_blur(levels[-1], (PYRAMID_SIGMA, PYRAMID_SIGMA), mode="symmetric")
        h, w = smooth.shape[-2:]
        levels.append(_linear_along(_linear_along(smooth, smooth.ndim - 2, math.ceil(h / PYRAMID_DOWNSCALE)),
                                    smooth.ndim - 1, math.ceil(w / PYRAMID_DOWNSCALE)))
        side = min(levels[-1].shape[-2:])
    return levels[::-1]


def _nearest_index(n: int, size: int) -> np.ndarray:
    """Source indices of ``ndimage.zoom(order=0)`` (corners aligned): ``floor(o * (n - 1) / (size - 1) + 0.5)``."""
    if size == 1:
        return np.zeros(1, dtype=np.int64)
    index = np.floor(np.arange(size, dtype=np.float64) * ((n - 1) / (size - 1)) + 0.5).astype(np.int64)
    return np.clip(index, 0, n - 1)


def enlarge_flow(flow: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(B, 2, h, w) flow -> (B, 2, H, W) for the next pyramid level: nearest neighbour, vectors scaled by H/h, W/w.

    As scikit-image's ``_resize_flow`` (``ndimage.zoom`` order 0), so the
    next level starts from the same flow.
    """
    h, w = flow.shape[-2:]
    oh, ow = int(size[0]), int(size[1])
    rows = torch.from_numpy(_nearest_index(h, oh)).to(flow.device)
    cols = torch.from_numpy(_nearest_index(w, ow)).to(flow.device)
    scale = torch.tensor([oh / h, ow / w], dtype=flow.dtype, device=flow.device).view(1, 2, 1, 1)
    return scale * flow.index_select(-2, rows).index_select(-1, cols)


def gradient(image: torch.Tensor) -> torch.Tensor:
    """(B, H, W) -> (B, 2, H, W) (d/dy, d/dx) as ``numpy.gradient``: central inside, one-sided at the edges."""

    def along(x: torch.Tensor, dim: int) -> torch.Tensor:
        n = x.shape[dim]
        first = x.narrow(dim, 1, 1) - x.narrow(dim, 0, 1)
        last = x.narrow(dim, n - 1, 1) - x.narrow(dim, n - 2, 1)
        middle = (x.narrow(dim, 2, n - 2) - x.narrow(dim, 0, n - 2)) / 2.0
        return torch.cat([first, middle, last], dim=dim)

    return torch.stack([along(image, -2), along(image, -1)], dim=1)


def median3(flow: torch.Tensor) -> torch.Tensor:
    """3x3 median of each flow component (B, 2, H, W), edges repeated: scikit-image's ``prefilter``."""
    padded = F.pad(flow, (1, 1, 1, 1), mode="replicate")
    windows = padded.unfold(-2, 3, 1).unfold(-2, 3, 1)
    return windows.reshape(*flow.shape, 9).median(dim=-1).values


def _grid(flow_yx: torch.Tensor) -> torch.Tensor:
    """(B, H, W, 2) absolute (y, x) sample positions -> grid_sample's (B, H, W, 2) normalised (x, y), corners aligned."""
    h, w = flow_yx.shape[1:3]
    y = flow_yx[..., 0] * (2.0 / max(h - 1, 1)) - 1.0
    x = flow_yx[..., 1] * (2.0 / max(w - 1, 1)) - 1.0
    return torch.stack([x, y], dim=-1)


def _positions(flow: torch.Tensor) -> torch.Tensor:
    """(B, H, W, 2) displacements (dy, dx) -> absolute positions (y + dy, x + dx)."""
    h, w = flow.shape[1:3]
    rows = torch.arange(h, dtype=flow.dtype, device=flow.device).view(1, h, 1)
    cols = torch.arange(w, dtype=flow.dtype, device=flow.device).view(1, 1, w)
    return torch.stack([rows + flow[..., 0], cols + flow[..., 1]], dim=-1)


def sample(image: torch.Tensor, flow: torch.Tensor, *, mode: str = "bilinear") -> torch.Tensor:
    """Backward warp of (B, C, H, W) ``image`` by (B, H, W, 2) ``flow``: ``out(p) = image(p + flow(p))``.

    Positions outside the frame read the nearest edge pixel (``grid_sample``
    with border padding, corners aligned), like scipy's mode ``nearest``.
    """
    grid = _grid(_positions(flow))
    return F.grid_sample(image, grid, mode=mode, padding_mode="border", align_corners=True)


def warp(image: torch.Tensor, flow: torch.Tensor, *, mode: str = "bilinear") -> torch.Tensor:
    """Backward warp as :func:`neuralgae.core.media.flow.warp`: ``out(p) = image(p + flow(p))``, edges repeated.

    ``flow`` is (H, W, 2) or batched (B, H, W, 2); ``image`` is (H, W) or
    (H, W, C), with the same leading batch axis when the flow has one.
    ``mode`` is ``bilinear`` (scipy's order 1, to within float rounding) or
    ``bicubic``, which keeps fine detail sharper. torch's bicubic is cubic
    convolution (a = -0.75), not scipy's prefiltered cubic B-spline
    (``order=3``), so the two agree closely on smooth images but not exactly.
    """
    if mode not in ("bilinear", "bicubic"):
        raise ValueError(f"unknown warp mode {mode!r}; use bilinear or bicubic")
    batched = flow.ndim == 4
    if not batched:
        image, flow = image.unsqueeze(0), flow.unsqueeze(0)
    grey = image.ndim == 3
    if grey:
        image = image.unsqueeze(-1)
    out = sample(image.float().permute(0, 3, 1, 2), flow.float(), mode=mode).permute(0, 2, 3, 1)
    if grey:
        out = out.squeeze(-1)
    return out if batched else out.squeeze(0)


# -- TV-L1 -------------------------------------------------------------------------


def data_step(flow: torch.Tensor, grad: torch.Tensor, norm: torch.Tensor, rho0: torch.Tensor, f0: float) -> torch.Tensor:
    """The TV-L1 data (attachment) step: the thresholding that solves the pointwise L1 problem.

    ``rho = rho0 + grad . flow`` is the linearised brightness residual. Where
    ``|rho| <= f0 |grad|^2`` the flow moves onto the constraint line
    (``- rho grad / |grad|^2``), elsewhere it steps ``f0`` along the
    gradient against the residual's sign (scikit-image's ``_tvl1`` data term).
    """
    rho = rho0 + (grad * flow).sum(1)
    small = (rho.abs() <= f0 * norm).unsqueeze(1)
    on_line = rho.unsqueeze(1) * grad / norm.unsqueeze(1)
    clipped = (f0 * torch.sign(rho)).unsqueeze(1) * grad
    return flow - torch.where(small, on_line, clipped)


def regularise(flow_auxiliary: torch.Tensor, proj: torch.Tensor, dt: float, f1: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The TV step: :data:`REG_NUM_ITER` dual (``proj``) and primal updates of both flow components at once.

    ``proj`` is (B, 2 components, 2 axes, H, W), carried over all warps and
    iterations of a level. The dual variable takes a projected gradient step
    on the flow's forward differences (0 past the last row/column), and the
    flow becomes ``flow_auxiliary`` plus the dual's (negative) divergence, as
    in scikit-image's ``_tvl1``. Returns the new flow and the new ``proj``.
    """
    flow = flow_auxiliary
    for _ in range(REG_NUM_ITER):
        gy = F.pad(flow[..., 1:, :] - flow[..., :-1, :], (0, 0, 0, 1))
        gx = F.pad(flow[..., :, 1:] - flow[..., :, :-1], (0, 1, 0, 0))
        g = torch.stack([gy, gx], dim=2)
        norm = torch.sqrt((g * g).sum(2, keepdim=True)) * f1 + 1.0
        proj = (proj - dt * g) / norm
        py, px = proj[:, :, 0], proj[:, :, 1]
        d = -(py + px) + F.pad(py[..., :-1, :], (0, 0, 1, 0)) + F.pad(px[..., :, :-1], (1, 0, 0, 0))
        flow = flow_auxiliary + d
    return flow, proj


def solve_level(
    reference: torch.Tensor,
    moving: torch.Tensor,
    flow0: torch.Tensor,
    *,
    attachment: float = ATTACHMENT,
    tightness: float = TIGHTNESS,
    num_warp: int = NUM_WARP,
    num_iter: int = NUM_ITER,
    tol: float = TOL,
    prefilter: bool = False,
) -> torch.Tensor:
    """TV-L1 at one pyramid level: refine ``flow0`` (B, 2, H, W) from ``reference`` to ``moving`` (B, H, W).

    Each warp linearises the moving image around the current flow, then runs
    ``num_iter`` data and TV steps. A pair stops after the warp whose flow
    changed by less than ``tol`` per pixel (squared, summed); its result is
    then frozen while the other pairs of the batch go on. The change is
    measured as scikit-image measures it: against the flow after the warp's
    first data step (or, with ``prefilter``, against the previous warp's
    unfiltered flow) -- a consequence of its in-place updates, kept here so
    that both stop after the same warp.
    """
    batch, h, w = reference.shape
    dt = 0.5 / 2
    f0 = attachment * tightness
    f1 = dt / tightness
    limit = tol * h * w
    flow = flow0
    result = flow0
    proj = torch.zeros((batch, 2, 2, h, w), dtype=flow0.dtype, device=flow0.device)
    running = torch.ones(batch, dtype=torch.bool, device=flow0.device)
    image = moving.unsqueeze(1)
    for _ in range(num_warp):
        before = flow
        if prefilter:
            flow = median3(flow)
        warped = sample(image, flow.permute(0, 2, 3, 1)).squeeze(1)
        grad = gradient(warped)
        norm = (grad * grad).sum(1)
        norm = torch.where(norm == 0, torch.ones_like(norm), norm)
        rho0 = warped - reference - (grad * flow).sum(1)
        for i in range(num_iter):
            flow_auxiliary = data_step(flow, grad, norm, rho0, f0)
            if i == 0 and not prefilter:
                before = flow_auxiliary
            flow, proj = regularise(flow_auxiliary, proj, dt, f1)
        result = torch.where(running.view(-1, 1, 1, 1), flow, result)
        change = ((before - flow) ** 2).sum((1, 2, 3))
        running = running & ~(change < limit)
        if not bool(running.any()):
            break
    return result


def optical_flow_tvl1(
    reference: torch.Tensor,
    moving: torch.Tensor,
    *,
    attachment: float = ATTACHMENT,
    tightness: float = TIGHTNESS,
    num_warp: int = NUM_WARP,
    num_iter: int = NUM_ITER,
    tol: float = TOL,
    prefilter: bool = False,
) -> torch.Tensor:
    """Coarse-to-fine TV-L1 flow, as scikit-image's ``optical_flow_tvl1`` but on ``reference``'s device.

    ``reference`` and ``moving`` are grey (H, W) or (B, H, W) float images
    (cast to float32). Returns (2, H, W) or (B, 2, H, W) float32 holding
    (dy, dx): ``reference(p)`` is found at ``p + flow(p)`` in ``moving``.
    """
    if reference.shape != moving.shape:
        raise ValueError(f"frames differ in size: {tuple(reference.shape)} and {tuple(moving.shape)}")
    single = reference.ndim == 2
    if single:
        reference, moving = reference.unsqueeze(0), moving.unsqueeze(0)
    if reference.ndim != 3 or min(reference.shape[-2:]) < 2:
        raise ValueError(f"optical flow needs grey (H, W) or (B, H, W) images of at least 2x2 pixels, not {tuple(reference.shape)}")
    reference = reference.to(torch.float32)
    moving = moving.to(device=reference.device, dtype=torch.float32)
    params = dict(attachment=attachment, tightness=tightness, num_warp=num_warp, num_iter=num_iter, tol=tol, prefilter=prefilter)
    levels = list(zip(pyramid(reference), pyramid(moving)))
    coarse = levels[0][0]
    flow = torch.zeros((coarse.shape[0], 2, *coarse.shape[-2:]), dtype=torch.float32, device=reference.device)
    flow = solve_level(levels[0][0], levels[0][1], flow, **params)
    for ref, mov in levels[1:]:
        flow = solve_level(ref, mov, enlarge_flow(flow, ref.shape[-2:]), **params)
    return flow.squeeze(0) if single else flow


# -- what core/media/flow.py needs -------------------------------------------------------


def estimate_flow(reference: torch.Tensor, moving: torch.Tensor, *, max_side: int = FLOW_SIDE) -> torch.Tensor:
    """Dense TV-L1 flow between grey frames (H, W) or (B, H, W), at most ``max_side`` px: (..., H, W, 2).

    As :func:`neuralgae.core.media.flow.estimate_flow`: frames with a longer side
    above ``max_side`` are shrunk (anti-aliased) first, and the flow is
    enlarged back (bilinear) with its vectors scaled to full-size pixels.
    """
    single = reference.ndim == 2
    if single:
        reference, moving = reference.unsqueeze(0), moving.unsqueeze(0)
    if reference.shape != moving.shape:
        raise ValueError(f"frames differ in size: {tuple(reference.shape[-2:])} and {tuple(moving.shape[-2:])}")
    h, w = reference.shape[-2:]
    k = min(1.0, max_side / max(h, w))
    if k < 1.0:
        small = (max(8, round(h * k)), max(8, round(w * k)))
        reference, moving = resize(reference.float(), small), resize(moving.float(), small)
    flow = optical_flow_tvl1(reference, moving)
    if k < 1.0:
        sy, sx = h / flow.shape[-2], w / flow.shape[-1]
        flow = resize(flow, (h, w))
        flow = flow * torch.tensor([sy, sx], dtype=flow.dtype, device=flow.device).view(1, 2, 1, 1)
    flow = flow.permute(0, 2, 3, 1).contiguous()
    return flow.squeeze(0) if single else flow


def inside_frame(flow: torch.Tensor) -> torch.Tensor:
    """(..., H, W) bool: where ``p + flow(p)`` lands inside the frame, as :func:`neuralgae.core.media.flow.inside_frame`."""
    h, w = flow.shape[-3:-1]
    rows = torch.arange(h, device=flow.device).view(h, 1)
    cols = torch.arange(w, device=flow.device).view(1, w)
    y, x = rows + flow[..., 0], cols + flow[..., 1]
    return (y >= 0) & (y <= h - 1) & (x >= 0) & (x <= w - 1)


def consistent(forward: torch.Tensor, backward: torch.Tensor) -> torch.Tensor:
    """(..., H, W) bool: the forward-backward check of :func:`neuralgae.core.media.flow.consistent`."""
    back = warp(backward, forward)
    round_trip = ((forward + back) ** 2).sum(-1)
    budget = CONSISTENCY_RELATIVE * ((forward**2).sum(-1) + (back**2).sum(-1)) + CONSISTENCY_ABSOLUTE
    return round_trip <= budget


def reliable_mask(
    frame: torch.Tensor,
    previous: torch.Tensor,
    forward: torch.Tensor,
    backward: torch.Tensor | None = None,
    *,
    photometric_limit: float = PHOTOMETRIC_LIMIT,
    softness: float = MASK_SOFTNESS,
) -> torch.Tensor:
    """(H, W) float32 in [0, 1]: :func:`neuralgae.core.media.flow.reliable_mask` on the frames' device.

    1 where the flow stays inside the frame, passes the forward-backward
    check and the warped previous (H, W, C) frame matches the new one in
    colour; softened inwards by a Gaussian of sigma ``softness``.
    """
    ok = inside_frame(forward)
    if backward is not None:
        ok &= consistent(forward, backward)
    error = (warp(previous, forward) - frame.float()).abs().mean(-1)
    ok &= error <= photometric_limit
    mask = ok.to(torch.float32)
    if softness > 0:
        mask = torch.minimum(mask, gaussian_blur(mask, (softness, softness), mode="symmetric"))
    return mask
