"""Aim regions and aim specs."""

import numpy as np
import pytest

from neuralgae.core.optvis.draw_aim import aim_masks, check_mask, parse_aim, region_mask
from neuralgae.core.host.errors import NeuralgaeError


def test_halves_split_the_canvas():
    top, bottom = region_mask("top", 10, 8), region_mask("bottom", 10, 8)
    assert top[:5].all() and not top[5:].any()
    assert (top + bottom == 1).all()
    left, right = region_mask("left", 10, 8), region_mask("right", 10, 8)
    assert left[:, :4].all() and not left[:, 4:].any() and (left + right == 1).all()


def test_corner_is_a_quarter():
    m = region_mask("top-left", 10, 8)
    assert m.sum() == 20 and m[0, 0] == 1 and m[9, 7] == 0


def test_aim_masks_one_per_class():
    masks = aim_masks("top, bottom", 2, 16, 16)
    assert len(masks) == 2 and masks[0][0, 0] == 1 and masks[1][15, 0] == 1


@pytest.mark.parametrize("spec,count,words", [
    ("top", 2, "1 region for 2 classes"),
    ("top,,bottom", 3, "cannot read aim"),
    ("middle,bottom", 2, "unknown aim region 'middle'"),
    ("topp,bottom", 2, "did you mean 'top'"),
])
def test_bad_aims_say_what_is_wrong(spec, count, words):
    with pytest.raises(NeuralgaeError, match=words):
        aim_masks(spec, count, 16, 16)


def test_parse_aim_keeps_mask_files():
    assert parse_aim("top, masks/a.png", 2) == ["top", "masks/a.png"]


def test_check_mask_rejects_empty_and_out_of_range():
    with pytest.raises(NeuralgaeError, match="empty"):
        check_mask(np.zeros((4, 4)), 4, 4)
    with pytest.raises(NeuralgaeError, match="between 0 and 1"):
        check_mask(np.full((4, 4), 2.0), 4, 4)
    assert check_mask(np.ones((4, 4)), 8, 8).shape == (8, 8)
