"""`nd draw` and `nd classes`: deepdraw from the command line."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from neuralgae.core.host.errors import NeuralgaeError
from neuralgae.core.runs.spec_schema import DEFAULT_NETWORK  # one source for the defaults

from .common import (
    DeviceOption,
    PrecisionOption,
    WeightsOption,
    check_output_image,
    checked_network,
    progress_bar,
    use_device,
    user_errors,
)

console = Console()


def parse_focus(text: str, count: int) -> list[tuple[float, float]]:
    """``"0.3,0.5 0.7,0.5"`` -> one (x, y) point in [0, 1] per class."""
    points = []
    for item in text.split():
        parts = item.split(",")
        try:
            x, y = (float(p) for p in parts)
        except ValueError:
            raise NeuralgaeError(f"cannot read focus point '{item}'; write X,Y between 0 and 1, e.g. '0.3,0.5 0.7,0.5'") from None
        if not (0 <= x <= 1 and 0 <= y <= 1):
            raise NeuralgaeError(f"focus point '{item}' lies outside the canvas; X and Y go from 0 to 1")
        points.append((x, y))
    if len(points) != count:
        raise NeuralgaeError(f"--focus gives {len(points)} points for {count} classes; give one X,Y point per class")
    return points


def draw_command(
    classes: Annotated[str, typer.Option("--classes", "-c", help='Classes to draw, NAME[:WEIGHT] comma separated: "goldfish, volcano:0.5" (`nd classes`).')],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the drawing (.png keeps its parameters).")],
    image: Annotated[Optional[Path], typer.Option("--image", "-i", help="Base photo for a lucid dream (default: soft noise).")] = None,
    size: Annotated[Optional[str], typer.Option(help="Output size WxH (default: the base image's size, else the network's input size: 224x224 for the default network).")] = None,
    aim: Annotated[Optional[str], typer.Option(help="One region per class: top,bottom (all, top, bottom, left, right, centre, top-left... or a mask image).")] = None,
    focus: Annotated[Optional[str], typer.Option(help='One X,Y focus point (0..1) per class on a larger canvas: "0.3,0.5 0.7,0.5".')] = None,
    mask: Annotated[Optional[Path], typer.Option(help="Clipping mask image: draw only where it is white.")] = None,
    preset: Annotated[str, typer.Option(help="Schedule: default, deepdraw (classic schedule), deepdraw-pure (classic, blur only), neuralgae, neuralgae-pure or fast.")] = "default",
    steps: Annotated[Optional[int], typer.Option(help="Total iterations, spread over the preset's octaves.")] = None,
    prior: Annotated[Optional[float], typer.Option(help="Strength of the Student-t patch prior (0 = off).")] = None,
    keep_image: Annotated[Optional[bool], typer.Option("--keep-image/--paint-over", help="Keep the base photo sharp (default with --image) or paint over it.")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Random seed (recorded in the PNG); the same seed gives the same image.")] = None,
    network: Annotated[str, typer.Option(help="Network to draw with: efficientnet-lite0/1/2, torchvision:NAME, torchscript (with --weights), an ensemble a+b, or a plugin's.")] = DEFAULT_NETWORK,
    weights: WeightsOption = None,
    tileable: Annotated[bool, typer.Option("--tileable", help="Make the drawing wrap around in both directions (a texture or wallpaper).")] = False,
    best_of: Annotated[int, typer.Option("--best-of", help="Draw N candidates together and keep the one a network that did not draw believes most (its score goes in the PNG).")] = 1,
    judge: Annotated[Optional[str], typer.Option(help="The network that picks the best of --best-of (default: efficientnet-lite1, or -lite0 if that drew).")] = None,
    device: DeviceOption = None,
    precision: PrecisionOption = None,
) -> None:
    """Draw what the network believes classes look like, from noise or into a photo."""
    from neuralgae.core.nets.classes import parse_class_list
    from neuralgae.core.optvis.draw import render_draw, start_canvas, targets_from_classes
    from neuralgae.core.optvis.draw_aim import aim_masks, mask_from_image
    from neuralgae.core.optvis.draw_schedule import preset as preset_settings, with_steps
    from neuralgae.core.media.images import load_image, parse_size, resize, save_image

    with user_errors():
        host = use_device(device, precision)
        check_output_image(output)
        options = checked_network(host, network, weights)
        parsed = parse_class_list(classes)
        settings = preset_settings(preset)
        if steps is not None:
            settings = with_steps(settings, steps)
        if prior is not None:
            settings = replace(settings, prior_weight=prior)
        settings.validate()
        from neuralgae.core.optvis.best_of import candidate_starts, check_best_of, choose_judge, draw_best_of

        best_of = check_best_of(best_of)
        judge_name = None
        if best_of > 1:
            judge_name = choose_judge(judge, network, list(host.networks))
        elif judge:
            raise NeuralgaeError("--judge picks among --best-of candidates; add e.g. --best-of 4")
        seed_used = int(np.random.SeedSequence().entropy % 2**32) if seed is None else seed
        if seed_used < 0:
            raise NeuralgaeError(f"--seed must be 0 or more; got {seed_used}")
        rng = np.random.default_rng(seed_used)
        base = load_image(image) if image is not None else None
        if size is not None:
            w, h = parse_size(size)
        elif base is not None:
            h, w = base.shape[:2]
        else:  # a drawing at the network's own size (224x224 for the default network)
            w = h = host.network(network, **options).input_size
        start = resize(base, h, w) if base is not None else start_canvas(h, w, rng)
        if tileable:
            from neuralgae.core.optvis.tileable import is_periodic, make_periodic

            start = start if is_periodic(start) else make_periodic(start)
        masks = aim_masks(aim, len(parsed), h, w) if aim else None
        points = parse_focus(focus, len(parsed)) if focus else None
        clip = mask_from_image(str(mask), h, w) if mask is not None else None
        lucid = (base is not None) if keep_image is None else keep_image
        targets = targets_from_classes(parsed, masks=masks, focus=points)

        from neuralgae.core.nets.network import network_record, placement_record

        net = host.network(network, **options)
        began = time.monotonic()
        render = dict(settings=settings, rng=rng, keep_image=lucid, clip_mask=clip, tileable=tileable)
        best = None
        with progress_bar("drawing" if best_of == 1 else f"drawing {best_of} candidates") as progress:
            if best_of == 1:
                out = render_draw(net, start, targets, progress=progress, **render)
            else:
                starts = candidate_starts(start, best_of, rng, keep=lucid)
                best = draw_best_of(net, host.network(judge_name), judge_name, starts, targets, progress=progress, **render)
                out = best.image
        metadata = {
            "command": "draw",
            "classes": [f"{c.name}:{wt:g}" for c, wt in parsed],
            "class_indices": [[c.index, wt] for c, wt in parsed],
            "image": str(image) if image else None,
            "size": f"{w}x{h}",
            "aim": aim,
            "focus": focus,
            "mask": str(mask) if mask else None,
            "preset": preset,
            "steps": steps,
            "prior": prior,
            "keep_image": lucid,
            "tileable": tileable,
            "seed": seed_used,
            **network_record(net, network),
            "weights": str(options["weights"]) if options.get("weights") else None,
            **placement_record(net),
            "settings": settings.as_dict(),
            **(best.as_dict() if best is not None else {}),
        }
        save_image(output, out, metadata)
        chosen = "" if best is None else f", candidate {best.index + 1} of {best_of} by {judge_name} (log p {best.score:.2f})"
        console.print(f"wrote {output} ({w}x{h}, seed {seed_used}{chosen}, {time.monotonic() - began:.1f} s)", highlight=False)


def classes_command(
    search: Annotated[Optional[str], typer.Argument(help="Only classes whose names contain this text.")] = None,
) -> None:
    """List ImageNet class indices and names (optionally only those matching SEARCH)."""
    from neuralgae.core.nets.classes import imagenet_classes

    with user_errors():
        needle = (search or "").strip().lower()
        rows = [c for c in imagenet_classes() if not needle or any(needle in s.lower() for s in c.synonyms)]
        if not rows:
            raise NeuralgaeError(f"no class name contains '{search}'; try a shorter word")
        table = Table(box=None, header_style="bold")
        table.add_column("index", justify="right")
        table.add_column("class")
        table.add_column("also called")
        for c in rows:
            table.add_row(str(c.index), c.name, ", ".join(s for s in c.synonyms[1:4] if s != c.name))
        console.print(table)


def register(app: typer.Typer) -> None:
    app.command("draw")(draw_command)
    app.command("classes")(classes_command)
