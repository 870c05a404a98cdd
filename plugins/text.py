"""Built-in text generators (``verse``, ``prose``) and the run's ``classes.txt``.

A text generator turns the class lists of a chain's frames into one passage
per frame (see :mod:`neuralgae.core.chain.textgen`); ``nd book`` sets them beside
the images. This plugin also keeps ``classes.txt`` up to date in every run
whose frames have classes, through the ``frame_written`` hook.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from neuralgae.core.chain.book import CLASSES_FILE, write_classes_txt
from neuralgae.core.host.errors import NeuralgaeError
from neuralgae.core.host.hookspecs import hookimpl
from neuralgae.core.chain.textgen import (
    BigramTable,
    TextContext,
    article,
    bigram_table,
    bigram_walk,
    capitalise,
    details,
    gist,
    join_names,
    join_tokens,
    tokens,
)

# -- verse -------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _table(descriptions: tuple[str, ...]) -> BigramTable:
    return bigram_table(descriptions)


def verse_line(name: str, ctx: TextContext, table: BigramTable, *, words: int) -> str:
    """One line: the class name, then a bigram walk of up to ``words`` tokens from its last word.

    When the name's last word leads nowhere in the table, the walk starts
    from a random word of the class's own description instead.
    """
    start = name.split()[-1]
    walk = bigram_walk(start, table, ctx.rng, length=words)
    if not walk:
        own = [t for t in tokens(ctx.describe(name)) if t.lower() in table and t.isalpha()]
        if own:
            first = own[int(ctx.rng.integers(len(own)))]
            walk = [first.lower(), *bigram_walk(first, table, ctx.rng, length=words - 1)]
    return join_tokens([name, *walk])


def verse(frames: list[list[str]], ctx: TextContext, *, words: int = 6) -> list[str]:
    """A stanza per frame, a line per class: the class name, then a bigram walk over the class descriptions.

    words: how many tokens each line walks after the class name (the 2015 original used 6).
    """
    if not 1 <= words <= 50:
        raise NeuralgaeError(f"text generator 'verse': words must be between 1 and 50; got {words}")
    table = _table(tuple(d for d in ctx.descriptions.values() if d))
    return ["\n".join(verse_line(name, ctx, table, words=words) for name in names) for names in frames]


# -- prose --------------------------------------------------------------------------

_VERBS = (
    "drifts past", "surfaces", "unfolds slowly", "waits", "turns over", "settles",
    "rises out of the murk", "comes apart at the edges", "hangs there", "flickers",
    "leans into the light", "keeps very still", "spreads", "sinks a little",
)

# Each shape: (needs, template). needs: "g" a gist, "d" a detail. Fields:
# {a} article + name, {n} name, {ag} article + gist, {G} the same capitalised,
# {d} detail, {v} verb.
_INTRODUCTIONS = (
    ("", "{A} {v}."),
    ("g", "{A} appears, {ag}."),
    ("gd", "There is {a} here, {ag} with {d}."),
    ("d", "Look closer: {a}, with {d}."),
    ("g", "{G}, it turns out, is {a}."),
    ("d", "Something with {d} {v}; it is {a}."),
    ("", "Beside it, {a} {v}."),
    ("d", "{A} {v}, {d} catching the light."),
    ("d", "Half hidden, {a} shows {d}."),
    ("", "No one asked for {a}, but here it is."),
    ("g", "Call it {a}: {ag}, or something close to one."),
    ("", "Then {a}, without warning."),
    ("gd", "{A} is {ag} before it is anything else; then you notice {d}."),
    ("d", "You can tell {a} by {d}."),
    ("", "For a moment everything is {n}."),
)
_KEPT = (
    "The {n} is still here.",
    "Only the {n} stays from before.",
    "The {n} has not left.",
    "Of what was there, the {n} remains.",
    "Still the {n}, a little changed.",
    "The {n} holds on.",
)
_GONE = (
    "The {p} is gone.",
    "Nothing remains of the {p}.",
    "Where the {p} was, there is only colour now.",
    "The {p} fades out.",
    "No trace of the {p}.",
    "The {p} dissolves into the rest.",
)
_OPENINGS = (
    "At first there is only grey noise.",
    "It begins as a smear of grey.",
    "Nothing, and then a grain in the nothing.",
)
_REST = (
    "Further off: {r}.",
    "Around them, {r} crowd the edges.",
    "The rest is {r}.",
    "Somewhere in the background, {r}.",
    "And, if you look for them, {r}.",
    "{R} are there too, barely.",
)


class _ShapePicker:
    """Picks templates so that none repeats soon: the least used ones first, ties at random."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.uses: dict[str, int] = {}
        self.recent: list[str] = []

    def pick(self, options: Sequence[str], *, memory: int = 4) -> str:
        fresh = [o for o in options if o not in self.recent] or list(options)
        least = min(self.uses.get(o, 0) for o in fresh)
        best = [o for o in fresh if self.uses.get(o, 0) == least]
        choice = best[int(self.rng.integers(len(best)))]
        self.uses[choice] = self.uses.get(choice, 0) + 1
        self.recent = (self.recent + [choice])[-memory:]
        return choice


def _introduce(name: str, ctx: TextContext, picker: _ShapePicker) -> str:
    desc = ctx.describe(name)
    g = gist(desc)
    ds = details(desc)
    d = ds[int(ctx.rng.integers(len(ds)))] if ds else ""
    usable = [t for needs, t in _INTRODUCTIONS if ("g" not in needs or g) and ("d" not in needs or d)]
    template = picker.pick(usable)
    verb = picker.pick(_VERBS, memory=6)
    a = article(name)
    ag = article(g) if g else ""
    return template.format(a=a, A=capitalise(a), n=name, ag=ag, G=capitalise(ag), d=d, v=verb)


def _passage(names: list[str], before: list[str], ctx: TextContext, picker: _ShapePicker, *, mentions: int) -> list[str]:
    kept = [n for n in names if n in before]
    new = [n for n in names if n not in before]
    order = ctx.rng.permutation(len(new))
    featured = [new[int(i)] for i in order[:mentions]]
    out: list[str] = []
    if not before:
        out.append(picker.pick(_OPENINGS))
    elif kept:
        out.append(picker.pick(_KEPT).format(n=kept[int(ctx.rng.integers(len(kept)))]))
    else:
        gone = [n for n in before]
        out.append(picker.pick(_GONE).format(p=gone[int(ctx.rng.integers(len(gone)))]))
    out += [_introduce(n, ctx, picker) for n in featured]
    rest = [n for n in new if n not in featured]
    if rest:
        template = picker.pick(_REST)
        out.append(template.format(r=join_names(rest), R=capitalise(join_names(rest))))
    return out


def prose(frames: list[list[str]], ctx: TextContext, *, mentions: int = 3) -> list[str]:
    """A paragraph per frame that reads as text: what stays from the last frame, what arrives, what it looks like.

    mentions: how many of a frame's new classes get a sentence of their own
    (the others are named together at the end).
    """
    if not 1 <= mentions <= 20:
        raise NeuralgaeError(f"text generator 'prose': mentions must be between 1 and 20; got {mentions}")
    picker = _ShapePicker(ctx.rng)
    passages = []
    before: list[str] = []
    for names in frames:
        passages.append(" ".join(_passage(list(names), before, ctx, picker, mentions=mentions)))
        before = list(names)
    return passages


@hookimpl
def register_text_generators(register):
    register(verse, name="verse")
    register(prose, name="prose")


@hookimpl
def run_started(run):
    """Bring an existing ``classes.txt`` in step with the run's manifest (an overwritten run starts with none)."""
    target = run.dir / CLASSES_FILE
    if not run.entries:
        target.unlink(missing_ok=True)
    elif target.exists() or any(e.get("class_names") is not None for e in run.entries):
        write_classes_txt(run.dir, run.entries)


@hookimpl
def frame_written(run, frame):
    """Keep ``classes.txt`` in the run folder in step with the manifest (runs with classes only)."""
    if frame.classes is not None:
        write_classes_txt(run.dir, run.entries)
