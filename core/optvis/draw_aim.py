"""Aiming subjects at parts of the image: region masks and the aim spec.

Seed 003 aimed one subject at the top half and another at the bottom half of
its picture by reading the classifier fully convolutionally: the logits at
each position of the last feature map say what the network sees there. A
subject's objective is its logit averaged over the positions its mask
covers. Masks are float arrays (H, W) in [0, 1] on the output canvas.
"""

from __future__ import annotations

import numpy as np

from ..host.errors import NeuralgaeError, did_you_mean

REGIONS = (
    "all",
    "top",
    "bottom",
    "left",
    "right",
    "centre",
    "center",
    "top-left",
    "top-right",
    "bottom-left",
    "bottom-right",
)


def region_mask(name: str, height: int, width: int) -> np.ndarray:
    """A named region of a ``height`` x ``width`` canvas as a 0/1 float32 mask.

    Halves for ``top``, ``bottom``, ``left``, ``right``; quarters for the
    corners; the middle half on each axis for ``centre``; everything for ``all``.
    """
    key = name.strip().lower().replace("_", "-").replace(" ", "-")
    if key not in REGIONS:
        raise NeuralgaeError(
            f"unknown aim region '{name}'{did_you_mean(key, REGIONS)}; use one of {', '.join(REGIONS)} or a mask image file"
        )
    mask = np.zeros((height, width), dtype=np.float32)
    h2, w2 = height // 2, width // 2
    if key == "all":
        mask[:] = 1
    if "top" in key:
        mask[:h2] = 1
    if "bottom" in key:
        mask[h2:] = 1
    if key in ("left", "right"):
        mask[:, :w2] = 1 if key == "left" else 0
        mask[:, w2:] = 1 if key == "right" else 0
    elif "-" in key:  # corners: keep only the chosen half across
        keep = np.zeros(width, dtype=bool)
        keep[:w2] = key.endswith("left")
        keep[w2:] = key.endswith("right")
        mask[:, ~keep] = 0
    if key in ("centre", "center"):
        mask[height // 4 : height - height // 4, width // 4 : width - width // 4] = 1
    return mask


def parse_aim(spec: str, count: int) -> list[str]:
    """Split ``"top,bottom"`` into one region (or mask file) per class.

    Raises a :class:`NeuralgaeError` when the number of regions differs from
    the number of classes, or a region is empty.
    """
    parts = [p.strip() for p in str(spec).split(",")]
    if any(not p for p in parts):
        raise NeuralgaeError(f"cannot read aim '{spec}'; write one region per class, e.g. 'top,bottom'")
    if len(parts) != count:
        raise NeuralgaeError(
            f"aim '{spec}' names {len(parts)} region{'s' if len(parts) != 1 else ''} for {count} "
            f"class{'es' if count != 1 else ''}; give one region per class, e.g. 'top,bottom'"
        )
    return parts


def aim_masks(spec: str, count: int, height: int, width: int, *, load=None) -> list[np.ndarray]:
    """Masks for each class from an aim spec; items that are not region names are read as mask images.

    ``load(path) -> (H, W, 3) float image`` reads mask files (default
    :func:`neuralgae.core.media.images.load_image`); they are resized to the canvas
    and averaged over colour.
    """
    masks = []
    for item in parse_aim(spec, count):
        key = item.lower().replace("_", "-").replace(" ", "-")
        if key in REGIONS or not _looks_like_path(item):
            masks.append(region_mask(item, height, width))
        else:
            masks.append(mask_from_image(item, height, width, load=load))
    return masks


def _looks_like_path(item: str) -> bool:
    return "." in item or "/" in item or "\\" in item


def mask_from_image(path: str, height: int, width: int, *, load=None) -> np.ndarray:
    """A grey-level mask (white = inside) read from an image file and resized to the canvas."""
    from ..media.images import load_image, resize

    image = (load or load_image)(path)
    return resize(image, height, width).mean(axis=2).clip(0, 1).astype(np.float32)


def check_mask(mask: np.ndarray, height: int, width: int, *, what: str = "mask") -> np.ndarray:
    """Validate a user mask: (H, W) or (H, W, C) with values in [0, 1], resized to the canvas."""
    from ..media.images import resize

    m = np.asarray(mask, dtype=np.float32)
    if m.ndim == 3:
        m = m.mean(axis=2)
    if m.ndim != 2:
        raise NeuralgaeError(f"a {what} must be a 2-D array (H, W); got shape {m.shape}")
    if m.shape != (height, width):
        m = resize(np.repeat(m[..., None], 3, axis=2), height, width)[..., 0]
    if not np.isfinite(m).all() or m.min() < 0 or m.max() > 1:
        raise NeuralgaeError(f"a {what} must hold values between 0 and 1")
    if m.max() == 0:
        raise NeuralgaeError(f"the {what} is empty (all zero); nothing would be drawn")
    return m
