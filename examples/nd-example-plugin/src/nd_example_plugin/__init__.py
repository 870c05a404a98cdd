"""nd-example-plugin: a ``mirror`` transform for Neuralgae animation loops.

Neuralgae finds this module through the ``neuralgae`` entry point declared in
``pyproject.toml`` and calls its ``@hookimpl`` functions.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from neuralgae.core import FrameContext, NeuralgaeError, hookimpl


def fold(image: np.ndarray, axis: str) -> np.ndarray:
    """Reflect the left half onto the right ("horizontal"), the top onto the bottom ("vertical"), or both."""
    out = image.copy()
    h, w = image.shape[:2]
    if axis in ("horizontal", "both"):
        out[:, w - w // 2 :] = out[:, : w // 2][:, ::-1]
    if axis in ("vertical", "both"):
        out[h - h // 2 :] = out[: h // 2][::-1]
    return out


def mirror(
    image: np.ndarray,
    ctx: FrameContext,
    *,
    axis: Literal["horizontal", "vertical", "both"] = "horizontal",
    mix: float = 1.0,
) -> np.ndarray:
    """Mirror half of each frame onto the other half: symmetric dreams, like an inkblot.

    axis: horizontal reflects the left half onto the right, vertical the top
        onto the bottom, both does both (four-fold symmetry).
    mix: 1 replaces the frame by its mirrored version, 0 leaves it alone;
        values between fade the symmetry in slowly.
    """
    if not 0.0 <= mix <= 1.0:
        raise NeuralgaeError(f"transform 'mirror': parameter 'mix' must be between 0 and 1; got {mix}")
    folded = fold(image, axis)
    return ((1.0 - mix) * image + mix * folded).astype(np.float32)


@hookimpl
def register_transforms(register):
    register(mirror)
