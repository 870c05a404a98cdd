#!/usr/bin/env python3
"""Measure the attractor problem of the Neuralgae chain: run it, then count what its classes did.

Runs the built-in spec ``neuralgae`` (or the run folder you give with
``--stats-only``) at a small size and reports, over its frames:

- the share of neighbouring frames that share at least one class;
- the number of distinct classes used (all frames, 8 classes each);
- the longest run of consecutive frames sharing at least one class;
- the share of frames dominated (half the class weight or more,
  ``neuralgae.core.chain.class_groups.dominant_group``) by marine invertebrates, by
  dog breeds, and by any one group.

    python bench/chain.py                                   # 100 frames, 64x64, 8 steps, avoid_attractors
    python bench/chain.py --sampler neuralgae --out runs/bench-2015
    python bench/chain.py --stats-only runs/bench-chain     # figures of an existing run

Prints a Markdown table row for docs/neuralgae.md, and which of the targets (half of neighbouring
frames share a class, 300 distinct classes, no group over a quarter of the frames) it misses.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path


def chain_stats(run_dir: Path) -> dict:
    """The chain figures of the run in ``run_dir`` (from its manifest): :func:`neuralgae.core.chain.chain_stats.chain_stats`."""
    from neuralgae.core.chain import chain_stats as figures
    from neuralgae.core.nets.classes import imagenet_classes
    from neuralgae.core.runs.runfolder import read_manifest

    entries = read_manifest(run_dir)
    frames = [[(int(i), float(w)) for i, w in e["classes"]] for e in entries if e.get("classes")]
    stats = figures.chain_stats(frames)
    run_class = stats["longest_class_run_class"]
    stats["longest_class_run_class"] = imagenet_classes()[run_class].name if run_class is not None else ""
    stats["seconds_per_frame"] = sum(e.get("seconds", 0.0) for e in entries) / max(1, len(frames))
    stats["missed"] = figures.missed_targets(stats)
    return stats


def from_noise(spec_path: Path, size: int, folder: Path) -> Path:
    """A copy of the built-in spec whose [source] is smooth noise of ``size`` (as the 2015 chain started)."""
    text = spec_path.read_text(encoding="utf-8")
    text = re.sub(r"\[source\]\n(?:[^\[\n][^\n]*\n|\n)*", f'[source]\nnoise = "{size}x{size}"\n\n', text, count=1)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"neuralgae-noise-{size}.toml"
    target.write_text(text, encoding="utf-8")
    return target


def run_chain(
    out: Path, *, frames: int, size: int, steps: int, sampler: str, seed: int, threads: int, sets: list[str] = ()
) -> Path:
    import torch

    torch.set_flush_denormal(True)  # before torch's worker threads start: they inherit it
    torch.set_num_threads(threads)
    from neuralgae.core.runs.pipeline import run_spec
    from neuralgae.core.host.plugins import PluginHost
    from neuralgae.core.runs.spec import load_spec

    host = PluginHost(entry_points=False)
    spec_file = from_noise(Path(host.specs["neuralgae"].path), size, out.parent)
    overrides = [f"renderer.steps={steps}", f"sampler.name={sampler}", f"seed={seed}", "output.gif=false", "output.mp4=false", *sets]
    spec = load_spec(str(spec_file), host=host, overrides=overrides, frames=frames, out=out)

    def progress(done, total, message=""):
        if message and not message.startswith("frame"):
            print(f"\r{done}/{total} {message}   ", end="", file=sys.stderr, flush=True)

    run_spec(spec, host=host, resume=True, progress=progress)
    print(file=sys.stderr)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--sampler", default="avoid_attractors")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="extra spec override, e.g. --set sampler.memory=30 (repeatable)")
    parser.add_argument("--out", type=Path, default=None, help="run folder (resumed if it holds this run)")
    parser.add_argument("--stats-only", type=Path, default=None, help="only compute the figures of this run folder")
    args = parser.parse_args()
    if args.stats_only is not None:
        folder = args.stats_only
    else:
        folder = args.out or Path(f"runs/bench-chain-{args.sampler}-{args.size}")
        t0 = time.perf_counter()
        run_chain(folder, frames=args.frames, size=args.size, steps=args.steps, sampler=args.sampler, seed=args.seed,
                  threads=args.threads, sets=args.set)
        print(f"ran in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    s = chain_stats(folder)
    print("| sampler | frames | neighbours sharing a class | distinct classes | longest run of one class | longest run sharing a class "
          "| marine invertebrates | dog breeds | most dominant group | s/frame |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |")
    label = " ".join([args.sampler, *args.set])
    print(f"| {label} | {s['frames']} | {s['shared']:.0%} | {s['distinct']} | {s['longest_class_run']} ({s['longest_class_run_class']}) "
          f"| {s['longest_shared_run']} | {s['marine_invertebrates']:.0%} | {s['dog_breeds']:.0%} "
          f"| {s['top_group']} {s['top_group_share']:.0%} | {s['seconds_per_frame']:.1f} |")
    print("targets met" if not s["missed"] else "targets missed: " + "; ".join(s["missed"]), file=sys.stderr)


if __name__ == "__main__":
    main()
