#!/usr/bin/env python3
"""Speed per network on this machine: one DeepDream step on a middle layer, and one classification.

For every built-in network (EfficientNet-Lite0/1/2 with their real weights,
and torchvision's showcase architectures with random weights written to a
temporary file: speed does not depend on the weights, and nothing is
downloaded), times

- a dream step: forward to the layer docs/networks.md suggests, backward to
  the image, on a 512x512 image (the median of a few after a warm-up);
- a classification: a forward pass to the logits at the network's input size.

    python bench/networks.py [--threads 2] [--side 512] [--only googlenet,vgg16]

Prints a Markdown table for docs/benchmarks.md, with the CPU flags.
"""

from __future__ import annotations

import argparse
import platform
import re
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

LAYERS = {
    "efficientnet-lite0": "block10",
    "efficientnet-lite1": "block14",
    "efficientnet-lite2": "block14",
    "googlenet": "inception4c",
    "inception_v3": "Mixed_6b",
    "vgg16": "conv4_3",
    "vgg19": "conv4_2",
    "resnet50": "layer3",
    "mobilenet_v3_large": "features.10",
    "convnext_tiny": "features.5",
}


def cpu_flags() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    flags = set(re.search(r"^flags\s*:(.*)$", text, re.M).group(1).split())
    model = re.search(r"^model name\s*:(.*)$", text, re.M)
    wanted = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags]
    return f"{model.group(1).strip() if model else platform.machine()}, {' '.join(wanted)}"


def timed(fn, repeats: int) -> float:
    fn()  # warm-up: oneDNN picks its kernels on the first call
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def random_weights(arch: str, folder: Path) -> Path:
    import torch

    from neuralgae.core.nets import torchvision_nets as tvn

    tvn.require_torchvision()
    import torchvision

    extra = {"aux_logits": True, "init_weights": True} if arch in tvn.TRANSFORM_INPUT else {}
    model = torchvision.models.get_model(arch, weights=None, **extra)
    path = folder / f"{arch}-random.pth"
    torch.save(model.state_dict(), path)
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--side", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", default="", help="comma-separated network names (torchvision ones without the prefix)")
    args = ap.parse_args()

    import torch

    torch.set_flush_denormal(True)
    torch.set_num_threads(args.threads)
    from neuralgae.core.host.plugins import PluginHost

    host = PluginHost(entry_points=False).use(device="cpu", precision="fp32")
    names = [n for n in LAYERS if not args.only or n in args.only.split(",")]
    print(f"| network | dream layer | dream step at {args.side}x{args.side} | classification at its input size |")
    print("| --- | --- | ---: | ---: |")
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            if name.startswith("efficientnet"):
                net = host.network(name)
                label = name
            else:
                net = host.network(f"torchvision:{name}", weights=random_weights(name, Path(tmp)))
                label = f"torchvision:{name}"
            layer = LAYERS[name]
            x = torch.rand(1, 3, args.side, args.side)

            def step():
                image = x.clone().requires_grad_(True)
                out = net.features(image, [layer])[layer]
                (out.float() ** 2).mean().backward()

            s = net.input_size
            small = torch.rand(1, 3, s, s)

            def classify():
                with torch.no_grad():
                    net.features(small, ["logits"])

            dream_s = timed(step, args.repeats)
            class_s = timed(classify, args.repeats)
            print(f"| `{label}` | `{layer}` | {dream_s:.2f} s | {1000 * class_s:.0f} ms ({s} px) |", flush=True)
            del net
    print(f"\n{date.today()}, {cpu_flags()}, {args.threads} threads, torch {torch.__version__}, fp32", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
