"""Built-in renderer: deepdraw, the network drawing what it believes classes look like."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

import numpy as np

from neuralgae.core.optvis.best_of import candidate_starts, choose_judge, draw_best_of
from neuralgae.core.nets.classes import parse_class_list
from neuralgae.core.host.components import Range, RenderContext
from neuralgae.core.optvis.draw import DrawTarget, render_draw, targets_from_classes
from neuralgae.core.optvis.draw_aim import aim_masks
from neuralgae.core.optvis.draw_schedule import PresetName, preset as preset_settings, with_steps
from neuralgae.core.host.errors import NeuralgaeError
from neuralgae.core.host.hookspecs import hookimpl
from neuralgae.core.host.limits import MAX_BEST_OF
from neuralgae.core.optvis.tileable import is_periodic, make_periodic


def draw(
    image: np.ndarray,
    ctx: RenderContext,
    *,
    classes: list[str] = [],  # noqa: B006 - read-only default, part of the spec signature
    preset: PresetName = "default",
    steps: Annotated[int, Range(0)] = 0,
    aim: str = "",
    keep_image: bool = False,
    prior_weight: Annotated[float, Range(0)] | None = None,
    others_weight: float | None = None,
    tileable: bool = False,
    best_of: Annotated[int, Range(1, MAX_BEST_OF)] = 1,
    judge: str = "",
) -> np.ndarray:
    """deepdraw: maximise class logits from noise or into a photo, with octaves, tiles and aims.

    classes: "NAME[:WEIGHT]" items, e.g. ["goldfish", "volcano:0.5"] (`nd classes` lists names).
        Classes a sampler feeds back (ctx.classes) are drawn *together with* these:
        fixed spec classes join every frame's sampled ones.
    preset: the schedule: "default" (ours), "deepdraw" (Øygard's classic schedule), "deepdraw-pure"
        (classic, blur only), "neuralgae", "neuralgae-pure", "fast".
    steps: total iterations, spread over the preset's octaves in proportion (0 = the preset's).
    aim: one region per spec class, e.g. "top,bottom" (all, top, bottom, left, right, centre,
        top-left, ... or a mask image file); sampled classes always cover the whole image.
    keep_image: a lucid dream: keep the starting image sharp and grow the classes into it.
    prior_weight: strength of the multi-scale Student-t patch prior (None = the preset's).
    others_weight: push all other classes down by this times their mean logit (None = the preset's).
    tileable: the drawing wraps around in both directions (a texture): drawn on the canvas padded
        circularly, blurred and resized as a periodic image; a start whose edges do not meet is
        first made to.
    best_of: draw this many candidates together (one pass per step for all) and keep the one a
        network that did not draw believes most; its score is recorded with the frame.
    judge: the network that picks the best candidate ("" = the first of efficientnet-lite1,
        -lite0, -lite2 that did not draw).
    """
    h, w = image.shape[:2]
    targets: list[DrawTarget] = []
    if classes:
        parsed = parse_class_list(list(classes))
        masks = aim_masks(aim, len(parsed), h, w) if aim else None
        targets += targets_from_classes(parsed, masks=masks)
    elif aim:
        raise NeuralgaeError("aim needs the spec's own classes to aim; add e.g. classes = ['goldfish', 'volcano']")
    if ctx.classes:
        targets += targets_from_classes([(int(i), float(wt)) for i, wt in ctx.classes])
    if not targets:
        raise NeuralgaeError("deepdraw has no classes to draw; set classes = ['goldfish'] or feed classes from a sampler")
    settings = preset_settings(preset)
    if steps:
        settings = with_steps(settings, steps)
    if prior_weight is not None:
        settings = replace(settings, prior_weight=prior_weight)
    if others_weight is not None:
        settings = replace(settings, others_weight=others_weight)
    if tileable and not is_periodic(image):
        image = make_periodic(image)
    render = dict(settings=settings, rng=ctx.rng, keep_image=keep_image, progress=ctx.progress, tileable=tileable)
    if best_of == 1:
        return render_draw(ctx.network, image, targets, **render)
    if ctx.load_network is None:
        raise NeuralgaeError("best_of needs a judge network, and this run offers no way to load one; set best_of = 1")
    name = ctx.network_name or getattr(ctx.network, "name", "")
    judge_name = choose_judge(judge, name)
    starts = candidate_starts(image, best_of, ctx.rng, keep=keep_image)
    best = draw_best_of(ctx.network, ctx.load_network(judge_name), judge_name, starts, targets, **render)
    ctx.notes.update(best.as_dict())
    return best.image


@hookimpl
def register_renderers(register):
    register(draw, name="draw")
