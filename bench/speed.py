#!/usr/bin/env python3
"""Speed of nd's engine per device and precision, each case against a plain reference in the same run.

Cases (each in its own process, so memory and oneDNN's kernel caches are its own):

  dream1024    DeepDream of a 1024x1024 photo: 3 octaves x 10 steps on block10
  dream4096    the same at 4096x4096 (tiled)
  draw224      deepdraw of one class from noise at 224x224 (the default preset)
  draw512      the same at 512x512
  lucid800     a lucid dream (goldfish into a photo) at 800x600
  lucid2048    the same at 2048x1536
  stream1024   nd serve's renderer at 1024x576: computed frames (keyframes) per second
  video1080    one 1080p video frame dreamed as `nd dream clip.mp4` does (coherence 0.8)

Each case runs the engine in every precision asked (``auto`` is what `nd`
picks here) and, where it has one, the plain reference on the same device:
the same algorithm over the network as a straightforward port writes it
(BatchNorm kept, NCHW, TF padding by F.pad, the whole network every step,
autograd's own backward, deepdraw's tiles one at a time), from ``bench/reference_net.py``.

    python bench/speed.py                                   # CPU: dream1024 draw224 lucid800
    python bench/speed.py --cases dream1024 --precisions fp32 bf16 auto
    python bench/speed.py --device cuda --cases dream1024 dream4096 draw512 lucid2048 stream1024 video1080 --json out.json

Prints a Markdown table (date, device, CPU flags, torch) for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CPU_CASES = ("dream1024", "draw224", "lucid800")
REFERENCED = {"dream1024", "dream4096", "draw224", "draw512", "lucid800", "lucid2048"}


def _sync(device):
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _photo(h: int, w: int):
    import skimage.data

    from neuralgae.core.media.images import as_rgb_float, resize

    return resize(as_rgb_float(skimage.data.astronaut()), h, w)


class PlainNetwork:
    """The reference network behind the engine's network contract (features, logits as a map)."""

    def __init__(self, device):
        sys.path.insert(0, str(HERE))
        from reference_net import load_plain_lite0

        from neuralgae.core.nets.efficientnet_lite import load_efficientnet_lite0

        self.plain = load_plain_lite0().to(device)
        ours = load_efficientnet_lite0()
        self.name, self.input_size, self.num_classes, self.layers = "plain-lite0", 224, 1000, ours.layers

    def parameters(self):
        return self.plain.parameters()

    def features(self, x, layers):
        return self.plain.features(x, layers)


def engine_network(device, precision):
    from neuralgae.core.nets.efficientnet_lite import load_efficientnet_lite0
    from neuralgae.core.nets.placement import place_network

    return place_network(load_efficientnet_lite0(), str(device), precision)


def run_dream(net, size: int, steps: int = 10, octaves: int = 3):
    import numpy as np

    from neuralgae.core.optvis.dream import DreamSettings, build_objective, dream
    from neuralgae.core.nets.network import parse_layer_selections

    image = _photo(size, size)
    objective = build_objective(net, parse_layer_selections("block10"))
    return dream(net, image, objective, settings=DreamSettings(octaves=octaves, steps=steps), rng=np.random.default_rng(0))


def run_draw(net, size: int):
    import numpy as np

    from neuralgae.core.nets.classes import lookup_class
    from neuralgae.core.optvis.draw import DrawTarget, render_draw, start_canvas

    rng = np.random.default_rng(0)
    return render_draw(net, start_canvas(size, size, rng), [DrawTarget(lookup_class("goldfish").index)], rng=rng)


def run_lucid(net, h: int, w: int):
    import numpy as np

    from neuralgae.core.nets.classes import lookup_class
    from neuralgae.core.optvis.draw import DrawTarget, render_draw

    rng = np.random.default_rng(0)
    return render_draw(net, _photo(h, w), [DrawTarget(lookup_class("goldfish").index)], rng=rng, keep_image=True)


def run_stream(net, frames: int = 4):
    """Computed frames per second of the stream renderer at 1024x576 (the first, longer frame excluded)."""
    import numpy as np

    from neuralgae.core.nets.classes import lookup_class
    from neuralgae.core.stream.stream import StreamRenderer, StreamSettings

    renderer = StreamRenderer(net, settings=StreamSettings(width=1024, height=576), rng=np.random.default_rng(0))
    subjects = [lookup_class("goldfish").index, lookup_class("volcano").index]
    renderer.next_frame(subjects)
    start = time.perf_counter()
    for _ in range(frames):
        renderer.next_frame(subjects)
    return frames / (time.perf_counter() - start)


def run_video_frame(net):
    """One 1080p frame as the video pipeline dreams it: flow from the previous frame, dream, coherent blend."""
    import numpy as np

    from neuralgae.core.optvis.dream import DreamSettings, build_objective, dream
    from neuralgae.core.media.flow import coherent_result, coherent_start, frame_motion
    from neuralgae.core.nets.network import parse_layer_selections

    frame = _photo(1080, 1920)
    previous = np.roll(frame, 4, axis=1)
    previous_dream = np.clip(previous + 0.05 * np.sin(np.arange(1920) / 7.0)[None, :, None], 0, 1).astype(np.float32)
    objective = build_objective(net, parse_layer_selections("block10"))
    motion = frame_motion(frame, previous)
    start = coherent_start(frame, previous, previous_dream, motion, weight=0.8)
    out = dream(net, start, objective, settings=DreamSettings(), rng=np.random.default_rng(0))
    return coherent_result(start, out, motion, weight=0.8)


def run_case(case: str, kind: str, precision: str, device_name: str, threads: int) -> dict:
    import torch

    torch.set_flush_denormal(True)  # as `nd` does, before torch's worker threads start: they inherit it
    torch.set_num_threads(threads)
    from neuralgae.core.nets.device import resolve_device
    from neuralgae.core.nets.memory import keep_freed_memory

    keep_freed_memory()  # what `nd` does at start-up; the reference gets it too
    device = resolve_device(device_name)
    if kind == "reference":
        import neuralgae.core.optvis.draw as draw

        draw.BATCH_PIXELS = 1  # a plain port runs deepdraw's tiles one at a time
        net, used = PlainNetwork(device), "fp32"
    else:
        net = engine_network(device, precision)
        used = net.placement.precision
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    _sync(device)
    start = time.perf_counter()
    extra = {}
    if case.startswith("dream"):
        run_dream(net, int(case[5:]))
    elif case == "draw224":
        run_draw(net, 224)
    elif case == "draw512":
        run_draw(net, 512)
    elif case == "lucid800":
        run_lucid(net, 600, 800)
    elif case == "lucid2048":
        run_lucid(net, 1536, 2048)
    elif case == "stream1024":
        extra["keyframes_per_s"] = round(run_stream(net), 3)
    elif case == "video1080":
        run_video_frame(net)
    else:
        raise SystemExit(f"unknown case {case}")
    _sync(device)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if device.type == "cuda":
        extra["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20)
    return {"case": case, "kind": kind, "precision": used, "asked": precision, "device": str(device),
            "seconds": round(seconds, 3), "peak_rss_mb": round(peak), **extra}


def machine_line(device_name: str, threads: int) -> str:
    import torch

    from neuralgae.core.nets.device import cpu_description, resolve_device

    device = resolve_device(device_name)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{threads} threads"
    return (f"{time.strftime('%Y-%m-%d')}, {device} ({where}), CPU {cpu_description()}, "
            f"torch {torch.__version__}, {platform.machine()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", nargs="+", default=list(CPU_CASES))
    ap.add_argument("--precisions", nargs="+", default=["fp32", "auto"])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-reference", action="store_true")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        case, kind, precision = args.one.split(":")
        print(json.dumps(run_case(case, kind, precision, args.device, args.threads)))
        return
    results = []
    for case in args.cases:
        runs = [("engine", p) for p in args.precisions]
        if case in REFERENCED and not args.no_reference:
            runs.append(("reference", "fp32"))
        for kind, precision in runs:
            cmd = [sys.executable, __file__, "--one", f"{case}:{kind}:{precision}", "--device", args.device,
                   "--threads", str(args.threads)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                print(f"{case} {kind} {precision}: failed\n{proc.stderr[-3000:]}", file=sys.stderr)
                results.append({"case": case, "kind": kind, "asked": precision, "failed": proc.stderr[-500:]})
                continue
            results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            r = results[-1]
            print(f"{case:10s} {kind:9s} {precision:5s} -> {r['precision']}: {r['seconds']:.2f} s"
                  + (f", {r['keyframes_per_s']} keyframes/s" if "keyframes_per_s" in r else ""), file=sys.stderr, flush=True)
    print(f"\n{machine_line(args.device, args.threads)}\n")
    print("| case | engine precision (asked) | seconds | vs reference | vs engine fp32 | peak RSS MB |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for case in args.cases:
        rows = [r for r in results if r.get("case") == case and "seconds" in r]
        ref = next((r for r in rows if r["kind"] == "reference"), None)
        fp32 = next((r for r in rows if r["kind"] == "engine" and r["asked"] == "fp32"), None)
        for r in rows:
            label = "plain reference" if r["kind"] == "reference" else f"{r['precision']} ({r['asked']})"
            vs_ref = f"{ref['seconds'] / r['seconds']:.2f}x" if ref and r is not ref else ""
            vs_32 = f"{fp32['seconds'] / r['seconds']:.2f}x" if fp32 and r["kind"] == "engine" and r is not fp32 else ""
            secs = f"{r['seconds']:.2f}" + (f" ({r['keyframes_per_s']} keyframes/s)" if "keyframes_per_s" in r else "")
            print(f"| {case} | {label} | {secs} | {vs_ref} | {vs_32} | {r.get('peak_rss_mb', '')} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine_line(args.device, args.threads), "results": results}, indent=1))


if __name__ == "__main__":
    main()
