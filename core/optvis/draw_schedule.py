"""deepdraw schedules: octaves whose blur and step size glide within each octave.

A schedule is a list of :class:`Octave`. Each octave runs ``iterations``
steps on a canvas ``scale`` times the output size; within it the step size
and the Gaussian blur applied after every step are interpolated linearly from
their start to their end values, as Audun Øygard's deepdraw did. Step sizes
are in image units (the image spans 0..1): deepdraw's 0..255 numbers divide
by 255.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Literal

from ..host.errors import NeuralgaeError, check_all, did_you_mean
from ..host.limits import MAX_STEPS


@dataclass(frozen=True)
class Octave:
    """One stage of a schedule.

    ``scale`` is the canvas size relative to the output (1.0 = full size);
    ``sigma`` and ``step`` are (start, end) pairs, interpolated over the
    octave's iterations. ``sigma`` is a blur in pixels of this octave's canvas.
    """

    iterations: int
    scale: float = 1.0
    sigma: tuple[float, float] = (0.5, 0.5)
    step: tuple[float, float] = (0.02, 0.02)

    def at(self, i: int) -> tuple[float, float]:
        """(sigma, step) at iteration ``i`` of this octave."""
        t = i / (self.iterations - 1) if self.iterations > 1 else 1.0
        return lerp(*self.sigma, t), lerp(*self.step, t)


def lerp(a: float, b: float, t: float) -> float:
    """Linear interpolation from ``a`` (t=0) to ``b`` (t=1)."""
    return a + (b - a) * t


@dataclass(frozen=True)
class DrawSettings:
    """Everything that decides how a drawing is made, apart from the classes.

    Regularisation (what keeps the picture from becoming adversarial noise):

    - ``jitter`` (pixels), ``scale_jitter`` (relative) and ``rotate`` (degrees):
      every step looks at a randomly shifted, scaled and rotated view, so
      only features that survive such changes grow (transformation robustness).
    - ``octaves``: the blur and step schedule (see :class:`Octave`).
    - ``colour`` and ``spectrum_decay``: the gradient is mapped through the
      natural-image colour correlations and a 1/f^decay frequency filter,
      which is what a decorrelated-colour, frequency-space
      parameterisation does to plain gradient ascent (0 turns it off).
    - ``prior_weight``: strength of the multi-scale Student-t prior on 8x8x3
      patches (seed 003); 0 turns it off. ``prior_scales`` are the pooling
      sizes it is applied at.
    - ``others_weight``: minus this times the mean of all 1000 logits is
      added to the objective, which keeps other classes down (seed 003).
    - ``balance``: with several classes, push lagging ones harder (0 = plain
      weighted sum of logits; see :func:`neuralgae.core.optvis.draw.class_objective`).
    - ``views``: how many transformed views are averaged per step.

    Objects, not textures (measured in docs/deepdraw.md):

    - ``zoom_views``: on a canvas larger than the network's input, each step
      looks at this many random boxes covering ``zoom_cover``..1 of the
      canvas, shrunk to the network's size, instead of tiling it, so the
      network judges the whole composition and draws one subject, or a few,
      not one per tile (0 = tiles, as deepdraw did). ``zoom_decay`` steepens
      the 1/f filter by that much per doubling of the canvas over the
      network's size (finer detail than the network sees is grain).
    - ``vignette``: the gradient is gathered toward the centre (weighted by
      a soft round window falling to ``1 - vignette`` at the edges, the step's
      size kept), so one subject grows on a quiet ground; only for drawings
      from noise without aims, focus points or tiling.

    Large canvases are drawn in ``tile``-pixel tiles visited in a spiral from
    the centre (0 = the network's input size); ``tile_overlap`` is the
    fraction of a tile shared with its neighbours.
    """

    octaves: tuple[Octave, ...] = ()
    jitter: int = 16
    scale_jitter: float = 0.1
    rotate: float = 5.0
    colour: bool = True
    spectrum_decay: float = 1.0
    prior_weight: float = 0.0
    prior_scales: tuple[int, ...] = (1, 2, 4, 8)
    others_weight: float = 0.0
    balance: float = 0.3
    views: int = 1
    zoom_views: int = 4
    zoom_cover: float = 0.5
    zoom_decay: float = 0.5
    vignette: float = 0.8
    tile: int = 0
    tile_overlap: float = 0.25
    focus_spread: float = 0.3

    def validate(self) -> DrawSettings:
        checks = [
            (len(self.octaves) >= 1, "a draw schedule needs at least one octave"),
            (all(o.iterations >= 0 for o in self.octaves), "octave iterations must be 0 or more"),
            (sum(o.iterations for o in self.octaves) <= MAX_STEPS, f"a drawing may take at most {MAX_STEPS:,} steps in all"),
            (all(0.1 <= o.scale <= 4 for o in self.octaves), "octave scales must be between 0.1 and 4"),
            (all(min(o.sigma) >= 0 for o in self.octaves), "blur sigma must be 0 or more"),
            (all(0 < s <= 1 for o in self.octaves for s in o.step), "step sizes must be above 0 and at most 1 (the image spans 0..1)"),
            (self.jitter >= 0, f"jitter must be 0 or more pixels; got {self.jitter}"),
            (0 <= self.scale_jitter < 1, f"scale jitter must be at least 0 and below 1; got {self.scale_jitter}"),
            (0 <= self.rotate <= 180, f"rotation must be between 0 and 180 degrees; got {self.rotate}"),
            (self.spectrum_decay >= 0, f"spectrum decay must be 0 or more; got {self.spectrum_decay}"),
            (self.prior_weight >= 0, f"prior weight must be 0 or more; got {self.prior_weight}"),
            (all(s >= 1 for s in self.prior_scales), "prior scales must be whole numbers of 1 or more"),
            (self.balance >= 0, f"balance must be 0 or more; got {self.balance}"),
            (self.views >= 1, f"views must be at least 1; got {self.views}"),
            (0 <= self.zoom_views <= 64, f"zoom views must be between 0 and 64; got {self.zoom_views}"),
            (0 < self.zoom_cover <= 1, f"zoom cover must be above 0 and at most 1; got {self.zoom_cover}"),
            (0 <= self.zoom_decay <= 2, f"zoom decay must be between 0 and 2; got {self.zoom_decay}"),
            (0 <= self.vignette <= 1, f"vignette must be between 0 and 1; got {self.vignette}"),
            (self.tile == 0 or self.tile >= 64, f"tile size must be 0 (the network's input) or at least 64; got {self.tile}"),
            (0 <= self.tile_overlap < 0.9, f"tile overlap must be at least 0 and below 0.9; got {self.tile_overlap}"),
            (0 <= self.focus_spread <= 1, f"focus spread must be between 0 and 1; got {self.focus_spread}"),
        ]
        check_all(checks)
        return self

    @property
    def iterations(self) -> int:
        return sum(o.iterations for o in self.octaves)

    def as_dict(self) -> dict:
        return asdict(self)


# Our default: three octaves growing to full size, blur fading out, with
# transformation robustness and decorrelated-colour, 1/f gradients. Chosen by
# looking at images and at the Lite1 judge (docs/deepdraw.md).
DEFAULT_OCTAVES = (
    Octave(60, 0.6, (1.0, 0.6), (0.05, 0.03)),
    Octave(60, 0.8, (0.8, 0.4), (0.03, 0.02)),
    Octave(60, 1.0, (0.6, 0.2), (0.02, 0.01)),
)

# Audun Øygard's deepdraw schedule (PEERS.md), step sizes from 0..255 to 0..1.
# Its third octave used an earlier classifier head of GoogLeNet; ours has one
# head, so all four octaves aim at the logits.
DEEPDRAW_OCTAVES = (
    Octave(190, 1 / 1.2, (2.5, 0.78), (11 / 255, 11 / 255)),
    Octave(150, 1.0, (0.936, 0.78), (6 / 255, 6 / 255)),
    Octave(150, 1.0, (0.936, 0.44), (6 / 255, 3 / 255)),
    Octave(10, 1.0, (0.44, 0.304), (3 / 255, 3 / 255)),
)

# The later Neuralgae three-octave schedule (PEERS.md), 0..255 steps to 0..1.
NEURALGAE_OCTAVES = (
    Octave(160, 1 / (1.2 * 1.414), (1.3, 1.05), (6 / 255, 4 / 255)),
    Octave(160, 1 / 1.414, (1.05, 0.8), (4 / 255, 3.6 / 255)),
    Octave(320, 1.0, (0.55, 0.254), (2 / 255, 1.5 / 255)),
)

FAST_OCTAVES = (
    Octave(30, 0.6, (1.0, 0.6), (0.05, 0.03)),
    Octave(30, 1.0, (0.6, 0.3), (0.03, 0.015)),
)

PresetName = Literal["default", "deepdraw", "deepdraw-pure", "neuralgae", "neuralgae-pure", "fast"]

PRESETS: dict[str, DrawSettings] = {
    "default": DrawSettings(octaves=DEFAULT_OCTAVES),
    # The classic schedules with our transformation robustness and
    # decorrelated 1/f gradients: on EfficientNet their original blur-only
    # regularisation draws grey-violet adversarial noise (the "-pure" presets).
    "deepdraw": DrawSettings(octaves=DEEPDRAW_OCTAVES),
    "deepdraw-pure": DrawSettings(octaves=DEEPDRAW_OCTAVES, jitter=0, scale_jitter=0.0, rotate=0.0, colour=False, spectrum_decay=0.0,
                                  zoom_views=0, vignette=0.0),
    "neuralgae": DrawSettings(octaves=NEURALGAE_OCTAVES, jitter=32),
    "neuralgae-pure": DrawSettings(octaves=NEURALGAE_OCTAVES, jitter=32, scale_jitter=0.0, rotate=0.0, colour=False, spectrum_decay=0.0,
                                   zoom_views=0, vignette=0.0),
    "fast": DrawSettings(octaves=FAST_OCTAVES),
}


def preset(name: str) -> DrawSettings:
    """The named preset's settings; unknown names get a suggestion."""
    if name not in PRESETS:
        raise NeuralgaeError(f"unknown draw preset '{name}'{did_you_mean(name, list(PRESETS))} (presets: {', '.join(PRESETS)})")
    return PRESETS[name]


def with_steps(settings: DrawSettings, steps: int) -> DrawSettings:
    """Rescale every octave's iterations so the schedule has about ``steps`` in all."""
    if steps < 1:
        raise NeuralgaeError(f"steps must be at least 1; got {steps}")
    if steps > MAX_STEPS:
        raise NeuralgaeError(f"steps must be at most {MAX_STEPS:,}; got {steps:,}")
    total = settings.iterations or 1
    octaves = tuple(replace(o, iterations=max(1, round(o.iterations * steps / total))) for o in settings.octaves)
    return replace(settings, octaves=octaves)


def settings_from_dict(data: dict) -> DrawSettings:
    """Rebuild settings from :meth:`DrawSettings.as_dict` output (image metadata)."""
    data = dict(data)
    data["octaves"] = tuple(
        Octave(o["iterations"], o["scale"], tuple(o["sigma"]), tuple(o["step"])) for o in data.get("octaves", ())
    )
    data["prior_scales"] = tuple(data.get("prior_scales", ()))
    return DrawSettings(**data)


__all__ = ["Octave", "DrawSettings", "PRESETS", "PresetName", "preset", "with_steps", "lerp", "settings_from_dict"]
