"""Splitting large images into tiles whose borders move every step.

The gradient of a large image is computed tile by tile, so memory depends on
the tile size, not the image size. The tile grid is shifted by a random
offset at every step and no tile is ever a thin sliver, so tile borders never
stay in one place long enough to leave a seam, and edge tiles get gradient
like any other.
"""

from __future__ import annotations

import numpy as np


def tile_cuts(length: int, tile: int, offset: int) -> list[int]:
    """Cut positions along one axis: a grid of step ``tile`` shifted by ``offset``.

    Returns sorted positions starting at 0 and ending at ``length``. Segments
    shorter than half a tile are merged into their neighbour, so every
    segment is between ``tile // 2`` and ``1.5 * tile`` long (or the whole
    axis when it is shorter than a tile).
    """
    if length <= tile:
        return [0, length]
    offset %= tile
    cuts = [0] + list(range(offset if offset else tile, length, tile)) + [length]
    cuts = sorted(set(cuts))
    minimum = tile // 2
    if cuts[1] - cuts[0] < minimum:
        del cuts[1]
    if len(cuts) > 2 and cuts[-1] - cuts[-2] < minimum:
        del cuts[-2]
    return cuts


def tile_boxes(height: int, width: int, tile: int, rng: np.random.Generator | None = None) -> list[tuple[int, int, int, int]]:
    """Boxes ``(top, bottom, left, right)`` covering an image exactly once.

    With ``rng`` the grid is shifted by a random offset on each axis.
    """
    oy = int(rng.integers(0, tile)) if rng is not None else 0
    ox = int(rng.integers(0, tile)) if rng is not None else 0
    ys, xs = tile_cuts(height, tile, oy), tile_cuts(width, tile, ox)
    return [(t, b, l, r) for t, b in zip(ys, ys[1:]) for l, r in zip(xs, xs[1:])]
