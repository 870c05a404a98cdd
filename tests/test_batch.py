"""nd batch: planning variations, running them on a Dask LocalCluster, resume, failures, the contact sheet."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from neuralgae.core.runs import batch
from neuralgae.core.runs.batch import (
    BATCH_FILE,
    INDEX_FILE,
    Choice,
    Variation,
    absolute_overrides,
    batch_message,
    class_axis,
    grid_axes,
    image_axis,
    local_cluster_size,
    parse_class_selection,
    parse_grid_item,
    plan_variations,
    run_batch,
    slugify,
    split_values,
)
from neuralgae.core.host.errors import NeuralgaeError
from neuralgae.core.media.images import load_image, save_image
from neuralgae.core.runs.pipeline import run_spec
from neuralgae.core.runs.runfolder import MANIFEST, SPEC_FILE, read_manifest
from neuralgae.core.host.plugins import default_host
from neuralgae.core.runs.spec import apply_overrides, read_toml

TINY_DREAM = """\
seed = 5
frames = 2

[source]
noise = "40x40"

[renderer]
name = "dream"
layers = "block4"
octaves = 1
steps = 1

[[transforms]]
name = "zoom"
scale = 0.05
"""

TINY_ATLAS = """\
frames = 1

[source]
noise = "48x48"

[renderer]
name = "draw"
preset = "fast"
steps = 2
"""


# -- planning ---------------------------------------------------------------------------------


def test_split_values_keeps_brackets_and_quotes_whole():
    assert split_values("1, [2, 3], 'a,b', \"c, d\"") == ["1", "[2, 3]", "'a,b'", '"c, d"']
    assert split_values("0.02") == ["0.02"]


@pytest.mark.usefixtures("cli_spelling")
def test_parse_grid_item_reads_key_and_values():
    assert parse_grid_item("renderer.steps=10,20") == ("renderer.steps", ["10", "20"])
    for bad in ("renderer.steps", "=1,2", "renderer.steps=", "renderer.steps=1,,2", "renderer.steps=1,1"):
        with pytest.raises(NeuralgaeError, match="--grid"):
            parse_grid_item(bad)


def test_grid_axes_name_folders_by_key_and_value():
    steps, scale = grid_axes(["renderer.steps=10,20", "transforms.0.scale=0.02,0.05"])
    assert [c.slug for c in steps] == ["steps-10", "steps-20"]
    assert [c.override for c in scale] == ["transforms.0.scale=0.02", "transforms.0.scale=0.05"]
    assert scale[0].label == "scale = 0.02"
    # the same last part twice: the whole key path tells them apart
    a, b = grid_axes(["transforms.0.scale=1", "transforms.1.scale=2"])
    assert a[0].slug == "transforms.0.scale-1" and b[0].slug == "transforms.1.scale-2"
    assert grid_axes(['renderer.layers="block8, block10"'])[0][0].slug == "layers-block8_block10"
    with pytest.raises(NeuralgaeError, match="twice"):
        grid_axes(["renderer.steps=1", "renderer.steps=2"])


def test_plan_is_the_cartesian_product_in_a_stable_order(tmp_path):
    axes = grid_axes(["renderer.steps=10,20", "transforms.0.scale=0.02,0.05"])
    plan = plan_variations(axes, out=tmp_path)
    assert [v.name for v in plan] == ["steps-10_scale-0.02", "steps-10_scale-0.05", "steps-20_scale-0.02", "steps-20_scale-0.05"]
    assert plan[1].overrides == ("renderer.steps=10", "transforms.0.scale=0.05")
    assert plan[1].out == tmp_path / "steps-10_scale-0.05"
    assert plan[1].label == "steps = 10, scale = 0.05"
    assert plan == plan_variations(axes, out=tmp_path)


def test_plan_makes_repeated_folder_names_distinct(tmp_path):
    axis = [Choice("a_b", "x=1", "a b"), Choice("a_b", "x=2", "a_b")]
    assert [v.name for v in plan_variations([axis], out=tmp_path)] == ["a_b", "a_b-2"]
    with pytest.raises(NeuralgaeError, match="needs variations"):
        plan_variations([], out=tmp_path)


def test_slugify_is_filesystem_safe():
    assert slugify("golden retriever") == "golden_retriever"
    assert slugify("../../etc") == "etc"
    assert slugify("'a/b'") == "a_b"
    assert slugify("///") == "x"
    assert len(slugify("y" * 200)) == batch.MAX_SLUG


def test_image_axis_lists_images_by_name_with_absolute_paths(tmp_path):
    for name in ("b.png", "a.jpg", "a.png"):
        save_image(tmp_path / name, np.zeros((32, 32, 3), np.float32))
    (tmp_path / "notes.txt").write_text("not an image")
    axis = image_axis(tmp_path)
    assert [c.slug for c in axis] == ["a-jpg", "a-png", "b"]
    assert axis[2].override == f'source.image="{(tmp_path / "b.png").resolve()}"'
    assert axis[2].label == "b.png"
    with pytest.raises(NeuralgaeError, match="holds no images"):
        image_axis(_empty(tmp_path))
    with pytest.raises(NeuralgaeError, match="not a folder"):
        image_axis(tmp_path / "b.png")


def _empty(tmp_path: Path) -> Path:
    folder = tmp_path / "empty"
    folder.mkdir()
    return folder


def test_parse_class_selection_reads_all_names_ranges_and_files(tmp_path):
    assert parse_class_selection("all") == list(range(1000))
    assert parse_class_selection("goldfish, 9, 100-102, goldfish") == [1, 9, 100, 101, 102]
    listing = tmp_path / "classes.txt"
    listing.write_text("# my atlas\ngiant panda\n207  # a dog\n\n0-1\n")
    assert parse_class_selection(str(listing)) == [388, 207, 0, 1]
    with pytest.raises(NeuralgaeError, match="did you mean 'goldfish'"):
        parse_class_selection("goldfsh")
    with pytest.raises(NeuralgaeError, match="range"):
        parse_class_selection("20-10")
    with pytest.raises(NeuralgaeError, match="names no class"):
        parse_class_selection(" , ")


def test_class_axis_overrides_select_the_class_by_index():
    from neuralgae.core.nets.classes import parse_class_list

    axis = class_axis([207, 264, 474])
    assert [c.slug for c in axis] == ["0207-golden_retriever", "0264-cardigan", "0474-cardigan"]
    assert axis[0].class_index == 207 and axis[0].label == "golden retriever"
    for choice, index in zip(axis, (207, 264, 474)):  # the dog and the sweater share a name; the index does not
        data = apply_overrides({"renderer": {"name": "draw"}}, [choice.override])
        [(cls, weight)] = parse_class_list(data["renderer"]["classes"])
        assert (cls.index, weight) == (index, 1.0)


def test_atlas_variations_are_labelled_by_class(tmp_path):
    plan = plan_variations([class_axis([388]), grid_axes(["renderer.steps=5"])[0]], out=tmp_path)
    [v] = plan
    assert v.name == "0388-giant_panda_steps-5"
    assert v.class_index == 388 and v.class_name == "giant panda"
    assert v.label == "steps = 5" and v.description == "388 giant panda, steps = 5"


def test_absolute_overrides_make_source_images_absolute(tmp_path):
    out = absolute_overrides(["source.image=photos/a.png", "renderer.steps=3", 'source.image="/x/b.png"'], cwd=tmp_path)
    assert out == [f'source.image="{tmp_path / "photos" / "a.png"}"', "renderer.steps=3", 'source.image="/x/b.png"']
    assert absolute_overrides(["source.video=clips/a.mp4"], cwd=tmp_path) == [f'source.video="{tmp_path / "clips" / "a.mp4"}"']


@pytest.mark.usefixtures("cli_spelling")
def test_local_cluster_size_shares_out_the_cores():
    assert local_cluster_size(2) == (2, 1)
    assert local_cluster_size(16, workers=4) == (4, 4)
    assert local_cluster_size(16, threads_per_worker=8) == (2, 8)
    assert local_cluster_size(2, workers=3) == (3, 1)
    assert local_cluster_size(2, workers=2, threads_per_worker=2) == (2, 2)
    with pytest.raises(NeuralgaeError, match="--workers"):
        local_cluster_size(2, workers=0)


def test_batch_message_counts_and_time_left():
    assert batch_message({"done": 2, "failed": 1}, elapsed=30, runs_done=3, left=3) == "2 done, 1 failed, about 30 s left"
    assert batch_message({"skipped": 4}, elapsed=1, runs_done=0, left=0) == "4 skipped"
    assert batch_message({"done": 1}, elapsed=600, runs_done=1, left=1) == "1 done, about 10 min left"


def test_a_lost_task_is_one_line():
    from distributed.scheduler import KilledWorker

    from neuralgae.core.runs.batch_cluster import _lost_message

    assert "died" in _lost_message(KilledWorker("key", "worker", "story"))
    assert _lost_message(OSError("timed out\nat line 3")) == "OSError: timed out (on the Dask cluster; run the batch again to retry it)"


# -- running on Dask -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster():
    """One LocalCluster of 2 single-threaded worker processes for the module (start-up costs seconds)."""
    with batch.dask_cluster(workers=2, threads_per_worker=1) as started:
        yield started


def write_spec(folder: Path, text: str, name: str = "tiny.toml") -> str:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def no_cluster(runs: int):
    raise AssertionError(f"a cluster was started for {runs} runs although none had work to do")


def frame_times(folder: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in folder.rglob("frame_*.png")}


def comparable(entries: list[dict]) -> list[dict]:
    """Manifest entries without what thread counts and timing may change."""
    return [{k: v for k, v in e.items() if k not in ("seconds", "sha256")} for e in entries]


def test_batch_on_two_workers_matches_sequential_runs_and_resumes(tmp_path, cluster):
    spec = write_spec(tmp_path, TINY_DREAM)
    plan = plan_variations(grid_axes(["renderer.steps=1,2", "transforms.0.scale=0.02,0.05"]), out=tmp_path / "batch")
    seen = []
    result = run_batch(spec, plan, folder=tmp_path / "batch", cluster=cluster, progress=lambda d, t, m: seen.append((d, t, m)))

    assert [o.status for o in result.outcomes] == ["done"] * 4, [o.message for o in result.outcomes]
    assert all(o.rendered == 2 and o.last_frame == "frame_00001.png" for o in result.outcomes)
    assert len({o.worker for o in result.outcomes}) <= 2
    assert sum(not o.warm for o in result.outcomes) <= 2  # each worker loads the network once
    assert seen[-1][:2] == (4, 4) and "4 done" in seen[-1][2]

    host = default_host()
    for v in plan:
        alone = batch.load_variation(spec, Variation(v.name, v.overrides, tmp_path / "alone" / v.name), host=host)
        run_spec(alone, host=host)
        mine, theirs = read_manifest(v.out), read_manifest(alone.output.dir)
        assert comparable(mine) == comparable(theirs)
        for a, b in zip(mine, theirs):
            pa, pb = load_image(v.out / a["file"]), load_image(alone.output.dir / b["file"])
            assert np.abs(pa - pb).max() <= 1 / 255 + 1e-6
        saved, reference = read_toml(v.out / SPEC_FILE, origin="x"), read_toml(alone.output.dir / SPEC_FILE, origin="y")
        saved["output"].pop("dir"), reference["output"].pop("dir")
        assert saved == reference

    recorded = json.loads((tmp_path / "batch" / BATCH_FILE).read_text())
    assert [v["status"] for v in recorded["variations"]] == ["done"] * 4
    assert recorded["variations"][0]["overrides"] == ["renderer.steps=1", "transforms.0.scale=0.02"]

    before = frame_times(tmp_path / "batch")
    again = run_batch(spec, plan, folder=tmp_path / "batch", cluster=no_cluster)
    assert [o.status for o in again.outcomes] == ["skipped"] * 4
    assert frame_times(tmp_path / "batch") == before


def test_interrupted_variation_resumes_and_more_frames_continue(tmp_path, cluster):
    spec = write_spec(tmp_path, TINY_DREAM)
    plan = plan_variations(grid_axes(["transforms.0.scale=0.02,0.05"]), out=tmp_path / "b")
    run_batch(spec, plan, folder=tmp_path / "b", cluster=cluster, frames=1)
    first = frame_times(tmp_path / "b")
    result = run_batch(spec, plan, folder=tmp_path / "b", cluster=cluster, frames=2)
    assert [(o.status, o.rendered) for o in result.outcomes] == [("done", 1), ("done", 1)]
    after = frame_times(tmp_path / "b")
    assert {k: after[k] for k in first} == first  # frame 0 of each run was kept, frame 1 added
    assert len(after) == 4


def test_a_failing_variation_is_reported_and_the_others_complete(tmp_path, cluster):
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a.png", "c.png"):
        save_image(photos / name, rng.random((36, 36, 3)).astype(np.float32))
    good = (photos / "a.png").read_bytes()
    (photos / "b.png").write_bytes(good[: len(good) // 2])  # a PNG header, then nothing: it fails on the worker
    spec = write_spec(tmp_path, TINY_DREAM)
    axes = [image_axis(photos), grid_axes(['renderer.octaves=1,"many"'])[0]]
    plan = plan_variations(axes, out=tmp_path / "batch")
    result = run_batch(spec, plan, folder=tmp_path / "batch", cluster=cluster, frames=1)

    status = {o.name: o.status for o in result.outcomes}
    assert status == {
        "a_octaves-1": "done", "a_octaves-many": "failed",
        "b_octaves-1": "failed", "b_octaves-many": "failed",
        "c_octaves-1": "done", "c_octaves-many": "failed",
    }
    messages = {o.name: o.message for o in result.failures}
    assert "octaves" in messages["a_octaves-many"]  # rejected by the spec before any worker saw it
    assert "b.png" in messages["b_octaves-1"]  # failed on the worker, reading the image
    assert all("\n" not in m for m in messages.values())
    page = (tmp_path / "batch" / INDEX_FILE).read_text()
    assert page.count("<img") == 2 and page.count('<figure class="failed"') == 4

    again = run_batch(spec, plan, folder=tmp_path / "batch", cluster=cluster, frames=1)
    assert [o.status for o in again.outcomes if o.name.startswith(("a_", "c_"))] == ["skipped", "failed", "skipped", "failed"]


def test_sequential_batch_without_a_cluster(tmp_path):
    spec = write_spec(tmp_path, TINY_ATLAS)
    plan = plan_variations([class_axis([1])], out=tmp_path / "atlas")
    result = run_batch(spec, plan, folder=tmp_path / "atlas", cluster=None, base_overrides=["output.gif=true"])
    assert [o.status for o in result.outcomes] == ["done"]
    entry = read_manifest(tmp_path / "atlas" / "0001-goldfish")[0]
    assert entry["renderer"]["classes"] == ["1"]
    assert (tmp_path / "atlas" / "thumbs" / "0001-goldfish.jpg").is_file()
    assert '<a class="movie" href="0001-goldfish/tiny.gif">gif</a>' in result.index.read_text()


# -- run folders are untrusted input ------------------------------------------------------------


def _damaged_run(folder: Path, *, entry_file: str, frame_text: bytes | None = None) -> Variation:
    """A variation whose run folder holds one frame (a real PNG unless ``frame_text``) and a manifest naming ``entry_file``."""
    out = folder / "v"
    out.mkdir(parents=True)
    if frame_text is None:
        save_image(out / "frame_00000.png", np.zeros((4, 4, 3), np.float32))
    else:
        (out / "frame_00000.png").write_bytes(frame_text)
    (out / MANIFEST).write_text(json.dumps({"index": 0, "file": entry_file}) + "\n")
    return Variation("v", (), out)


@pytest.mark.parametrize("entry_file, frame_text, expected", [
    ("../../secret.png", None, "points outside the folder"),
    ("frame_00000.png", b"not an image", "cannot read image"),
])
def test_the_contact_sheet_shows_a_damaged_run_as_failed(tmp_path, entry_file, frame_text, expected):
    save_image(tmp_path / "secret.png", np.ones((4, 4, 3), np.float32))
    v = _damaged_run(tmp_path / "b", entry_file=entry_file, frame_text=frame_text)
    index = batch.write_index(tmp_path / "b", [v], [batch.Outcome("v", "done")], title="t")
    page = index.read_text()
    assert '<figure class="failed"' in page and expected in page and "<img" not in page
    assert not (tmp_path / "b" / "thumbs").exists()


def test_thumbnails_are_never_written_through_a_link(tmp_path):
    v = _damaged_run(tmp_path / "b", entry_file="frame_00000.png")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "b" / "thumbs").symlink_to(tmp_path / "elsewhere")
    page = batch.write_index(tmp_path / "b", [v], [batch.Outcome("v", "done")], title="t").read_text()
    assert "the thumbnails folder in" in page and not list((tmp_path / "elsewhere").iterdir())


def test_a_variation_folder_linked_elsewhere_fails_without_running(tmp_path):
    spec = write_spec(tmp_path, TINY_DREAM)
    (tmp_path / "b").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "b" / "v").symlink_to(tmp_path / "elsewhere")
    outcome = batch.check_variation(spec, Variation("v", (), tmp_path / "b" / "v"), host=default_host())
    assert outcome.status == "failed" and "run folder 'v' in" in outcome.message and "points outside" in outcome.message


@pytest.mark.usefixtures("cli_spelling")
def test_the_batch_folder_must_be_a_writable_folder(tmp_path):
    (tmp_path / "taken").write_text("x")
    with pytest.raises(NeuralgaeError, match=r"^batch folder '.*taken' is a file, not a folder; choose another with --out$"):
        batch.batch_folder(tmp_path / "taken")
    with pytest.raises(NeuralgaeError, match=r"^cannot make the batch folder '.*taken/b'"):
        batch.batch_folder(tmp_path / "taken" / "b")
    assert batch.batch_folder(tmp_path / "new" / "b").is_dir()


def test_a_spec_name_is_not_shadowed_by_the_batch_folder(tmp_path, monkeypatch):
    host = default_host()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "atlas").mkdir()  # nd batch atlas --classes goldfish --out atlas
    plan = plan_variations([class_axis([1])], out=tmp_path / "atlas")
    assert batch.resolve_spec_argument("atlas", host=host) == "atlas"
    assert batch.check_variation("atlas", plan[0], host=host) is None  # loads: has work to do
    assert batch.load_variation("atlas", plan[0], host=host).name == "atlas"


# -- the command line -----------------------------------------------------------------------


@pytest.fixture
def cli(cluster, monkeypatch):
    """An app with `nd batch` whose local cluster is the module's shared one."""
    from neuralgae_cli.batch import register

    @contextlib.contextmanager
    def shared(**options):
        yield cluster

    monkeypatch.setattr(batch, "dask_cluster", shared)
    app = typer.Typer()
    register(app)
    return app


def test_cli_atlas_writes_runs_batch_file_and_contact_sheet(tmp_path, cli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_spec(tmp_path, TINY_ATLAS, "atlas.toml")
    runner = CliRunner()
    result = runner.invoke(cli, ["atlas.toml", "--out", "atlas", "--classes", "giant panda, 1", "-q"])
    assert result.exit_code == 0, result.output
    assert "2 done" in result.output
    folder = tmp_path / "atlas"
    assert sorted(p.name for p in folder.iterdir()) == ["0001-goldfish", "0388-giant_panda", BATCH_FILE, INDEX_FILE, "thumbs"]
    assert (folder / "0388-giant_panda" / MANIFEST).is_file()
    page = (folder / INDEX_FILE).read_text()
    assert "giant panda" in page and "goldfish" in page and 'src="thumbs/0388-giant_panda.jpg"' in page

    again = runner.invoke(cli, ["atlas.toml", "--out", "atlas", "--classes", "giant panda, 1", "-q"])
    assert again.exit_code == 0 and "2 skipped" in again.output


def test_cli_reports_each_failure_in_one_line_and_exits_1(tmp_path, cli):
    photos = tmp_path / "photos"
    photos.mkdir()
    save_image(photos / "good.png", np.full((48, 48, 3), 0.5, np.float32))
    data = (photos / "good.png").read_bytes()
    (photos / "torn.png").write_bytes(data[: len(data) // 2])  # its header reads; its pixels do not, on the worker
    spec = write_spec(tmp_path, TINY_ATLAS, "atlas.toml")
    result = CliRunner().invoke(cli, [spec, "--out", str(tmp_path / "b"), "--classes", "1", "--images", str(photos), "-q"])
    assert result.exit_code == 1
    assert "1 done, 1 failed" in result.output
    failures = [line for line in result.output.splitlines() if "failed:" in line]
    assert len(failures) == 1 and "0001-goldfish_torn" in failures[0] and "torn.png" in failures[0]


def test_cli_refuses_a_grid_value_no_run_could_use_before_any_run(tmp_path, cli):
    spec = write_spec(tmp_path, TINY_ATLAS, "atlas.toml")
    result = CliRunner().invoke(cli, [spec, "--out", str(tmp_path / "b"), "--classes", "1", "--grid", "renderer.preset=fast,nope", "-q"])
    assert result.exit_code == 1
    (line,) = result.output.strip().splitlines()
    assert line.startswith("nd: error: no run of the batch could use preset = nope: ") and "'preset' must be one of" in line
    assert not (tmp_path / "b").exists()


def test_cli_failure_lines_keep_brackets(tmp_path, cli, monkeypatch):
    def failing_batch(spec, variations, *, folder, **options):
        outcomes = [batch.Outcome(v.name, "failed", "spec.toml: missing [renderer] table; add one") for v in variations]
        return batch.BatchResult(folder, list(variations), outcomes, folder / INDEX_FILE, 0.0)

    monkeypatch.setattr(batch, "run_batch", failing_batch)
    spec = write_spec(tmp_path, TINY_ATLAS, "atlas.toml")
    result = CliRunner().invoke(cli, [spec, "--out", str(tmp_path / "b"), "--classes", "1", "-q"])
    assert result.exit_code == 1
    [line] = [line for line in result.output.splitlines() if "failed:" in line]
    assert line.endswith("0001-goldfish: spec.toml: missing [renderer] table; add one")


def test_cli_accepts_a_spec_that_only_the_variations_complete(tmp_path, cli):
    spec = write_spec(tmp_path, TINY_DREAM.replace('[renderer]\nname = "dream"\n', "[renderer]\n"))
    result = CliRunner().invoke(cli, [spec, "--out", str(tmp_path / "b"), "--grid", "renderer.name=dream", "--frames", "1", "-q"])
    assert result.exit_code == 0, result.output
    assert read_manifest(tmp_path / "b" / "name-dream")[0]["renderer"]["name"] == "dream"


def test_cli_refuses_bad_input_in_one_line(tmp_path, cli):
    spec = write_spec(tmp_path, TINY_ATLAS, "atlas.toml")
    runner = CliRunner()
    for args, expected in (
        ([spec, "--classes", "goldfsh"], "did you mean 'goldfish'"),
        ([spec], "needs variations"),
        ([spec, "--grid", "renderer.steps"], "KEY.PATH=VALUE1,VALUE2"),
        ([spec, "--classes", "1", "--set", "renderer.bogus=1"], "bogus"),
        ([spec, "--images", str(tmp_path / "none")], "not a folder"),
        ([write_spec(tmp_path, TINY_DREAM), "--classes", "1"], "renderer 'dream' does not"),
        ([spec, "--classes", "1", "--scheduler", "tcp://127.0.0.1:1", "--workers", "2"], "--workers sizes the local cluster only"),
    ):
        result = runner.invoke(cli, [*args, "--out", str(tmp_path / "o")])
        assert result.exit_code == 1, args
        assert expected in result.output and "Traceback" not in result.output
        assert not (tmp_path / "o").exists()


def test_contact_sheet_images_load_in_a_browser(tmp_path, browser):
    spec = write_spec(tmp_path, TINY_ATLAS)
    plan = plan_variations([class_axis([1, 388])], out=tmp_path / "atlas")
    result = run_batch(spec, plan, folder=tmp_path / "atlas", cluster=None)
    page = browser.new_page()
    page.goto(result.index.as_uri())
    loaded = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.complete && i.naturalWidth > 0)")
    captions = page.eval_on_selector_all("figcaption", "els => els.map(e => e.textContent)")
    page.close()
    assert loaded == [True, True]
    assert captions == ["1goldfish", "388giant panda"]


def test_cli_batch_folder_that_is_a_file_is_one_line(tmp_path, cli):
    spec = write_spec(tmp_path, TINY_ATLAS, "atlas.toml")
    (tmp_path / "o").write_text("mine")
    result = CliRunner().invoke(cli, [spec, "--classes", "1", "--out", str(tmp_path / "o"), "-q"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.strip().splitlines() == [f"nd: error: batch folder '{tmp_path / 'o'}' is a file, not a folder; choose another with --out"]
    assert (tmp_path / "o").read_text() == "mine"
