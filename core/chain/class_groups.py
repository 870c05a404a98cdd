"""Named groups of ImageNet-1k classes, for spotting and steering away from attractors.

A Neuralgae chain tends to fall into a few kinds of image: lobsters,
nautiluses, jellyfish, worms and other marine invertebrates, snakes, and
every so often the 118 dog breeds (seed 000). These groups name such kinds so
that a sampler can remember which were used recently and a benchmark can
count the frames one of them dominates.

The groups are disjoint: every class belongs to at most one group, so
:func:`group_of` has one answer. Every animal class (indices 0-397) belongs
to exactly one group; objects, food, plants and scenes are grouped only
where a group is obvious (vehicles, musical instruments, food, fungi,
plants, landscapes), the rest belong to none.

Indices were checked against the names and descriptions of
:func:`neuralgae.core.nets.classes.imagenet_classes`; ``docs/samplers.md`` lists
the ranges, and a test keeps that list in step with this module.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from ..host.errors import NeuralgaeError, did_you_mean

# Each group is a tuple of inclusive (first, last) index ranges; single
# classes are written (i, i). Comments give the first and last class names.
_RANGES: dict[str, tuple[tuple[int, int], ...]] = {
    # tench..stingray; barracouta..puffer
    "fish": ((0, 6), (389, 397)),
    # cock..great grey owl; black grouse..black swan; white stork..albatross
    "birds": ((7, 24), (80, 100), (127, 146)),
    # European fire salamander..tailed frog
    "amphibians": ((25, 32),),
    # turtles, lizards, crocodilians and triceratops: loggerhead..triceratops
    "reptiles": ((33, 51),),
    # thunder snake..sidewinder (the seed's "snakelike or wormy shapes";
    # the true worms, flatworm and nematode, are marine invertebrates here)
    "snakes": ((52, 68),),
    # harvestman..centipede: spiders, scorpion, tick, and the centipede
    "arachnids": ((70, 79),),
    # trilobite; jellyfish..isopod (cnidarians, worms, molluscs, crustaceans);
    # starfish, sea urchin, sea cucumber. Snail, slug and crayfish live on
    # land or in fresh water, but the seed counts them with this attractor.
    "marine_invertebrates": ((69, 69), (107, 126), (327, 329)),
    # grey whale, killer whale, dugong, sea lion
    "marine_mammals": ((147, 150),),
    # Chihuahua..Mexican hairless: every domestic dog breed
    "dog_breeds": ((151, 268),),
    # timber wolf..grey fox, with the hyena
    "wolves_and_foxes": ((269, 280),),
    # tabby..cheetah: domestic and wild cats
    "cats": ((281, 293),),
    # tiger beetle..lycaenid: beetles, flies, bees, ants, grasshoppers,
    # mantis, cicada, dragonflies, butterflies
    "insects": ((300, 326),),
    # orangutan..indri: apes, monkeys, lemurs
    "primates": ((365, 384),),
    # tusker..wombat; bears, mongoose, meerkat; wood rabbit..three-toed sloth
    # (rabbits, rodents, hoofed mammals, mustelids); elephants and pandas
    "other_mammals": ((101, 106), (294, 299), (330, 364), (385, 388)),
    # land, water, air and space craft, from airliner to yawl
    "vehicles": (
        (403, 405), (407, 408), (417, 417), (436, 436), (444, 444), (450, 450),
        (466, 466), (468, 468), (472, 472), (484, 484), (510, 511), (537, 537),
        (547, 547), (554, 555), (561, 561), (565, 565), (569, 569), (573, 573),
        (575, 576), (586, 586), (595, 595), (603, 603), (609, 609), (612, 612),
        (625, 625), (627, 628), (654, 654), (656, 656), (661, 661), (665, 665),
        (670, 671), (675, 675), (690, 690), (705, 705), (717, 717), (724, 724),
        (734, 734), (751, 751), (757, 757), (779, 780), (802, 803), (812, 812),
        (814, 814), (817, 817), (820, 820), (829, 829), (833, 833), (847, 847),
        (864, 864), (866, 867), (870, 871), (874, 874), (880, 880), (895, 895),
        (913, 914),
    ),
    # accordion..violin
    "musical_instruments": (
        (401, 402), (420, 420), (432, 432), (486, 486), (494, 494), (513, 513),
        (541, 541), (546, 546), (558, 558), (566, 566), (577, 577), (579, 579),
        (593, 594), (641, 642), (683, 684), (687, 687), (699, 699), (776, 776),
        (822, 822), (875, 875), (881, 881), (889, 889),
    ),
    # guacamole..pomegranate (dishes, vegetables, fruit; not the mushroom);
    # carbonara..espresso; eggnog
    "food": ((924, 946), (948, 957), (959, 967), (969, 969)),
    # mushroom; coral fungus..bolete
    "fungi": ((947, 947), (991, 997)),
    # rapeseed, daisy, yellow lady's slipper, corn, acorn, hip, buckeye; ear
    "plants": ((984, 990), (998, 998)),
    # alp; cliff..volcano (coral reef included; the bubble is not a landscape)
    "landscapes": ((970, 970), (972, 980)),
}


@lru_cache(maxsize=1)
def groups() -> dict[str, frozenset[int]]:
    """Every group name -> the set of its class indices, in a fixed order."""
    return {name: frozenset(i for first, last in ranges for i in range(first, last + 1)) for name, ranges in _RANGES.items()}


@lru_cache(maxsize=1)
def _group_by_index() -> dict[int, str]:
    out: dict[int, str] = {}
    for name, members in groups().items():
        for i in members:
            if i in out:  # a programming error in _RANGES, caught by the tests
                raise RuntimeError(f"class {i} is in both '{out[i]}' and '{name}'")
            out[i] = name
    return out


def group_of(index: int) -> str | None:
    """The name of the group class ``index`` belongs to, or None if it belongs to none."""
    return _group_by_index().get(int(index))


def lookup_group(name: str) -> frozenset[int]:
    """The class indices of the group called ``name``; unknown names raise with a suggestion."""
    key = name.strip().lower().replace(" ", "_").replace("-", "_")
    if key in groups():
        return groups()[key]
    hint = did_you_mean(key, groups()) or f" (groups: {', '.join(groups())})"
    raise NeuralgaeError(f"unknown class group '{name}'{hint}")


def group_ranges(name: str) -> str:
    """The index ranges of a group as text, e.g. ``"69, 107-126, 327-329"`` (for docs and messages)."""
    parts = []
    for first, last in _RANGES[name]:
        parts.append(str(first) if first == last else f"{first}-{last}")
    return ", ".join(parts)


def _pairs(classes: Iterable) -> list[tuple[int, float]]:
    """Accept (index, weight) pairs or bare indices; bare indices weigh 1."""
    out = []
    for item in classes:
        if isinstance(item, (tuple, list)):
            out.append((int(item[0]), float(item[1])))
        else:
            out.append((int(item), 1.0))
    return out


def group_shares(classes: Iterable) -> dict[str, float]:
    """Each group's share of the total weight of a frame's classes.

    ``classes`` holds (index, weight) pairs or bare indices (weight 1). Groups
    with no class in the frame are left out; classes in no group count in the
    total, so the shares sum to at most 1.
    """
    pairs = _pairs(classes)
    total = sum(w for _, w in pairs)
    if total <= 0:
        return {}
    shares: dict[str, float] = {}
    for i, w in pairs:
        g = group_of(i)
        if g is not None:
            shares[g] = shares.get(g, 0.0) + w / total
    return shares


def dominant_group(classes: Iterable, *, threshold: float = 0.5) -> str | None:
    """The group holding at least ``threshold`` of a frame's class weight, or None.

    This is what "a frame dominated by marine invertebrates" means in the
    benchmarks: with 8 equally weighted classes, 4 or more from one group. If
    two groups tie, the one listed first in :func:`groups` wins.
    """
    shares = group_shares(classes)
    best = None
    for name in groups():
        share = shares.get(name, 0.0)
        if share >= threshold and (best is None or share > shares[best] + 1e-12):
            best = name
    return best
