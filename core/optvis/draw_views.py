"""Random views for transformation robustness: shift, scale and rotate before the network looks.

Only features that keep their meaning under small shifts, zooms and turns
survive gradient ascent over random views, and those are the ones another
network will recognise too.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


def random_affine(rng: np.random.Generator, *, height: int, width: int, jitter: int, scale: float, rotate: float) -> torch.Tensor:
    """A (1, 2, 3) affine matrix for ``F.affine_grid``: zoom, turn and shift drawn from ``rng``.

    ``jitter`` is the largest shift in pixels, ``scale`` the largest relative
    zoom and ``rotate`` the largest turn in degrees.
    """
    s = 1.0 + float(rng.uniform(-scale, scale)) if scale else 1.0
    a = math.radians(float(rng.uniform(-rotate, rotate))) if rotate else 0.0
    dy, dx = (rng.integers(-jitter, jitter + 1, size=2) if jitter else (0, 0))
    cos, sin = math.cos(a) / s, math.sin(a) / s
    aspect = height / width
    theta = [[cos, -sin * aspect, 2 * float(dx) / width], [sin / aspect, cos, 2 * float(dy) / height]]
    return torch.tensor(theta, dtype=torch.float32)[None]


def is_identity(theta: torch.Tensor) -> bool:
    return bool(torch.allclose(theta, torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])))


def apply_view(x: torch.Tensor, theta: torch.Tensor, *, padding: str = "reflection") -> torch.Tensor:
    """Resample ``x`` (N, C, H, W) through the affine ``theta``; differentiable."""
    if is_identity(theta):
        return x
    theta = theta.to(x.device)
    grid = F.affine_grid(theta.expand(x.shape[0], 2, 3), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=padding, align_corners=False)


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (N, C, H, W) with reflected borders; sigma in pixels (below 0.3: unchanged)."""
    if sigma < 0.3:
        return x
    radius = max(1, math.ceil(3 * sigma))
    radius = min(radius, x.shape[-1] - 1, x.shape[-2] - 1)
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    c = x.shape[1]
    x = F.pad(x, (radius, radius, radius, radius), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(x, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)
