"""A Student-t prior on 8x8x3 patches at several scales (seed 003).

Natural images, seen through whitening filters, give sparse, heavy-tailed
responses; noise gives dense ones. The penalty ``log(1 + z**2 / v)`` on the
responses ``z`` of learned 8x8x3 filters, summed over several pooling
scales, pushes a drawing toward image-like patches and keeps large objects
whole. Our filters are the PCA whitening filters of patches from the photos
that scikit-image ships (chelsea, coffee, astronaut), computed
deterministically on first use and cached for the process.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from .parameterisation import natural_images

PATCH = 8
PATCH_STRIDE = 4
STUDENT_T_V = 0.665


def natural_patches(*, size: int = PATCH, stride: int = PATCH_STRIDE) -> np.ndarray:
    """Every ``size`` x ``size`` x 3 patch of the bundled photos on a ``stride`` grid, as (M, 3 * size * size) rows."""
    rows = []
    for im in natural_images():
        t = torch.from_numpy(np.ascontiguousarray(im)).permute(2, 0, 1)[None]
        cols = F.unfold(t, kernel_size=size, stride=stride)  # (1, 3*size*size, M)
        rows.append(cols[0].T.numpy())
    return np.concatenate(rows).astype(np.float64)


@lru_cache(maxsize=1)
def whitening_filters(*, epsilon: float = 1e-4) -> tuple[np.ndarray, np.ndarray]:
    """PCA whitening filters of natural 8x8x3 patches.

    Returns
    -------
    filters : (192, 3, 8, 8) float32, one per principal component, scaled by
        1 / sqrt(eigenvalue + epsilon) so natural patches give unit-variance responses.
    mean : (3, 8, 8) float32, the mean patch (subtracted before filtering).
    """
    patches = natural_patches()
    mean = patches.mean(axis=0)
    cov = np.cov(patches - mean, rowvar=False)
    values, vectors = np.linalg.eigh(cov)
    order = np.argsort(values)[::-1]
    values, vectors = values[order], vectors[:, order]
    filters = (vectors / np.sqrt(values + epsilon)).T  # (192, 192): one filter per row
    filters = filters * np.sign(filters.sum(axis=1, keepdims=True) + 1e-12)  # fix the arbitrary sign
    return (
        filters.reshape(-1, 3, PATCH, PATCH).astype(np.float32),
        mean.reshape(3, PATCH, PATCH).astype(np.float32),
    )


@lru_cache(maxsize=8)
def whitening_conv(device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """The whitening filters as convolution weights and bias (the mean patch folded in), on ``device``, made once."""
    filters, mean = whitening_filters()
    w = torch.from_numpy(filters).to(device=device, dtype=dtype)
    bias = -(w * torch.from_numpy(mean).to(device=device, dtype=dtype)).sum(dim=(1, 2, 3))
    return w, bias


def student_t_penalty(
    image: torch.Tensor,
    *,
    scales: Sequence[int] = (1, 2, 4, 8),
    v: float = STUDENT_T_V,
    stride: int = PATCH_STRIDE,
) -> torch.Tensor:
    """Mean Student-t penalty ``log(1 + z**2 / v)`` of whitened 8x8x3 patch responses, averaged over scales.

    ``image`` is (N, 3, H, W) in [0, 1]. At scale ``s`` the image is first
    average-pooled by ``s``; patches are taken every ``max(1, stride // s)``
    pixels (every pixel costs as much as the whole network at full size).
    Scales whose pooled image is smaller than a patch are skipped. Lower is
    more natural.
    """
    w, bias = whitening_conv(image.device, image.dtype)
    total, used = image.new_zeros(()), 0
    for s in scales:
        if min(image.shape[-2:]) // s < PATCH:
            continue
        x = F.avg_pool2d(image, s) if s > 1 else image
        z = F.conv2d(x, w, bias, stride=max(1, stride // s))
        total = total + torch.log1p(z.pow(2) / v).mean()
        used += 1
    return total / max(used, 1)
