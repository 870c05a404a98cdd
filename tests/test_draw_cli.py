"""`nd draw` and `nd classes` through typer's CliRunner."""

from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from neuralgae.core.media.images import read_metadata
from neuralgae_cli.draw import register

runner = CliRunner()


@pytest.fixture(scope="module")
def app():
    a = typer.Typer()
    register(a)
    return a


@pytest.mark.parametrize("args,words", [
    (["--classes", "goldfsh"], "did you mean 'goldfish'"),
    (["--classes", "goldfish", "--size", "big"], "cannot read size 'big'"),
    (["--classes", "goldfish", "--size", "10x10"], "too small"),
    (["--classes", "goldfish", "--size", "40000x40000"], "the largest side allowed is 16384 pixels (set ND_MAX_SIDE to lift the limit)"),
    (["--classes", "goldfish", "--steps", "1000000000"], "steps must be at most 100,000"),
    (["--classes", "goldfish, volcano", "--aim", "top"], "1 region for 2 classes"),
    (["--classes", "goldfish, volcano", "--aim", "top,middle"], "unknown aim region 'middle'"),
    (["--classes", "goldfish", "--preset", "deepdrow"], "did you mean 'deepdraw'"),
    (["--classes", "goldfish", "--focus", "2,0.5"], "outside the canvas"),
    (["--classes", "goldfish", "--steps", "0"], "steps must be at least 1"),
    (["--classes", "goldfish", "--image", "no/such.png"], "does not exist"),
    (["--classes", "goldfish", "--best-of", "0"], "best-of must be a whole number from 1 to 64"),
    (["--classes", "goldfish", "--best-of", "2", "--judge", "efficientnet-lite0"], "drew too"),
    (["--classes", "goldfish", "--judge", "efficientnet-lite1"], "add e.g. --best-of 4"),
    (["--classes", "goldfish", "--best-of", "2", "--judge", "no-such-net"], "judge 'no-such-net' is not installed"),
])
def test_user_errors_are_one_line_and_write_nothing(app, tmp_path, args, words):
    out = tmp_path / "out.png"
    result = runner.invoke(app, ["draw", *args, "-o", str(out)])
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert words in message
    assert "Traceback" not in result.output
    assert not out.exists()


def test_bad_output_type(app, tmp_path):
    result = runner.invoke(app, ["draw", "--classes", "goldfish", "-o", str(tmp_path / "out.xyz")])
    assert result.exit_code == 1 and "unknown image type" in result.output


def test_draw_writes_a_reproducible_png(app, tmp_path):
    out = tmp_path / "fish.png"
    args = ["draw", "--classes", "goldfish:1, volcano:0.5", "--size", "64x48", "--steps", "3", "--seed", "7", "--aim", "top,bottom"]
    result = runner.invoke(app, [*args, "-o", str(out)])
    assert result.exit_code == 0, result.output
    meta = read_metadata(out)
    assert meta["seed"] == 7 and meta["size"] == "64x48" and meta["aim"] == "top,bottom"
    assert meta["classes"] == ["goldfish:1", "volcano:0.5"]
    assert meta["settings"]["octaves"] and meta["steps"] == 3
    again = tmp_path / "again.png"
    assert runner.invoke(app, [*args, "-o", str(again)]).exit_code == 0
    from neuralgae.core.media.images import load_image

    assert np.array_equal(load_image(out), load_image(again))


def test_classes_lists_and_searches(app):
    result = runner.invoke(app, ["classes", "shark"])
    assert result.exit_code == 0
    assert "great white shark" in result.output and "goldfish" not in result.output
    everything = runner.invoke(app, ["classes"])
    assert "goldfish" in everything.output and "toilet tissue" in everything.output


def test_classes_search_without_match(app):
    result = runner.invoke(app, ["classes", "zzzzqq"])
    assert result.exit_code == 1 and "no class name contains" in result.output


@pytest.mark.parametrize("where, words", [
    ("afile/out.png", "is a file, not a folder; choose another place with -o"),
    ("/proc/nd/out.png", "is in /proc, which holds no files"),
])
def test_unusable_output_places_are_refused_before_drawing(app, tmp_path, where, words):
    (tmp_path / "afile").write_text("x")
    out = tmp_path / where if not where.startswith("/") else Path(where)
    result = runner.invoke(app, ["draw", "--classes", "goldfish", "--steps", "1", "-o", str(out)])
    assert result.exit_code == 1
    assert words in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_best_of_keeps_the_judged_best_and_records_it(app, tmp_path):
    out = tmp_path / "best.png"
    result = runner.invoke(app, ["draw", "--classes", "goldfish", "--size", "64x64", "--steps", "4", "--seed", "3",
                                 "--best-of", "3", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "candidate" in result.output and "of 3 by efficientnet-lite1" in result.output
    meta = read_metadata(out)
    assert meta["best_of"] == 3 and meta["judge"] == "efficientnet-lite1"
    assert meta["judge_score"] == max(meta["judge_scores"]) and len(meta["judge_scores"]) == 3
    assert meta["judge_scores"][meta["best_of_index"]] == meta["judge_score"]
