#!/usr/bin/env python3
"""Benchmark DeepDream at 1024x1024 and 4096x4096 against a plain reference.

Each case runs in its own process so its peak RSS is its own. The engine
case is `neuralgae.core.optvis.dream.dream` with the default settings except 3
octaves x 10 steps on block10. The reference is the same algorithm written
plainly: whole image at every octave, full network (BatchNorm kept, NCHW, all
the way to the logits), no tiling, no truncation.

    python bench/dream_bench.py                 # both sizes, engine + 1024 reference
    python bench/dream_bench.py --sizes 1024 --threads 2
Prints a Markdown table for docs/benchmarks.md.
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


def run_case(kind: str, size: int, octaves: int, steps: int, threads: int) -> dict:
    import numpy as np
    import torch

    torch.set_flush_denormal(True)  # before torch's worker threads start: they inherit it
    torch.set_num_threads(threads)
    from neuralgae.core.media.images import as_rgb_float, resize
    from neuralgae.core.nets.memory import keep_freed_memory

    if kind in ("engine", "reference+memory"):
        keep_freed_memory()  # what `nd` does at start-up (given to the reference too when asked)

    import skimage.data

    image = resize(as_rgb_float(skimage.data.astronaut()), size, size)
    start = time.perf_counter()
    if kind == "engine":
        from neuralgae.core.optvis.dream import DreamSettings, build_objective, dream
        from neuralgae.core.nets.efficientnet_lite import load_efficientnet_lite0
        from neuralgae.core.nets.network import parse_layer_selections

        net = load_efficientnet_lite0()
        objective = build_objective(net, parse_layer_selections("block10"))
        out = dream(net, image, objective, settings=DreamSettings(octaves=octaves, steps=steps), rng=np.random.default_rng(0))
    else:
        sys.path.insert(0, str(HERE))
        from reference_net import load_plain_lite0

        out = reference_dream(load_plain_lite0(), image, octaves, steps)
    seconds = time.perf_counter() - start
    assert out.shape == image.shape
    return {"kind": kind, "size": size, "seconds": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def reference_dream(net, image, octaves, steps, scale=1.4, step_size=0.01, jitter=32):
    """The classic notebook loop, plainly: whole image, whole network."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(0)
    x0 = torch.from_numpy(image).permute(2, 0, 1)[None]
    h, w = image.shape[:2]
    shapes = [(round(h / scale**i), round(w / scale**i)) for i in range(octaves)][::-1]
    detail = torch.zeros(1, 3, *shapes[0])
    for shape in shapes:
        base = F.interpolate(x0, size=shape, mode="bilinear", align_corners=False, antialias=True)
        detail = F.interpolate(detail, size=shape, mode="bilinear", align_corners=False)
        img = base + detail
        for _ in range(steps):
            dy, dx = (int(v) for v in rng.integers(-jitter, jitter + 1, 2))
            x = torch.roll(img, (dy, dx), (2, 3)).requires_grad_(True)
            _, feats = net.forward_all(x)
            a = feats["block10"]
            (g,) = torch.autograd.grad(0.5 * a.pow(2).sum() / a.shape[1], x)
            g = torch.roll(g, (-dy, -dx), (2, 3))
            img = (img + step_size * g / (g.abs().mean() + 1e-12)).clamp(0, 1).detach()
        detail = img - base
    return img[0].permute(1, 2, 0).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 4096])
    parser.add_argument("--reference-sizes", type=int, nargs="*", default=[1024])
    parser.add_argument("--reference-keeps-memory", action="store_true",
                        help="also run the reference with glibc keeping freed memory, as nd does")
    parser.add_argument("--octaves", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        kind, size = args.case.split(":")
        print(json.dumps(run_case(kind, int(size), args.octaves, args.steps, args.threads)))
        return
    cases = [("engine", s) for s in args.sizes] + [("reference", s) for s in args.reference_sizes]
    if args.reference_keeps_memory:
        cases += [("reference+memory", s) for s in args.reference_sizes]
    results = []
    for kind, size in cases:
        cmd = [sys.executable, __file__, "--case", f"{kind}:{size}", "--octaves", str(args.octaves),
               "--steps", str(args.steps), "--threads", str(args.threads)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"{kind} {size}: failed\n{proc.stderr[-2000:]}", file=sys.stderr)
            continue
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(f"{kind:16s} {size}x{size}: {results[-1]['seconds']:.1f} s, peak RSS {results[-1]['peak_rss_mb']:.0f} MB", file=sys.stderr)
    print(f"\n{time.strftime('%Y-%m-%d')}, {platform.machine()}, {args.threads} threads, torch {__import__('torch').__version__}, "
          f"{args.octaves} octaves x {args.steps} steps, block10\n")
    print("| case | size | seconds | peak RSS (MB) |\n| --- | --- | ---: | ---: |")
    for r in results:
        print(f"| {r['kind']} | {r['size']}x{r['size']} | {r['seconds']:.1f} | {r['peak_rss_mb']:.0f} |")
    eng = {r["size"]: r for r in results if r["kind"] == "engine"}
    for r in results:
        if r["kind"].startswith("reference") and r["size"] in eng:
            print(f"\nengine speed-up over {r['kind']} at {r['size']}x{r['size']}: {r['seconds'] / eng[r['size']]['seconds']:.1f}x")


if __name__ == "__main__":
    main()
