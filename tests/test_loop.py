"""Seamless loops: the seam measure, the dissolve plan, and the seam of real GIF/MP4 files (`nd gif --seamless`, output.seamless)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import typer
from scipy import ndimage
from typer.testing import CliRunner

from neuralgae.core.host.errors import NeuralgaeError
from neuralgae.core.media.images import save_image
from neuralgae.core.runs.loop import SEAM_LIMIT, frame_change, loop_items, plan_seamless, seam_ratio
from neuralgae.core.media.movie import read_animation, write_animation
from neuralgae.core.runs.pipeline import run_spec
from neuralgae.core.runs.spec import load_spec
from neuralgae_cli.gif import register
from test_plugins_fakes import fake_host


def drifting(count: int = 24, side: int = 48, speed: int = 2, seed: int = 0) -> list[np.ndarray]:
    """Smooth noise sliding ``speed`` pixels a frame: small steps, and a big jump from the last frame to the first."""
    rng = np.random.default_rng(seed)
    field = ndimage.gaussian_filter(rng.random((side, side + speed * count, 3)), sigma=(3, 3, 0))
    field = (field - field.min()) / (field.max() - field.min())
    return [field[:, speed * i : speed * i + side].astype(np.float32) for i in range(count)]


def test_frame_change_and_seam_ratio():
    a = np.zeros((4, 4, 3), np.float32)
    assert frame_change(a, a + 0.25) == pytest.approx(0.25)
    assert frame_change(np.zeros((2, 2, 3), np.uint8), np.full((2, 2, 3), 255, np.uint8)) == pytest.approx(1.0)
    assert seam_ratio([a, a, a]) == 1.0
    ramp = [a + 0.1 * i for i in range(5)]
    assert seam_ratio(ramp) == pytest.approx(4.0)  # the wrap undoes four steps at once


def test_the_dissolve_plays_each_frame_once_then_mixes_the_end_into_the_start():
    assert loop_items(10, 3) == (
        (3, 3, 0.0), (4, 4, 0.0), (5, 5, 0.0), (6, 6, 0.0), (7, 0, 0.25), (8, 1, 0.5), (9, 2, 0.75),
    )
    assert loop_items(4, 0) == ((0, 0, 0.0), (1, 1, 0.0), (2, 2, 0.0), (3, 3, 0.0))


def test_a_drifting_loop_jumps_and_the_plan_removes_the_jump():
    frames = drifting()
    plan = plan_seamless(frames)
    assert plan.before > 1.5 * SEAM_LIMIT  # the raw loop jumps: the test would fail without the dissolve
    assert 0 < plan.overlap <= (len(frames) - 1) // 2
    assert plan.after <= SEAM_LIMIT
    from neuralgae.core.runs.loop import mix

    assert seam_ratio([mix(frames, item) for item in plan.items]) == pytest.approx(plan.after)


def test_a_loop_that_is_seamless_already_is_left_alone():
    base = drifting(1, side=48)[0]
    frames = [np.roll(base, 4 * i, axis=1) for i in range(12)]  # 12 x 4 px = the whole width: it wraps exactly
    plan = plan_seamless(frames)
    assert plan.overlap == 0 and plan.before <= SEAM_LIMIT and len(plan.items) == 12


@pytest.mark.parametrize("suffix", [".gif", ".mp4"])
def test_the_written_file_loops_without_a_seam(tmp_path, suffix):
    frames = drifting(count=20, side=64)
    out = write_animation(frames, tmp_path / f"loop{suffix}", fps=10, seamless=True)
    played = [f.astype(np.float32) / 255 for f in read_animation(out)]
    assert seam_ratio(played) <= SEAM_LIMIT
    assert len(played) < len(frames)
    plain = write_animation(frames, tmp_path / f"plain{suffix}", fps=10)
    assert seam_ratio([f.astype(np.float32) / 255 for f in read_animation(plain)]) > 1.5 * SEAM_LIMIT


def test_seamless_and_pingpong_contradict(tmp_path):
    with pytest.raises(NeuralgaeError, match="seamless and pingpong both make the animation loop"):
        write_animation(drifting(6), tmp_path / "x.gif", seamless=True, pingpong=True)
    assert not (tmp_path / "x.gif").exists()
    with pytest.raises(NeuralgaeError, match="at least 3 frames"):
        write_animation(drifting(2), tmp_path / "x.gif", seamless=True)


def test_nd_gif_seamless_reports_the_seam(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, f in enumerate(drifting(count=16)):
        save_image(folder / f"frame_{i}.png", f)
    app = typer.Typer()
    register(app)
    app.command("other")(lambda: None)
    result = CliRunner().invoke(app, ["gif", str(folder), "-o", str(tmp_path / "l.gif"), "--seamless", "--reverse"])
    assert result.exit_code == 0, result.output
    assert "seamless: the last" in result.output and "(seamless: at most 1.5x)" in result.output
    played = [f.astype(np.float32) / 255 for f in read_animation(tmp_path / "l.gif")]
    assert seam_ratio(played) <= SEAM_LIMIT
    bad = CliRunner().invoke(app, ["gif", str(folder), "-o", str(tmp_path / "p.gif"), "--seamless", "--pingpong"])
    assert bad.exit_code == 1 and "choose one of them" in bad.output


def test_a_spec_run_with_output_seamless_makes_a_seamless_gif(tmp_path):
    host = fake_host()
    path = tmp_path / "spec.toml"
    path.write_text(
        'network = "tiny"\nframes = 12\n[source]\nnoise = "48x48"\n[renderer]\nname = "dream"\nsteps = 1\n'
        '[[transforms]]\nname = "zoom"\nscale = 0.05\n[output]\ngif = "loop.gif"\nseamless = true\n',
        encoding="utf-8",
    )
    run = run_spec(load_spec(path, host=host, out=tmp_path / "out"), host=host)
    played = [f.astype(np.float32) / 255 for f in read_animation(run.dir / "loop.gif")]
    assert seam_ratio(played) <= SEAM_LIMIT
    assert "seamless = true" in (run.dir / "spec.toml").read_text()
    path.write_text(path.read_text() + "pingpong = true\n", encoding="utf-8")
    with pytest.raises(NeuralgaeError, match="output.seamless and output.pingpong both make the animation loop"):
        load_spec(path, host=host, out=tmp_path / "other")
