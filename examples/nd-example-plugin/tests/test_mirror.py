"""Tests a plugin author writes: the function on tiny arrays, and the registration through a host."""

import numpy as np
import pytest

import nd_example_plugin
from neuralgae.core import FrameContext, NeuralgaeError, PluginHost


def ctx():
    return FrameContext(index=1, total=2, rng=np.random.default_rng(0))


def test_mirror_makes_the_image_symmetric():
    image = np.random.default_rng(0).random((6, 8, 3), dtype=np.float32)
    out = nd_example_plugin.mirror(image, ctx())
    assert out.shape == image.shape and out.dtype == np.float32
    np.testing.assert_array_equal(out, out[:, ::-1])
    np.testing.assert_array_equal(out[:, :4], image[:, :4])  # the left half is kept


def test_mix_zero_is_identity_and_bad_mix_is_explained():
    image = np.random.default_rng(1).random((5, 7, 3), dtype=np.float32)
    np.testing.assert_array_equal(nd_example_plugin.mirror(image, ctx(), mix=0.0), image)
    with pytest.raises(NeuralgaeError, match="'mix' must be between 0 and 1"):
        nd_example_plugin.mirror(image, ctx(), mix=2.0)


def test_registered_with_its_parameters():
    host = PluginHost(builtins=False, entry_points=False, extra=[nd_example_plugin])
    component = host.get("transform", "mirror")
    assert list(component.params) == ["axis", "mix"]
    assert component.bind({"axis": "both"}) == {"axis": "both", "mix": 1.0}
