"""Named shift functions for the roll transforms: how far each column (or row) moves.

Seed 002 rolls every column of the image by ``shiftfunc(n)`` pixels, with
``shiftfunc`` a line (``n / 15``), a sine wave, or ``randint(lower, upper)``.
Here each of those is a small named function over an array of positions, and
a spec picks one by name (:data:`ShiftFunction`) and sets its numbers; nothing
is ever evaluated as code.

Every function takes ``positions``, a float array of column (or row) indices,
and returns a float array of the same shape: the shift of each position in
pixels. The roll transforms round the shifts to whole pixels.
"""

from __future__ import annotations

import math
from typing import Literal, get_args

import numpy as np

from neuralgae.core.host.errors import NeuralgaeError, did_you_mean

ShiftFunction = Literal["constant", "linear", "sine", "random"]
SHIFT_FUNCTIONS: tuple[str, ...] = get_args(ShiftFunction)


def constant_shift(positions: np.ndarray, *, offset: float) -> np.ndarray:
    """The same shift ``offset`` everywhere: the whole image slides."""
    return np.full(positions.shape, float(offset))


def linear_shift(positions: np.ndarray, *, slope: float, offset: float = 0.0) -> np.ndarray:
    """``slope * position + offset``: a shear (the seed's ``n / 15`` is slope 1/15)."""
    return slope * positions + offset


def sine_shift(positions: np.ndarray, *, amplitude: float, period: float, phase: float = 0.0) -> np.ndarray:
    """``amplitude * sin(2 pi position / period + phase)``, ``phase`` in degrees: a wave."""
    if not period > 0:
        raise NeuralgaeError(f"the sine shift function needs period > 0 (in pixels); got {period!r}")
    return amplitude * np.sin(2.0 * math.pi * positions / period + math.radians(phase))


def random_shift(
    positions: np.ndarray, *, rng: np.random.Generator, lower: int, upper: int, even_scale: float = 1.0
) -> np.ndarray:
    """Whole random shifts drawn uniformly from ``[lower, upper]`` (both included).

    ``even_scale`` widens (or narrows) the bounds of the even-numbered
    entries of ``positions`` (entry 0, 2, 4...: columns, or groups of
    columns), the seed's idea to forestall convergence ("even-numbered columns get twice
    as big a range as odd ones").
    """
    if lower > upper:
        raise NeuralgaeError(f"the random shift function needs lower <= upper; got lower={lower}, upper={upper}")
    if even_scale < 0:
        raise NeuralgaeError(f"the random shift function needs even_scale >= 0; got {even_scale}")
    draws = rng.integers(lower, upper + 1, size=positions.shape).astype(np.float64)
    if even_scale != 1.0:
        even = (np.arange(positions.size) % 2 == 0).reshape(positions.shape)
        draws = np.where(even, np.round(draws * even_scale), draws)
    return draws


def shift_amounts(
    function: str,
    positions: np.ndarray,
    *,
    rng: np.random.Generator,
    offset: float = 0.0,
    slope: float = 1.0 / 15.0,
    amplitude: float = 8.0,
    period: float = 64.0,
    phase: float = 0.0,
    lower: int = -5,
    upper: int = 5,
    even_scale: float = 1.0,
) -> np.ndarray:
    """Evaluate the shift function named ``function`` at ``positions``.

    Only the numbers that the named function uses are read: ``offset`` for
    constant and linear, ``slope`` for linear, ``amplitude``/``period``/
    ``phase`` for sine, ``lower``/``upper``/``even_scale`` for random.
    """
    positions = np.asarray(positions, dtype=np.float64)
    if function == "constant":
        return constant_shift(positions, offset=offset)
    if function == "linear":
        return linear_shift(positions, slope=slope, offset=offset)
    if function == "sine":
        return sine_shift(positions, amplitude=amplitude, period=period, phase=phase)
    if function == "random":
        return random_shift(positions, rng=rng, lower=lower, upper=upper, even_scale=even_scale)
    raise NeuralgaeError(
        f"unknown shift function '{function}'{did_you_mean(function, SHIFT_FUNCTIONS)} "
        f"(choose one of {', '.join(SHIFT_FUNCTIONS)})"
    )
