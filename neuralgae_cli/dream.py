"""`nd dream`, `nd classify` and `nd layers`: the engine from the command line."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from neuralgae.core.errors import NeuralgaeError
from neuralgae.core.images import load_image, parse_size, save_image, smooth_noise

from .common import check_output_image, progress_bar, user_errors

DEFAULT_NETWORK = "efficientnet-lite0"
console = Console()


def load_network(name: str = DEFAULT_NETWORK):
    """The named network from the plugin host (loaded once per process)."""
    from neuralgae.core.plugins import default_host

    return default_host().network(name)


def read_source(source: str, rng: np.random.Generator) -> np.ndarray:
    """An image file, or ``noise:WxH`` for a grey canvas with soft colour noise."""
    if source.startswith("noise:"):
        w, h = parse_size(source[len("noise:"):], what="noise size")
        return smooth_noise(h, w, rng)
    if source.startswith("noise"):
        raise NeuralgaeError(f"cannot read '{source}'; write noise:WIDTHxHEIGHT, e.g. noise:512x512")
    return load_image(Path(source))


def dream_command(
    input: Annotated[str, typer.Argument(help="Image file, or noise:WxH to dream from noise.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the dream (.png keeps its parameters).")],
    layers: Annotated[str, typer.Option(help="Layers to amplify: NAME[:CHANNELS][@WEIGHT], comma separated (`nd layers`).")] = "block10",
    octaves: Annotated[int, typer.Option(help="Number of scales.")] = 4,
    octave_scale: Annotated[float, typer.Option(help="Size ratio between octaves.")] = 1.4,
    steps: Annotated[int, typer.Option(help="Gradient-ascent steps per octave.")] = 10,
    step_size: Annotated[float, typer.Option(help="Step size (the image spans 0..1).")] = 0.01,
    jitter: Annotated[int, typer.Option(help="Random shift in pixels before each step.")] = 32,
    tile_size: Annotated[int, typer.Option(help="Tile size in pixels for large images.")] = 512,
    tile_overlap: Annotated[int, typer.Option(help="Pixels of context each tile sees beyond its edges.")] = 32,
    tiling: Annotated[str, typer.Option(help="auto, always or never.")] = "auto",
    guide: Annotated[Optional[Path], typer.Option(help="Guide image whose features the dream moves toward.")] = None,
    original_colors: Annotated[bool, typer.Option("--original-colors", help="Keep the input's colours; dream luminance only.")] = False,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same image.")] = 0,
    network: Annotated[str, typer.Option(help="Network to dream with.")] = DEFAULT_NETWORK,
) -> None:
    """Dream an image (or noise): amplify what the network's layers see."""
    from neuralgae.core.components import RenderContext
    from neuralgae.core.plugins import default_host

    with user_errors():
        check_output_image(output)
        rng = np.random.default_rng(seed)
        image = read_source(input, rng)
        renderer = default_host().get("renderer", "dream")
        params = renderer.bind(
            dict(layers=layers, octaves=octaves, octave_scale=octave_scale, steps=steps, step_size=step_size,
                 jitter=jitter, tile_size=tile_size, tiling=tiling, guide=guide, tile_overlap=tile_overlap,
                 original_colors=original_colors),
            where="nd dream",
        )
        net = load_network(network)
        start = time.monotonic()
        with progress_bar("dreaming") as progress:
            ctx = RenderContext(network=net, rng=rng, seed=seed, progress=progress)
            out = renderer(image, ctx, **params)
        metadata = {"command": "dream", "input": input, "seed": seed, "network": network, "renderer": "dream",
                    "params": {k: str(v) if isinstance(v, Path) else v for k, v in params.items()}}
        save_image(output, out, metadata)
        h, w = out.shape[:2]
        console.print(f"wrote {output} ({w}x{h}, {time.monotonic() - start:.1f} s)", highlight=False)


def classify_command(
    image: Annotated[Path, typer.Argument(help="Image to classify.")],
    top: Annotated[int, typer.Option(help="How many classes to list.")] = 5,
    network: Annotated[str, typer.Option(help="Network to classify with.")] = DEFAULT_NETWORK,
) -> None:
    """List the classes the network sees in an image, most probable first."""
    from neuralgae.core.classify import class_probabilities, top_classes

    with user_errors():
        if top < 1 or top > 1000:
            raise NeuralgaeError(f"--top must be between 1 and 1000; got {top}")
        img = load_image(image)
        net = load_network(network)
        ranked = top_classes(class_probabilities(net, img), top)
        table = Table(show_header=True, header_style="bold", box=None)
        table.add_column("index", justify="right")
        table.add_column("class")
        table.add_column("probability", justify="right")
        for cls, p in ranked:
            table.add_row(str(cls.index), cls.name, f"{p:.3f}")
        console.print(table)


def layers_command(
    network: Annotated[str, typer.Option(help="Network whose layers to list.")] = DEFAULT_NETWORK,
) -> None:
    """List the layers you can dream on, with channel counts and strides."""
    with user_errors():
        net = load_network(network)
        table = Table(title=f"{net.name} layers (shallow to deep)", box=None, header_style="bold")
        table.add_column("layer")
        table.add_column("channels", justify="right")
        table.add_column("stride", justify="right")
        table.add_column("what it is")
        for layer in net.layers:
            table.add_row(layer.name, str(layer.channels), str(layer.stride), layer.description)
        console.print(table)
        console.print("Pick channels with NAME:CHANNELS (block10:0-15) and weights with @ (block8@0.5).", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("dream")(dream_command)
    app.command("classify")(classify_command)
    app.command("layers")(layers_command)
