import pytest

from neuralgae.core.nets.classes import class_names, imagenet_classes, lookup_class, parse_class_list
from neuralgae.core.host.errors import NeuralgaeError


def test_thousand_distinct_names():
    names = class_names()
    assert len(names) == 1000 and len(set(names)) == 1000
    assert names[1] == "goldfish"


@pytest.mark.parametrize("key", ["great white shark", "Great White Shark", "man-eater", "Carcharodon carcharias", 2, "2"])
def test_lookup_by_any_synonym_or_index(key):
    assert lookup_class(key).index == 2


def test_shared_first_names_are_disambiguated():
    assert lookup_class("crane").index in (134, 517)
    assert {imagenet_classes()[134].name, imagenet_classes()[517].name} != {"crane"}


def test_names_that_differ_only_by_case_find_their_own_class():
    assert lookup_class("Cardigan").index == 264  # the Welsh corgi
    assert lookup_class("cardigan").index == 474  # the sweater
    assert lookup_class(" Cardigan ").index == 264


def test_descriptions_for_most_classes():
    assert sum(bool(c.description) for c in imagenet_classes()) >= 970


def test_near_miss_suggests():
    with pytest.raises(NeuralgaeError, match="did you mean 'goldfish'"):
        lookup_class("goldfsh")


@pytest.mark.parametrize("key, message", [(1000, "out of range"), ("", "empty class name"), ("qwzx", "unknown ImageNet class")])
def test_bad_lookups(key, message):
    with pytest.raises(NeuralgaeError, match=message):
        lookup_class(key)


def test_parse_class_list_with_weights():
    parsed = parse_class_list("goldfish, volcano:0.5")
    assert [(c.index, w) for c, w in parsed] == [(1, 1.0), (980, 0.5)]
    with pytest.raises(NeuralgaeError, match="not a number"):
        parse_class_list("goldfish:lots")
    with pytest.raises(NeuralgaeError, match="no classes"):
        parse_class_list(" , ")
