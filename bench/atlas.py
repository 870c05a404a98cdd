#!/usr/bin/env python3
"""Time a class atlas (`nd batch --classes`) on Dask local clusters of different shapes.

Draws the same classes (by default 16 spread evenly over the 1000) with the
``draw`` renderer at its default settings, once per cluster shape, each into a
fresh folder, and reports the wall time (cluster start-up included), the
mean time of one run and the speed-up over the first shape.

    python bench/atlas.py                           # 1 worker vs 2 workers, 1 torch thread each, default preset
    python bench/atlas.py --shapes 1x1,2x1,1x2      # WORKERSxTHREADS: add 1 worker with 2 torch threads
    python bench/atlas.py --steps 30 --size 224     # a shorter schedule (the preset's octaves, 30 steps in all)

Prints a Markdown table for docs/scaling.md, with the machine and its load.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import time
from pathlib import Path


def spread_classes(count: int, *, total: int = 1000) -> list[int]:
    """``count`` class indices spread evenly over ``0..total-1``."""
    return [round(i * total / count) for i in range(count)]


def parse_shape(text: str) -> tuple[int, int]:
    """``"2x1"`` -> (2 workers, 1 torch thread each)."""
    workers, _, threads = text.lower().partition("x")
    return int(workers), int(threads or 1)


def atlas_spec(size: int, steps: int | None) -> str:
    lines = ["frames = 1", "", "[source]", f'noise = "{size}x{size}"', "", "[renderer]", 'name = "draw"']
    if steps:
        lines.append(f"steps = {steps}")
    return "\n".join(lines) + "\n"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    from neuralgae.core.runs.batch import available_cores

    return f"{cpu}, {available_cores()} cores, Python {platform.python_version()}, torch {torch.__version__}"


def run_shape(spec: str, classes: list[int], folder: Path, workers: int, threads: int) -> dict:
    from neuralgae.core.runs.batch import class_axis, dask_cluster, plan_variations, run_batch

    shutil.rmtree(folder, ignore_errors=True)
    plan = plan_variations([class_axis(classes)], out=folder)
    load_before = os.getloadavg()[0]
    began = time.monotonic()
    with dask_cluster(workers=workers, threads_per_worker=threads) as cluster:
        started = time.monotonic() - began
        result = run_batch(spec, plan, folder=folder, cluster=cluster)
    wall = time.monotonic() - began
    failed = [f"{o.name}: {o.message}" for o in result.failures]
    if failed:
        raise SystemExit("runs failed:\n" + "\n".join(failed))
    runs = [o.seconds for o in result.outcomes]
    cpu = [o.cpu_seconds for o in result.outcomes]
    return {
        "mean_cpu": sum(cpu) / len(cpu),
        "shape": f"{workers} x {threads}",
        "wall": wall,
        "startup": started,
        "mean_run": sum(runs) / len(runs),
        "load": (load_before, os.getloadavg()[0]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--classes", type=int, default=16, help="how many classes, spread over the 1000 (default 16)")
    parser.add_argument("--shapes", default="1x1,2x1", help="cluster shapes WORKERSxTHREADS, comma separated (default 1x1,2x1)")
    parser.add_argument("--steps", type=int, default=None, help="total draw steps (default: the preset's)")
    parser.add_argument("--size", type=int, default=224, help="canvas side in pixels (default 224)")
    parser.add_argument("--out", type=Path, default=Path("runs/bench-atlas"), help="where the atlases go")
    args = parser.parse_args()

    args.out.mkdir(parents=True, exist_ok=True)
    spec = args.out.absolute() / "atlas.toml"
    spec.write_text(atlas_spec(args.size, args.steps), encoding="utf-8")
    classes = spread_classes(args.classes)
    print(f"machine: {machine()}")
    print(f"atlas: {len(classes)} classes {classes}, {args.size}x{args.size}, steps {args.steps or 'preset default'}")
    rows = []
    for text in args.shapes.split(","):
        workers, threads = parse_shape(text)
        row = run_shape(str(spec), classes, args.out / f"w{workers}x{threads}", workers, threads)
        rows.append(row)
        print(
            f"  {row['shape']}: {row['wall']:.1f} s (start-up {row['startup']:.1f} s, "
            f"mean run {row['mean_run']:.1f} s, {row['mean_cpu']:.1f} s of CPU)", flush=True,
        )
    base = rows[0]["wall"]
    print()
    print("| workers x torch threads | wall time | of which cluster start-up | one run: wall / CPU | speed-up | load average before / after |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(
            f"| {row['shape']} | {row['wall']:.0f} s | {row['startup']:.1f} s | {row['mean_run']:.1f} s / {row['mean_cpu']:.1f} s | "
            f"{base / row['wall']:.2f} | {row['load'][0]:.1f} / {row['load'][1]:.1f} |"
        )


if __name__ == "__main__":
    main()
