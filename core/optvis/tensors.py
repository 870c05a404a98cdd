"""Moving images between numpy and torch, resizing them, and the CPU's denormal setting: shared by dream, draw and the stream.

Images are float32 (H, W, 3) arrays in [0, 1] (masks (H, W)); tensors are
(1, C, H, W) float32.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F


def to_tensor(image: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """(H, W, C) or (H, W) float array -> (1, C, H, W) float32 tensor on ``device``."""
    a = np.ascontiguousarray(image, dtype=np.float32)
    if a.ndim == 2:
        a = a[..., None]
    return torch.from_numpy(a).permute(2, 0, 1)[None].to(device).contiguous()


def to_image(tensor: torch.Tensor) -> np.ndarray:
    """(1, C, H, W) tensor -> (H, W, C) float32 array on the CPU."""
    return np.ascontiguousarray(tensor[0].permute(1, 2, 0).detach().cpu().numpy(), dtype=np.float32)


def batch_tensor(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, C) float array -> (N, C, H, W) float32 tensor."""
    return torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).permute(0, 3, 1, 2).contiguous()


def batch_image(tensor: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) tensor -> (N, H, W, C) float32 array on the CPU."""
    return np.ascontiguousarray(tensor.permute(0, 2, 3, 1).detach().cpu().numpy(), dtype=np.float32)


def resize_tensor(t: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of (N, C, H, W) to ``shape``, anti-aliased when either side shrinks."""
    if tuple(t.shape[-2:]) == tuple(shape):
        return t
    shrinking = shape[0] < t.shape[-2] or shape[1] < t.shape[-1]
    return F.interpolate(t, size=shape, mode="bilinear", align_corners=False, antialias=shrinking)


def flushing_denormals() -> bool:
    """Whether this thread flushes denormal floats to zero (torch has no getter, so it is measured)."""
    return (torch.tensor([1e-40], dtype=torch.float32) * 0.5).item() == 0.0


@contextlib.contextmanager
def flush_denormals() -> Iterator[None]:
    """Treat denormal floats as zero in this thread while rendering, then restore what the caller had.

    Flat, smooth canvases drive some activations into denormal range, which
    makes a CPU forward pass up to 40 times slower; flushing them changes
    nothing visible. The setting is per thread: torch's worker threads
    inherit it from the thread that starts them, which is why ``nd`` sets it
    once at start-up (a Python program can do the same with
    ``torch.set_flush_denormal(True)``); this context is for the render
    loops themselves and leaves the caller's setting as it found it.
    """
    before = flushing_denormals()
    if not before:
        torch.set_flush_denormal(True)
    try:
        yield
    finally:
        if not before:
            torch.set_flush_denormal(False)
