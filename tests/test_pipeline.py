"""The frame loop: files, manifest, PNG recipes, determinism, resume after a kill, hooks, samplers."""

from __future__ import annotations

import json
import types
from pathlib import Path

import numpy as np
import pytest

from neuralgae.core.host.errors import NeuralgaeError
from neuralgae.core.host.hookspecs import hookimpl
from neuralgae.core.media.images import load_image, read_metadata
from neuralgae.core.runs.pipeline import frame_rng, run_spec
from neuralgae.core.runs.runfolder import MANIFEST, SPEC_FILE, read_manifest
from neuralgae.core.host.plugins import PluginError
from neuralgae.core.runs.spec import load_spec
import test_plugins_fakes as fakes
from test_plugins_fakes import StopAfter, fake_host

SPEC = """\
network = "tiny"
seed = 11
frames = 5

[source]
noise = "40x32"

[renderer]
name = "dream"
steps = 3

[[transforms]]
name = "zoom"
scale = 0.1

[[transforms]]
name = "blur"
"""


@pytest.fixture
def host():
    return fake_host()


def make_spec(tmp_path: Path, host, text: str = SPEC, *, out: str = "out", overrides=(), frames=None):
    path = tmp_path / "spec.toml"
    path.write_text(text, encoding="utf-8")
    return load_spec(path, host=host, overrides=overrides, frames=frames, out=tmp_path / out)


def frame_bytes(folder: Path) -> list[bytes]:
    return [p.read_bytes() for p in sorted(folder.glob("frame_*.png"))]


def without_times(entries):
    return [{k: v for k, v in e.items() if k != "seconds"} for e in entries]


def test_a_run_writes_frames_manifest_and_resolved_spec(tmp_path, host):
    spec = make_spec(tmp_path, host)
    run = run_spec(spec, host=host)
    out = tmp_path / "out"
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"frame_0000{i}.png" for i in range(5)] + [MANIFEST, SPEC_FILE]
    assert [r.index for r in run.records] == list(range(5)) and run.start == 0
    entries = [json.loads(line) for line in (out / MANIFEST).read_text().splitlines()]
    assert [e["index"] for e in entries] == list(range(5))
    assert entries[0]["transforms"] == []  # frame 0 is the rendered source
    assert entries[1]["transforms"] == [{"name": "zoom", "scale": 0.1, "order": 1}, {"name": "blur", "sigma": 1.0}]
    assert entries[2]["renderer"]["steps"] == 3 and entries[2]["file"] == "frame_00002.png"
    assert entries[0]["classes"] is None and entries[0]["seen"] is None
    assert load_image(out / "frame_00003.png").shape == (32, 40, 3)
    assert load_spec(out / SPEC_FILE, host=host).to_dict() == spec.to_dict()


def test_every_frame_carries_its_recipe(tmp_path, host):
    spec = make_spec(tmp_path, host)
    run = run_spec(spec, host=host)
    meta = read_metadata(run.dir / "frame_00002.png")
    assert meta["frame"] == 2 and meta["seed"] == 11
    assert meta["renderer"]["name"] == "dream" and meta["renderer"]["steps"] == 3
    assert [t["name"] for t in meta["transforms"]] == ["zoom", "blur"]
    assert meta["spec"] == spec.to_dict(include_output=False)
    assert meta["render_seed"] == run.entries[2]["render_seed"]


def test_the_carried_image_is_the_one_written(tmp_path, host):
    spec = make_spec(tmp_path, host)
    run = run_spec(spec, host=host)
    for record in run.records:
        np.testing.assert_array_equal(record.image, load_image(record.path))


def test_runs_are_deterministic_and_seeded(tmp_path, host):
    a = run_spec(make_spec(tmp_path, host, out="a"), host=host)
    b = run_spec(make_spec(tmp_path, host, out="b"), host=host)
    c = run_spec(make_spec(tmp_path, host, out="c", overrides=["seed=12"]), host=host)
    assert frame_bytes(a.dir) == frame_bytes(b.dir)
    assert frame_bytes(a.dir)[1:] != frame_bytes(c.dir)[1:]


def test_frame_generators_depend_on_seed_index_and_stream():
    draw = lambda *key: frame_rng(*key).random()  # noqa: E731
    assert draw(1, 2, 0) == draw(1, 2, 0)
    assert len({draw(1, 2, 0), draw(1, 3, 0), draw(2, 2, 0), draw(1, 2, 1)}) == 4


@pytest.mark.parametrize("stop", [0, 2])
def test_resume_after_interrupt_gives_identical_frames(tmp_path, host, stop):
    clean = run_spec(make_spec(tmp_path, host, out="clean"), host=host)
    killer = fake_host(StopAfter(stop))
    with pytest.raises(KeyboardInterrupt):
        run_spec(make_spec(tmp_path, killer, out="resumed"), host=killer)
    assert len(read_manifest(tmp_path / "resumed")) == stop + 1
    resumed = run_spec(make_spec(tmp_path, host, out="resumed"), host=host, resume=True)
    assert resumed.start == stop + 1 and resumed.resumed
    assert frame_bytes(resumed.dir) == frame_bytes(clean.dir)
    assert without_times(read_manifest(resumed.dir)) == without_times(read_manifest(clean.dir))


def test_resume_after_a_renderer_failure_and_a_torn_manifest(tmp_path, host):
    clean = run_spec(make_spec(tmp_path, host, out="clean"), host=host)
    fakes.FAIL_AT["index"] = 3
    try:
        with pytest.raises(PluginError, match=r"renderer 'dream' \(from fake_plugins\) failed on frame 3: RuntimeError: boom on frame 3"):
            run_spec(make_spec(tmp_path, host, out="resumed"), host=host)
    finally:
        fakes.FAIL_AT.clear()
    folder = tmp_path / "resumed"
    assert not list(folder.glob(".*.part")) and not (folder / "frame_00003.png").exists()
    with (folder / MANIFEST).open("a") as fh:
        fh.write('{"index": 3, "file": "frame_000')  # killed while appending
    resumed = run_spec(make_spec(tmp_path, host, out="resumed"), host=host, resume=True)
    assert resumed.start == 3
    assert frame_bytes(folder) == frame_bytes(clean.dir)
    assert (folder / MANIFEST).read_text().count("\n") == 5
    assert without_times(read_manifest(folder)) == without_times(read_manifest(clean.dir))


def test_a_frame_without_its_manifest_line_is_made_again(tmp_path, host):
    clean = run_spec(make_spec(tmp_path, host, out="clean"), host=host)
    killer = fake_host(StopAfter(2))
    with pytest.raises(KeyboardInterrupt):
        run_spec(make_spec(tmp_path, killer, out="resumed"), host=killer)
    folder = tmp_path / "resumed"
    lines = (folder / MANIFEST).read_text().splitlines(keepends=True)
    (folder / MANIFEST).write_text("".join(lines[:2]))  # frame 2 is on disk but not recorded
    resumed = run_spec(make_spec(tmp_path, host, out="resumed"), host=host, resume=True)
    assert resumed.start == 2
    assert frame_bytes(folder) == frame_bytes(clean.dir)


def test_resume_may_extend_the_run(tmp_path, host):
    clean = run_spec(make_spec(tmp_path, host, out="clean", frames=5), host=host)
    run_spec(make_spec(tmp_path, host, out="grown", frames=3), host=host)
    grown = run_spec(make_spec(tmp_path, host, out="grown", frames=5), host=host, resume=True)
    assert grown.start == 3
    # the recipes differ in "frames", the pixels do not (the fakes ignore ctx.total)
    for a, b in zip(sorted(grown.dir.glob("frame_*.png")), sorted(clean.dir.glob("frame_*.png")), strict=True):
        np.testing.assert_array_equal(load_image(a), load_image(b))


@pytest.mark.usefixtures("cli_spelling")
def test_resume_refuses_a_changed_spec(tmp_path, host):
    run_spec(make_spec(tmp_path, host, frames=2), host=host)
    with pytest.raises(NeuralgaeError) as info:
        run_spec(make_spec(tmp_path, host, overrides=["transforms.0.scale=0.2"]), host=host, resume=True)
    assert str(info.value) == (
        f"cannot resume '{tmp_path / 'out'}': the spec changed at transforms[0].scale (was 0.1, now 0.2); "
        "restore it, or start again with --overwrite"
    )


@pytest.mark.usefixtures("cli_spelling")
def test_output_folder_rules(tmp_path, host):
    spec = make_spec(tmp_path, host, frames=2)
    run_spec(spec, host=host)
    with pytest.raises(NeuralgaeError, match=r"already holds a run; add --resume to continue it or --overwrite to start again"):
        run_spec(spec, host=host)
    (tmp_path / "out" / "notes.txt").write_text("mine")
    again = run_spec(make_spec(tmp_path, host, frames=1), host=host, overwrite=True)
    assert sorted(p.name for p in again.dir.iterdir()) == ["frame_00000.png", MANIFEST, "notes.txt", SPEC_FILE]
    other = tmp_path / "other"
    other.mkdir()
    (other / "photo.jpg").write_text("x")
    elsewhere = make_spec(tmp_path, host, out="other")
    with pytest.raises(NeuralgaeError, match=r"is not empty; choose another with --out or add --overwrite"):
        run_spec(elsewhere, host=host)
    with pytest.raises(NeuralgaeError, match=r"cannot resume: output folder '.*other' holds no run"):
        run_spec(elsewhere, host=host, resume=True)
    with pytest.raises(NeuralgaeError, match="contradict"):
        run_spec(elsewhere, host=host, resume=True, overwrite=True)
    assert run_spec(make_spec(tmp_path, host, out="new", frames=1), host=host, resume=True).start == 0


def test_hooks_are_called_in_order(tmp_path, host):
    events = []

    class Watcher:
        __name__ = "watcher"

        @hookimpl
        def run_started(self, run):
            events.append(("started", run.start, run.spec.name))

        @hookimpl
        def frame_written(self, run, frame):
            assert frame.path.exists() and run.entries[-1]["index"] == frame.index
            events.append(("frame", frame.index))

        @hookimpl
        def run_finished(self, run):
            events.append(("finished", run.done))

    watched = fake_host(Watcher())
    run_spec(make_spec(tmp_path, watched, frames=3), host=watched)
    assert events == [("started", 0, "spec"), ("frame", 0), ("frame", 1), ("frame", 2), ("finished", 3)]


def test_progress_reports_frames_and_rate(tmp_path, host):
    calls = []
    run_spec(make_spec(tmp_path, host, frames=3), host=host, progress=lambda d, t, m="": calls.append((d, t, m)))
    assert calls[0] == (0, 3, "starting") and calls[-1][:2] == (3, 3)
    assert (2.0, 3, "frame 1: fake step") in calls  # the renderer's 1 step of 1 completes frame 1 of 0..2
    assert any("left" in m for _, _, m in calls)


def test_sampler_feeds_classes_to_the_renderer(tmp_path, host):
    fakes.CALLS.clear()
    fakes.HISTORY_LENGTHS.clear()
    spec = make_spec(tmp_path, host, SPEC + '[sampler]\nname = "top"\nk = 4\n', frames=3)
    run = run_spec(spec, host=host)
    first = fakes.CALLS[0]["classes"]
    assert len(first) == 8 and len({i for i, _ in first}) == 8  # random classes for frame 0
    assert all(len(c["classes"]) == 4 for c in fakes.CALLS[1:])
    assert fakes.HISTORY_LENGTHS == [1, 2]
    entry = run.entries[1]
    assert entry["classes"] == [list(c) for c in fakes.CALLS[1]["classes"]]
    assert len(entry["class_names"]) == 4 and len(entry["seen"]) == 10
    assert entry["classes"][0][0] == entry["seen"][0][0]  # top-k takes the best class first
    assert read_metadata(run.dir / "frame_00001.png")["classes"] == entry["classes"]


def test_first_frame_uses_the_renderers_own_classes(tmp_path, host):
    fakes.CALLS.clear()
    text = SPEC.replace('name = "dream"\nsteps = 3', 'name = "draw"\nclasses = "goldfish, volcano:0.5"') + '[sampler]\nname = "top"\n'
    run_spec(make_spec(tmp_path, host, text, frames=2), host=host)
    assert fakes.CALLS[0]["classes"] == [(1, 1.0), (980, 0.5)]


def test_sampled_runs_resume_identically(tmp_path, host):
    text = SPEC + '[sampler]\nname = "top"\nk = 2\n'
    clean = run_spec(make_spec(tmp_path, host, text, out="clean"), host=host)
    killer = fake_host(StopAfter(1))
    with pytest.raises(KeyboardInterrupt):
        run_spec(make_spec(tmp_path, killer, text, out="resumed"), host=killer)
    fakes.HISTORY_LENGTHS.clear()
    resumed = run_spec(make_spec(tmp_path, host, text, out="resumed"), host=host, resume=True)
    assert fakes.HISTORY_LENGTHS == [2, 3, 4]  # the history was rebuilt from the manifest
    assert frame_bytes(resumed.dir) == frame_bytes(clean.dir)
    assert without_times(read_manifest(resumed.dir)) == without_times(read_manifest(clean.dir))


def test_a_transform_that_changes_the_shape_is_named(tmp_path, host):
    text = SPEC + '[[transforms]]\nname = "shrink"\n'
    with pytest.raises(PluginError, match=r"transform 'shrink' \(transforms\[2\]\) changed the image shape from \(32, 40, 3\) to \(31, 40, 3\) on frame 1"):
        run_spec(make_spec(tmp_path, host, text), host=host)


def test_source_sample_and_image(tmp_path, host):
    from neuralgae.core.media.images import save_image

    text = SPEC.replace('noise = "40x32"', 'sample = "coffee"\nresize = "48x32"')
    run = run_spec(make_spec(tmp_path, host, text, frames=1, out="a"), host=host)
    assert run.records[0].image.shape == (32, 48, 3)
    save_image(tmp_path / "start.png", np.full((36, 44, 3), 0.25, np.float32))
    text = SPEC.replace('noise = "40x32"', 'image = "start.png"')
    run = run_spec(make_spec(tmp_path, host, text, frames=1, out="b"), host=host)
    assert run.records[0].image.shape == (36, 44, 3)


def test_animations_are_written_at_the_end(tmp_path, host):
    text = SPEC + '[output]\ngif = true\nfps = 5\npingpong = true\n'
    run = run_spec(make_spec(tmp_path, host, text, frames=3), host=host)
    assert run.outputs == [tmp_path / "out" / "spec.gif"]
    from PIL import Image

    with Image.open(run.outputs[0]) as gif:
        assert gif.n_frames >= 3 and gif.size == (40, 32)


def test_a_run_that_fails_before_its_first_frame_leaves_nothing(tmp_path, host):
    fakes.FAIL_AT["index"] = 0
    try:
        with pytest.raises(PluginError, match="failed on frame 0"):
            run_spec(make_spec(tmp_path, host), host=host)
    finally:
        fakes.FAIL_AT.clear()
    assert not (tmp_path / "out").exists()
    run_spec(make_spec(tmp_path, host, frames=1), host=host)  # no --overwrite needed


# -- a run folder is untrusted input --------------------------------------------------------


def _point_entry_at(folder: Path, index: int, name: str) -> None:
    lines = (folder / MANIFEST).read_text(encoding="utf-8").splitlines()
    entry = json.loads(lines[index])
    entry["file"] = name
    lines[index] = json.dumps(entry)
    (folder / MANIFEST).write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.parametrize("kind", ["relative", "absolute", "symlink", "linked folder"])
def test_overwrite_never_deletes_a_file_outside_the_run_folder(tmp_path, host, kind):
    run_spec(make_spec(tmp_path, host, frames=2), host=host)
    out = tmp_path / "out"
    precious = tmp_path / "precious.png"
    precious.write_bytes(b"keep me")
    name = {"relative": "../precious.png", "absolute": str(precious)}.get(kind, "frame_00001.png")
    if kind == "symlink":
        (out / "frame_00001.png").unlink()
        (out / "frame_00001.png").symlink_to(precious)
    if kind == "linked folder":
        (out / "sub").symlink_to(tmp_path)
        name = "sub/precious.png"
    _point_entry_at(out, 1, name)
    with pytest.raises(NeuralgaeError, match=r"manifest.jsonl entry 1 \(file '[^']+'\) in '.*out' points outside the folder \(to '.*precious.png'\)"):
        run_spec(make_spec(tmp_path, host, frames=1), host=host, overwrite=True)
    assert precious.read_bytes() == b"keep me"
    assert (out / "frame_00000.png").is_file() and (out / MANIFEST).is_file()  # refused before anything was deleted


def test_overwrite_removes_a_link_not_its_target(tmp_path, host):
    run_spec(make_spec(tmp_path, host, frames=1), host=host)
    precious = tmp_path / "precious.png"
    precious.write_bytes(b"keep me")
    (tmp_path / "out" / "frame_00007.png").symlink_to(precious)  # not in the manifest, matches the frame pattern
    run_spec(make_spec(tmp_path, host, frames=1), host=host, overwrite=True)
    assert precious.read_bytes() == b"keep me" and not (tmp_path / "out" / "frame_00007.png").is_symlink()


def test_resume_refuses_a_manifest_entry_outside_the_folder_and_a_linked_manifest(tmp_path, host):
    run_spec(make_spec(tmp_path, host, frames=2), host=host)
    out = tmp_path / "out"
    outside = tmp_path / "elsewhere.jsonl"
    (out / MANIFEST).rename(outside)
    (out / MANIFEST).symlink_to(outside)
    with pytest.raises(NeuralgaeError, match=r"manifest.jsonl in '.*out' points outside the folder"):
        run_spec(make_spec(tmp_path, host, frames=3), host=host, resume=True)
    (out / MANIFEST).unlink()
    outside.rename(out / MANIFEST)
    _point_entry_at(out, 0, "../spec.toml")
    with pytest.raises(NeuralgaeError, match=r"entry 0 \(file '../spec.toml'\)"):
        run_spec(make_spec(tmp_path, host, frames=3), host=host, resume=True)


def test_a_garbage_manifest_reads_as_its_complete_prefix(tmp_path, host):
    run_spec(make_spec(tmp_path, host, frames=2), host=host)
    out = tmp_path / "out"
    good = (out / MANIFEST).read_bytes().splitlines(keepends=True)
    for garbage in (b"\xff\xfe not utf-8\n", b"[1, 2]\n", b'{"index": 1, "file": 5}\n', b'{"index": "1", "file": "frame_00001.png"}\n'):
        (out / MANIFEST).write_bytes(good[0] + garbage + good[1])
        assert [e["index"] for e in read_manifest(out)] == [0]


def test_resume_after_a_garbage_line_keeps_the_complete_prefix(tmp_path, host):
    run_spec(make_spec(tmp_path, host, frames=2), host=host)
    out = tmp_path / "out"
    with (out / MANIFEST).open("ab") as fh:
        fh.write(b"\xff\xfe garbage\n")
    run = run_spec(make_spec(tmp_path, host, frames=3), host=host, resume=True)
    assert run.start == 2 and [e["index"] for e in read_manifest(out)] == [0, 1, 2]


def test_resume_with_a_garbage_spec_toml_is_one_clear_error(tmp_path, host):
    run_spec(make_spec(tmp_path, host, frames=1), host=host)
    (tmp_path / "out" / SPEC_FILE).write_bytes(b"\xff\xfe = [")
    with pytest.raises(NeuralgaeError, match=r"spec.toml"):
        run_spec(make_spec(tmp_path, host, frames=2), host=host, resume=True)


def test_cli_run_zoom_beside_a_zoom_folder_refuses_a_crafted_manifest_in_one_line(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from neuralgae_cli.main import app

    monkeypatch.chdir(tmp_path)
    run = tmp_path / "zoom"  # as `nd run zoom --out zoom` leaves it: the name still means the built-in spec
    run.mkdir()
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    (run / MANIFEST).write_text(json.dumps({"index": 0, "file": "../precious.txt"}) + "\n")
    result = CliRunner().invoke(app, ["run", "zoom", "--out", "zoom", "--overwrite", "-q"])
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("nd: error: manifest.jsonl entry 0 (file '../precious.txt')"), result.output
    assert precious.read_text() == "keep me" and (run / MANIFEST).is_file()


class TwoNetworks:
    """A second tiny network and a renderer that notes which network made each frame."""

    __name__ = "two_networks"
    used: list = []

    @hookimpl
    def register_networks(self, register):
        class Tiny2(fakes.TinyNetwork):
            name = "tiny2"

        register("tiny2", Tiny2, description="another fixed random convolution")

    @hookimpl
    def register_renderers(self, register):
        def noting(image, ctx):
            """Notes the frame's network; darkens a little."""
            TwoNetworks.used.append((ctx.index, ctx.network.name))
            return (image * 0.9).astype(np.float32)

        register(noting, name="noting")


def test_a_list_of_networks_is_used_in_turn_frame_by_frame(tmp_path):
    host = fake_host(TwoNetworks())
    TwoNetworks.used = []
    text = SPEC.replace('network = "tiny"', 'network = ["tiny", "tiny2"]').replace('name = "dream"\nsteps = 3', 'name = "noting"')
    spec = make_spec(tmp_path, host, text)
    assert spec.networks == ("tiny", "tiny2") and spec.network_at(3) == "tiny2"
    run = run_spec(spec, host=host)
    assert TwoNetworks.used == [(0, "tiny"), (1, "tiny2"), (2, "tiny"), (3, "tiny2"), (4, "tiny")]
    assert [e["network"] for e in read_manifest(run.dir)] == ["tiny", "tiny2", "tiny", "tiny2", "tiny"]
    assert 'network = ["tiny", "tiny2"]' in (run.dir / SPEC_FILE).read_text()
    assert load_spec(run.dir / SPEC_FILE, host=host).networks == ("tiny", "tiny2")
    assert set(read_manifest(run.dir)[0]["provided_by"]["network"]) == {"tiny", "tiny2"}


@pytest.mark.parametrize(
    "value, message",
    [('["tiny", "tinny"]', "'tinny' is not installed; did you mean 'tiny'"), ("[]", "must list 1 to 16 networks"), ("[3]", "non-empty string")],
)
def test_a_bad_list_of_networks_is_one_line(tmp_path, value, message):
    host = fake_host(TwoNetworks())
    with pytest.raises(NeuralgaeError, match=message):
        make_spec(tmp_path, host, SPEC.replace('network = "tiny"', f"network = {value}"))
