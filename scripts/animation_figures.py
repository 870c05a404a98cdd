"""Render the pictures of docs/animation.md and docs/spec.md: schedules, seamless loops, music, tiles.

Usage: .venv/bin/python scripts/animation_figures.py [keyframes|seamless|beat|music|tileable|all] [WORK_DIR]

Every run is small (a few frames of about 160 px, 1-2 octaves of 2-3 steps)
so the whole set renders in a few minutes on a 2-core CPU. Plots are drawn
with Pillow (no plotting library needed): each is a line per series against
the frame index, read back from the runs' manifests, i.e. the values the
frames really used.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
IMG = ROOT / "docs" / "img" / "animation"
ND = [str(ROOT / ".venv" / "bin" / "nd")]
COLOURS = ((31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189))


def font(size: int = 12):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def plot(series: dict[str, list[float]], *, size=(480, 220), title="", marks=(), ylabel="") -> Image.Image:
    """A line plot of each series against its index, with optional vertical marks at some frames."""
    w, h = size
    left, right, top, bottom = 46, 10, 40, 26
    im = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(im)
    values = np.concatenate([np.asarray(v, float) for v in series.values()])
    lo, hi = float(values.min()), float(values.max())
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    pad = 0.06 * (hi - lo)
    lo, hi = lo - pad, hi + pad
    n = max(len(v) for v in series.values())
    x = lambda i: left + (w - left - right) * (i / max(n - 1, 1))  # noqa: E731
    y = lambda v: top + (h - top - bottom) * (1 - (v - lo) / (hi - lo))  # noqa: E731
    d.rectangle([left, top, w - right, h - bottom], outline=(160, 160, 160))
    for i in marks:
        d.line([x(i), top, x(i), h - bottom], fill=(215, 215, 215))
    for k in range(5):
        v = lo + (hi - lo) * k / 4
        d.text((2, y(v) - 6), f"{v:.3g}", fill=(90, 90, 90), font=font(10))
    for k in range(0, n, max(1, n // 8)):
        d.text((x(k) - 6, h - bottom + 4), str(k), fill=(90, 90, 90), font=font(10))
    d.text((w - right - 34, h - 12), "frame", fill=(90, 90, 90), font=font(10))
    d.text((left, 4), title, fill=(0, 0, 0), font=font(13))
    for (name, vals), colour in zip(series.items(), COLOURS):
        pts = [(x(i), y(float(v))) for i, v in enumerate(vals)]
        d.line(pts, fill=colour, width=2)
    lx = w - right - 8
    for (name, _), colour in zip(reversed(list(series.items())), reversed(COLOURS[: len(series)])):
        tw = d.textlength(name, font=font(11))
        lx -= tw + 22
        d.line([lx, 29, lx + 14, 29], fill=colour, width=3)
        d.text((lx + 17, 22), name, fill=(0, 0, 0), font=font(11))
    return im


def strip(paths: list[Path], labels: list[str], *, height: int = 100) -> Image.Image:
    """Frames side by side, scaled to ``height``, each with a label under it."""
    tiles = []
    for p in paths:
        im = Image.open(p).convert("RGB")
        tiles.append(im.resize((round(im.width * height / im.height), height), Image.LANCZOS))
    w = sum(t.width for t in tiles) + 4 * (len(tiles) - 1)
    out = Image.new("RGB", (w, height + 18), "white")
    d = ImageDraw.Draw(out)
    x = 0
    for t, label in zip(tiles, labels):
        out.paste(t, (x, 0))
        d.text((x + 2, height + 3), label, fill=(0, 0, 0), font=font(11))
        x += t.width + 4
    return out


def stack(*images: Image.Image) -> Image.Image:
    w = max(i.width for i in images)
    out = Image.new("RGB", (w, sum(i.height for i in images) + 6 * (len(images) - 1)), "white")
    y = 0
    for i in images:
        out.paste(i, ((w - i.width) // 2, y))
        y += i.height + 6
    return out


def manifest(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]


def nd(*args: str) -> None:
    subprocess.run([*ND, *args, "-q"], check=True)


# -- the figures ----------------------------------------------------------------------


def keyframes(work: Path) -> None:
    """docs/img/animation/keyframes.png: a zoom whose scale follows keys, and frames of that run."""
    out = work / "keyframes"
    if not (out / "frame_00023.png").exists():
        nd(
            "run", "zoom", "--frames", "24", "--out", str(out), "--overwrite",
            "--set", "source.resize=180x120", "--set", "renderer.octaves=2", "--set", "renderer.steps=3",
            "--set", "output.gif=false",
            "--set", 'transforms.0.scale={keys=[[0, 0.0], [8, 0.12], [16, -0.06], [23, 0.0]], ease="smooth"}',
            "--set", 'renderer.step_size={keys=[[0, 0.004], [12, 0.02], [23, 0.004]], ease="sine"}',
        )
    entries = manifest(out)
    scale = [e["transforms"][0]["scale"] if e["transforms"] else 0.0 for e in entries]
    step = [e["renderer"]["step_size"] for e in entries]
    shown = [0, 4, 8, 12, 16, 20, 23]
    frames = strip([out / e["file"] for e in entries if e["index"] in shown], [f"frame {i}" for i in shown], height=80)
    chart = plot(
        {"zoom scale": scale, "step_size x 5": [5 * s for s in step]},
        size=(frames.width, 200), title="the schedules, as the manifest recorded them", marks=shown,
    )
    IMG.mkdir(parents=True, exist_ok=True)
    stack(chart, frames).save(IMG / "keyframes.png", optimize=True)


def seamless(work: Path) -> None:
    """docs/img/animation/seamless.png and .gif: a zoom loop's frame changes, plain and seamless, round the wrap."""
    from neuralgae.core.runs.loop import frame_change, seam_ratio
    from neuralgae.core.media.movie import list_frames, plan_loop, write_animation
    from neuralgae.core.media.images import load_image
    from neuralgae.core.runs.loop import mix

    out = work / "seamless"
    if not (out / "frame_00029.png").exists():
        nd(
            "run", "zoom", "--frames", "30", "--out", str(out), "--overwrite",
            "--set", "source.resize=180x120", "--set", "renderer.octaves=2", "--set", "renderer.steps=3",
            "--set", "output.gif=false",
        )
    paths = list_frames(out)
    frames = [load_image(p) for p in paths]
    plan = plan_loop(paths)
    looped = [mix(frames, item) for item in plan.items]

    def changes(seq):  # each played frame's change from the one before, the first one across the wrap
        return [frame_change(seq[-1], seq[0])] + [frame_change(a, b) for a, b in zip(seq, seq[1:])]

    twice = lambda c: c + c  # noqa: E731 - two times round the loop
    chart = plot(
        {
            f"plain: wrap {seam_ratio(frames):.1f}x the median": twice(changes(frames)),
            f"seamless: wrap {seam_ratio(looped):.2f}x": twice(changes(looped)),
        },
        size=(700, 200), title="change from the previous frame, two times round each loop",
    )
    names = []
    tiles = []
    for label, seq in (("plain", frames), ("seamless", looped)):
        picks = [len(seq) - 3, len(seq) - 2, len(seq) - 1, 0, 1]
        for k, i in enumerate(picks):
            path = work / f"seam-{label}-{k}.png"
            Image.fromarray((np.clip(seq[i], 0, 1) * 255 + 0.5).astype(np.uint8)).save(path)
            tiles.append(path)
            names.append(f"{label} {'last' if i == len(seq) - 1 else ('first' if i == 0 else i)}")
    rows = [strip(tiles[:5], names[:5], height=80), strip(tiles[5:], names[5:], height=80)]
    IMG.mkdir(parents=True, exist_ok=True)
    stack(chart, *rows).save(IMG / "seamless.png", optimize=True)
    small = work / "seamless-small"
    small.mkdir(exist_ok=True)
    for p in paths:
        Image.open(p).convert("RGB").resize((120, 80), Image.LANCZOS).save(small / p.name)
    write_animation(list_frames(small), IMG / "seamless.gif", fps=10, seamless=True)


def beat(work: Path) -> None:
    """plugins/specs/music-beat.flac: the synthetic beat the built-in spec 'music' dances to (8 s, 120 bpm)."""
    from neuralgae.core.media.audio import synthetic_beat, write_wav

    samples, _ = synthetic_beat(8.0, bpm=120.0)
    wav = write_wav(work / "music-beat.wav", samples)
    target = ROOT / "plugins" / "specs" / "music-beat.flac"
    import imageio_ffmpeg

    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-v", "error", "-i", str(wav), "-c:a", "flac", "-map_metadata", "-1",
         "-fflags", "+bitexact", "-flags:a", "+bitexact", str(target)],
        check=True,
    )


def music(work: Path) -> None:
    """docs/img/animation/music.png and music.mp4: the built-in 'music' spec on its generated beat, small."""
    out = work / "music"
    if not (out / "music.mp4").exists():
        nd(
            "run", "music", "--out", str(out), "--overwrite",
            "--set", "source.resize=180x120", "--set", "renderer.octaves=2", "--set", "renderer.steps=3",
        )
    entries = manifest(out)
    beat = [e["audio"]["beat"] for e in entries]
    zoom = [(e["transforms"][0]["scale"] - 0.01) / 0.07 if e["transforms"] else 0.0 for e in entries]
    bass = [e["audio"]["bass"] for e in entries]
    hue = [e["transforms"][1]["degrees"] / 24 if e["transforms"] else 0.0 for e in entries]
    first_beat = next(i for i, b in enumerate(beat) if b and i > 20)
    shown = list(range(first_beat - 1, first_beat + 5))
    frames = strip([out / entries[i]["file"] for i in shown], [f"frame {i}" + (" (beat)" if beat[i] else "") for i in shown], height=90)
    width = max(frames.width, 720)
    top = plot({"beat": beat, "zoom scale, 0.01 to 0.08": zoom}, size=(width, 190),
               title="the beat per frame and the zoom that follows it (smooth = 0.25 s)", marks=shown)
    mid = plot({"bass": bass, "hue shift, 0 to 24 degrees": hue}, size=(width, 170),
               title="the bass and the hue shift that follows it (smooth = 0.3 s)")
    IMG.mkdir(parents=True, exist_ok=True)
    stack(top, mid, frames).save(IMG / "music.png", optimize=True)
    import shutil

    shutil.copyfile(out / "music.mp4", IMG / "music.mp4")


def tileable(work: Path) -> None:
    """docs/img/animation/tileable-dream.jpg and tileable-draw.jpg: 3x3 repetitions, plain beside tileable."""
    import torch

    from neuralgae.core.host.components import RenderContext
    from neuralgae.core.optvis.draw import start_canvas
    from neuralgae.core.nets.efficientnet_lite import load_efficientnet_lite0
    from neuralgae.core.media.images import smooth_noise
    from neuralgae.core.optvis.tileable import seam_ratios, tiled
    from neuralgae.plugins.draw import draw
    from neuralgae.plugins.renderers import dream

    torch.set_num_threads(2)
    net = load_efficientnet_lite0()

    def ctx():
        return RenderContext(network=net, rng=np.random.default_rng(7))

    def pair(plain: np.ndarray, tile: np.ndarray, name: str) -> None:
        gap = np.ones((plain.shape[0] * 3, 12, 3), np.float32)
        both = np.concatenate([tiled(plain), gap, tiled(tile)], axis=1)
        Image.fromarray((np.clip(both, 0, 1) * 255 + 0.5).astype(np.uint8)).save(IMG / name, quality=90)
        print(name, "seam plain", np.round(seam_ratios(plain), 2), "tileable", np.round(seam_ratios(tile), 2))

    IMG.mkdir(parents=True, exist_ok=True)
    start = smooth_noise(160, 160, np.random.default_rng(7))
    options = dict(layers="block10", octaves=3, steps=8, step_size=0.015)
    pair(dream(start, ctx(), **options), dream(start, ctx(), tileable=True, **options), "tileable-dream.jpg")
    canvas = start_canvas(128, 128, np.random.default_rng(7))
    options = dict(classes=["goldfish"], preset="fast", steps=24)
    pair(draw(canvas, ctx(), **options), draw(canvas, ctx(), tileable=True, **options), "tileable-draw.jpg")


FIGURES = {"keyframes": keyframes, "seamless": seamless, "beat": beat, "music": music, "tileable": tileable}


def main(argv: list[str]) -> None:
    which = argv[0] if argv else "all"
    work = Path(argv[1]) if len(argv) > 1 else ROOT / "runs" / "figures"
    work.mkdir(parents=True, exist_ok=True)
    for name, make in FIGURES.items():
        if which in ("all", name):
            make(work)
            print(f"made {name}")


if __name__ == "__main__":
    main(sys.argv[1:])
