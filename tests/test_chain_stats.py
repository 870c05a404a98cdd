"""The chain's figures (continuity, exploration, attractors) on hand-made class lists, and the sampler's carry."""

import numpy as np
import pytest

from neuralgae.core.chain.chain_stats import TARGETS, chain_stats, longest_class_run, missed_targets, shared_fraction
from neuralgae.core.host.components import SamplerContext

# dog breeds 151-268; marine invertebrates include 107-114 (jellyfish, sea anemone, ...)
DOGS = [151, 152, 153, 154, 155, 156, 157, 158]


def frames_of(*sets):
    return [[(i, 1.0) for i in s] for s in sets]


def test_figures_of_a_hand_made_manifest():
    frames = frames_of(
        [1, 400, 500, 600],    # no group holds half
        [600, 8, 700, 800],    # shares 600
        [410, 510, 610, 710],  # shares nothing
        DOGS,                  # dominated by dog breeds, shares nothing
        [151, 420, 520, 620],  # shares 151
    )
    stats = chain_stats(frames)
    assert stats["frames"] == 5
    assert stats["shared"] == pytest.approx(2 / 4)
    assert stats["distinct"] == len({1, 400, 500, 600, 8, 700, 800, 410, 510, 610, 710, *DOGS, 420, 520, 620})
    assert stats["longest_shared_run"] == 2
    assert stats["top_group"] == "dog_breeds" and stats["top_group_share"] == pytest.approx(1 / 5)
    assert stats["dog_breeds"] == pytest.approx(1 / 5)
    missed = missed_targets(stats)
    assert len(missed) == 1 and "distinct classes" in missed[0]


def test_targets_met_and_missed():
    good = {"shared": 0.6, "distinct": 400, "top_group_share": 0.1, "top_group": "snakes"}
    assert missed_targets(good) == []
    bad = {"shared": 0.2, "distinct": 100, "top_group_share": 0.5, "top_group": "dog_breeds"}
    assert len(missed_targets(bad)) == 3
    assert TARGETS == {"shared": 0.5, "distinct": 300, "top_group_share": 0.25}


def test_runs_and_empty_chains():
    sets = [{1, 2}, {2, 3}, {2, 4}, {5}]
    assert longest_class_run(sets) == (3, 2)
    assert shared_fraction(sets) == pytest.approx(2 / 3)
    assert shared_fraction([{1}]) == 0.0
    empty = chain_stats([])
    assert empty["frames"] == 0 and empty["distinct"] == 0 and empty["shared"] == 0.0


def _probs(top):
    p = np.full(1000, 1e-4)
    for rank, c in enumerate(top):
        p[c] = 1.0 - rank * 0.01
    return p / p.sum()


def test_carry_keeps_the_last_frames_most_probable_class():
    from neuralgae.plugins.samplers import avoid_attractors

    last = [(40, 1.0), (41, 1.0), (42, 1.0)]
    p = _probs([41, 40, 500, 501])  # 41 is what the classifier sees most of the last drawing
    ctx = SamplerContext(index=1, rng=np.random.default_rng(0), history=[last])
    picked = [i for i, _ in avoid_attractors(p, ctx, n=50, s=8, carry=1)]
    assert 41 in picked and len(set(picked)) == 8
    plain = [i for i, _ in avoid_attractors(p, SamplerContext(index=1, rng=np.random.default_rng(0), history=[last]), n=50, s=8)]
    assert len(plain) == 8


def test_a_class_is_carried_for_at_most_carry_frames():
    from neuralgae.plugins.samplers import carried

    p = _probs([41, 40])
    history = frames_of([41, 7], [41, 8])
    assert carried(history, p, n=2, carry=1, carry_frames=2) == []  # 41 was in both of the last 2 frames; 8 is not seen
    assert carried(history, p, n=50, carry=2, carry_frames=2) == [8]
    assert carried(history, p, n=2, carry=1, carry_frames=3) == [41]
    assert carried([], p, n=50, carry=1, carry_frames=2) == []
    assert carried(history, p, n=1, carry=1, carry_frames=3) == [41]
    assert carried(frames_of([7, 8]), p, n=1, carry=1, carry_frames=3) == []  # not in the classifier's top n


def test_carry_must_leave_room():
    from neuralgae.core.host.errors import NeuralgaeError
    from neuralgae.plugins.samplers import avoid_attractors

    ctx = SamplerContext(index=1, rng=np.random.default_rng(0), history=[[(1, 1.0)]])
    with pytest.raises(NeuralgaeError, match="carry .* must be less than s"):
        avoid_attractors(_probs([1]), ctx, s=2, carry=2)


def test_bench_chain_reads_the_figures_from_a_hand_made_manifest(tmp_path):
    import importlib.util
    import json
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("bench_chain", Path(__file__).resolve().parents[1] / "bench" / "chain.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    sets = [[1, 400, 500], [500, 8, 700], [410, 510, 610], [610, 1, 2]]
    lines = []
    for index, classes in enumerate(sets):
        name = f"frame_{index:05d}.png"
        (tmp_path / name).write_bytes(b"")
        lines.append(json.dumps({"index": index, "file": name, "classes": [[c, 1.0] for c in classes], "seconds": 2.0}))
    (tmp_path / "manifest.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    stats = bench.chain_stats(tmp_path)
    assert stats["frames"] == 4 and stats["shared"] == pytest.approx(2 / 3)
    assert stats["distinct"] == 9 and stats["seconds_per_frame"] == pytest.approx(2.0)
    assert any("distinct classes" in m for m in stats["missed"]) and not any("neighbouring" in m for m in stats["missed"])


@pytest.mark.parametrize("setting,words", [
    ("sampler.carry=8", "carry (8) must be less than s (8)"),
    ("sampler.s=200", "parameter 's' (200) must not exceed 'n' (100)"),
])
def test_a_samplers_limits_across_parameters_are_refused_before_any_frame(tmp_path, setting, words):
    import typer
    from typer.testing import CliRunner

    from neuralgae_cli import run

    app = typer.Typer()
    run.register(app)
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["run", "neuralgae", "--frames", "2", "--set", "source.noise=32x32", "--set", setting,
                                      "--out", str(out)])
    assert result.exit_code != 0 and words in " ".join(result.output.split())
    assert "Traceback" not in result.output and not out.exists()
