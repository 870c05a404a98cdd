"""Built-in inter-frame transforms: contracts, documented behaviour and parameter errors."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from neuralgae.core.host.components import FrameContext
from neuralgae.core.host.errors import NeuralgaeError
from neuralgae.core.host.plugins import PluginHost
from neuralgae.plugins import transforms as T
from neuralgae.plugins.shift_functions import linear_shift, random_shift, shift_amounts, sine_shift

EXPECTED = {
    "zoom", "stretch", "rotate", "affine", "roll", "stochastic_shift", "alternating_roll",
    "sobel", "prewitt", "blur", "fade", "fresh", "hue_shift", "posterize", "pixel_sort", "subregions", "chain",
}
DOCS = Path(__file__).resolve().parents[1] / "docs" / "transforms.md"


@pytest.fixture(scope="module")
def registry():
    return PluginHost(entry_points=False).transforms


def make_ctx(registry, index=0, seed=0):
    return FrameContext(index=index, total=10, rng=np.random.default_rng(seed), transforms=registry)


def random_image(h=12, w=16, seed=1):
    return np.random.default_rng(seed).random((h, w, 3), dtype=np.float32)


def apply(registry, name, image, index=0, seed=0, **params):
    component = registry[name]
    return component(image, make_ctx(registry, index, seed), **component.bind(params))


# -- registration and contract ---------------------------------------------------------


def test_every_transform_is_registered_with_documented_parameters(registry):
    assert set(registry) == EXPECTED
    for name, component in registry.items():
        assert component.source == "built-in"
        assert component.summary, f"{name} has no summary line"
        body = component.doc
        for param in component.params:
            assert param in body, f"{name}: parameter '{param}' is not documented"
        for param in component.params.values():
            assert not param.required, f"{name}.{param.name} needs a default"


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("index", [0, 1])
def test_transform_keeps_shape_dtype_and_range(registry, name, index):
    image = random_image(13, 17)
    before = image.copy()
    out = apply(registry, name, image, index=index)
    assert out.shape == image.shape
    assert out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    np.testing.assert_array_equal(image, before)  # input untouched


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_transform_is_deterministic_for_a_seed(registry, name):
    image = random_image()
    a = apply(registry, name, image, index=3, seed=7)
    b = apply(registry, name, image, index=3, seed=7)
    np.testing.assert_array_equal(a, b)


# -- geometry --------------------------------------------------------------------------


def test_zoom_zero_is_identity_and_zoom_magnifies_the_centre(registry):
    image = random_image()
    np.testing.assert_array_equal(apply(registry, "zoom", image, scale=0.0), image)
    square = np.zeros((21, 21, 3), np.float32)
    square[8:13, 8:13] = 1.0  # 5x5 white square in the middle
    zoomed = apply(registry, "zoom", square, scale=0.5, order=0)
    assert (zoomed[..., 0] > 0.5).sum() > 2.5 * 25  # about twice as wide, four times the area
    assert zoomed[10, 10, 0] == 1.0 and zoomed[0, 0, 0] == 0.0


def test_zoom_out_uses_reflect_not_black_borders(registry):
    image = np.full((10, 10, 3), 0.7, np.float32)
    out = apply(registry, "zoom", image, scale=-0.5)
    np.testing.assert_allclose(out, 0.7, atol=1e-6)
    black = apply(registry, "zoom", image, scale=-0.5, boundary="black")
    assert black[0, 0, 0] == 0.0


def test_vertical_stretch_leaves_horizontal_structure_alone(registry):
    ramp = np.broadcast_to(np.linspace(0, 1, 16, dtype=np.float32)[None, :, None], (12, 16, 3)).copy()
    np.testing.assert_allclose(apply(registry, "stretch", ramp, scale=0.2, direction="vertical"), ramp, atol=1e-6)
    assert not np.allclose(apply(registry, "stretch", ramp, scale=0.2, direction="horizontal"), ramp, atol=1e-3)


def test_rotate_zero_and_360_are_identity_and_90_is_rot90(registry):
    image = random_image(9, 9)
    np.testing.assert_array_equal(apply(registry, "rotate", image, angle=0), image)
    np.testing.assert_allclose(apply(registry, "rotate", image, angle=360), image, atol=1e-6)
    np.testing.assert_allclose(apply(registry, "rotate", image, angle=90), np.rot90(image), atol=1e-5)
    np.testing.assert_allclose(apply(registry, "rotate", image, angle=-90), np.rot90(image, -1), atol=1e-5)


def test_affine_identity_translation_and_matrix_forms(registry):
    image = random_image()
    identity = [[1.0, 0.0], [0.0, 1.0]]
    np.testing.assert_array_equal(apply(registry, "affine", image, matrix=identity), image)
    shifted = apply(registry, "affine", image, matrix=identity, offset=[1, 0], boundary="wrap")
    np.testing.assert_allclose(shifted, np.roll(image, -1, axis=0), atol=1e-6)  # samples one row below
    via_column = apply(registry, "affine", image, matrix=[[1, 0, 1], [0, 1, 0]], boundary="wrap")
    np.testing.assert_allclose(via_column, shifted, atol=1e-6)
    zoom = apply(registry, "zoom", image, scale=0.1)
    np.testing.assert_allclose(apply(registry, "affine", image, matrix=[[0.9, 0], [0, 0.9]]), zoom, atol=1e-6)


# -- rolls -----------------------------------------------------------------------------


def _same_multiset_per(axis_lines, a, b):
    np.testing.assert_array_equal(np.sort(a, axis=axis_lines), np.sort(b, axis=axis_lines))


@pytest.mark.parametrize("function", ["constant", "linear", "sine", "random"])
def test_roll_keeps_every_pixel_of_each_column_or_row(registry, function):
    image = random_image()
    vertical = apply(registry, "roll", image, function=function, direction="vertical", amplitude=5, offset=3)
    _same_multiset_per(0, vertical, image)
    assert not np.array_equal(vertical, image)
    horizontal = apply(registry, "roll", image, function=function, direction="horizontal", amplitude=5, offset=3)
    _same_multiset_per(1, horizontal, image)


def test_roll_constant_matches_np_roll_and_linear_shears(registry):
    image = random_image()
    np.testing.assert_array_equal(apply(registry, "roll", image, function="constant", offset=2), np.roll(image, 2, axis=0))
    np.testing.assert_array_equal(
        apply(registry, "roll", image, function="constant", offset=-3, direction="horizontal"), np.roll(image, -3, axis=1)
    )
    sheared = apply(registry, "roll", image, function="linear", slope=1.0)
    for col in range(image.shape[1]):
        np.testing.assert_array_equal(sheared[:, col], np.roll(image[:, col], col, axis=0))


def test_roll_group_and_every(registry):
    image = random_image(8, 8)
    out = apply(registry, "roll", image, function="constant", offset=1, group=2, every=2)
    moved = np.roll(image, 1, axis=0)
    for col in range(8):
        expected = moved if (col // 2) % 2 == 0 else image
        np.testing.assert_array_equal(out[:, col], expected[:, col])


def test_roll_drift_moves_the_pattern_with_the_frame_index(registry):
    image = random_image(16, 32)
    kwargs = dict(function="sine", amplitude=4, period=16)
    later = apply(registry, "roll", image, index=2, drift=4, **kwargs)
    # 4 columns per frame, at frame 2: the wave moved 8 columns, half a period (phase -180 degrees)
    shifted_phase = apply(registry, "roll", image, index=0, phase=-180, **kwargs)
    np.testing.assert_array_equal(later, shifted_phase)
    assert not np.array_equal(later, apply(registry, "roll", image, index=0, **kwargs))


def test_stochastic_shift_bounds_and_multiset(registry):
    image = random_image()
    out = apply(registry, "stochastic_shift", image, lower=-3, upper=3)
    _same_multiset_per(0, out, image)
    np.testing.assert_array_equal(apply(registry, "stochastic_shift", image, lower=2, upper=2), np.roll(image, 2, axis=0))
    np.testing.assert_array_equal(apply(registry, "stochastic_shift", image, lower=0, upper=0), image)
    grouped = apply(registry, "stochastic_shift", image, lower=-4, upper=4, group=4, seed=3)
    for start in range(0, 16, 4):  # the four columns of a group moved alike
        block = grouped[:, start:start + 4]
        shifts = [next(s for s in range(12) if np.array_equal(np.roll(image[:, c], s, axis=0), block[:, c - start]))
                  for c in range(start, start + 4)]
        assert len(set(shifts)) == 1


def test_alternating_roll_switches_direction(registry):
    image = random_image()
    kwargs = dict(function="constant", offset=2)
    np.testing.assert_array_equal(apply(registry, "alternating_roll", image, index=0, **kwargs), np.roll(image, 2, axis=1))
    np.testing.assert_array_equal(apply(registry, "alternating_roll", image, index=1, **kwargs), np.roll(image, 2, axis=0))
    np.testing.assert_array_equal(
        apply(registry, "alternating_roll", image, index=1, frames=2, **kwargs), np.roll(image, 2, axis=1)
    )
    np.testing.assert_array_equal(
        apply(registry, "alternating_roll", image, index=0, first="vertical", **kwargs), np.roll(image, 2, axis=0)
    )


# -- shift functions -----------------------------------------------------------------------


def test_sine_shift_values_at_known_points():
    x = np.array([0.0, 16.0, 32.0, 48.0, 64.0])
    np.testing.assert_allclose(sine_shift(x, amplitude=2, period=64), [0, 2, 0, -2, 0], atol=1e-12)
    np.testing.assert_allclose(sine_shift(x[:1], amplitude=3, period=64, phase=90), [3], atol=1e-12)
    np.testing.assert_allclose(linear_shift(np.array([0.0, 15.0, 30.0]), slope=1 / 15), [0, 1, 2])


def test_random_shift_bounds_and_even_scale():
    rng = np.random.default_rng(0)
    draws = random_shift(np.arange(2000.0), rng=rng, lower=0, upper=5)
    assert draws.min() == 0 and draws.max() == 5 and np.all(draws == np.round(draws))
    wide = random_shift(np.arange(2000.0), rng=rng, lower=-2, upper=2, even_scale=2)
    assert np.abs(wide[0::2]).max() == 4 and np.abs(wide[1::2]).max() == 2


def test_shift_function_errors():
    with pytest.raises(NeuralgaeError, match="did you mean 'sine'"):
        shift_amounts("sin", np.arange(3.0), rng=np.random.default_rng(0))
    with pytest.raises(NeuralgaeError, match="period > 0"):
        sine_shift(np.arange(3.0), amplitude=1, period=0)
    with pytest.raises(NeuralgaeError, match="lower <= upper"):
        random_shift(np.arange(3.0), rng=np.random.default_rng(0), lower=3, upper=1)


# -- filters and colour -----------------------------------------------------------------


def test_blur_keeps_a_constant_image_and_sigma_zero_is_identity(registry):
    constant = np.full((10, 12, 3), 0.3, np.float32)
    np.testing.assert_allclose(apply(registry, "blur", constant, sigma=2.0), constant, atol=1e-6)
    image = random_image()
    np.testing.assert_array_equal(apply(registry, "blur", image, sigma=0.0), image)
    assert apply(registry, "blur", image, sigma=2.0).std() < image.std()


def test_fade_lowers_contrast_and_saturation_around_the_mean_colour(registry):
    image = random_image()
    np.testing.assert_allclose(apply(registry, "fade", image, contrast=1.0, saturation=1.0), image, atol=1e-6)
    faded = apply(registry, "fade", image, contrast=0.5, saturation=1.0)
    np.testing.assert_allclose(faded.mean(axis=(0, 1)), image.mean(axis=(0, 1)), atol=1e-5)
    np.testing.assert_allclose(faded.std(axis=(0, 1)), 0.5 * image.std(axis=(0, 1)), rtol=1e-4)
    grey = apply(registry, "fade", image, contrast=1.0, saturation=0.0)
    np.testing.assert_allclose(grey[..., 0], grey[..., 2], atol=1e-6)
    np.testing.assert_allclose(grey.mean(axis=2), image.mean(axis=2), atol=1e-5)
    assert apply(registry, "fade", image, contrast=1.0, saturation=1.0, sigma=2.0).std() < image.std()


def test_fresh_starts_from_new_smooth_noise_keeping_a_trace(registry):
    image = random_image()
    clean = apply(registry, "fresh", image)
    assert abs(float(clean.mean()) - 0.5) < 0.05 and clean.std() < 0.2
    assert abs(np.corrcoef(clean.ravel(), image.ravel())[0, 1]) < 0.1
    traced = apply(registry, "fresh", image, keep=0.5)
    assert np.corrcoef(traced.ravel(), image.ravel())[0, 1] > 0.5
    np.testing.assert_allclose(apply(registry, "fresh", image, keep=1.0), image, atol=1e-6)


@pytest.mark.parametrize("name", ["sobel", "prewitt"])
def test_edges_of_a_constant_image_are_zero_and_a_step_is_one(registry, name):
    constant = np.full((10, 12, 3), 0.6, np.float32)
    np.testing.assert_allclose(apply(registry, name, constant, mix=1.0), 0.0, atol=1e-6)
    np.testing.assert_allclose(apply(registry, name, constant, mix=1.0, colour=True), 0.0, atol=1e-6)
    np.testing.assert_allclose(apply(registry, name, constant), 0.3, atol=1e-6)  # default mix 0.5: half the frame
    step = np.zeros((10, 12, 3), np.float32)
    step[:, 6:] = 1.0
    edges = apply(registry, name, step, mix=1.0, gain=1.0)
    np.testing.assert_allclose(edges[:, 5:7], 1.0, atol=1e-6)
    np.testing.assert_allclose(edges[:, :4], 0.0, atol=1e-6)
    np.testing.assert_allclose(apply(registry, name, step, mix=0.25, gain=1.0), 0.75 * step + 0.25 * edges, atol=1e-6)
    np.testing.assert_array_equal(apply(registry, name, step, mix=0.0), step)


def test_hue_shift(registry):
    image = random_image()
    np.testing.assert_allclose(apply(registry, "hue_shift", image, degrees=360), image, atol=1e-5)
    red = np.zeros((2, 2, 3), np.float32)
    red[..., 0] = 1.0
    green = apply(registry, "hue_shift", red, degrees=120)
    np.testing.assert_allclose(green, np.broadcast_to([0, 1, 0], red.shape), atol=1e-6)
    grey = apply(registry, "hue_shift", image, degrees=0, saturation=0)
    np.testing.assert_allclose(grey[..., 0], grey[..., 1], atol=1e-6)


def test_posterize_keeps_only_the_levels(registry):
    out = apply(registry, "posterize", random_image(), levels=3)
    assert set(np.unique(np.round(out * 2, 5))) <= {0.0, 1.0, 2.0}


def test_pixel_sort_keeps_each_row_and_sorts_runs(registry):
    image = random_image(6, 40)
    out = apply(registry, "pixel_sort", image, lower=0.0, upper=1.0)
    np.testing.assert_array_equal(np.sort(out.reshape(-1, 3), axis=0), np.sort(image.reshape(-1, 3), axis=0))
    brightness = out @ np.array([0.299, 0.587, 0.114], np.float32)
    assert np.all(np.diff(brightness, axis=1) >= -1e-7)  # every row fully sorted
    for r in range(6):  # same pixels in each row (as RGB triples)
        assert sorted(map(tuple, out[r])) == sorted(map(tuple, image[r]))

    thresholded = apply(registry, "pixel_sort", image, lower=0.3, upper=0.7)
    key = image @ np.array([0.299, 0.587, 0.114], np.float32)
    outside = (key < 0.3) | (key > 0.7)
    np.testing.assert_array_equal(thresholded[outside], image[outside])
    for r in range(6):
        assert sorted(map(tuple, thresholded[r])) == sorted(map(tuple, image[r]))

    vertical = apply(registry, "pixel_sort", image, direction="vertical", lower=0.0, upper=1.0, reverse=True)
    vb = vertical @ np.array([0.299, 0.587, 0.114], np.float32)
    assert np.all(np.diff(vb, axis=0) <= 1e-7)
    np.testing.assert_array_equal(apply(registry, "pixel_sort", image, fraction=0.0), image)


def test_sort_runs_leaves_pixels_outside_the_mask():
    values = np.array([[[5.0], [4.0], [3.0], [9.0], [2.0], [1.0]]])
    keys = values[..., 0]
    mask = np.array([[True, True, True, False, True, True]])
    out = T.sort_runs(values, keys, mask)
    assert out[..., 0].tolist() == [[3.0, 4.0, 5.0, 9.0, 1.0, 2.0]]


# -- composites ----------------------------------------------------------------------------


def test_subregions_with_identity_transforms_is_identity(registry):
    image = random_image()
    steps = [{"name": "zoom", "scale": 0.0}, {"name": "rotate", "angle": 0}]
    np.testing.assert_array_equal(apply(registry, "subregions", image, rows=3, columns=2, transforms=steps), image)


def test_subregions_transform_each_tile_on_its_own(registry):
    image = random_image(8, 16)
    steps = [{"name": "rotate", "angle": 0}, {"name": "roll", "function": "constant", "offset": 1}]
    out = apply(registry, "subregions", image, rows=1, columns=2, transforms=steps)
    np.testing.assert_array_equal(out[:, :8], image[:, :8])
    np.testing.assert_array_equal(out[:, 8:], np.roll(image[:, 8:], 1, axis=0))


def test_chain_applies_in_order(registry):
    image = random_image()
    steps = [{"name": "zoom", "scale": 0.2}, {"name": "roll", "function": "linear", "slope": 1.0}]
    by_hand = apply(registry, "roll", apply(registry, "zoom", image, scale=0.2), function="linear", slope=1.0)
    np.testing.assert_array_equal(apply(registry, "chain", image, transforms=steps), by_hand)
    reversed_order = apply(registry, "chain", image, transforms=steps[::-1])
    assert not np.allclose(reversed_order, by_hand)
    np.testing.assert_array_equal(apply(registry, "chain", image, transforms=[]), image)
    nested = [{"name": "chain", "transforms": steps}]
    np.testing.assert_array_equal(apply(registry, "chain", image, transforms=nested), by_hand)


@pytest.mark.parametrize(
    ("name", "steps", "message"),
    [
        ("chain", [{"name": "zom"}], "unknown transform 'zom'; did you mean 'zoom'"),
        ("chain", [{"scale": 0.1}], "step 1 has no 'name'"),
        ("chain", ["zoom"], "must be a table"),
        ("chain", [{"name": "zoom", "scael": 0.1}], "unknown parameter 'scael'; did you mean 'scale'"),
        ("subregions", [{"name": "rotat"}], "did you mean 'rotate'"),
        ("subregions", [], "at least one transform"),
    ],
)
def test_nested_transform_errors(registry, name, steps, message):
    with pytest.raises(NeuralgaeError, match=re.escape(message)):
        apply(registry, name, random_image(), transforms=steps)


def test_validate_steps_checks_before_any_work(registry):
    T.validate_steps([{"name": "zoom", "scale": 0.1}], registry, where="spec transforms")
    with pytest.raises(NeuralgaeError, match="spec transforms step 2"):
        T.validate_steps([{"name": "zoom"}, {"name": "nope"}], registry, where="spec transforms")


def test_composites_need_the_registry():
    ctx = FrameContext(index=0, total=1, rng=np.random.default_rng(0))
    with pytest.raises(NeuralgaeError, match="no transform registry"):
        T.chain(random_image(), ctx, transforms=[{"name": "zoom"}])


# -- parameter validation -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("zoom", {"scale": 1.0}, "transform 'zoom': parameter 'scale' must be < 1; got 1.0"),
        ("zoom", {"order": 7}, "transform 'zoom': parameter 'order'"),
        ("stretch", {"scale": 1.5}, "transform 'stretch': parameter 'scale'"),
        ("roll", {"function": "sine", "period": 0}, "transform 'roll': parameter 'period' must be > 0"),
        ("roll", {"function": "random", "lower": 4, "upper": 1}, "transform 'roll': parameters 'lower' (4) and 'upper' (1)"),
        ("roll", {"group": 0}, "transform 'roll': parameter 'group'"),
        ("roll", {"every": 0}, "transform 'roll': parameter 'every'"),
        ("stochastic_shift", {"lower": 5, "upper": -5}, "transform 'stochastic_shift': parameters 'lower'"),
        ("alternating_roll", {"frames": 0}, "transform 'alternating_roll': parameter 'frames'"),
        ("affine", {"matrix": [[1.0, 0.0, 0.0, 1.0]]}, "transform 'affine': parameter 'matrix' must have shape 2x2 or 2x3; got 1x4"),
        ("affine", {"offset": [1.0]}, "transform 'affine': parameter 'offset'"),
        ("sobel", {"mix": 1.5}, "transform 'sobel': parameter 'mix'"),
        ("prewitt", {"gain": 0.0}, "transform 'prewitt': parameter 'gain' must be > 0"),
        ("blur", {"sigma": -1.0}, "transform 'blur': parameter 'sigma' must be >= 0"),
        ("fade", {"contrast": 1.5}, "transform 'fade': parameter 'contrast' must be from 0 to 1; got 1.5"),
        ("fade", {"saturation": -0.1}, "transform 'fade': parameter 'saturation'"),
        ("hue_shift", {"saturation": -1.0}, "transform 'hue_shift': parameter 'saturation'"),
        ("posterize", {"levels": 1}, "transform 'posterize': parameter 'levels'"),
        ("pixel_sort", {"lower": 0.9, "upper": 0.1}, "transform 'pixel_sort': parameters 'lower' and 'upper' must satisfy lower <= upper"),
        ("subregions", {"rows": 100}, "transform 'subregions': parameter 'rows'"),
    ],
)
def test_bad_parameters_raise_clear_errors(registry, name, params, message):
    with pytest.raises(NeuralgaeError, match=re.escape(message)):
        apply(registry, name, random_image(), **params)


def test_choices_are_checked_when_binding_and_when_called_directly(registry):
    with pytest.raises(NeuralgaeError, match="did you mean 'vertical'"):
        registry["stretch"].bind({"direction": "vertcal"})
    with pytest.raises(NeuralgaeError, match="transform 'zoom': parameter 'boundary'.*did you mean 'reflect'"):
        T.zoom(random_image(), make_ctx(registry), boundary="reflec")


def test_docs_describe_every_transform_and_parameter(registry):
    text = DOCS.read_text(encoding="utf-8")
    for name, component in registry.items():
        section = re.search(rf"^### `{name}`\n(.*?)(?=^##|\Z)", text, flags=re.S | re.M)
        assert section, f"docs/transforms.md has no section '### `{name}`'"
        for param in component.params:
            assert f"`{param}`" in section.group(1), f"docs/transforms.md: {name} does not document '{param}'"


# -- declared limits (Annotated[..., Range(...)]), checked when the spec loads ---------------

# (transform, parameter, refused values, accepted boundary values)
LIMITS = [
    ("zoom", "scale", [1.0, 1.5], [0.999, -2.0]),
    ("zoom", "order", [-1, 6], [0, 5]),
    ("stretch", "scale", [1.0], [-0.5]),
    ("rotate", "order", [6], [0]),
    ("affine", "order", [9], [5]),
    ("roll", "period", [0.0, -3.0], [0.5]),
    ("roll", "group", [0], [1]),
    ("roll", "every", [0], [1]),
    ("stochastic_shift", "even_scale", [-0.1], [0.0]),
    ("alternating_roll", "frames", [0], [1]),
    ("alternating_roll", "group", [0], [1]),
    ("sobel", "mix", [-0.1, 1.5], [0.0, 1.0]),
    ("sobel", "gain", [0.0], [0.01]),
    ("prewitt", "mix", [1.01], [1.0]),
    ("blur", "sigma", [-1.0], [0.0]),
    ("fade", "contrast", [1.5], [0.0, 1.0]),
    ("fade", "saturation", [-0.1], [0.0, 1.0]),
    ("fade", "sigma", [-1.0], [0.0]),
    ("hue_shift", "saturation", [-1.0], [0.0]),
    ("hue_shift", "value", [-0.5], [0.0]),
    ("posterize", "levels", [1, 257], [2, 256]),
    ("posterize", "mix", [2.0], [0.0, 1.0]),
    ("pixel_sort", "fraction", [2.0, -0.5], [0.0, 1.0]),
    ("pixel_sort", "lower", [-0.1], [0.0]),
    ("pixel_sort", "upper", [1.1], [1.0]),
    ("subregions", "rows", [0], [1]),
    ("subregions", "columns", [0], [1]),
]


@pytest.mark.parametrize(("name", "param", "bad", "good"), LIMITS, ids=[f"{n}-{p}" for n, p, _, _ in LIMITS])
def test_declared_limits_refuse_bad_values_and_accept_the_boundaries(registry, name, param, bad, good):
    component = registry[name]
    assert component.params[param].limits, f"{name}.{param} declares no limits"
    for value in bad:
        with pytest.raises(NeuralgaeError) as info:
            component.bind({param: value})
        message = str(info.value)
        assert "\n" not in message
        assert message.startswith(f"transform '{name}': parameter '{param}' must ") and f"got {value!r}" in message
    for value in good:
        assert component.bind({param: value})[param] == value
        apply(registry, name, random_image(), **{param: value})  # and the boundary renders


def test_affine_shapes_are_declared(registry):
    bind = registry["affine"].bind
    with pytest.raises(NeuralgaeError, match=r"parameter 'matrix' must have shape 2x2 or 2x3; got 3x2"):
        bind({"matrix": [[1, 0], [0, 1], [0, 0]]})
    with pytest.raises(NeuralgaeError, match=r"parameter 'matrix' must have shape 2x2 or 2x3; got a ragged list"):
        bind({"matrix": [[1, 0], [0]]})
    with pytest.raises(NeuralgaeError, match=r"parameter 'offset' must have shape 2; got 3"):
        bind({"offset": [1, 2, 3]})
    assert bind({"matrix": [[1, 0, 2], [0, 1, 0]]})["matrix"] == [[1.0, 0.0, 2.0], [0.0, 1.0, 0.0]]


@pytest.mark.parametrize(
    ("name", "param", "value"),
    [("rotate", "angle", float("nan")), ("hue_shift", "degrees", float("inf")), ("zoom", "scale", float("-inf")),
     ("affine", "matrix", [[1.0, float("nan")], [0.0, 1.0]]), ("roll", "drift", float("nan"))],
)
def test_every_float_is_finite_by_default(registry, name, param, value):
    with pytest.raises(NeuralgaeError) as info:
        registry[name].bind({param: value})
    message = str(info.value)
    assert "\n" not in message and f"transform '{name}': parameter '{param}' must be a finite number; got " in message


def _spec(tmp_path, transforms_toml: str):
    from neuralgae.core.runs.spec import load_spec

    path = tmp_path / "spec.toml"
    path.write_text('[source]\nnoise = "32x32"\n[renderer]\nname = "dream"\n' + transforms_toml, encoding="utf-8")
    return load_spec(path, host=PluginHost(entry_points=False), out=tmp_path / "out")


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[[transforms]]\nname = "blur"\nsigma = -1\n', "transforms[0] (blur): parameter 'sigma' must be >= 0; got -1.0"),
        ('[[transforms]]\nname = "posterize"\nlevels = 1\n', "parameter 'levels' must be from 2 to 256; got 1"),
        ('[[transforms]]\nname = "roll"\ngroup = 0\n', "parameter 'group' must be >= 1; got 0"),
        ('[[transforms]]\nname = "pixel_sort"\nfraction = 2\n', "parameter 'fraction' must be from 0 to 1; got 2.0"),
        ('[[transforms]]\nname = "affine"\nmatrix = [[1, 0, 0, 1]]\n', "parameter 'matrix' must have shape 2x2 or 2x3; got 1x4"),
        ('[[transforms]]\nname = "blur"\nsigma = inf\n', "parameter 'sigma' must be a finite number; got inf"),
        ('[[transforms]]\nname = "rotate"\nangle = nan\n', "parameter 'angle' must be a finite number; got nan"),
        # two levels deep: chain -> subregions -> blur, and chain -> chain -> zoom
        (
            '[[transforms]]\nname = "chain"\ntransforms = [{name = "subregions", transforms = [{name = "blur", sigma = -1}]}]\n',
            "transforms[0] (chain): parameter 'transforms' step 1 ('subregions'): parameter 'transforms' step 1 ('blur'): "
            "parameter 'sigma' must be >= 0; got -1.0",
        ),
        (
            '[[transforms]]\nname = "chain"\ntransforms = [{name = "chain", transforms = [{name = "zoom", scale = nan}]}]\n',
            "step 1 ('chain'): parameter 'transforms' step 1 ('zoom'): parameter 'scale' must be a finite number; got nan",
        ),
        (
            '[[transforms]]\nname = "chain"\ntransforms = [{name = "chain", transforms = [{name = "blur", sigma = { keys = [[0, 1], [9, -3]] }}]}]\n',
            "step 1 ('chain'): parameter 'transforms' step 1 ('blur'): parameter 'sigma' must be >= 0; got -3.0",
        ),
        (
            '[[transforms]]\nname = "blur"\nsigma = { keys = [[0, 1], [10, -2]] }\n',
            "transforms[0] (blur): parameter 'sigma' must be >= 0; got -2.0",
        ),
        (
            '[[transforms]]\nname = "posterize"\nlevels = { keys = [[0, 4], [10, 300]] }\n',
            "parameter 'levels' must be from 2 to 256; got 300",
        ),
    ],
)
def test_limits_are_checked_when_the_spec_loads(tmp_path, toml, message):
    with pytest.raises(NeuralgaeError) as info:
        _spec(tmp_path, toml)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_boundary_values_and_good_nested_steps_load(tmp_path):
    spec = _spec(
        tmp_path,
        '[[transforms]]\nname = "blur"\nsigma = 0\n[[transforms]]\nname = "posterize"\nlevels = 256\n'
        '[[transforms]]\nname = "chain"\ntransforms = [{name = "subregions", transforms = [{name = "blur", sigma = 0}]}]\n'
        '[[transforms]]\nname = "pixel_sort"\nfraction = { keys = [[0, 0], [10, 1]] }\n'
        '[[transforms]]\nname = "chain"\ntransforms = [{name = "zoom", scale = { keys = [[0, 0], [9, 0.999]] }}]\n',
    )
    assert len(spec.transforms) == 5


def test_params_describe_their_limits(registry):
    assert registry["blur"].params["sigma"].describe() == "sigma: float [>= 0] (default 1.0)"
    assert registry["posterize"].params["levels"].describe() == "levels: int [from 2 to 256] (default 6)"
    assert "[< 1]" in registry["zoom"].params["scale"].describe()
    assert "[shape 2x2 or 2x3]" in registry["affine"].params["matrix"].describe()
    assert "[steps checked when the spec loads]" in registry["chain"].params["transforms"].describe()


def test_docs_list_every_declared_limit(registry):
    text = DOCS.read_text(encoding="utf-8")
    for name, component in registry.items():
        section = re.search(rf"^### `{name}`\n(.*?)(?=^##|\Z)", text, flags=re.S | re.M).group(1)
        for param in component.params.values():
            if param.limits_text():
                row = re.search(rf"^\| `{param.name}` \|.*$", section, flags=re.M)
                if row:  # (alternating_roll documents the shift numbers as "as roll")
                    assert f"Limits: {param.limits_text()}." in row.group(0), f"docs/transforms.md: {name}.{param.name}"
