"""Splitting large images into tiles whose borders move every step.

The gradient of a large image is computed tile by tile, so memory depends on
the tile size, not the image size. Each tile keeps the gradient of its own
part of the image (the *kept* box) but is computed on a larger *window*
around it, so features near its borders see their neighbourhood.

Along each axis the windows are evenly spaced, all of one length, and about
as few as cover the axis with tiles of about ``tile`` pixels:

- At every step each axis takes one of two layouts at random, the fewest
  windows that cover it or one more, so the borders between tiles fall in
  different places; within a layout each border is drawn at random from the
  positions that leave ``overlap`` pixels of context on both sides inside
  both windows (at least ``tile // 16`` of them). No border stays in one
  place long enough to leave a seam.
- Every window of a layout has the same size, so the network sees at most
  four input shapes per octave. oneDNN builds its kernels for a new shape
  once instead of at every step (a fifth of a tiled step at 2048x2048,
  measured), and every window reuses the same memory.
- Edge tiles are windows like any other: they get full-strength gradient
  with context on every side that has image beyond it.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np


class Tile(NamedTuple):
    """One tile: ``kept`` is the part of the image whose gradient it gives,
    ``window`` the part the network sees; both ``(top, bottom, left, right)``."""

    kept: tuple[int, int, int, int]
    window: tuple[int, int, int, int]


def border_room(tile: int) -> int:
    """The least room, in pixels, each border between kept boxes moves in from step to step."""
    return max(1, tile // 16)


def axis_windows(length: int, tile: int, overlap: int, extra: int = 0) -> list[int]:
    """Start positions of the windows along one axis, followed by their common length.

    One window spans the axis when it is at most ``tile + 2 * overlap`` long.
    Otherwise ``n + extra`` evenly spaced windows overlap by at least
    ``2 * overlap + border_room(tile)``, with ``n`` the fewest that keep
    their length at most ``tile + 2 * overlap + border_room(tile)``.
    """
    if length <= tile + 2 * overlap:
        return [0, length]
    shared = 2 * overlap + border_room(tile)
    n = max(2, math.ceil((length - shared) / tile)) + extra
    size = math.ceil((length + (n - 1) * shared) / n)  # below length, as shared < tile + 2 * overlap < length
    return [round(i * (length - size) / (n - 1)) for i in range(n)] + [size]


def axis_tiles(length: int, tile: int, overlap: int, rng: np.random.Generator | None = None) -> list[tuple[int, int, int, int]]:
    """``(kept_start, kept_end, window_start, window_end)`` along one axis; kept segments cover it once.

    With ``rng`` the layout (the fewest windows or one more) and each border
    are drawn at random, a border uniformly from the positions that leave
    ``overlap`` pixels of context inside both neighbouring windows; without
    it, the fewest windows and each border in the middle of its range.
    """
    extra = int(rng.integers(0, 2)) if rng is not None else 0
    *starts, size = axis_windows(length, tile, overlap, extra)
    cuts = [0]
    for here, following in zip(starts, starts[1:]):
        low, high = max(following + overlap, cuts[-1] + 1), here + size - overlap
        cuts.append(int(rng.integers(low, high + 1)) if rng is not None else (low + high) // 2)
    cuts.append(length)
    return [(a, b, s, s + size) for a, b, s in zip(cuts, cuts[1:], starts)]


def tile_boxes(
    height: int, width: int, tile: int, overlap: int = 0, rng: np.random.Generator | None = None
) -> list[Tile]:
    """Tiles whose kept boxes cover the image exactly once, every window the same size.

    With ``rng`` the borders between tiles move at random.
    """
    if tile < 1 or overlap < 0:
        raise ValueError(f"tile must be positive and overlap not negative; got {tile} and {overlap}")
    rows, cols = axis_tiles(height, tile, overlap, rng), axis_tiles(width, tile, overlap, rng)
    return [Tile((t, b, l, r), (wt, wb, wl, wr)) for t, b, wt, wb in rows for l, r, wl, wr in cols]
