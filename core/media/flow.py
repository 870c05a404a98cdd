"""Optical flow between video frames, backward warping, occlusion masks and flicker.

What dreaming a video coherently needs, as small functions over arrays:

* :func:`estimate_flow` -- dense TV-L1 optical flow between two frames,
  computed on greyscale at reduced resolution and upsampled: scikit-image on
  the CPU, or the same algorithm in torch (:mod:`neuralgae.core.media.flow_torch`)
  on a GPU when a ``device`` is given;
* :func:`warp` -- backward warping: ``out(p) = image(p + flow(p))``;
* :func:`reliable_mask` -- where the flow can be trusted: forward-backward
  consistent, inside the frame, and photometrically right; occluded or
  fast-moving regions get 0, so they fall back to the new frame;
* :func:`coherent_start` and :func:`coherent_result` -- the two halves of a
  coherent frame: its dream starts from the new frame plus the previous
  dream's *detail* warped onto it, and keeps only part of what the renderer
  changes, so the detail is a running, power-preserving mix along the motion;
* :func:`warp_error` -- the flicker measure: the mean absolute change between
  consecutive outputs that the source motion does not explain.

Conventions: images are float32 (H, W, C) in [0, 1]; a flow is float32
(H, W, 2) holding (dy, dx) in pixels, and maps a pixel ``p`` of the
*reference* frame to ``p + flow(p)`` in the *moving* frame, where the same
content lies. So ``warp(moving, flow)`` looks like ``reference``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

FLOW_SIDE = 256
"""Longer side (pixels) at which flow is estimated; larger frames are shrunk first and the flow upsampled."""

CONSISTENCY_RELATIVE = 0.01
CONSISTENCY_ABSOLUTE = 0.5
"""Forward-backward check: |f + b(p + f)|^2 <= 0.01 (|f|^2 + |b|^2) + 0.5 pixel^2 (Sundaram et al. 2010)."""

PHOTOMETRIC_LIMIT = 0.12
"""Pixels whose warped previous frame differs from the new one by more than this (mean over RGB) are unreliable."""

DETAIL_ORDER = 3
"""Spline order for warping dream detail: cubic keeps fine texture sharp over many frames (bilinear blurs it)."""

CUT_FRACTION = 0.25
"""A scene cut: when less than this share of the new frame can be followed back, nothing is carried over.

After a cut the flow still finds scattered chance matches; carrying the old
dream into those would paste fragments of the old scene into the new one.
"""

MASK_SOFTNESS = 1.0
"""Sigma (pixels) of the blur that softens the reliability mask, so blended regions have no hard seams."""


def to_grey(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB -> (H, W) luminance (Rec. 601 weights), float32."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 2:
        return image
    return (image[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)).astype(np.float32)


def _shrink_factor(shape: tuple[int, int], max_side: int) -> float:
    return min(1.0, max_side / max(shape))


def flow_device(device: "str | torch.device | None") -> "torch.device | None":
    """The torch device that optical flow runs on for ``device``, or None for scikit-image on the CPU.

    ``device`` is None, a :class:`torch.device` or a name as ``--device``
    takes it (``cpu``, ``cuda``, ``cuda:1``, ``mps``, ``auto``); a device that
    is not there is a one-line :class:`~neuralgae.core.host.errors.NeuralgaeError`.
    The CPU, however named, keeps scikit-image, so CPU results never change.
    """
    if device is None:
        return None
    from ..nets.device import resolve_device

    resolved = resolve_device(str(device))
    return None if resolved.type == "cpu" else resolved


def estimate_flow(
    reference: np.ndarray,
    moving: np.ndarray,
    *,
    max_side: int = FLOW_SIDE,
    device: "str | torch.device | None" = None,
) -> np.ndarray:
    """Dense optical flow from ``reference`` to ``moving`` (TV-L1).

    Parameters
    ----------
    reference, moving : (H, W, 3) or (H, W) float arrays of the same size
    max_side : frames whose longer side exceeds this are shrunk before the
        estimate (TV-L1 costs about 0.5 s at 192x192 on one core); the flow is
        then enlarged and its vectors scaled back to full-size pixels.
    device : None or the CPU (in any spelling): scikit-image, as always.
        Another device (``"cuda"``, ``"cuda:1"``, ``"mps"``, a
        :class:`torch.device`): the same algorithm in torch on that device
        (:mod:`neuralgae.core.media.flow_torch`), numpy in and numpy out.

    Returns
    -------
    (H, W, 2) float32 (dy, dx): ``reference(p)`` is found at ``p + flow(p)`` in ``moving``.
    """
    target = flow_device(device)
    if target is not None:
        return _estimate_flow_torch(reference, moving, max_side=max_side, device=target)
    from skimage.registration import optical_flow_tvl1
    from skimage.transform import resize

    ref, mov = to_grey(reference), to_grey(moving)
    if ref.shape != mov.shape:
        raise ValueError(f"frames differ in size: {ref.shape} and {mov.shape}")
    h, w = ref.shape
    k = _shrink_factor((h, w), max_side)
    if k < 1.0:
        small = (max(8, round(h * k)), max(8, round(w * k)))
        ref = resize(ref, small, anti_aliasing=True, preserve_range=True)
        mov = resize(mov, small, anti_aliasing=True, preserve_range=True)
    flow = np.stack(optical_flow_tvl1(ref, mov, dtype=np.float32), axis=-1)
    if k < 1.0:
        sy, sx = h / flow.shape[0], w / flow.shape[1]
        flow = resize(flow, (h, w, 2), order=1, preserve_range=True).astype(np.float32)
        flow[..., 0] *= sy
        flow[..., 1] *= sx
    return flow.astype(np.float32, copy=False)


def _estimate_flow_torch(reference: np.ndarray, moving: np.ndarray, *, max_side: int, device: "torch.device") -> np.ndarray:
    """:func:`estimate_flow` through :mod:`neuralgae.core.media.flow_torch` on ``device`` (the CPU too, for tests)."""
    import torch

    from . import flow_torch

    ref, mov = to_grey(reference), to_grey(moving)
    if ref.shape != mov.shape:
        raise ValueError(f"frames differ in size: {ref.shape} and {mov.shape}")
    ref_t = torch.from_numpy(np.ascontiguousarray(ref)).to(device)
    mov_t = torch.from_numpy(np.ascontiguousarray(mov)).to(device)
    return flow_torch.estimate_flow(ref_t, mov_t, max_side=max_side).cpu().numpy()


def warp(image: np.ndarray, flow: np.ndarray, *, order: int = 1) -> np.ndarray:
    """Backward warp: ``out(p) = image(p + flow(p))``, bilinear, edges repeated.

    ``image`` is (H, W) or (H, W, C); ``flow`` (H, W, 2) as from :func:`estimate_flow`.
    """
    from scipy.ndimage import map_coordinates

    h, w = flow.shape[:2]
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float32)
    coords = np.stack([rows + flow[..., 0], cols + flow[..., 1]])
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 2:
        return map_coordinates(image, coords, order=order, mode="nearest").astype(np.float32)
    return np.stack(
        [map_coordinates(image[..., c], coords, order=order, mode="nearest") for c in range(image.shape[2])], axis=-1
    ).astype(np.float32)


def inside_frame(flow: np.ndarray) -> np.ndarray:
    """(H, W) bool: where ``p + flow(p)`` lands inside the frame (content that was visible before)."""
    h, w = flow.shape[:2]
    rows, cols = np.mgrid[0:h, 0:w]
    y, x = rows + flow[..., 0], cols + flow[..., 1]
    return (y >= 0) & (y <= h - 1) & (x >= 0) & (x <= w - 1)


def consistent(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """(H, W) bool: where following ``forward`` then ``backward`` comes back to the start.

    ``forward`` maps the new frame to the previous one, ``backward`` the
    previous to the new. Disocclusions and motion the flow got wrong fail the check.
    """
    back = warp(backward, forward)
    round_trip = np.sum((forward + back) ** 2, axis=-1)
    budget = CONSISTENCY_RELATIVE * (np.sum(forward**2, axis=-1) + np.sum(back**2, axis=-1)) + CONSISTENCY_ABSOLUTE
    return round_trip <= budget


def reliable_mask(
    frame: np.ndarray,
    previous: np.ndarray,
    forward: np.ndarray,
    backward: np.ndarray | None = None,
    *,
    photometric_limit: float = PHOTOMETRIC_LIMIT,
    softness: float = MASK_SOFTNESS,
) -> np.ndarray:
    """(H, W) float32 in [0, 1]: how far the warped previous frame can be trusted at each pixel of ``frame``.

    1 where the flow is inside the frame, forward-backward consistent (when
    ``backward`` is given) and the warped previous frame matches the new one
    in colour; 0 in occluded, newly revealed or fast-changing regions.
    Softened by a small blur so blends have no hard seams.
    """
    from scipy.ndimage import gaussian_filter

    ok = inside_frame(forward)
    if backward is not None:
        ok &= consistent(forward, backward)
    error = np.abs(warp(previous, forward) - np.asarray(frame, np.float32)).mean(axis=-1)
    ok &= error <= photometric_limit
    mask = ok.astype(np.float32)
    if softness > 0:
        mask = np.minimum(mask, gaussian_filter(mask, softness))  # soften only inwards: never trust a bad pixel more
    return mask


@dataclass(frozen=True)
class Motion:
    """How frame *t* relates to frame *t-1*: the flow (t -> t-1) and where it can be trusted."""

    flow: np.ndarray
    mask: np.ndarray


def frame_motion(
    frame: np.ndarray,
    previous: np.ndarray,
    *,
    max_side: int = FLOW_SIDE,
    device: "str | torch.device | None" = None,
) -> Motion:
    """Flow from ``frame`` back to ``previous`` with its reliability mask (forward-backward checked).

    The mask is all 0 after a scene cut (less than :data:`CUT_FRACTION` of the frame reliable).
    With a ``device`` other than the CPU (see :func:`estimate_flow`) both
    flows and the mask are computed there, in one batch; the CPU keeps
    scikit-image and scipy.
    """
    target = flow_device(device)
    if target is not None:
        return _frame_motion_torch(frame, previous, max_side=max_side, device=target)
    forward = estimate_flow(frame, previous, max_side=max_side)
    backward = estimate_flow(previous, frame, max_side=max_side)
    mask = reliable_mask(frame, previous, forward, backward)
    return _cut_checked(Motion(forward, mask))


def _cut_checked(motion: Motion) -> Motion:
    """``motion`` with its mask zeroed when less than :data:`CUT_FRACTION` of the frame is reliable (a scene cut)."""
    if float(motion.mask.mean()) < CUT_FRACTION:
        return Motion(motion.flow, np.zeros_like(motion.mask))
    return motion


def _frame_motion_torch(frame: np.ndarray, previous: np.ndarray, *, max_side: int, device: "torch.device") -> Motion:
    """:func:`frame_motion` through :mod:`neuralgae.core.media.flow_torch` on ``device`` (the CPU too, for tests).

    The forward (frame -> previous) and backward flows are one batch of two
    pairs; only the forward flow and the mask come back to the host.
    """
    import torch

    from . import flow_torch

    frame = np.asarray(frame, np.float32)
    previous = np.asarray(previous, np.float32)
    if frame.shape != previous.shape:
        raise ValueError(f"frames differ in size: {frame.shape} and {previous.shape}")
    images = torch.from_numpy(np.ascontiguousarray(np.stack([frame, previous]))).to(device)
    grey = flow_torch.to_grey(images) if images.ndim == 4 else images
    flows = flow_torch.estimate_flow(grey, grey.flip(0), max_side=max_side)
    colour = images if images.ndim == 4 else images.unsqueeze(-1)
    mask = flow_torch.reliable_mask(colour[0], colour[1], flows[0], flows[1])
    return _cut_checked(Motion(flows[0].cpu().numpy(), mask.cpu().numpy()))


def coherent_start(
    frame: np.ndarray,
    previous_frame: np.ndarray,
    previous_dream: np.ndarray,
    motion: Motion,
    *,
    weight: float,
) -> np.ndarray:
    """Where frame *t*'s dream starts: the new frame plus the previous dream's detail, warped along the motion.

    ``start = frame + weight * mask * warp(previous_dream - previous_frame)``.
    Carrying the *detail* (what the dream added) rather than the whole previous
    dream keeps the new frame's own light and colour; where the mask is 0
    (occluded, revealed or fast-changing regions) the start is the plain new
    frame. ``weight`` 0 gives the plain per-frame dream.
    """
    frame = np.asarray(frame, np.float32)
    if weight <= 0:
        return frame
    detail = warp(np.asarray(previous_dream, np.float32) - np.asarray(previous_frame, np.float32), motion.flow, order=DETAIL_ORDER)
    return np.clip(frame + weight * motion.mask[..., None] * detail, 0.0, 1.0).astype(np.float32)


def warp_error(previous_output: np.ndarray, output: np.ndarray, motion: Motion) -> float:
    """Flicker between two consecutive outputs: mean |output - warp(previous_output)| where the motion is reliable.

    The motion is the *source* frames' (:func:`frame_motion`), so change that
    the source's own movement explains costs nothing; what remains is flicker.
    In image units (0..1), averaged over channels and over the reliable pixels.
    """
    difference = np.abs(np.asarray(output, np.float32) - warp(previous_output, motion.flow)).mean(axis=-1)
    weight = motion.mask
    total = float(weight.sum())
    if total <= 0:
        return 0.0
    return float((difference * weight).sum() / total)


def fresh_share(weight: float) -> float:
    """How much of the renderer's new change a coherent frame keeps where the motion is reliable: sqrt(1 - weight^2).

    The carried detail (``weight``) and the new change are largely unrelated
    textures; mixing them with weights whose squares sum to 1 keeps the
    dream's contrast steady over the frames (a plain average of two unrelated
    textures halves their power and the dream washes out).
    """
    weight = min(max(float(weight), 0.0), 1.0)
    return float(np.sqrt(1.0 - weight * weight))


def coherent_result(start: np.ndarray, rendered: np.ndarray, motion: Motion, *, weight: float) -> np.ndarray:
    """A coherent frame from its start and what the renderer made of it.

    ``out = start + s * (rendered - start)`` with ``s`` = :func:`fresh_share`
    where the motion is reliable and 1 where it is not (occluded or new
    regions get the full dream). ``weight`` 0 returns ``rendered``.

    With :func:`coherent_start`, the dream detail ``D`` (output minus source
    frame) follows ``D_t = weight * warp(D_{t-1}) + s * new_t``: what the
    source motion does not explain shrinks, while the dream keeps its strength.
    """
    rendered = np.asarray(rendered, np.float32)
    if weight <= 0:
        return rendered
    share = 1.0 - motion.mask[..., None] * (1.0 - fresh_share(weight))
    return np.clip(start + share * (rendered - start), 0.0, 1.0).astype(np.float32)
