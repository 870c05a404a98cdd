"""Decorrelated colour and frequency-space gradients: what a Fourier parameterisation does to gradient ascent.

Class visualisations drawn pixel by pixel fill with high-frequency,
oddly coloured patterns that only the drawing network sees. Drawing instead
in a space whose coordinates are decorrelated colour channels and Fourier
components scaled by 1/f (as lucid's parameterisation does) makes each step
change colours the way natural images vary and favours broad shapes.

For a linear parameterisation ``x = x0 + P(theta)``, a step on ``theta``
moves the image by ``P P^T g``; here that map is applied directly to the
pixel gradient ``g``, with each decorrelated channel normalised on its own.
That keeps the state a plain image, so the same machinery works from noise,
on a photo, on tiles and on crops around focus points.

The colour correlations are measured on the photos that scikit-image ships
(chelsea, coffee, astronaut), computed once per process.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch


@lru_cache(maxsize=1)
def natural_images() -> tuple[np.ndarray, ...]:
    """The bundled scikit-image photos (float32 RGB in [0, 1]) our statistics come from."""
    from skimage import data

    return tuple(np.asarray(f(), dtype=np.float32) / 255.0 for f in (data.chelsea, data.coffee, data.astronaut))


@lru_cache(maxsize=1)
def colour_correlation() -> np.ndarray:
    """(3, 3) square root of the RGB covariance of natural photos, columns scaled so the largest norm is 1.

    ``C @ c`` maps decorrelated colour coordinates ``c`` to RGB.
    """
    pixels = np.concatenate([im.reshape(-1, 3) for im in natural_images()])
    cov = np.cov(pixels, rowvar=False)
    values, vectors = np.linalg.eigh(cov)
    sqrt = vectors @ np.diag(np.sqrt(np.maximum(values, 1e-8)))
    sqrt /= np.linalg.norm(sqrt, axis=0).max()
    return sqrt.astype(np.float32)


def frequency_filter(height: int, width: int, decay: float) -> torch.Tensor:
    """(height, width // 2 + 1) weights 1 / max(f, 1/size) ** decay for an rfft2 spectrum, normalised to mean 1."""
    fy = torch.fft.fftfreq(height).abs()[:, None]
    fx = torch.fft.rfftfreq(width)[None, :]
    f = torch.sqrt(fy**2 + fx**2).clamp_min(1.0 / max(height, width))
    w = f.pow(-decay)
    return w / w.mean()


@lru_cache(maxsize=8)
def colour_matrix(device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """:func:`colour_correlation` as a tensor on ``device``, made once."""
    return torch.from_numpy(colour_correlation()).to(device=device, dtype=dtype)


@lru_cache(maxsize=64)
def device_frequency_filter(height: int, width: int, decay: float, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """:func:`frequency_filter` on ``device``, made once per size (not copied from the host every step)."""
    return frequency_filter(height, width, decay).to(device=device, dtype=dtype)


def precondition(grad: torch.Tensor, *, colour: bool = True, decay: float = 1.0) -> torch.Tensor:
    """Map a pixel gradient (N, 3, H, W) through decorrelated colour and a 1/f^decay spectrum.

    Each decorrelated channel is normalised by its mean absolute value before
    mapping back, so chroma moves as freely as luminance. With
    ``colour=False`` and ``decay=0`` the gradient is returned unchanged.
    """
    g = grad
    if colour:
        c = colour_matrix(g.device, g.dtype)
        g = torch.einsum("ij,nihw->njhw", c, g)  # C^T g: into decorrelated coordinates
    if decay > 0:
        h, w = g.shape[-2:]
        spectrum = torch.fft.rfft2(g) * device_frequency_filter(h, w, decay, g.device, g.dtype)
        g = torch.fft.irfft2(spectrum, s=(h, w))
    if colour:
        g = g / (g.abs().mean(dim=(2, 3), keepdim=True) + 1e-12)
        g = torch.einsum("ij,njhw->nihw", c, g)  # C: back to RGB
    return g
