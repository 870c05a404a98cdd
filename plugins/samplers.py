"""Built-in category samplers: how a feedback chain picks the classes of its next frame.

A sampler is ``sampler(probs, ctx, **params) -> [(class_index, weight), ...]``:
``probs`` are the 1000 softmax probabilities of the last frame's
classification, ``ctx`` a :class:`~neuralgae.core.host.components.SamplerContext`
(frame index, this frame's rng, the class lists of earlier frames). It
returns distinct class indices with weights in (0, 1], the largest 1, in
order of decreasing probability (``fixed`` keeps the order it was given).

All randomness comes from ``ctx.rng``, so a chain is reproducible from its
seed. ``avoid_attractors`` is the one to use for long chains; ``neuralgae``
is the 2015 rule (a random 8 of the top 100) with the options of its later
versions. See ``docs/samplers.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Annotated, Literal

import numpy as np

from neuralgae.core.chain.class_groups import group_of, group_shares
from neuralgae.core.nets.classes import NUM_CLASSES, ClassNames, parse_class_list
from neuralgae.core.host.components import Range, SamplerContext
from neuralgae.core.host.errors import NeuralgaeError
from neuralgae.core.host.hookspecs import hookimpl

ClassList = list[tuple[int, float]]
ResetMode = Literal["off", "drop_top", "add_random"]

# Declared limits, checked by the host when a spec loads (and on every schedule key value).
Count = Annotated[int, Range(1, NUM_CLASSES)]  # a number of classes
Share = Annotated[float, Range(0, 1)]
OpenShare = Annotated[float, Range(0, 1, low_open=True)]  # 0 excluded


# -- the first frame ------------------------------------------------------------


def random_classes(rng: np.random.Generator, s: int = 8) -> ClassList:
    """``s`` distinct classes drawn uniformly from all 1000, each with weight 1.

    For the first frame of a chain, which has no classification to sample from.
    """
    _check_int("random_classes", "s", s, low=1, high=NUM_CLASSES)
    picked = rng.choice(NUM_CLASSES, size=s, replace=False)
    return [(int(i), 1.0) for i in sorted(picked)]


# -- validation -------------------------------------------------------------------


def _check_int(sampler: str, name: str, value, *, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise NeuralgaeError(f"sampler '{sampler}': parameter '{name}' must be a whole number; got {value!r}")
    if not low <= value <= high:
        raise NeuralgaeError(f"sampler '{sampler}': parameter '{name}' must be between {low} and {high}; got {value}")
    return int(value)


def _check_s_n(sampler: str, s: int, n: int) -> None:
    if s > n:
        raise NeuralgaeError(f"sampler '{sampler}': parameter 's' ({s}) must not exceed 'n' ({n}); raise n or lower s")


def _probabilities(sampler: str, probs) -> np.ndarray:
    """The classification as a float64 vector of 1000 probabilities summing to 1."""
    p = np.asarray(probs, dtype=np.float64)
    if p.shape != (NUM_CLASSES,):
        raise NeuralgaeError(
            f"sampler '{sampler}': probs must be a vector of {NUM_CLASSES} class probabilities; got shape {p.shape}"
        )
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise NeuralgaeError(f"sampler '{sampler}': probs must be finite and non-negative (softmax output, not logits)")
    total = p.sum()
    if total <= 0:
        raise NeuralgaeError(f"sampler '{sampler}': probs are all zero; pass the softmax of the classification")
    return p / total


def _check_reset(sampler: str, reset: str) -> None:
    if reset not in ("off", "drop_top", "add_random"):
        raise NeuralgaeError(f"sampler '{sampler}': parameter 'reset' must be 'off', 'drop_top' or 'add_random'; got {reset!r}")


# -- shared pieces ------------------------------------------------------------------


def _ranked(p: np.ndarray) -> np.ndarray:
    """Class indices by decreasing probability (ties by index, so the order is deterministic)."""
    return np.argsort(-p, kind="stable")


def _in_probability_order(indices, p: np.ndarray) -> list[int]:
    return sorted((int(i) for i in indices), key=lambda i: (-p[i], i))


def _weigh(indices: Sequence[int], p: np.ndarray, *, weighted: bool, cutoff: float) -> ClassList:
    """Weight 1 each, or (``weighted``) the probability, dropping those below ``cutoff``, rescaled so the largest is 1.

    The most probable class is always kept, so the list is never empty.
    """
    ordered = _in_probability_order(indices, p)
    if not weighted:
        return [(i, 1.0) for i in ordered]
    kept = [i for i in ordered if p[i] >= cutoff] or ordered[:1]
    top = p[kept[0]]
    if top <= 0:  # every kept class has probability 0: nothing to weigh by
        return [(i, 1.0) for i in kept]
    return [(i, float(p[i] / top)) for i in kept]


def _overlap(classes: ClassList, previous: ClassList | None) -> float:
    """The fraction of ``classes`` that the previous frame also used."""
    if not previous or not classes:
        return 0.0
    before = {int(i) for i, _ in previous}
    return sum(1 for i, _ in classes if i in before) / len(classes)


def _apply_reset(
    classes: ClassList,
    ctx: SamplerContext,
    p: np.ndarray,
    pool: np.ndarray,
    *,
    reset: str,
    reset_overlap: float,
    reset_add: int,
    reset_scale: float,
) -> ClassList:
    """Shake the set up when it repeats the previous frame's too closely.

    ``drop_top`` replaces the most probable class with one from ``pool`` that
    neither set contains; ``add_random`` adds ``reset_add`` classes drawn from
    all 1000 (weight 1) and scales the old weights by ``reset_scale``.
    """
    previous = ctx.history[-1] if ctx.history else None
    if reset == "off" or _overlap(classes, previous) < reset_overlap:
        return classes
    used = {i for i, _ in classes} | {int(i) for i, _ in previous}
    if reset == "drop_top":
        top = max(classes, key=lambda c: (p[c[0]], -c[0]))
        rest = [c for c in classes if c[0] != top[0]]
        fresh = [int(i) for i in pool if int(i) not in used]
        if fresh:
            rest.append((int(ctx.rng.choice(fresh)), 1.0))
        weights_max = max(w for _, w in rest) if rest else 1.0
        rest = [(i, w / weights_max) for i, w in rest] or [top]
        order = {i: k for k, i in enumerate(_in_probability_order([i for i, _ in rest], p))}
        return sorted(rest, key=lambda c: order[c[0]])
    others = np.array([i for i in range(NUM_CLASSES) if i not in used])
    added = ctx.rng.choice(others, size=min(reset_add, len(others)), replace=False)
    old = [(i, w * reset_scale) for i, w in classes]
    return old + [(int(i), 1.0) for i in _in_probability_order(added, p)]


# -- samplers -----------------------------------------------------------------------


def top_k(probs: np.ndarray, ctx: SamplerContext, *, k: Count = 8, weighted: bool = False) -> ClassList:
    """The k most probable classes (no randomness; chains on it get stuck fast).

    k: how many classes. weighted: weigh each by its probability relative to
    the most probable one instead of 1.
    """
    p = _probabilities("top_k", probs)
    return _weigh(_ranked(p)[:k], p, weighted=weighted, cutoff=0.0)


def neuralgae(
    probs: np.ndarray,
    ctx: SamplerContext,
    *,
    n: Count = 100,
    s: Count = 8,
    weighted: bool = False,
    cutoff: Share = 0.001,
    reset: ResetMode = "off",
    reset_overlap: OpenShare = 0.75,
    reset_add: Count = 4,
    reset_scale: OpenShare = 0.65,
) -> ClassList:
    """The original Neuralgae rule: s distinct classes at random from the top n.

    n, s: the pool and the sample (100 and 8 in 2015). weighted: weigh each
    class by its probability, dropping those below ``cutoff`` (0.001-0.01 in
    the later versions; the most probable is always kept) and rescaling so the
    largest weight is 1. reset: what to do when at least ``reset_overlap`` of
    the classes repeat the previous frame's: 'drop_top' replaces the most
    probable class, 'add_random' adds ``reset_add`` random classes and scales
    the old weights by ``reset_scale`` (0.5-0.8 in the later versions).
    """
    _check_s_n("neuralgae", s, n)
    _check_reset("neuralgae", reset)
    p = _probabilities("neuralgae", probs)
    pool = _ranked(p)[:n]
    picked = ctx.rng.choice(pool, size=s, replace=False)
    classes = _weigh(picked, p, weighted=weighted, cutoff=cutoff)
    return _apply_reset(
        classes, ctx, p, pool, reset=reset, reset_overlap=reset_overlap, reset_add=reset_add, reset_scale=reset_scale
    )


def _sample_proportional(rng: np.random.Generator, candidates: np.ndarray, chances: np.ndarray, s: int) -> np.ndarray:
    """``s`` distinct candidates, each draw proportional to ``chances`` (zero-chance ones fill up if needed)."""
    nonzero = chances > 0
    if nonzero.sum() >= s:
        return rng.choice(candidates, size=s, replace=False, p=chances / chances.sum())
    first = candidates[nonzero]
    rest = rng.choice(candidates[~nonzero], size=s - len(first), replace=False)
    return np.concatenate([first, rest])


def weighted(
    probs: np.ndarray,
    ctx: SamplerContext,
    *,
    s: Count = 8,
    n: Count = 1000,
    exponent: Annotated[float, Range(0, 100)] = 1.0,
    weighted: bool = False,
    cutoff: Share = 0.0,
) -> ClassList:
    """s distinct classes drawn with chance proportional to probability**exponent.

    n: draw only from the n most probable classes. exponent: 1 follows the
    classification, 0 is uniform over the pool, above 1 favours the top
    classes more (like a low temperature). weighted, cutoff: as in
    ``neuralgae`` (weights from probabilities instead of 1).
    """
    _check_s_n("weighted", s, n)
    p = _probabilities("weighted", probs)
    pool = _ranked(p)[:n]
    with np.errstate(divide="ignore"):
        logs = np.log(p[pool])
    if exponent == 0:
        chances = np.ones(len(pool))
    else:
        # In log space, so a large exponent cannot underflow every chance to 0.
        chances = np.exp(exponent * (logs - logs.max()))
    picked = _sample_proportional(ctx.rng, pool, chances, s)
    return _weigh(picked, p, weighted=weighted, cutoff=cutoff)


def fixed(
    probs: np.ndarray | None, ctx: SamplerContext, *, classes: Annotated[list[str], ClassNames()], cycle: bool = False
) -> ClassList:
    """A fixed list of classes, ignoring the classification; optionally cycling through sets.

    classes: class names or indices, each item optionally a comma-separated
    set ("goldfish, volcano") and any name optionally weighted
    ("volcano:0.5"). cycle: use one item per frame, in turn, instead of all
    of them every frame.
    """
    if isinstance(classes, str):
        classes = [classes]
    if not classes:
        raise NeuralgaeError("sampler 'fixed': parameter 'classes' is empty; list class names, e.g. ['goldfish', 'volcano']")
    sets = [parse_class_list(str(item)) for item in classes]
    chosen = sets[ctx.index % len(sets)] if cycle else [pair for items in sets for pair in items]
    weights: dict[int, float] = {}
    for cls, w in chosen:
        if not np.isfinite(w) or w <= 0:
            raise NeuralgaeError(f"sampler 'fixed': weight {w} for '{cls.name}' must be positive")
        weights[cls.index] = max(w, weights.get(cls.index, 0.0))
    top = max(weights.values())
    return [(i, w / top) for i, w in weights.items()]


@lru_cache(maxsize=1)
def _group_labels() -> np.ndarray:
    """The group name of every class ("" for none), for vectorised lookups."""
    labels = np.array([group_of(i) or "" for i in range(NUM_CLASSES)])
    labels.flags.writeable = False
    return labels


def _recent_log_penalties(
    history: list, *, memory: int, class_penalty: float, group_penalty: float, group_share: float
) -> np.ndarray:
    """The log of one factor per class: ``class_penalty`` per recent frame that used the class,
    ``group_penalty`` per recent frame in which the class's group held at least ``group_share``.

    Logs, so that long memories and strong penalties cannot underflow to zero.
    """
    logs = np.zeros(NUM_CLASSES)
    if memory == 0:
        return logs
    group_index = _group_labels()
    for frame in history[-memory:]:
        used = np.array(sorted({int(i) for i, _ in frame}), dtype=int)
        if used.size:
            logs[used] += np.log(class_penalty)
        for group, share in group_shares(frame).items():
            if share >= group_share:
                logs[group_index == group] += np.log(group_penalty)
    return logs


def carried(history: list, p: np.ndarray, *, n: int, carry: int, carry_frames: int) -> list[int]:
    """Up to ``carry`` classes of the last frame to keep: the most probable of them that are among the top ``n``
    of ``p``, leaving out any class the last ``carry_frames`` frames all used (it has been carried long enough)."""
    if not carry or not history:
        return []
    top = set(int(i) for i in _ranked(p)[:n])
    recent = [set(int(i) for i, _ in frame) for frame in history[-carry_frames:]]
    worn = set.intersection(*recent) if len(recent) == carry_frames else set()
    last = [int(i) for i, _ in history[-1]]
    return _in_probability_order([c for c in last if c in top and c not in worn], p)[:carry]


def avoid_attractors(
    probs: np.ndarray,
    ctx: SamplerContext,
    *,
    n: Count = 100,
    s: Count = 8,
    memory: Annotated[int, Range(0, 100)] = 8,
    class_penalty: OpenShare = 0.25,
    group_penalty: OpenShare = 0.2,
    group_share: OpenShare = 0.25,
    weighted: bool = False,
    cutoff: Share = 0.001,
    reset: ResetMode = "off",
    reset_overlap: OpenShare = 0.75,
    reset_add: Count = 4,
    reset_scale: OpenShare = 0.65,
    carry: Annotated[int, Range(0, 64)] = 0,
    carry_frames: Annotated[int, Range(1, 100)] = 2,
) -> ClassList:
    """Like neuralgae, but steers away from recently used classes and class groups (the recommended default).

    Each class used in the last ``memory`` frames has its chance multiplied by
    ``class_penalty`` once per such frame; each class whose group (dog breeds,
    marine invertebrates, snakes... see ``neuralgae.core.chain.class_groups``) held
    at least ``group_share`` of a recent frame's classes, by ``group_penalty``
    once per such frame. The pool is the top n by penalised probability, so
    fresh classes move in, and the s classes are drawn from it with chances
    proportional to the penalties. weighted, cutoff, reset...: as in
    ``neuralgae``. ``carry`` keeps up to that many of the last frame's
    classes that the classifier still sees in the new drawing (its most
    probable of them among the top n), so neighbouring frames share a
    subject while the rest of the set moves on; a class is carried for at
    most ``carry_frames`` frames in a row, then it must make room.
    """
    _check_avoid_attractors(s=s, n=n, reset=reset, carry=carry)
    p = _probabilities("avoid_attractors", probs)
    log_factors = _recent_log_penalties(
        ctx.history, memory=memory, class_penalty=class_penalty, group_penalty=group_penalty, group_share=group_share
    )
    with np.errstate(divide="ignore"):
        penalised = np.log(p) + log_factors
    kept = carried(ctx.history, p, n=n, carry=carry, carry_frames=carry_frames)
    pool = np.array([c for c in _ranked(penalised) if c not in kept][:n], dtype=int)
    chances = np.exp(log_factors[pool] - log_factors[pool].max())
    picked = ctx.rng.choice(pool, size=s - len(kept), replace=False, p=chances / chances.sum())
    classes = _weigh([*kept, *picked], p, weighted=weighted, cutoff=cutoff)
    return _apply_reset(
        classes, ctx, p, pool, reset=reset, reset_overlap=reset_overlap, reset_add=reset_add, reset_scale=reset_scale
    )


# -- registration -------------------------------------------------------------------

def _check_avoid_attractors(*, s=8, n=100, reset="off", carry=0, **_) -> None:
    """avoid_attractors' limits across parameters: s within n, room for new classes beside those carried."""
    _check_s_n("avoid_attractors", s, n)
    if carry >= s:
        raise NeuralgaeError(f"avoid_attractors: carry ({carry}) must be less than s ({s}), or no new class could join")
    _check_reset("avoid_attractors", reset)


def _check_neuralgae(*, s=8, n=100, reset="off", **_) -> None:
    """neuralgae's limits across parameters: s within n, a known reset mode."""
    _check_s_n("neuralgae", s, n)
    _check_reset("neuralgae", reset)


def _check_weighted(*, s=8, n=1000, **_) -> None:
    """weighted's limit across parameters: s within n."""
    _check_s_n("weighted", s, n)


# checked when a spec loads, before any frame (neuralgae.core.runs.schedule.CHECK_ATTRIBUTE)
avoid_attractors.check_params = _check_avoid_attractors
neuralgae.check_params = _check_neuralgae
weighted.check_params = _check_weighted

BUILTIN_SAMPLERS = (avoid_attractors, neuralgae, top_k, weighted, fixed)


@hookimpl
def register_samplers(register):
    for function in BUILTIN_SAMPLERS:
        register(function)
