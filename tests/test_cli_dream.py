"""`nd dream`, `nd classify`, `nd layers` through the real `nd` app."""

import numpy as np
import pytest
from typer.testing import CliRunner

from neuralgae.core.media.images import load_image, read_metadata, save_image
from neuralgae_cli.main import app

runner = CliRunner()


@pytest.fixture(scope="module")
def cat_file(tmp_path_factory, chelsea):
    from neuralgae.core.media.images import resize

    path = tmp_path_factory.mktemp("in") / "cat.png"
    save_image(path, resize(chelsea, 80, 120))
    return path


def nd(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_dream_writes_an_image_with_its_recipe(cat_file, tmp_path):
    out = tmp_path / "dream.png"
    result = nd("dream", cat_file, "-o", out, "--octaves", 2, "--steps", 2, "--layers", "block6", "--seed", 3)
    assert result.exit_code == 0, result.output
    assert load_image(out).shape == (80, 120, 3)
    meta = read_metadata(out)
    assert meta["seed"] == 3 and meta["params"]["layers"] == "block6" and meta["params"]["steps"] == 2


def test_dream_from_noise_with_original_colours(tmp_path):
    out = tmp_path / "noise.png"
    result = nd("dream", "noise:64x48", "-o", out, "--octaves", 1, "--steps", 2, "--original-colors")
    assert result.exit_code == 0, result.output
    assert load_image(out).shape == (48, 64, 3)


def test_same_seed_same_dream(cat_file, tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    for out in (a, b):
        assert nd("dream", cat_file, "-o", out, "--octaves", 1, "--steps", 2, "--seed", 7).exit_code == 0
    np.testing.assert_array_equal(load_image(a), load_image(b))


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.png"], "does not exist"),
        (["{cat}", "--layers", "block99"], "no layer 'block99'"),
        (["{cat}", "--layers", "block8:5000"], "channel 5000 does not exist"),
        (["noise:8x8"], "too small"),
        (["noise:big"], "cannot read noise size"),
        (["noise:40000x40000"], "the largest side allowed is 16384 pixels (set ND_MAX_SIDE to lift the limit)"),
        (["{cat}", "--layers", "block10 " * 2000], "the layer list is 16,000 characters long; the limit is 10,000"),
        (["{cat}", "--octave-scale", "0.5"], "octave_scale"),
        (["{cat}", "--step-size", "-1"], "step_size"),
        (["{cat}", "--tiling", "sometimes"], "tiling"),
        (["{cat}", "--guide", "nothere.png"], "does not exist"),
    ],
)
def test_dream_errors_are_one_line_and_write_nothing(cat_file, tmp_path, args, message):
    out = tmp_path / "out.png"
    args = [str(cat_file) if a == "{cat}" else a for a in args]
    result = nd("dream", *args, "-o", out, "--steps", 1, "--octaves", 1)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not out.exists()


def test_dream_refuses_unknown_output_type(cat_file, tmp_path):
    result = nd("dream", cat_file, "-o", tmp_path / "x.gif")
    assert result.exit_code == 1 and "unknown image type" in result.output


def test_classify_lists_ranked_classes(cat_file):
    result = nd("classify", cat_file, "--top", 3)
    assert result.exit_code == 0, result.output
    assert "cat" in result.output or "tabby" in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 4  # header + 3


def test_classify_errors(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_text("nope")
    assert "cannot read image" in nd("classify", bad).output
    assert nd("classify", bad, "--top", 0).exit_code == 1


def test_layers_lists_every_layer():
    result = nd("layers")
    assert result.exit_code == 0
    for name in ("stem", "block0", "block10", "block15", "head", "logits"):
        assert name in result.output


def test_dream_command_defaults_are_the_engine_defaults():
    """The CLI spells its defaults out (so `nd --help` needs no torch import); they must not drift."""
    import inspect

    from neuralgae.core.optvis.dream import DreamSettings
    from neuralgae_cli.dream import dream_command

    params = inspect.signature(dream_command).parameters
    for name, value in DreamSettings().as_dict().items():
        assert params[name].default == value, name
