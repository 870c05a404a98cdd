"""Images that tile: dream on the torus, so the output wraps around in both directions.

Nothing in the network changes. :class:`TileableNetwork` wraps any network:
before each forward pass (so before each gradient computation) the image is
padded circularly by :data:`PAD` pixels on every side, as if its left edge
continued into its right and its top into its bottom; the network sees the
padded image, and on the way back the gradient of the padded image is folded
onto the image modulo its size (:class:`CircularPad`). A pixel near an edge
appears twice in the padded image, once near the padded border where the
network's own zero padding is close; the two copies are weighted by a
crossfade that sums to 1 (more weight to the copy with more context), so
the band along the edges is dreamed neither twice as hard nor cut off.

The dream's jitter already rolls the image around (it wraps); between
octaves the image is resized as a periodic signal (:func:`circular_resize`,
the one hook in :mod:`neuralgae.core.optvis.dream`), so with the gradient folded
the dreamed detail is continuous across the wrap at every size. A start image whose own edges
do not meet (a photo) is first made periodic by :func:`make_periodic`.

Measured (:func:`seam_ratios`): the mean difference across the wrap seam
over the mean difference between neighbouring columns (rows) inside the
image; a texture tiles without a visible grid at up to :data:`SEAM_LIMIT`.
"""

from __future__ import annotations

import numpy as np
import torch

PAD = 64
"""Pixels of wrapped context added on every side (at most half the image's side)."""

SEAM_LIMIT = 1.2
"""A seam no more than this many times the mean neighbour difference inside does not show."""


def pad_for(height: int, width: int, pad: int = PAD) -> int:
    return max(0, min(pad, height // 2, width // 2))


def _axis(size: int, pad: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Source indices of a circularly padded axis, and the crossfade weight of each padded position."""
    u = torch.arange(-pad, size + pad, device=device)
    if pad == 0:
        return u, torch.ones(size, device=device)
    left = ((u + pad).float() / (2 * pad)).clamp(max=1.0)
    right = ((size + pad - u).float() / (2 * pad)).clamp(max=1.0)
    return u % size, left * right


class CircularPad(torch.autograd.Function):
    """Pad (N, C, H, W) circularly by ``pad``; the backward pass folds the gradient back, crossfaded."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, pad: int) -> torch.Tensor:
        h, w = x.shape[-2:]
        rows, row_weight = _axis(h, pad, x.device)
        cols, col_weight = _axis(w, pad, x.device)
        ctx.save_for_backward(rows, cols, row_weight, col_weight)
        ctx.size = (h, w)
        return x.index_select(2, rows).index_select(3, cols)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        h, w = ctx.size
        return _fold(grad, h, w, *ctx.saved_tensors), None


def _fold(grad, h, w, rows, cols, row_weight, col_weight) -> torch.Tensor:
    g = grad * row_weight.to(grad.dtype)[:, None] * col_weight.to(grad.dtype)[None, :]
    folded_rows = g.new_zeros(*g.shape[:2], h, g.shape[3]).index_add_(2, rows, g)
    return g.new_zeros(*g.shape[:2], h, w).index_add_(3, cols, folded_rows)


def fold(grad: torch.Tensor, height: int, width: int, pad: int) -> torch.Tensor:
    """The gradient of a circularly padded image folded back onto the image (the backward of :func:`circular_pad`)."""
    if pad == 0:
        return grad
    rows, row_weight = _axis(height, pad, grad.device)
    cols, col_weight = _axis(width, pad, grad.device)
    return _fold(grad, height, width, rows, cols, row_weight, col_weight)


def circular_pad(x: torch.Tensor, pad: int) -> torch.Tensor:
    return CircularPad.apply(x, pad) if pad > 0 else x


class TileableNetwork:
    """A network whose every forward pass sees its input padded circularly (see the module docstring).

    Feature maps come back for the padded image: an objective that averages
    them (as DeepDream's does) averages over the torus plus the wrapped
    border, which the crossfaded fold gives back to the image evenly. Every
    other attribute is the wrapped network's.
    """

    def __init__(self, net, pad: int = PAD):
        self._net = net
        self._pad = pad

    def features(self, x: torch.Tensor, layers):
        return self._net.features(circular_pad(x, pad_for(x.shape[-2], x.shape[-1], self._pad)), layers)

    def __getattr__(self, name):
        if name in ("_net", "_pad"):  # not set yet (copy, pickle): no endless lookup
            raise AttributeError(name)
        return getattr(self._net, name)


def circular_resize(t: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Resize (N, C, H, W) to ``shape`` as a periodic signal: its Fourier series cut or zero-extended.

    Bilinear resizing clamps at the edges, so the octaves of a dream would
    carry a seam from one size to the next; resampling the Fourier series
    treats the image as the torus it is (and filters what a smaller size
    cannot hold, so shrinking does not alias).
    """
    h, w = t.shape[-2:]
    big_h, big_w = shape
    if (h, w) == (big_h, big_w):
        return t
    spectrum = torch.fft.fftshift(torch.fft.fft2(t.float()), dim=(-2, -1))
    out = spectrum.new_zeros(*t.shape[:-2], big_h, big_w)
    mh, mw = min(h, big_h), min(w, big_w)
    src_y, src_x = h // 2 - mh // 2, w // 2 - mw // 2
    dst_y, dst_x = big_h // 2 - mh // 2, big_w // 2 - mw // 2
    out[..., dst_y : dst_y + mh, dst_x : dst_x + mw] = spectrum[..., src_y : src_y + mh, src_x : src_x + mw]
    resized = torch.fft.ifft2(torch.fft.ifftshift(out, dim=(-2, -1))).real * (big_h * big_w / (h * w))
    return resized.to(t.dtype).contiguous()


def octave_resize(net, t: torch.Tensor, shape: tuple[int, int], plain):
    """How a dream carries an image between octave sizes: circularly for a :class:`TileableNetwork`, else ``plain``."""
    return circular_resize(t, shape) if isinstance(net, TileableNetwork) else plain(t, shape)


# -- deepdraw on the torus -------------------------------------------------------------------


def torus_ops(canvas_gradient, gaussian_blur):
    """deepdraw's canvas gradient, blur and resize, made to wrap around (:func:`neuralgae.core.optvis.draw.render_draw`).

    The gradient: the canvas (and each aim mask) padded circularly, the
    step's gradient computed on the padded canvas (its tiles and random
    views see wrapped content) and folded back. The blur: on the canvas
    padded by the kernel's radius, cropped back, so it smooths across the
    wrap. The resize between octaves: :func:`circular_resize`.
    """

    def gradient(net, canvas, targets, masks, settings, tile, rng):
        h, w = canvas.shape[-2:]
        pad = pad_for(h, w)
        padded = circular_pad(canvas, pad)
        padded_masks = [None if m is None else circular_pad(m, pad) for m in masks]
        grad, value = canvas_gradient(net, padded, targets, padded_masks, settings, tile, rng)
        folded = fold(grad, h, w, pad)
        # deepdraw's gradient comes normalised; the crossfaded copies of a pixel are not the same
        # gradient, so their mix is weaker: give it back the size the step expects.
        return folded * (grad.abs().mean() / (folded.abs().mean() + 1e-12)), value

    def blur(x, sigma):
        if sigma < 0.3:
            return x
        r = int(np.ceil(3 * sigma)) + 1
        h, w = x.shape[-2:]
        return gaussian_blur(circular_pad(x, r), sigma)[:, :, r : r + h, r : r + w]

    return gradient, blur, circular_resize


# -- start images and the seam ------------------------------------------------------------


def seam_ratios(image: np.ndarray) -> tuple[float, float]:
    """(left-right, top-bottom) seam: the mean difference across the wrap over the mean neighbour difference inside."""
    a = np.asarray(image, np.float64)
    inside_x = np.abs(np.diff(a, axis=1)).mean()
    inside_y = np.abs(np.diff(a, axis=0)).mean()
    across_x = np.abs(a[:, 0] - a[:, -1]).mean()
    across_y = np.abs(a[0] - a[-1]).mean()
    return float(across_x / max(inside_x, 1e-12)), float(across_y / max(inside_y, 1e-12))


def is_periodic(image: np.ndarray, limit: float = SEAM_LIMIT) -> bool:
    return max(seam_ratios(image)) <= limit


def make_periodic(image: np.ndarray) -> np.ndarray:
    """The image made to wrap around: crossfaded with itself rolled by half its size.

    The rolled copy's edges are the image's middle, so they meet; it takes
    over toward the edges, the image keeps its middle (its share falls as
    sin² of the distance from the edge). The crossfade keeps the contrast:
    the two are mixed about the mean colour with weights whose squares sum
    to 1, so a textured image is not flattened where the two overlap (a
    plain average would halve its variance there, and the untouched edges
    would then stand out as a seam). Used only on a start image whose seam
    would show.
    """
    a = np.asarray(image, np.float32)
    h, w = a.shape[:2]
    rolled = np.roll(a, (h // 2, w // 2), axis=(0, 1))
    wy = np.sin(np.pi * (np.arange(h) + 0.5) / h) ** 2
    wx = np.sin(np.pi * (np.arange(w) + 0.5) / w) ** 2
    keep = (wy[:, None] * wx[None, :])[..., None]
    mean = a.mean(axis=(0, 1), keepdims=True)
    out = mean + np.sqrt(keep) * (a - mean) + np.sqrt(1 - keep) * (rolled - mean)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def tiled(image: np.ndarray, times: int = 3) -> np.ndarray:
    """``times`` x ``times`` copies of the image side by side: how a tileable image looks as wallpaper."""
    return np.tile(np.asarray(image), (times, times, 1))
