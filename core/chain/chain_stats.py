"""How a Neuralgae chain flows: continuity, exploration and attractors, counted from its class lists.

Seed 000 wanted both: "some continuity between frames, but the random
sampling helps the algorithm move out of local maxima". Continuity is the
share of neighbouring frames that share a class; exploration, how many
distinct classes the run visits; an attractor, one class group (dog breeds,
marine invertebrates...) dominating many frames. Pure functions over the
per-frame class lists, so any manifest can be measured.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from .class_groups import dominant_group

ClassFrames = Sequence[Sequence[tuple[int, float]]]

TARGETS = {"shared": 0.5, "distinct": 300, "top_group_share": 0.25}
"""What a 100-frame chain should reach: at least half of neighbouring frames
share a class, at least 300 distinct classes, no group dominating more than a
quarter of the frames."""


def class_sets(frames: ClassFrames) -> list[set[int]]:
    return [{int(i) for i, _ in f} for f in frames]


def shared_fraction(sets: Sequence[set[int]]) -> float:
    """The share of neighbouring frame pairs that have at least one class in common (0 with fewer than two frames)."""
    pairs = list(zip(sets, sets[1:]))
    return sum(1 for a, b in pairs if a & b) / len(pairs) if pairs else 0.0


def longest_shared_run(sets: Sequence[set[int]]) -> int:
    """The most consecutive frames in which each frame shares at least one class with the one before."""
    best = current = 1 if sets else 0
    for before, now in zip(sets, sets[1:]):
        current = current + 1 if before & now else 1
        best = max(best, current)
    return best


def longest_class_run(sets: Sequence[set[int]]) -> tuple[int, int | None]:
    """The most consecutive frames that all contain one same class, and that class."""
    best, best_class = 0, None
    streak: dict[int, int] = {}
    for now in sets:
        streak = {c: streak.get(c, 0) + 1 for c in now}
        for c, n in sorted(streak.items()):
            if n > best:
                best, best_class = n, c
    return best, best_class


def group_dominance(frames: ClassFrames) -> Counter:
    """How many frames each class group dominates (holds half the class weight or more)."""
    counts = Counter(dominant_group(f) for f in frames)
    counts.pop(None, None)
    return counts


def chain_stats(frames: ClassFrames) -> dict:
    """Every figure of a chain's per-frame class lists, as a dict (see :data:`TARGETS`)."""
    sets = class_sets(frames)
    dominated = group_dominance(frames)
    n = max(1, len(sets))
    run_length, run_class = longest_class_run(sets)
    top_group, top_count = dominated.most_common(1)[0] if dominated else ("none", 0)
    return {
        "frames": len(sets),
        "distinct": len(set().union(*sets)) if sets else 0,
        "shared": shared_fraction(sets),
        "longest_class_run": run_length,
        "longest_class_run_class": run_class,
        "longest_shared_run": longest_shared_run(sets),
        "marine_invertebrates": dominated.get("marine_invertebrates", 0) / n,
        "dog_breeds": dominated.get("dog_breeds", 0) / n,
        "top_group": top_group,
        "top_group_share": top_count / n,
    }


def missed_targets(stats: dict, targets: dict = TARGETS) -> list[str]:
    """The targets a chain's figures miss, each as a sentence (empty: all met)."""
    missed = []
    if stats["shared"] < targets["shared"]:
        missed.append(f"only {stats['shared']:.0%} of neighbouring frames share a class (target {targets['shared']:.0%})")
    if stats["distinct"] < targets["distinct"]:
        missed.append(f"only {stats['distinct']} distinct classes (target {targets['distinct']})")
    if stats["top_group_share"] > targets["top_group_share"]:
        missed.append(f"{stats['top_group']} dominate {stats['top_group_share']:.0%} of frames (target at most {targets['top_group_share']:.0%})")
    return missed
