"""Tiles for canvases larger than the network's input, visited in a spiral from the centre.

Seed 001 drew large images in overlapping network-sized tiles picked in a
spiral from the centre, padding tiles that stuck out of the image with their
mean colour, which left artefacts at the edges. Here tiles never stick out:
a tile that would cross the border is slid back inside, so every tile is all
image. The grid is shifted by a random offset each iteration and the tiles'
gradients are blended with a window that fades toward tile edges, so no
seam stays anywhere long enough to show.
"""

from __future__ import annotations

import math

import numpy as np

Box = tuple[int, int, int, int]  # (top, bottom, left, right)


def _centres(length: int, tile: int, stride: float, offset: float) -> list[tuple[int, float]]:
    """(grid index, centre) along one axis, index 0 at the middle, reaching both ends."""
    if length <= tile:
        return [(0, length / 2)]
    n = math.ceil((length / 2 + abs(offset)) / stride) + 1
    return [(i, length / 2 + offset + i * stride) for i in range(-n, n + 1)]


def _span(centre: float, length: int, tile: int) -> tuple[int, int]:
    """A tile of ``tile`` pixels around ``centre``, slid to lie inside [0, length]."""
    if length <= tile:
        return 0, length
    start = int(round(centre - tile / 2))
    start = min(max(start, 0), length - tile)
    return start, start + tile


def spiral_tiles(height: int, width: int, tile: int, *, overlap: float = 0.25, offset: tuple[float, float] = (0.0, 0.0)) -> list[Box]:
    """Overlapping tiles covering a ``height`` x ``width`` canvas, in ring order from the centre.

    Tiles sit on a grid of stride ``tile * (1 - overlap)`` centred on the
    canvas (shifted by ``offset`` = (dy, dx) pixels). Ring ``r`` holds the
    tiles ``r`` grid steps from the centre tile (Chebyshev distance); within
    a ring tiles go round clockwise starting from the top. Tiles crossing the
    border slide inside; duplicates are dropped.

    Returns
    -------
    list of (top, bottom, left, right) boxes, the centre tile first.
    """
    stride = max(1.0, tile * (1.0 - overlap))
    ys = _centres(height, tile, stride, offset[0])
    xs = _centres(width, tile, stride, offset[1])
    cells = []
    for i, cy in ys:
        for j, cx in xs:
            top, bottom = _span(cy, height, tile)
            left, right = _span(cx, width, tile)
            ring = max(abs(i), abs(j))
            angle = math.atan2(j, -i) % (2 * math.pi)  # 0 at the top, growing clockwise
            cells.append((ring, angle, (top, bottom, left, right)))
    cells.sort(key=lambda c: (c[0], c[1]))
    seen: set[Box] = set()
    boxes = []
    for _, _, box in cells:
        if box not in seen:
            seen.add(box)
            boxes.append(box)
    return boxes


def random_offset(tile: int, overlap: float, rng: np.random.Generator) -> tuple[float, float]:
    """A random grid shift of up to half a stride on each axis."""
    half = tile * (1.0 - overlap) / 2
    dy, dx = rng.uniform(-half, half, size=2)
    return float(dy), float(dx)


def tile_window(height: int, width: int, fade: int) -> np.ndarray:
    """(height, width) blending weights: 1 inside, a raised-cosine fade over ``fade`` pixels at the edges.

    The weight never reaches 0, so pixels that only one tile covers (the
    canvas border) still get that tile's full gradient after normalising by
    the summed weights.
    """

    def ramp(n: int) -> np.ndarray:
        x = np.ones(n, dtype=np.float32)
        f = min(fade, n // 2)
        if f > 0:
            t = (np.arange(f, dtype=np.float32) + 0.5) / f
            edge = 0.5 - 0.5 * np.cos(np.pi * t)
            x[:f] = edge
            x[n - f :] = edge[::-1]
        return np.maximum(x, 1e-3)

    return np.outer(ramp(height), ramp(width)).astype(np.float32)


def coverage(height: int, width: int, boxes: list[Box]) -> np.ndarray:
    """How many boxes cover each pixel: an (height, width) int array (for checks and tests)."""
    count = np.zeros((height, width), dtype=np.int32)
    for top, bottom, left, right in boxes:
        count[top:bottom, left:right] += 1
    return count
