"""Planning a batch: its variations from grids, image folders and class atlases, their names and folders.

A batch is a spec plus variations. Each variation is exactly an ``nd run`` of
that spec with a few extra ``--set`` overrides and its own output folder.
Variations come from three kinds of *axes*, combined as a cartesian product:

- a parameter grid, ``KEY.PATH=V1,V2,...`` (each value written as for ``--set``);
- a folder of images, one ``source.image`` per file;
- a class list (``all``, ``"goldfish, 9, 100-115"`` or a file), one
  ``renderer.classes`` per class: a class atlas.

Kept apart from running them (:mod:`.batch_cluster`) so that a plan can be
made and checked up front (:func:`check_axes`) without Dask.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..host.errors import NeuralgaeError, option
from ..media.images import probe_image
from ..host.limits import max_variations

GRID, IMAGES, CLASSES, OUT = (option(n) for n in ("grid", "images", "classes", "out"))  # named as the front end spells them

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
MAX_SLUG = 48

_UNSAFE = re.compile(r"[^A-Za-z0-9.+\-]+")
_RANGE = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$")


# -- the plan ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """One value on one axis: a folder-name piece, the override it makes, and a label for people."""

    slug: str
    override: str
    label: str
    class_index: int | None = None


@dataclass(frozen=True)
class Variation:
    """One run of the batch: ``nd run SPEC --set BASE... --set OVERRIDES... --out OUT``.

    ``name`` is its folder name inside the batch folder (stable and
    filesystem-safe); ``label`` says in words what differs; ``class_index`` is
    set for the variations of a class atlas (whose ``label`` then leaves the
    class out).
    """

    name: str
    overrides: tuple[str, ...]
    out: Path
    label: str = ""
    class_index: int | None = None

    @property
    def class_name(self) -> str | None:
        """The name of the atlas class this variation draws, or None."""
        if self.class_index is None:
            return None
        from ..nets.classes import imagenet_classes

        return imagenet_classes()[self.class_index].name

    @property
    def description(self) -> str:
        """Its class (index and name) and its other differences, in words."""
        head = f"{self.class_index} {self.class_name}" if self.class_index is not None else ""
        return ", ".join(p for p in (head, self.label) if p) or self.name


def slugify(text: str, *, limit: int = MAX_SLUG) -> str:
    """A filesystem-safe piece of a folder name: letters, digits, ``.+-``; other runs become ``_``."""
    slug = _UNSAFE.sub("_", str(text).strip()).strip("_.")
    return (slug[:limit].rstrip("_.") or "x") if slug else "x"


def split_values(text: str) -> list[str]:
    """Split ``"1, [2, 3], 'a,b'"`` at the commas that are not inside brackets or quotes."""
    parts, depth, quote, current = [], 0, "", []
    for ch in text:
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    parts.append("".join(current).strip())
    return parts


def parse_grid_item(item: str) -> tuple[str, list[str]]:
    """``"renderer.steps=10,20"`` -> (``"renderer.steps"``, ``["10", "20"]``), each value raw TOML as for ``--set``."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key or not raw.strip():
        raise NeuralgaeError(f"{GRID} {item}: write KEY.PATH=VALUE1,VALUE2,..., e.g. {GRID} renderer.steps=10,20")
    values = split_values(raw)
    if any(not v for v in values):
        raise NeuralgaeError(f"{GRID} {item}: has an empty value; separate values with single commas, e.g. 10,20")
    if len(set(values)) != len(values):
        raise NeuralgaeError(f"{GRID} {item}: repeats a value; give each value once")
    return key, values


def grid_axes(items: Sequence[str]) -> list[list[Choice]]:
    """One axis per ``--grid KEY=V1,V2`` item; folder names use the key's last part (the full path when two collide)."""
    parsed = [parse_grid_item(item) for item in items]
    keys = [k for k, _ in parsed]
    for k in keys:
        if keys.count(k) > 1:
            raise NeuralgaeError(f"{GRID} gives '{k}' twice; list all its values in one {GRID} {k}=V1,V2")
    shorts = [k.rpartition(".")[2] for k in keys]
    axes = []
    for (key, values), short in zip(parsed, shorts):
        name = short if shorts.count(short) == 1 else key
        axes.append([Choice(f"{slugify(name)}-{slugify(v.strip(chr(34) + chr(39)))}", f"{key}={v}", f"{name} = {v}") for v in values])
    return axes


def image_files(folder: Path) -> list[Path]:
    """The image files directly inside ``folder`` (by suffix), sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise NeuralgaeError(f"{IMAGES} '{folder}' is not a folder; give a folder of photos")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise NeuralgaeError(f"{IMAGES} '{folder}' holds no images ({', '.join(IMAGE_SUFFIXES)}); add some or choose another folder")
    for p in files:  # a file posing as a photo fails the batch now, not its run on a worker
        probe_image(p, "photo")
    return files


def image_axis(folder: Path) -> list[Choice]:
    """One ``source.image`` override per image in ``folder`` (absolute paths, so any worker finds them)."""
    files = image_files(folder)
    stems = [p.stem.lower() for p in files]
    choices = []
    for p in files:
        slug = slugify(p.stem if stems.count(p.stem.lower()) == 1 else f"{p.stem}-{p.suffix[1:]}")
        choices.append(Choice(slug, f"source.image={json.dumps(str(p.resolve()))}", p.name))
    return choices


def parse_class_selection(text: str) -> list[int]:
    """Class indices from ``"all"``, ``"goldfish, 9, 100-115"`` or a file of such items (one or more a line).

    Lines of a file may carry ``#`` comments. Names are looked up as ``nd classes``
    does, with suggestions for near misses; repeats are dropped, order kept.
    """
    from ..nets.classes import NUM_CLASSES, lookup_class

    text = str(text).strip()
    if text.lower() == "all":
        return list(range(NUM_CLASSES))
    path = Path(text).expanduser()
    if path.is_file():
        lines = path.read_text(encoding="utf-8").splitlines()
        items = [i for line in lines for i in line.split("#", 1)[0].split(",")]
    else:
        items = text.split(",")
    out: list[int] = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        m = _RANGE.match(item)
        if m:
            lo, hi = int(m.group(1)), int(m.group(2))
            if hi < lo or hi >= NUM_CLASSES:
                raise NeuralgaeError(f"{CLASSES} range '{item}' must go up, within 0-{NUM_CLASSES - 1}")
            out.extend(range(lo, hi + 1))
        else:
            out.append(lookup_class(item).index)
    if not out:
        raise NeuralgaeError(f"{CLASSES} names no class; give 'all', names such as 'goldfish, hen', ranges such as 0-15, or a file")
    return list(dict.fromkeys(out))


def class_axis(indices: Sequence[int]) -> list[Choice]:
    """One ``renderer.classes`` override per class (by index: names such as 'Cardigan' are ambiguous)."""
    from ..nets.classes import imagenet_classes

    table = imagenet_classes()
    return [
        Choice(f"{i:04d}-{slugify(table[i].name.lower())}", f'renderer.classes=["{i}"]', table[i].name, i)
        for i in indices
    ]


def plan_variations(axes: Sequence[Sequence[Choice]], *, out: Path) -> list[Variation]:
    """The cartesian product of the axes: one :class:`Variation` per combination, in a stable order.

    Folder names join the pieces with ``_``; a name that would repeat gets ``-2``, ``-3``...
    """
    if not axes or any(not axis for axis in axes):
        raise NeuralgaeError(f"a batch needs variations; give {GRID} KEY=V1,V2, {IMAGES} FOLDER or {CLASSES} LIST")
    total = math.prod(len(axis) for axis in axes)
    limit = max_variations()
    if total > limit:
        sizes = " x ".join(str(len(axis)) for axis in axes)
        raise NeuralgaeError(
            f"the batch would make {total:,} runs ({sizes}), more than the limit of {limit:,}; "
            "give fewer values, or set ND_MAX_VARIATIONS to lift the limit"
        )
    out = Path(out).expanduser().absolute()
    seen: dict[str, int] = {}
    variations = []
    for combo in itertools.product(*axes):
        name = "_".join(c.slug for c in combo)
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name = f"{name}-{seen[name]}"
        classes = [c.class_index for c in combo if c.class_index is not None]
        variations.append(
            Variation(
                name=name,
                overrides=tuple(c.override for c in combo),
                out=out / name,
                label=", ".join(c.label for c in combo if c.class_index is None or len(classes) > 1),
                class_index=classes[0] if len(classes) == 1 else None,
            )
        )
    return variations


def absolute_overrides(overrides: Sequence[str], *, cwd: Path | None = None) -> list[str]:
    """``source.image=rel.png`` -> ``source.image="/abs/rel.png"`` (also ``source.video``), so workers in other folders find the file."""
    from .spec import CWD_RELATIVE_KEYS, cwd_relative, parse_value

    out = []
    for item in overrides:
        key, sep, raw = item.partition("=")
        value = parse_value(raw.strip()) if sep else None
        if sep and key.strip() in CWD_RELATIVE_KEYS and isinstance(value, str):
            absolute = Path(cwd_relative(value, cwd)).absolute()
            item = f"{key.strip()}={json.dumps(str(absolute))}"
        out.append(item)
    return out



# -- checking the plan up front ----------------------------------------------------------------


def load_variation(spec: str, variation: Variation, *, host, base_overrides: Sequence[str] = (), frames: int | None = None):
    """The spec of one variation, exactly as ``nd run SPEC --set ... --frames N --out DIR`` loads it."""
    from .spec import load_spec

    return load_spec(spec, host=host, overrides=[*base_overrides, *variation.overrides], frames=frames, out=variation.out)


def check_axes(
    spec: str, axes: Sequence[Sequence[Choice]], *, host, out: Path, base_overrides: Sequence[str] = (), frames: int | None = None
) -> None:
    """Load one variation for every value of every axis before any run starts.

    A value no run could use (an unknown parameter, NaN steps) then fails the
    whole batch at once, in one line naming it, instead of failing each of
    its variations on the workers. Each value is tried with the first value
    of the other axes, so this costs one spec load per value, not per
    variation; class axes are skipped (their names were looked up already).
    """
    first = [axis[0] for axis in axes]
    for a, axis in enumerate(axes):
        if all(c.class_index is not None for c in axis):
            continue
        for choice in axis:
            combo = [*first[:a], choice, *first[a + 1 :]]
            variation = Variation(name="check", overrides=tuple(c.override for c in combo), out=Path(out) / "check")
            try:
                load_variation(spec, variation, host=host, base_overrides=base_overrides, frames=frames)
            except NeuralgaeError as exc:
                raise NeuralgaeError(f"no run of the batch could use {choice.label or choice.override}: {exc}") from None
