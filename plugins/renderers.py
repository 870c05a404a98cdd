"""Built-in renderer: DeepDream (the deepdraw renderer lives in ``neuralgae.plugins.draw``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import numpy as np

from neuralgae.core.host.components import Range, RenderContext
from neuralgae.core.optvis.dream import DEFAULT_LAYERS, DreamSettings, build_objective, dream as run_dream, keep_colours
from neuralgae.core.host.hookspecs import hookimpl
from neuralgae.core.media.images import load_image
from neuralgae.core.nets.network import parse_layer_selections
from neuralgae.core.optvis.tileable import TileableNetwork, is_periodic, make_periodic

_D = DreamSettings()


def dream(
    image: np.ndarray,
    ctx: RenderContext,
    *,
    layers: str = DEFAULT_LAYERS,
    octaves: Annotated[int, Range(1)] = _D.octaves,
    octave_scale: Annotated[float, Range(1, 4, low_open=True)] = _D.octave_scale,
    steps: Annotated[int, Range(0)] = _D.steps,
    step_size: Annotated[float, Range(0, 1, low_open=True)] = _D.step_size,  # the image spans 0..1
    jitter: Annotated[int, Range(0)] = _D.jitter,
    tile_size: Annotated[int, Range(64)] = _D.tile_size,
    tile_overlap: Annotated[int, Range(0)] = _D.tile_overlap,  # at most half the tile size: check_params
    tiling: Literal["auto", "always", "never"] = _D.tiling,
    guide: Path | None = None,
    original_colors: bool = False,
    tileable: bool = False,
) -> np.ndarray:
    """DeepDream: amplify what chosen layers see, over octaves, with jitter, at any size.

    layers: NAME[:CHANNELS][@WEIGHT] items, e.g. "block10" or "block8:0-15@0.5, block10" (`nd layers`).
    octaves, octave_scale: how many scales, and the ratio between them.
    steps, step_size: gradient-ascent steps per octave and their size (the image spans 0..1).
    jitter: random shift in pixels before each step, undone after it.
    tile_size, tiling: tiles bound memory on large images ("auto" tiles above 1.5 megapixels).
    tile_overlap: pixels of context each tile sees beyond its own edges.
    guide: an image whose features the dream moves toward (path relative to the spec).
    original_colors: keep the input's colours and dream the luminance only.
    tileable: the result wraps around in both directions, a texture or wallpaper: the network sees
        the image padded circularly and the gradient is folded back; a start whose edges do not
        meet is first made to (see docs/dream.md).
    """
    net = ctx.network
    if tileable:
        net = TileableNetwork(net)
        image = image if is_periodic(image) else make_periodic(image)
    selections = parse_layer_selections(layers, net)
    guide_image = load_image(Path(guide)) if guide else None
    settings = DreamSettings(
        octaves=octaves, octave_scale=octave_scale, steps=steps, step_size=step_size,
        jitter=jitter, tile_size=tile_size, tile_overlap=tile_overlap, tiling=tiling,
    )
    objective = build_objective(net, selections, guide_image)
    out = run_dream(net, image, objective, settings=settings, rng=ctx.rng, progress=ctx.progress)
    return keep_colours(image, out) if original_colors else out


def _check_dream(*, octaves, octave_scale, steps, step_size, jitter, tile_size, tile_overlap, tiling, **_) -> None:
    """The dream's limits, without dreaming: what its schedules are checked against before a run.

    The single-parameter ranges are declared in the signature (and checked when the spec loads);
    this adds the one across parameters (tile_overlap <= tile_size // 2), via DreamSettings.
    """
    DreamSettings(
        octaves=octaves, octave_scale=octave_scale, steps=steps, step_size=step_size,
        jitter=jitter, tile_size=tile_size, tile_overlap=tile_overlap, tiling=tiling,
    ).validate()


dream.check_params = _check_dream


@hookimpl
def register_renderers(register):
    register(dream)
