"""The Neuralgae chain end to end: `nd run neuralgae` at a tiny size, classes.txt, the sampler, the book."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from neuralgae.core.chain.book import read_classes_txt
from neuralgae.core.media.images import load_image

from neuralgae.core.host.hookspecs import hookimpl
from neuralgae.core.nets.classify import class_probabilities
from neuralgae.core.runs.pipeline import run_spec
from neuralgae.core.runs.runfolder import read_manifest
from neuralgae.core.host.plugins import PluginError, PluginHost, default_host
from neuralgae.core.runs.spec import load_spec
from neuralgae_cli import book, run

TINY = ["--set", "source.noise=48x32", "--set", "renderer.steps=2", "--set", "output.gif=false", "--frames", "3", "-q"]


@pytest.fixture(scope="module")
def app():
    app = typer.Typer()
    run.register(app)
    book.register(app)
    return app


def nd(app, *args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


def test_the_neuralgae_spec_is_built_in_and_composed_of_plugins():
    host = PluginHost(entry_points=False)
    assert "neuralgae" in host.specs
    spec = load_spec("neuralgae", host=host)
    assert spec.renderer.name == "draw" and not spec.renderer.params.get("keep_image")
    assert [t.name for t in spec.transforms] == ["fresh"]  # every frame from a fresh smooth base, as in 2015
    assert spec.sampler.name == "avoid_attractors"
    assert (spec.sampler.params["n"], spec.sampler.params["s"], spec.sampler.params["carry"]) == (100, 8, 1)
    assert spec.frames == 100
    lucid = load_spec("neuralgae-lucid", host=host)  # the other way: each frame a lucid dream on the last
    assert lucid.renderer.params["keep_image"] is True and [t.name for t in lucid.transforms] == ["fade"]
    assert lucid.sampler.params["carry"] == 1


@pytest.fixture(scope="module")
def chain(app, tmp_path_factory):
    """`nd run neuralgae`, 3 frames at a tiny size."""
    out = tmp_path_factory.mktemp("chain") / "run"
    nd(app, "run", "neuralgae", *TINY, "--out", out)
    return out


@pytest.fixture(scope="module")
def chain_2015(app, tmp_path_factory):
    """The same chain with the 2015 sampler rule at a small pool, so membership in the actual top n is checkable."""
    folder = tmp_path_factory.mktemp("chain2015")
    text = Path(PluginHost(entry_points=False).specs["neuralgae"].path).read_text(encoding="utf-8")
    text = re.sub(r"\[sampler\]\n(?:[^\[\n][^\n]*\n|\n)*", '[sampler]\nname = "neuralgae"\nn = 20\ns = 5\n\n', text)
    assert 'name = "neuralgae"' in text and "memory" not in text
    (folder / "spec.toml").write_text(text, encoding="utf-8")
    nd(app, "run", folder / "spec.toml", *TINY, "--out", folder / "run")
    return folder / "run"


def test_a_tiny_chain_runs_and_writes_classes_txt(chain):
    entries = read_manifest(chain)
    assert [e["file"] for e in entries] == [f"frame_{k:05d}.png" for k in range(3)]
    lines = read_classes_txt(chain / "classes.txt")
    assert lines == [(e["file"], e["class_names"]) for e in entries]
    assert all(len(set(names)) == len(names) == 8 for _, names in lines)


def test_the_sampler_picks_s_distinct_classes_from_the_actual_top_n(chain_2015):
    chain = chain_2015
    entries = read_manifest(chain)
    network = default_host().network("efficientnet-lite0")
    for before, entry in zip(entries, entries[1:]):
        probs = class_probabilities(network, load_image(chain / before["file"]))
        top_n = set(np.argsort(-probs, kind="stable")[:20].tolist())
        picked = [i for i, _ in entry["classes"]]
        assert len(set(picked)) == len(picked) == 5
        assert set(picked) <= top_n
        assert [i for i, _ in entry["seen"]][:3] == np.argsort(-probs, kind="stable")[:3].tolist()


def test_the_book_lists_every_frame_of_the_chain(app, chain, tmp_path):
    nd(app, "book", chain, "--text", "verse", "-o", tmp_path / "book", "--chapter-size", "2")
    pages = [(tmp_path / "book" / f"chapter_{n:03d}.html").read_text() for n in (1, 2)]
    text = "".join(pages)
    for k, entry in enumerate(read_manifest(chain)):
        assert f'id="frame-{k}"' in text and f"images/{k:05d}.png" in text
        for name in entry["class_names"]:
            assert html.escape(name) in text


def test_the_default_chain_resumes_identically(app, tmp_path):
    out = tmp_path / "run"
    nd(app, "run", "neuralgae", *TINY, "--out", out)
    first = [json.dumps({k: v for k, v in e.items() if k != "seconds"}) for e in read_manifest(out)]
    classes = (out / "classes.txt").read_text()
    for e in read_manifest(out):
        assert len({i for i, _ in e["classes"]}) == 8
    # cut the run back to its first frame, then resume: same frames, same classes.txt
    manifest = (out / "manifest.jsonl").read_text().splitlines(keepends=True)
    (out / "manifest.jsonl").write_text(manifest[0])
    nd(app, "run", "neuralgae", *TINY, "--out", out, "--resume")
    assert [json.dumps({k: v for k, v in e.items() if k != "seconds"}) for e in read_manifest(out)] == first
    assert (out / "classes.txt").read_text() == classes


class _FailingRenderer:
    """A plugin whose renderer fails at once: a run that dies before its first frame."""

    @staticmethod
    @hookimpl
    def register_renderers(register):
        def broken(image, ctx):
            """Fails before drawing anything."""
            raise RuntimeError("no frame today")

        register(broken, name="broken")


def test_overwrite_that_fails_before_a_frame_leaves_no_stale_classes_txt(app, tmp_path):
    out = tmp_path / "run"
    nd(app, "run", "neuralgae", *TINY, "--out", out)
    assert (out / "classes.txt").is_file()
    host = PluginHost(entry_points=False, extra=(_FailingRenderer,))
    (tmp_path / "broken.toml").write_text('frames = 2\n[source]\nnoise = "32x32"\n[renderer]\nname = "broken"\n')
    spec = load_spec(tmp_path / "broken.toml", host=host, out=out)
    with pytest.raises(PluginError, match="no frame today"):
        run_spec(spec, host=host, overwrite=True)
    assert not (out / "classes.txt").exists()
    assert read_manifest(out) == [] and not list(out.glob("frame_*.png"))


def test_best_of_in_a_spec_records_the_judges_score(app, tmp_path):
    out = tmp_path / "best"
    nd(app, "run", "neuralgae", *TINY, "--set", "renderer.best_of=2", "--out", out)
    entries = read_manifest(out)
    assert len(entries) == 3
    for entry in entries:
        assert entry["best_of"] == 2 and entry["judge"] == "efficientnet-lite1"
        assert entry["judge_score"] == max(entry["judge_scores"])
    from neuralgae.core.media.images import read_metadata

    assert read_metadata(out / "frame_00000.png")["judge_score"] == entries[0]["judge_score"]


def test_a_judge_that_drew_is_refused_in_a_spec(app, tmp_path):
    result = CliRunner().invoke(app, ["run", "neuralgae", *TINY, "--set", "renderer.best_of=2",
                                      "--set", "renderer.judge=efficientnet-lite0", "--out", str(tmp_path / "x")])
    assert result.exit_code != 0
    assert "drew too" in result.output and "Traceback" not in result.output
