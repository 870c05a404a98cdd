"""`nd dream`, `nd classify` and `nd layers`: the engine from the command line.

``nd dream`` dreams an image, noise, or a whole video (a video file or a folder
of frames). A video runs through the same pipeline as ``nd run`` (a spec built
in memory with ``source.video``), so it streams frame by frame, reports the time
left, and continues after an interruption with ``--resume``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from neuralgae.core.optvis.dream import DEFAULT_LAYERS, DreamSettings
from neuralgae.core.host.errors import NeuralgaeError
from neuralgae.core.media.images import load_image, parse_size, save_image, smooth_noise

from neuralgae.core.runs.spec_schema import DEFAULT_COHERENCE, DEFAULT_NETWORK  # one source for the defaults

from .common import (
    DeviceOption,
    PrecisionOption,
    WeightsOption,
    check_output_image,
    checked_network,
    err_console,
    progress_bar,
    use_device,
    user_errors,
)

NETWORK_HELP = "efficientnet-lite0/1/2, torchvision:NAME, torchscript (with --weights) or a plugin's (`nd plugins --kind network`)."
console = Console()


def load_network(name: str = DEFAULT_NETWORK, weights: Path | None = None):
    """The named network from the plugin host, with ``weights`` if given (loaded once per process)."""
    from neuralgae.core.host.plugins import default_host

    host = default_host()
    return host.network(name, **checked_network(host, name, weights))


def read_source(source: str, rng: np.random.Generator) -> np.ndarray:
    """An image file, or ``noise:WxH`` for a grey canvas with soft colour noise."""
    if source.startswith("noise:"):
        w, h = parse_size(source[len("noise:"):], what="noise size")
        return smooth_noise(h, w, rng)
    if source.startswith("noise"):
        raise NeuralgaeError(f"cannot read '{source}'; write noise:WIDTHxHEIGHT, e.g. noise:512x512")
    return load_image(Path(source))


def is_video_input(source: str) -> bool:
    """Whether ``nd dream``'s input names a video file or a folder of frames (rather than an image or noise)."""
    from neuralgae.core.media.movie import READABLE_ANIMATIONS

    path = Path(source)
    return path.is_dir() or path.suffix.lower() in READABLE_ANIMATIONS


def video_frames_dir(output: Path) -> Path:
    """Where a video dream keeps its frames: ``output`` itself when it is a folder, else ``NAME.frames`` beside it."""
    from neuralgae.core.media.movie import ANIMATION_SUFFIXES

    if output.suffix.lower() in ANIMATION_SUFFIXES:
        return output.with_name(f"{output.stem}.frames")
    if output.suffix and not output.is_dir():
        raise NeuralgaeError(
            f"cannot write a dreamed video to '{output}'; give a .mp4, .gif or .webm file, or a folder for the frames"
        )
    return output


def video_spec(source: str, frames_dir: Path, *, params: dict, seed: int, network: str, coherence: float,
               resize: str | None, frames: int | None, fps: float | None, host, weights: Path | None = None):
    """The in-memory spec ``nd dream VIDEO`` runs: the video as source, the dream renderer, frames into ``frames_dir``."""
    from neuralgae.core.runs.spec import validate_spec

    src = {"video": str(Path(source).expanduser().absolute()), "coherence": coherence}
    if resize:
        src["resize"] = resize
    data: dict = {
        "description": f"nd dream {source}",
        "seed": seed,
        "network": network if weights is None else {"name": network, "weights": str(Path(weights).expanduser().absolute())},
        "source": src,
        "renderer": {"name": "dream", **{k: str(v) if isinstance(v, Path) else v for k, v in params.items() if v is not None}},
        "output": {} if fps is None else {"fps": fps},
    }
    if frames is not None:
        data["frames"] = frames
    return validate_spec(data, host=host, origin="nd dream", name=frames_dir.name, base_dir=Path.cwd(), out=frames_dir)


def dream_video(source: str, output: Path, *, params: dict, seed: int, network: str, coherence: float,
                resize: str | None, frames: int | None, fps: float | None, resume: bool, overwrite: bool,
                weights: Path | None = None) -> None:
    """``nd dream`` on a video: run the pipeline into a frames folder, then assemble the output with the source's audio."""
    from neuralgae.core.runs.pipeline import run_spec
    from neuralgae.core.media.video import video_of
    from neuralgae.core.host.plugins import default_host
    from neuralgae.core.media.video import write_video

    host = default_host()
    frames_dir = video_frames_dir(output)
    spec = video_spec(source, frames_dir, params=params, seed=seed, network=network, coherence=coherence,
                      resize=resize, frames=frames, fps=fps, host=host, weights=weights)
    start = time.monotonic()
    try:
        with progress_bar("dreaming video") as progress:
            run = run_spec(spec, host=host, resume=resume, overwrite=overwrite, progress=progress)
    except KeyboardInterrupt:
        err_console.print("nd: interrupted; run the same command with --resume to continue", highlight=False)
        raise typer.Exit(130) from None
    info = video_of(spec)
    w, h = spec.source.resize or info.size
    console.print(
        f"wrote {len(run.entries)} frames ({w}x{h}) to {frames_dir}"
        + (f" (resumed after {run.start})" if run.resumed else "")
        + f", {time.monotonic() - start:.1f} s",
        highlight=False,
    )
    if frames_dir != output:
        audio = info.path if info.has_audio else None
        with progress_bar("writing") as progress:
            write_video(run.frame_paths, output, fps=spec.output.fps, audio_from=audio, progress=progress)
        console.print(f"wrote {output} ({spec.output.fps:g} fps{', with audio' if audio else ''})", highlight=False)


def dream_command(
    input: Annotated[str, typer.Argument(help="Image file, noise:WxH to dream from noise, or a video file / folder of frames.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the dream (.png keeps its parameters); for a video, a .mp4/.gif/.webm or a folder for the frames.")],
    layers: Annotated[str, typer.Option(help="Layers to amplify: NAME[:CHANNELS][@WEIGHT], comma separated (`nd layers`).")] = DEFAULT_LAYERS,
    octaves: Annotated[int, typer.Option(help="Number of scales.")] = DreamSettings.octaves,
    octave_scale: Annotated[float, typer.Option(help="Size ratio between octaves.")] = DreamSettings.octave_scale,
    steps: Annotated[int, typer.Option(help="Gradient-ascent steps per octave.")] = DreamSettings.steps,
    step_size: Annotated[float, typer.Option(help="Step size (the image spans 0..1).")] = DreamSettings.step_size,
    jitter: Annotated[int, typer.Option(help="Random shift in pixels before each step.")] = DreamSettings.jitter,
    tile_size: Annotated[int, typer.Option(help="Tile size in pixels for large images.")] = DreamSettings.tile_size,
    tile_overlap: Annotated[int, typer.Option(help="Pixels of context each tile sees beyond its edges.")] = DreamSettings.tile_overlap,
    tiling: Annotated[str, typer.Option(help="auto, always or never.")] = DreamSettings.tiling,
    guide: Annotated[Optional[Path], typer.Option(help="Guide image whose features the dream moves toward.")] = None,
    original_colors: Annotated[bool, typer.Option("--original-colors", help="Keep the input's colours; dream luminance only.")] = False,
    tileable: Annotated[bool, typer.Option("--tileable", help="Make the result wrap around in both directions (a texture or wallpaper).")] = False,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same image.")] = 0,
    network: Annotated[str, typer.Option(help="Network to dream with: " + NETWORK_HELP)] = DEFAULT_NETWORK,
    weights: WeightsOption = None,
    coherence: Annotated[float, typer.Option(help="Video: how much of the previous frame's dream each frame carries along the motion (0: each frame on its own).")] = DEFAULT_COHERENCE,
    resize: Annotated[Optional[str], typer.Option(help="Video: dream the frames at this size, WxH.")] = None,
    frames: Annotated[Optional[int], typer.Option(help="Video: dream only the first N frames.")] = None,
    fps: Annotated[Optional[float], typer.Option(help="Video: frame rate of the output (default: the source's).")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Video: continue an interrupted dream of the same video and settings.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Video: replace the frames of an earlier dream.")] = False,
    device: DeviceOption = None,
    precision: PrecisionOption = None,
) -> None:
    """Dream an image, noise or a video: amplify what the network's layers see.

    A video (or folder of frames) keeps its frame count, size, frame rate and
    audio; --coherence carries each frame's dream into the next along the
    optical flow, so the dream does not flicker.
    """
    from neuralgae.core.host.components import RenderContext
    from neuralgae.core.host.plugins import default_host

    with user_errors({"out": "-o"}):
        use_device(device, precision)
        renderer = default_host().get("renderer", "dream")
        params = renderer.bind(
            dict(layers=layers, octaves=octaves, octave_scale=octave_scale, steps=steps, step_size=step_size,
                 jitter=jitter, tile_size=tile_size, tiling=tiling, guide=guide, tile_overlap=tile_overlap,
                 original_colors=original_colors, tileable=tileable),
            where="nd dream",
        )
        if is_video_input(input):
            dream_video(input, output, params=params, seed=seed, network=network, coherence=coherence,
                        resize=resize, frames=frames, fps=fps, resume=resume, overwrite=overwrite, weights=weights)
            return
        check_output_image(output)
        options = checked_network(default_host(), network, weights)
        rng = np.random.default_rng(seed)
        image = read_source(input, rng)
        net = default_host().network(network, **options)
        start = time.monotonic()
        with progress_bar("dreaming") as progress:
            ctx = RenderContext(network=net, rng=rng, seed=seed, progress=progress)
            out = renderer(image, ctx, **params)
        from neuralgae.core.nets.network import network_record, placement_record

        metadata = {"command": "dream", "input": input, "seed": seed, **network_record(net, network),
                    "weights": str(options["weights"]) if options.get("weights") else None, **placement_record(net),
                    "renderer": "dream", "params": {k: str(v) if isinstance(v, Path) else v for k, v in params.items()}}
        save_image(output, out, metadata)
        h, w = out.shape[:2]
        console.print(f"wrote {output} ({w}x{h}, {time.monotonic() - start:.1f} s)", highlight=False)


def classify_command(
    image: Annotated[Path, typer.Argument(help="Image to classify.")],
    top: Annotated[int, typer.Option(help="How many classes to list.")] = 5,
    network: Annotated[str, typer.Option(help="Network to classify with: " + NETWORK_HELP)] = DEFAULT_NETWORK,
    weights: WeightsOption = None,
    device: DeviceOption = None,
    precision: PrecisionOption = None,
) -> None:
    """List the classes the network sees in an image, most probable first."""
    from neuralgae.core.nets.classify import class_probabilities, top_classes

    with user_errors():
        use_device(device, precision)
        if top < 1 or top > 1000:
            raise NeuralgaeError(f"--top must be between 1 and 1000; got {top}")
        from neuralgae.core.host.plugins import default_host

        options = checked_network(default_host(), network, weights)
        img = load_image(image)
        net = default_host().network(network, **options)
        ranked = top_classes(class_probabilities(net, img), top, names=getattr(net, "class_names", None))
        table = Table(show_header=True, header_style="bold", box=None)
        table.add_column("index", justify="right")
        table.add_column("class")
        table.add_column("probability", justify="right")
        for cls, p in ranked:
            table.add_row(str(cls.index), cls.name, f"{p:.3f}")
        console.print(table)


def layers_command(
    network: Annotated[str, typer.Option(help="Network whose layers to list: " + NETWORK_HELP)] = DEFAULT_NETWORK,
    weights: WeightsOption = None,
) -> None:
    """List the layers you can dream on, with channel counts and strides."""
    with user_errors():
        net = load_network(network, weights)
        table = Table(title=f"{net.name} layers (shallow to deep)", box=None, header_style="bold")
        table.add_column("layer")
        table.add_column("channels", justify="right")
        table.add_column("stride", justify="right")
        table.add_column("what it is")
        for layer in net.layers:
            table.add_row(layer.name, str(layer.channels), str(layer.stride), layer.description)
        console.print(table)
        names = [layer.name for layer in net.layers if layer.name != "logits"] or [net.layers[0].name]
        example = "block10" if "block10" in names else names[len(names) * 2 // 3]
        console.print(f"Pick channels with NAME:CHANNELS ({example}:0-15) and weights with @ ({example}@0.5).", highlight=False)
        from neuralgae.core.nets.network import has_spatial_logits

        if any(layer.name == "logits" for layer in net.layers) and not has_spatial_logits(net):
            console.print("Its logits are one value per class for the whole image (a 1x1 map); see docs/networks.md.", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("dream")(dream_command)
    app.command("classify")(classify_command)
    app.command("layers")(layers_command)
