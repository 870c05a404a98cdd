"""Built-in inter-frame transforms: what happens to a frame between two dreams.

Seed 002's loop is dream -> transform -> dream. The transform keeps the dream
from settling in a basin: zooming, stretching or rolling the image opens gaps
where the network finds new features. Every transform the seed describes or
proposes is here, parameterised:

- geometry: :func:`zoom`, :func:`stretch`, :func:`rotate`, :func:`affine`;
- rolls (``np.roll`` of columns or rows by a named shift function):
  :func:`roll`, :func:`stochastic_shift`, :func:`alternating_roll`;
- filters: :func:`sobel`, :func:`prewitt`, :func:`blur`;
- colour and glitch: :func:`hue_shift`, :func:`posterize`, :func:`pixel_sort`;
- composites: :func:`subregions` (a different transform on each tile of a
  grid) and :func:`chain` (several transforms in order).

Each is a plain function ``f(image, ctx, **params) -> image`` on a float32
(H, W, 3) image in [0, 1], returning a new image of the same shape and dtype,
with values in [0, 1]. Its keyword-only parameters are what a spec may set.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
from scipy import ndimage
from skimage import color

from neuralgae.core.host.components import FrameContext, Range, Shape
from neuralgae.core.host.errors import NeuralgaeError, did_you_mean
from neuralgae.core.host.hookspecs import hookimpl
from neuralgae.core.host.limits import MAX_SIDE
from neuralgae.core.runs.schedule import split_schedules

from .shift_functions import SHIFT_FUNCTIONS, ShiftFunction, shift_amounts

Boundary = Literal["reflect", "mirror", "nearest", "wrap", "black"]
Direction = Literal["vertical", "horizontal"]

# Declared limits, checked by the host when a spec loads (and on every schedule key value).
Order = Annotated[int, Range(0, 5)]  # interpolation order; 1 is bilinear
Scale = Annotated[float, Range(high=1, high_open=True)]  # a zoom or stretch: less than 1
Unit = Annotated[float, Range(0, 1)]
NonNegative = Annotated[float, Range(0)]
Positive = Annotated[float, Range(0, low_open=True)]
AtLeastOne = Annotated[int, Range(1)]
GridSide = Annotated[int, Range(1, MAX_SIDE)]  # tiles along one side: never more than an image's pixels

# Our boundary names -> scipy.ndimage modes. "reflect" repeats the edge pixel
# then mirrors (no black borders creep into zoom-out or rotation loops).
_SCIPY_MODES = {
    "reflect": "reflect",
    "mirror": "mirror",
    "nearest": "nearest",
    "wrap": "grid-wrap",
    "black": "grid-constant",
}


# -- validation helpers --------------------------------------------------------------


def _fail(transform: str, message: str) -> NeuralgaeError:
    return NeuralgaeError(f"transform '{transform}': {message}")


def _check_choice(transform: str, name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise _fail(
            transform,
            f"parameter '{name}' must be one of {', '.join(repr(c) for c in choices)}; got {value!r}"
            f"{did_you_mean(str(value), choices)}",
        )


def _finish(image: np.ndarray) -> np.ndarray:
    """Clip to [0, 1] and return float32: the contract every transform keeps."""
    return np.clip(image, 0.0, 1.0).astype(np.float32, copy=False)


# -- geometry ----------------------------------------------------------------------


def warp_about_centre(
    image: np.ndarray,
    matrix: np.ndarray,
    *,
    offset: tuple[float, float] = (0.0, 0.0),
    centre: tuple[float, float] | None = None,
    order: int = 1,
    boundary: str = "reflect",
) -> np.ndarray:
    """Resample ``image`` through an affine map about ``centre``.

    Each output pixel at (row, column) ``o`` takes the input at
    ``matrix @ (o - centre) + centre + offset`` (the scipy.ndimage
    convention: the matrix maps output coordinates to input coordinates, so a
    matrix smaller than the identity magnifies). ``centre`` defaults to the
    middle of the image, so the image stays centred.

    Parameters
    ----------
    image : (H, W, 3) float array
    matrix : (2, 2) array, in (row, column) order
    offset : (row, column) shift of the sampling point, in pixels
    """
    h, w = image.shape[:2]
    m = np.asarray(matrix, dtype=np.float64)
    c = np.array(centre if centre is not None else ((h - 1) / 2.0, (w - 1) / 2.0), dtype=np.float64)
    shift = c - m @ c + np.asarray(offset, dtype=np.float64)
    mode = _SCIPY_MODES[boundary]
    out = np.empty_like(image, dtype=np.float32)
    for ch in range(image.shape[2]):
        ndimage.affine_transform(
            image[..., ch], m, offset=shift, order=order, mode=mode, cval=0.0, output=out[..., ch], prefilter=order > 1
        )
    return out


def zoom(image: np.ndarray, ctx: FrameContext, *, scale: Scale = 0.05, order: Order = 1, boundary: Boundary = "reflect") -> np.ndarray:
    """Zoom into the centre: the classic DeepDream zoom loop.

    scale: how much the view shrinks each frame; each output pixel samples the
        input at (1 - scale) times its distance from the centre. 0.05 is the
        classic DeepDream value (a 5.3% magnification per frame); 0 leaves the
        image unchanged; negative values zoom out. Must be less than 1.
    order: interpolation order, 0 (nearest) to 5; 1 is bilinear as in the seed.
    boundary: how pixels outside the image are filled when zooming out:
        reflect, mirror, nearest, wrap or black.
    """
    _check_choice("zoom", "boundary", boundary, tuple(_SCIPY_MODES))
    if scale == 0:
        return _finish(image.copy())
    factor = 1.0 - scale
    return _finish(warp_about_centre(image, np.diag([factor, factor]), order=order, boundary=boundary))


def stretch(
    image: np.ndarray,
    ctx: FrameContext,
    *,
    scale: Scale = 0.05,
    direction: Direction = "vertical",
    order: Order = 1,
    boundary: Boundary = "reflect",
) -> np.ndarray:
    """Stretch along one axis only, about the centre (the seed's favourite: vertical).

    scale: as for zoom, but along one axis: 0.05 stretches by 5.3% per frame,
        0 is the identity, negative values squeeze. Must be less than 1.
    direction: vertical (rows pull apart, as the seed's [1-s, 1, 1]) or
        horizontal.
    order: interpolation order, 0 to 5.
    boundary: how pixels outside the image are filled when squeezing:
        reflect, mirror, nearest, wrap or black.
    """
    _check_choice("stretch", "direction", direction, ("vertical", "horizontal"))
    _check_choice("stretch", "boundary", boundary, tuple(_SCIPY_MODES))
    if scale == 0:
        return _finish(image.copy())
    diagonal = [1.0 - scale, 1.0] if direction == "vertical" else [1.0, 1.0 - scale]
    return _finish(warp_about_centre(image, np.diag(diagonal), order=order, boundary=boundary))


def _rotation_matrix(degrees: float) -> np.ndarray:
    """The (row, column) matrix that turns the picture ``degrees`` anticlockwise on screen."""
    a = math.radians(degrees)
    cos, sin = math.cos(a), math.sin(a)
    # Rows grow downwards, so an anticlockwise turn on screen maps output to input by:
    return np.array([[cos, sin], [-sin, cos]])


def rotate(
    image: np.ndarray, ctx: FrameContext, *, angle: float = 1.0, order: Order = 1, boundary: Boundary = "reflect"
) -> np.ndarray:
    """Rotate about the centre by a few degrees per frame.

    angle: degrees per frame, anticlockwise on screen (negative: clockwise).
        Multiples of 360 are the identity.
    order: interpolation order, 0 to 5.
    boundary: how the corners that rotate in from outside are filled:
        reflect, mirror, nearest, wrap or black.
    """
    _check_choice("rotate", "boundary", boundary, tuple(_SCIPY_MODES))
    if angle % 360 == 0:
        return _finish(image.copy())
    return _finish(warp_about_centre(image, _rotation_matrix(angle), order=order, boundary=boundary))


def affine(
    image: np.ndarray,
    ctx: FrameContext,
    *,
    matrix: Annotated[list[list[float]], Shape((2, 2), (2, 3))] = [[0.98, 0.02], [-0.02, 0.98]],  # noqa: B006 (never mutated)
    offset: Annotated[list[float], Shape((2,))] = [0.0, 0.0],  # noqa: B006
    centre: Annotated[list[float], Shape((2,))] = [0.5, 0.5],  # noqa: B006
    order: Order = 1,
    boundary: Boundary = "reflect",
) -> np.ndarray:
    """Any affine map: a 2x2 matrix (or 2x3 with a translation column) about a centre.

    matrix: 2x2 matrix in (row, column) order mapping each output pixel's
        position (relative to the centre) to where it samples the input, as
        scipy.ndimage does: [[1, 0], [0, 1]] is the identity, [[0.95, 0],
        [0, 0.95]] zooms in, [[0.95, 0], [0, 1]] stretches vertically,
        [[1, 0.05], [0, 1]] shears. A third column is a translation in pixels,
        added to ``offset``. The default, [[0.98, 0.02], [-0.02, 0.98]], is a
        slow spiral inwards (zoom plus a slight turn).
    offset: (row, column) translation of the sampling point in pixels; [2, 0]
        makes the image drift up by 2 pixels per frame.
    centre: the fixed point as fractions of (height, width); [0.5, 0.5] is the
        middle of the image, [0, 0] the top-left corner.
    order: interpolation order, 0 to 5.
    boundary: how pixels sampled outside the image are filled:
        reflect, mirror, nearest, wrap or black.
    """
    m = np.asarray(matrix, dtype=np.float64)
    _check_choice("affine", "boundary", boundary, tuple(_SCIPY_MODES))
    translation = np.asarray(offset, dtype=np.float64) + (m[:, 2] if m.shape[1] == 3 else 0.0)
    linear = m[:, :2]
    if np.array_equal(linear, np.eye(2)) and not translation.any():
        return _finish(image.copy())
    h, w = image.shape[:2]
    fixed = (centre[0] * (h - 1), centre[1] * (w - 1))
    return _finish(warp_about_centre(image, linear, offset=tuple(translation), centre=fixed, order=order, boundary=boundary))


# -- rolls -------------------------------------------------------------------------


def roll_lines(image: np.ndarray, shifts: np.ndarray, *, direction: str) -> np.ndarray:
    """``np.roll`` every column (vertical) or every row (horizontal) by its own whole shift.

    Parameters
    ----------
    image : (H, W, C) array
    shifts : (W,) shifts for vertical, (H,) for horizontal; positive moves
        down (vertical) or right (horizontal), and what falls off one edge
        comes back at the other.
    """
    h, w = image.shape[:2]
    s = np.rint(shifts).astype(np.int64)
    if direction == "vertical":
        rows = (np.arange(h)[:, None] - s[None, :]) % h
        return image[rows, np.arange(w)[None, :]]
    cols = (np.arange(w)[None, :] - s[:, None]) % w
    return image[np.arange(h)[:, None], cols]


def line_shifts(
    n_lines: int,
    ctx: FrameContext,
    *,
    function: str,
    group: int,
    every: int,
    drift: float,
    transform: str,
    **function_params,
) -> np.ndarray:
    """The shift of each of ``n_lines`` columns (or rows).

    Lines are taken in groups of ``group`` that move together; only every
    ``every``-th group moves (the others stay); the shift function is
    evaluated at each group's first line, moved back by ``drift * ctx.index``
    so that the pattern travels ``drift`` lines per frame.
    """
    starts = np.arange(0, n_lines, group, dtype=np.float64)
    try:
        shifts = shift_amounts(function, starts - drift * ctx.index, rng=ctx.rng, **function_params)
    except NeuralgaeError as exc:
        raise _fail(transform, str(exc)) from None
    moving = np.arange(starts.size) % every == 0
    shifts = np.where(moving, shifts, 0.0)
    return np.repeat(shifts, group)[:n_lines]


def _check_shift_params(transform: str, function: str, lower: int, upper: int) -> None:
    _check_choice(transform, "function", function, SHIFT_FUNCTIONS)
    if function == "random" and lower > upper:
        raise _fail(transform, f"parameters 'lower' ({lower}) and 'upper' ({upper}) must satisfy lower <= upper")


def roll(
    image: np.ndarray,
    ctx: FrameContext,
    *,
    function: ShiftFunction = "sine",
    direction: Direction = "vertical",
    slope: float = 1.0 / 15.0,
    offset: float = 0.0,
    amplitude: float = 4.0,
    period: Positive = 64.0,
    phase: float = 0.0,
    lower: int = -5,
    upper: int = 5,
    group: AtLeastOne = 1,
    every: AtLeastOne = 1,
    drift: float = 0.0,
) -> np.ndarray:
    """Roll each column (or row) by a shift function: shear, wave and shimmer without losing a pixel.

    function: the shift function, by name: constant (every line by
        ``offset``), linear (``slope * n + offset``; the seed's n/15 is slope
        1/15), sine (``amplitude * sin(2 pi n / period + phase)``) or random
        (whole numbers from ``lower`` to ``upper``, drawn each frame).
    direction: vertical rolls each column up or down (the seed's roll);
        horizontal rolls each row left or right.
    slope: pixels of shift per column (row), for linear.
    offset: pixels added to every shift, for constant and linear.
    amplitude: the wave's height in pixels, for sine.
    period: the wavelength in columns (rows), for sine; must be > 0.
    phase: the wave's phase in degrees, for sine.
    lower, upper: inclusive bounds of random shifts in pixels.
    group: adjacent columns (rows) that move together as one band.
    every: shift frequency; only every k-th group moves, the rest stay.
    drift: columns (rows) the shift pattern travels along the image per
        frame (0: the same shifts every frame, which already accumulate).
    """
    _check_choice("roll", "direction", direction, ("vertical", "horizontal"))
    _check_shift_params("roll", function, lower, upper)
    n_lines = image.shape[1] if direction == "vertical" else image.shape[0]
    shifts = line_shifts(
        n_lines, ctx, function=function, group=group, every=every, drift=drift, transform="roll",
        offset=offset, slope=slope, amplitude=amplitude, period=period, phase=phase, lower=lower, upper=upper,
    )
    return _finish(roll_lines(image, shifts, direction=direction))


def stochastic_shift(
    image: np.ndarray,
    ctx: FrameContext,
    *,
    lower: int = -5,
    upper: int = 5,
    direction: Direction = "vertical",
    group: AtLeastOne = 1,
    every: AtLeastOne = 1,
    even_scale: NonNegative = 1.0,
) -> np.ndarray:
    """Roll each column (or row) by a random whole number of pixels, new every frame.

    Equal bounds around zero (-5..5) make the image shimmer in place; a lopsided
    range (0..5) makes it flow one way and invent new things on the way.
    lower, upper: inclusive bounds of the shift in pixels.
    direction: vertical rolls columns, horizontal rolls rows.
    group: adjacent columns (rows) that share one random shift, so that
        larger features can emerge.
    every: shift frequency; only every k-th group moves.
    even_scale: multiplies the bounds of even-numbered groups (2 gives them
        twice the range of odd ones), which delays the drift's convergence.
    """
    _check_choice("stochastic_shift", "direction", direction, ("vertical", "horizontal"))
    if lower > upper:
        raise _fail("stochastic_shift", f"parameters 'lower' ({lower}) and 'upper' ({upper}) must satisfy lower <= upper")
    n_lines = image.shape[1] if direction == "vertical" else image.shape[0]
    shifts = line_shifts(
        n_lines, ctx, function="random", group=group, every=every, drift=0.0, transform="stochastic_shift",
        lower=lower, upper=upper, even_scale=even_scale,
    )
    return _finish(roll_lines(image, shifts, direction=direction))


def alternating_roll(
    image: np.ndarray,
    ctx: FrameContext,
    *,
    function: ShiftFunction = "sine",
    first: Direction = "horizontal",
    frames: AtLeastOne = 1,
    slope: float = 1.0 / 15.0,
    offset: float = 0.0,
    amplitude: float = 4.0,
    period: Positive = 64.0,
    phase: float = 0.0,
    lower: int = -5,
    upper: int = 5,
    group: AtLeastOne = 1,
    every: AtLeastOne = 1,
    drift: float = 0.0,
) -> np.ndarray:
    """Roll rows and columns in turn: horizontal on some frames, vertical on the next.

    first: the direction of frame 0 (horizontal rolls rows, vertical rolls
        columns).
    frames: how many frames in a row keep one direction before switching.
    function, slope, offset, amplitude, period, phase, lower, upper, group,
    every, drift: the shift function and its numbers, as for roll.
    """
    _check_choice("alternating_roll", "first", first, ("vertical", "horizontal"))
    _check_shift_params("alternating_roll", function, lower, upper)
    other = "vertical" if first == "horizontal" else "horizontal"
    direction = first if (ctx.index // frames) % 2 == 0 else other
    n_lines = image.shape[1] if direction == "vertical" else image.shape[0]
    shifts = line_shifts(
        n_lines, ctx, function=function, group=group, every=every, drift=drift, transform="alternating_roll",
        offset=offset, slope=slope, amplitude=amplitude, period=period, phase=phase, lower=lower, upper=upper,
    )
    return _finish(roll_lines(image, shifts, direction=direction))


# -- filters -----------------------------------------------------------------------

# Largest response of each operator to a unit step edge, so edges come out in [0, 1].
_EDGE_OPERATORS = {"sobel": (ndimage.sobel, 4.0), "prewitt": (ndimage.prewitt, 3.0)}


def edge_magnitude(channel: np.ndarray, operator: str) -> np.ndarray:
    """Gradient magnitude of a 2-D array by the Sobel or Prewitt operator, 1 on a unit step edge."""
    filt, unit = _EDGE_OPERATORS[operator]
    c = channel.astype(np.float32, copy=False)
    gy = filt(c, axis=0, mode="reflect")
    gx = filt(c, axis=1, mode="reflect")
    return np.hypot(gx, gy) / unit


def _edges(image: np.ndarray, *, operator: str, mix: float, gain: float, colour: bool) -> np.ndarray:
    if colour:
        edges = np.stack([edge_magnitude(image[..., ch], operator) for ch in range(image.shape[2])], axis=-1)
    else:
        grey = image.mean(axis=2)
        edges = np.repeat(edge_magnitude(grey, operator)[..., None], image.shape[2], axis=2)
    edges = np.clip(edges * gain, 0.0, 1.0)
    return _finish((1.0 - mix) * image + mix * edges)


def sobel(image: np.ndarray, ctx: FrameContext, *, mix: Unit = 0.5, gain: Positive = 2.0, colour: bool = False) -> np.ndarray:
    """Replace the image by its Sobel edges: edges crawl like the Game of Life.

    mix: 1 gives the edge image alone (the seed's transform, which drops all
        colour); smaller values blend the edges over the frame. The default,
        0.5, keeps a transform-only loop alive: edges of edges grow into
        bubbling outlines instead of fading to black or to noise.
    gain: multiplies the edge strength before clipping to [0, 1]; a unit step
        edge has strength 1. Large gains (4 and up, with mix 1) saturate
        into crawling black-and-white noise.
    colour: take the edges of each colour channel (keeps some colour) rather
        than of the grey image.
    """
    return _edges(image, operator="sobel", mix=mix, gain=gain, colour=colour)


def prewitt(image: np.ndarray, ctx: FrameContext, *, mix: Unit = 0.5, gain: Positive = 2.0, colour: bool = False) -> np.ndarray:
    """Replace the image by its Prewitt edges: like sobel, falls apart faster.

    mix: 1 gives the edge image alone; smaller values blend it over the frame.
    gain: multiplies the edge strength before clipping to [0, 1].
    colour: take the edges of each colour channel rather than of the grey image.
    """
    return _edges(image, operator="prewitt", mix=mix, gain=gain, colour=colour)


def blur(image: np.ndarray, ctx: FrameContext, *, sigma: NonNegative = 1.0, boundary: Boundary = "reflect") -> np.ndarray:
    """Gaussian blur: softens the last dream so the next one grows new details.

    sigma: standard deviation of the Gaussian in pixels (0 is the identity).
    boundary: how the image is extended past its edges: reflect, mirror,
        nearest, wrap or black.
    """
    _check_choice("blur", "boundary", boundary, tuple(_SCIPY_MODES))
    if sigma == 0:
        return _finish(image.copy())
    mode = _SCIPY_MODES[boundary]
    return _finish(ndimage.gaussian_filter(image, sigma=(sigma, sigma, 0.0), mode=mode, cval=0.0))


def fade(
    image: np.ndarray, ctx: FrameContext, *, contrast: Unit = 0.7, saturation: Unit = 0.8, sigma: NonNegative = 0.0
) -> np.ndarray:
    """Fade the last frame toward its mean colour, so a chain of lucid dreams does not saturate.

    Each lucid dream adds detail on top of the last; without a fade, contrast
    and colour pile up until every frame is the same hard texture. A fade
    leaves the composition in place and room for the next drawing.

    contrast: how much of each pixel's difference from the mean colour is kept
        (1 unchanged, 0 a flat field).
    saturation: how much of each pixel's colour (difference from its grey) is kept.
    sigma: an optional Gaussian blur in pixels, applied first.
    """
    out = ndimage.gaussian_filter(image, sigma=(sigma, sigma, 0.0), mode="reflect") if sigma > 0 else image
    grey = out.mean(axis=2, keepdims=True)
    out = grey + saturation * (out - grey)
    mean = out.mean(axis=(0, 1), keepdims=True)
    return _finish(mean + contrast * (out - mean))


def fresh(image: np.ndarray, ctx: FrameContext, *, keep: Unit = 0.0, scale: Annotated[float, Range(0, 0.5)] = 0.1) -> np.ndarray:
    """Start the next frame from fresh smooth noise, as the original Neuralgae drew every frame from a new base.

    The Neuralgae chain's other way: each frame a drawing of its own classes
    from soft grey noise (objects on a quiet ground), linked to the last only
    by the classes the sampler carried and, with ``keep``, a trace of its
    composition.

    keep: how much of the last frame is blended into the noise (0 a clean start).
    scale: the strength of the noise's colour variation around mid grey.
    """
    from neuralgae.core.media.images import smooth_noise

    h, w = image.shape[:2]
    noise = smooth_noise(h, w, ctx.rng, scale=scale)
    return _finish((1 - keep) * noise + keep * image)


# -- colour and glitch ---------------------------------------------------------------


def hue_shift(
    image: np.ndarray, ctx: FrameContext, *, degrees: float = 10.0, saturation: NonNegative = 1.0, value: NonNegative = 1.0
) -> np.ndarray:
    """Turn the colour wheel a little each frame, optionally scaling saturation and brightness.

    degrees: hue rotation per frame (360 is the identity).
    saturation: multiplies the saturation (1 unchanged, 0 grey, >1 more vivid).
    value: multiplies the brightness (HSV value), clipped to 1.
    """
    hsv = color.rgb2hsv(np.clip(image, 0.0, 1.0))
    hsv[..., 0] = np.mod(hsv[..., 0] + degrees / 360.0, 1.0)
    hsv[..., 1] = np.clip(hsv[..., 1] * saturation, 0.0, 1.0)
    hsv[..., 2] = np.clip(hsv[..., 2] * value, 0.0, 1.0)
    return _finish(color.hsv2rgb(hsv))


def posterize(image: np.ndarray, ctx: FrameContext, *, levels: Annotated[int, Range(2, 256)] = 6, mix: Unit = 1.0) -> np.ndarray:
    """Flatten the palette to a few levels per channel (the seed's "palette flattening").

    levels: how many values each colour channel keeps (2 to 256).
    mix: 1 gives the flattened image; smaller values blend it with the original.
    """
    flat = np.round(image * (levels - 1)) / (levels - 1)
    return _finish((1.0 - mix) * image + mix * flat)


_SORT_KEYS = ("brightness", "hue", "saturation")


def _sort_key(image: np.ndarray, key: str) -> np.ndarray:
    if key == "brightness":
        return image @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    hsv = color.rgb2hsv(np.clip(image, 0.0, 1.0))
    return hsv[..., 0] if key == "hue" else hsv[..., 1]


def sort_runs(values: np.ndarray, keys: np.ndarray, mask: np.ndarray, *, reverse: bool = False) -> np.ndarray:
    """Sort, within every row, each run of consecutive ``mask`` pixels by ``keys``.

    Pixels outside the mask stay where they are. Vectorised: every run and
    every unmasked pixel becomes a segment with an increasing id, and one
    stable lexsort by (segment, key) orders pixels within runs only.

    Parameters
    ----------
    values : (H, W, C) pixels; keys, mask : (H, W)
    """
    h, w = mask.shape
    continues = np.zeros_like(mask)
    continues[:, 1:] = mask[:, 1:] & mask[:, :-1]
    segment = np.cumsum(~continues.ravel())
    k = keys.ravel()
    order = np.lexsort((-k if reverse else k, segment))
    return values.reshape(h * w, -1)[order].reshape(values.shape)


def pixel_sort(
    image: np.ndarray,
    ctx: FrameContext,
    *,
    direction: Direction = "horizontal",
    key: Literal["brightness", "hue", "saturation"] = "brightness",
    lower: Unit = 0.25,
    upper: Unit = 0.8,
    reverse: bool = False,
    fraction: Unit = 1.0,
) -> np.ndarray:
    """Glitch: sort runs of pixels whose brightness lies between two thresholds.

    direction: horizontal sorts along rows, vertical along columns.
    key: what pixels are sorted (and thresholded) by: brightness, hue or
        saturation, each in [0, 1].
    lower, upper: only runs of consecutive pixels with lower <= key <= upper
        are sorted; pixels outside keep their place.
    reverse: sort from high to low instead of low to high.
    fraction: share of the rows (columns) that are sorted, chosen at random
        each frame (1 sorts them all).
    """
    _check_choice("pixel_sort", "direction", direction, ("vertical", "horizontal"))
    _check_choice("pixel_sort", "key", key, _SORT_KEYS)
    if not lower <= upper:
        raise _fail("pixel_sort", f"parameters 'lower' and 'upper' must satisfy lower <= upper; got {lower}, {upper}")
    work = image if direction == "horizontal" else image.transpose(1, 0, 2)
    keys = _sort_key(work, key)
    mask = (keys >= lower) & (keys <= upper)
    if fraction < 1:
        mask &= (ctx.rng.random(mask.shape[0]) < fraction)[:, None]
    out = sort_runs(work, keys, mask, reverse=reverse)
    if direction == "vertical":
        out = out.transpose(1, 0, 2)
    return _finish(np.ascontiguousarray(out))


# -- composites --------------------------------------------------------------------


def resolve_step(step: dict, ctx: FrameContext, *, where: str):
    """Look up one nested transform ``{name = "zoom", scale = 0.05}``; return (component, bound params).

    A numeric parameter of the step may be a schedule (``scale = { keys = [[0, 0.01], [60, 0.05]] }``);
    the step gets its value at ``ctx.index``.

    Raises NeuralgaeError naming ``where`` when the step has no name, names
    an unknown transform (with a "did you mean") or has bad parameters.
    """
    if not isinstance(step, dict):
        raise NeuralgaeError(f"{where} must be a table like {{name = \"zoom\", scale = 0.05}}; got {step!r}")
    if "name" not in step:
        raise NeuralgaeError(f"{where} has no 'name'; give the transform to apply, e.g. {{name = \"zoom\", scale = 0.05}}")
    name = step["name"]
    if not ctx.transforms:
        raise NeuralgaeError(f"{where}: no transform registry in the frame context; run it through a PluginHost")
    if name not in ctx.transforms:
        known = sorted(ctx.transforms)
        raise NeuralgaeError(
            f"{where}: unknown transform {name!r}{did_you_mean(str(name), known)} (installed: {', '.join(known)})"
        )
    component = ctx.transforms[name]
    params = {k: v for k, v in step.items() if k != "name"}
    label = f"{where} ('{name}')"
    fixed, schedules = split_schedules(component, params, where=label)  # a nested step's numbers may move too
    moving = {k: s.at(ctx.index, ctx.signals) for k, s in schedules.items()}
    return component, component.bind({**fixed, **moving}, where=label)


def apply_steps(image: np.ndarray, ctx: FrameContext, steps: list[dict], *, where: str) -> np.ndarray:
    """Apply a list of nested transform steps in order."""
    for i, step in enumerate(steps):
        component, params = resolve_step(step, ctx, where=f"{where} step {i + 1}")
        image = component(image, ctx, **params)
    return image


def validate_steps(steps: list[dict], transforms: dict, *, where: str) -> None:
    """Check nested steps against a registry before any work starts (for spec validation)."""
    ctx = FrameContext(index=0, total=1, rng=np.random.default_rng(0), transforms=transforms)
    for i, step in enumerate(steps):
        resolve_step(step, ctx, where=f"{where} step {i + 1}")


class Steps:
    """A limit marker: a list of nested transform steps, each checked (name and parameters) when the spec loads.

    It uses the host's transform registry (``context["transforms"]``); without
    one (a component made by hand) the steps are checked when applied.
    """

    quote_value = False  # the nested step's own message names its value

    def describe(self) -> str:
        return "steps checked when the spec loads"

    def check(self, value, context) -> str | None:
        transforms = context.get("transforms")
        if not transforms or not isinstance(value, (list, tuple)):
            return None
        ctx = FrameContext(index=0, total=1, rng=np.random.default_rng(0), transforms=transforms)
        try:
            for i, step in enumerate(value):
                where = f"step {i + 1}"
                component, _ = resolve_step(step, ctx, where=where)
                label = f"{where} ('{step['name']}')"
                fixed, schedules = split_schedules(component, {k: v for k, v in step.items() if k != "name"}, where=label)
                for name, schedule in schedules.items():  # every key value of a nested schedule, not only frame 0's
                    for key_value in schedule.probe_values():
                        component.bind({**fixed, name: key_value}, where=label)
        except NeuralgaeError as exc:
            return str(exc)
        return None


StepList = Annotated[list[dict], Steps()]


def chain(image: np.ndarray, ctx: FrameContext, *, transforms: StepList = []) -> np.ndarray:  # noqa: B006
    """Apply several transforms in order, e.g. a zoom then a slight rotation.

    transforms: a list of tables, each a transform's name and its parameters:
        [{name = "zoom", scale = 0.05}, {name = "rotate", angle = 1}].
        An empty list is the identity.
    """
    return _finish(apply_steps(image, ctx, transforms, where="transform 'chain'"))


_DEFAULT_TILE_STEPS = [
    {"name": "zoom", "scale": 0.05},
    {"name": "rotate", "angle": 3.0},
    {"name": "rotate", "angle": -3.0},
    {"name": "stretch", "scale": 0.05, "direction": "horizontal"},
]


def subregions(
    image: np.ndarray,
    ctx: FrameContext,
    *,
    rows: GridSide = 2,
    columns: GridSide = 2,
    transforms: StepList = _DEFAULT_TILE_STEPS,
) -> np.ndarray:
    """Cut the image into a grid of tiles and transform each tile its own way.

    rows, columns: the grid; tiles are as equal as the image size allows.
    transforms: one table per tile, a transform's name and parameters, given
        row by row and reused in turn when there are more tiles than tables:
        [{name = "zoom", scale = 0.05}, {name = "rotate", angle = 3}]. Use
        {name = "chain", transforms = [...]} for several on one tile. Each
        tile is transformed as an image of its own (about its own centre).
    """
    h, w = image.shape[:2]
    if not 1 <= rows <= h:
        raise _fail("subregions", f"parameter 'rows' must be from 1 to the image height ({h}); got {rows}")
    if not 1 <= columns <= w:
        raise _fail("subregions", f"parameter 'columns' must be from 1 to the image width ({w}); got {columns}")
    if not transforms:
        raise _fail("subregions", "parameter 'transforms' must list at least one transform, e.g. [{name = \"zoom\"}]")
    resolved = [resolve_step(step, ctx, where=f"transform 'subregions' tile transform {i + 1}") for i, step in enumerate(transforms)]
    out = np.empty_like(image, dtype=np.float32)
    row_edges = np.linspace(0, h, rows + 1).round().astype(int)
    col_edges = np.linspace(0, w, columns + 1).round().astype(int)
    for r in range(rows):
        for c in range(columns):
            component, params = resolved[(r * columns + c) % len(resolved)]
            ys = slice(row_edges[r], row_edges[r + 1])
            xs = slice(col_edges[c], col_edges[c + 1])
            out[ys, xs] = component(np.ascontiguousarray(image[ys, xs]), ctx, **params)
    return _finish(out)


# -- registration ----------------------------------------------------------------------

TRANSFORMS = (
    zoom,
    stretch,
    rotate,
    affine,
    roll,
    stochastic_shift,
    alternating_roll,
    sobel,
    prewitt,
    blur,
    fade,
    fresh,
    hue_shift,
    posterize,
    pixel_sort,
    subregions,
    chain,
)


@hookimpl
def register_transforms(register):
    for transform in TRANSFORMS:
        register(transform)
