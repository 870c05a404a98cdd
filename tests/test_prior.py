"""The multi-scale Student-t patch prior and its filters."""

import numpy as np
import torch

from neuralgae.core.optvis.prior import natural_patches, student_t_penalty, whitening_filters


def test_filters_whiten_natural_patches():
    filters, mean = whitening_filters()
    assert filters.shape == (192, 3, 8, 8) and mean.shape == (3, 8, 8)
    patches = natural_patches(stride=16)
    z = (patches - mean.reshape(-1)) @ filters.reshape(192, -1).T.astype(np.float64)
    cov = np.cov(z, rowvar=False)
    # close to the identity for the strong components (epsilon damps the weakest)
    assert np.allclose(np.diag(cov)[:50], 1.0, atol=0.25)
    off = cov - np.diag(np.diag(cov))
    assert np.abs(off).mean() < 0.1


def test_filters_are_deterministic():
    a, _ = whitening_filters()
    whitening_filters.cache_clear()
    b, _ = whitening_filters()
    assert np.array_equal(a, b)


def test_photo_is_more_probable_than_noise():
    from skimage import data

    photo = torch.from_numpy(data.astronaut()[100:228, 100:228].astype(np.float32) / 255).permute(2, 0, 1)[None]
    g = torch.Generator().manual_seed(0)
    noise = torch.rand(1, 3, 128, 128, generator=g)
    assert student_t_penalty(photo) < student_t_penalty(noise)


def test_descending_the_prior_smooths_noise():
    g = torch.Generator().manual_seed(1)
    x = (0.5 + 0.2 * torch.randn(1, 3, 64, 64, generator=g)).clamp(0, 1)
    before = float(student_t_penalty(x, scales=(1, 2)))
    for _ in range(10):
        x = x.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(student_t_penalty(x, scales=(1, 2)), x)
        x = (x - 0.01 * grad / grad.abs().mean()).clamp(0, 1)
    assert float(student_t_penalty(x, scales=(1, 2)).detach()) < before


def test_scales_too_large_for_the_image_are_skipped():
    x = torch.full((1, 3, 32, 32), 0.5)
    assert torch.isfinite(student_t_penalty(x, scales=(1, 8, 64)))
