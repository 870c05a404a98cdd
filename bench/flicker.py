#!/usr/bin/env python3
"""Flicker of a dreamed video with and without temporal coherence.

Makes a short clip (a camera panning and slowly zooming over scikit-image's
bundled cat photo), dreams it through the pipeline (``source.video``) once
per coherence weight, and measures each result's flicker: the mean absolute
change between consecutive output frames that the source's own motion does
not explain (:func:`neuralgae.core.media.flow.warp_error`, along the TV-L1 flow of
the *source* frames, over the pixels where that flow is reliable). It also
reports the dream's strength (mean |output - source|), so a coherence that
merely washes the dream out would show.

Writes ``docs/img/video/side_by_side.gif`` (plain | coherent),
``docs/img/video/frames.jpg`` (a few frames of each) and
``docs/img/video/flicker.json``, and fills the results block of
``docs/video.md``.

    python bench/flicker.py                         # 20 frames at 224x160, coherence 0 and 0.8
    python bench/flicker.py --coherence 0 0.6 0.8 0.9 --frames 12
    (the first weight is the plain one; the GIF shows it beside --show, 0.8)
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
IMG = ROOT / "docs" / "img" / "video"
DOC = ROOT / "docs" / "video.md"
MARKERS = {clip: (f"<!-- flicker-{clip}:begin -->", f"<!-- flicker-{clip}:end -->") for clip in ("pan", "object")}


def panning_clip(frames: int, width: int, height: int) -> list[np.ndarray]:
    """A camera panning right 3 px a frame (at full size) while zooming in 0.8% a frame, over the cat photo."""
    import skimage.data

    from neuralgae.core.media.images import as_rgb_float, resize

    photo = as_rgb_float(skimage.data.chelsea())  # 300 x 451
    clip = []
    for k in range(frames):
        zoom = 1.0 - 0.008 * k
        h, w = 240 * zoom, 336 * zoom
        cy, cx = 140.0, 180.0 + 3.0 * k
        top, left = int(round(cy - h / 2)), int(round(cx - w / 2))
        crop = photo[top : top + int(round(h)), left : left + int(round(w))]
        clip.append(np.clip(resize(crop, height, width), 0, 1).astype(np.float32))
    return clip


def moving_object_clip(frames: int, width: int, height: int) -> list[np.ndarray]:
    """The cat's face as a soft-edged disc crossing the coffee photo (which pans slowly the other way).

    Exercises what a pan does not: occlusion and disocclusion at the disc's
    edges, where the mask must send the dream back to the new frame.
    """
    import skimage.data

    from neuralgae.core.media.images import as_rgb_float, resize

    coffee = as_rgb_float(skimage.data.coffee())  # 400 x 600
    cat = as_rgb_float(skimage.data.chelsea())[10:290, 90:370]  # the head
    radius = 0.3 * height
    side = int(2 * radius)
    face = np.clip(resize(cat, side, side), 0, 1)
    yy, xx = np.mgrid[0:side, 0:side] - (side - 1) / 2
    alpha = np.clip(radius - np.hypot(yy, xx), 0, 1)[..., None].astype(np.float32)
    clip = []
    for k in range(frames):
        left = 120 - 2 * k  # the background pans right-to-left, 2 px a frame at full size
        crop = coffee[60 : 60 + 2 * height, left : left + 2 * width]
        frame = np.clip(resize(crop, height, width), 0, 1).astype(np.float32)
        x = int(0.1 * width + k * (0.8 * width - side) / max(1, frames - 1))  # the face crosses the frame
        y = int(0.5 * height - radius + 0.15 * height * np.sin(k / 4))
        region = frame[y : y + side, x : x + side]
        frame[y : y + side, x : x + side] = alpha * face + (1 - alpha) * region
        clip.append(frame)
    return clip


CLIPS = {"pan": panning_clip, "object": moving_object_clip}
CLIP_WORDS = {
    "pan": "a camera panning and zooming over the cat photo",
    "object": "the cat's face as a disc crossing the coffee photo, which pans the other way",
}


def dream_clip(clip_dir: Path, out: Path, coherence: float, args, host) -> tuple[list[Path], float]:
    """Dream the clip folder through the pipeline; return the frame files and the seconds it took."""
    from neuralgae.core.runs.pipeline import run_spec
    from neuralgae.core.runs.spec import validate_spec

    data = {
        "seed": args.seed,
        "source": {"video": str(clip_dir), "coherence": coherence},
        "renderer": {"name": "dream", "layers": args.layers, "octaves": args.octaves, "steps": args.steps,
                     "step_size": args.step_size, "jitter": args.jitter},
    }
    spec = validate_spec(data, host=host, origin="bench/flicker", name=out.name, base_dir=ROOT, out=out)
    start = time.perf_counter()
    run = run_spec(spec, host=host, overwrite=True)
    return run.frame_paths, time.perf_counter() - start


def measure(frame_paths: list[Path], clip: list[np.ndarray], motions) -> dict:
    from neuralgae.core.media.flow import warp_error
    from neuralgae.core.media.images import load_image

    outs = [load_image(p) for p in frame_paths]
    errors = [warp_error(outs[k - 1], outs[k], motions[k]) for k in range(1, len(outs))]
    strength = [float(np.abs(o - f).mean()) for o, f in zip(outs, clip)]
    return {"warp_error": float(np.mean(errors)), "warp_error_per_frame": [round(e, 5) for e in errors],
            "dream_strength": float(np.mean(strength))}


def side_by_side(left: list[Path], right: list[Path], gap: int = 4) -> list[np.ndarray]:
    from neuralgae.core.media.images import load_image

    frames = []
    for a, b in zip(left, right):
        a, b = load_image(a), load_image(b)
        frames.append(np.concatenate([a, np.ones((a.shape[0], gap, 3), np.float32), b], axis=1))
    return frames


def contact_sheet(rows: list[list[Path]], picks: list[int], gap: int = 4) -> np.ndarray:
    from neuralgae.core.media.images import load_image

    lines = []
    for paths in rows:
        tiles = []
        for k in picks:
            tiles += [load_image(paths[k]), None]
        h = tiles[0].shape[0]
        tiles = [t if t is not None else np.ones((h, gap, 3), np.float32) for t in tiles[:-1]]
        lines += [np.concatenate(tiles, axis=1), None]
    w = lines[0].shape[1]
    return np.concatenate([l if l is not None else np.ones((gap, w, 3), np.float32) for l in lines[:-1]], axis=0)


def write_doc_block(results: dict) -> None:
    rows = ["| coherence | flicker (warp error) | vs plain | dream strength |", "| --- | --- | --- | --- |"]
    plain = results["runs"][0]["warp_error"]
    for r in results["runs"]:
        rows.append(
            f"| {r['coherence']:g} | {r['warp_error']:.4f} | {plain / r['warp_error']:.2f}x lower | "
            f"{r['dream_strength']:.4f} |"
        )
    rows[2] = rows[2].replace("1.00x lower", "—")
    s = results["settings"]
    begin, end = MARKERS[s["clip"]]
    block = "\n".join([
        begin,
        f"Clip: {s['frames']} frames of {s['size']}, {CLIP_WORDS[s['clip']]}. "
        f"Dream: `{s['layers']}`, {s['octaves']} octaves x {s['steps']} steps, step {s['step_size']}, jitter {s['jitter']}, seed {s['seed']}. "
        f"The source itself scores {results['source_warp_error']:.4f} (interpolation and flow error: the floor). "
        f"{s['machine']}.",
        "",
        *rows,
        end,
    ])
    text = DOC.read_text(encoding="utf-8")
    if begin in text and end in text:
        text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S)
        DOC.write_text(text, encoding="utf-8")
    else:
        print(block)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", choices=sorted(CLIPS), default="pan")
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--size", default="224x160")
    parser.add_argument("--coherence", type=float, nargs="+", default=[0.0, 0.8])
    parser.add_argument("--layers", default="block10")
    parser.add_argument("--octaves", type=int, default=3)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--step-size", type=float, default=0.012)
    parser.add_argument("--jitter", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--fps", type=float, default=10.0)
    parser.add_argument("--show", type=float, default=0.8, help="the coherence shown beside the plain dream in the GIF")
    parser.add_argument("--no-write", action="store_true", help="print the results only")
    args = parser.parse_args(argv)

    import torch

    torch.set_flush_denormal(True)  # as nd does, before torch's worker threads start: denormals slow convolutions many times over
    torch.set_num_threads(args.threads)
    from neuralgae.core.media.flow import frame_motion, warp_error
    from neuralgae.core.media.images import parse_size, save_image
    from neuralgae.core.media.movie import write_animation
    from neuralgae.core.host.plugins import PluginHost

    width, height = parse_size(args.size)
    clip = CLIPS[args.clip](args.frames, width, height)
    motions = [None] + [frame_motion(clip[k], clip[k - 1]) for k in range(1, len(clip))]
    host = PluginHost(entry_points=False)
    results = {
        "settings": {"clip": args.clip, "frames": args.frames, "size": args.size, "layers": args.layers, "octaves": args.octaves,
                     "steps": args.steps, "step_size": args.step_size, "jitter": args.jitter, "seed": args.seed,
                     "machine": f"{platform.machine()} CPU, {args.threads} thread{'s' if args.threads != 1 else ''}, torch {torch.__version__}"},
        "source_warp_error": float(np.mean([warp_error(clip[k - 1], clip[k], motions[k]) for k in range(1, len(clip))])),
        "runs": [],
    }
    paths = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for k, frame in enumerate(clip):
            save_image(tmp / "clip" / f"frame_{k:03d}.png", frame)
        for weight in args.coherence:
            frame_paths, seconds = dream_clip(tmp / "clip", tmp / f"coherence-{weight:g}", weight, args, host)
            run = {"coherence": weight, "seconds": seconds, **measure(frame_paths, clip, motions)}
            results["runs"].append(run)
            paths[weight] = frame_paths
            print(f"coherence {weight:g}: warp error {run['warp_error']:.4f}, strength {run['dream_strength']:.4f}, "
                  f"{seconds:.0f} s", file=sys.stderr)
        if args.no_write:
            print(json.dumps(results, indent=1))
            return
        IMG.mkdir(parents=True, exist_ok=True)
        shown = min(args.coherence, key=lambda w: abs(w - args.show))
        plain, coherent = paths[args.coherence[0]], paths[shown]
        write_animation(side_by_side(plain, coherent), IMG / ("side_by_side.gif" if args.clip == "pan" else f"side_by_side_{args.clip}.gif"), fps=args.fps)
        picks = sorted({0, len(clip) // 3, 2 * len(clip) // 3, len(clip) - 1})
        save_image(IMG / ("frames.jpg" if args.clip == "pan" else f"frames_{args.clip}.jpg"), contact_sheet([[tmp / "clip" / f"frame_{k:03d}.png" for k in range(len(clip))], plain, coherent], picks))
    (IMG / ("flicker.json" if args.clip == "pan" else f"flicker_{args.clip}.json")).write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    write_doc_block(results)
    print(json.dumps({r["coherence"]: round(r["warp_error"], 5) for r in results["runs"]}))


if __name__ == "__main__":
    main()
