"""Keyframe schedules: interpolation, easings, validation, --set, the manifest's per-frame values, resume."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from neuralgae.core.host.components import FrameContext
from neuralgae.core.host.errors import NeuralgaeError
from neuralgae.core.media.images import load_image
from neuralgae.core.runs.pipeline import run_spec
from neuralgae.core.runs.runfolder import read_manifest
from neuralgae.core.host.plugins import PluginHost
from neuralgae.core.runs.schedule import EASINGS, Keyframes, numeric_kind, parse_keyframes
from neuralgae.core.runs.spec import load_spec
from test_plugins_fakes import StopAfter, fake_host

SPEC = """\
network = "tiny"
seed = 3
frames = 6

[source]
noise = "40x32"

[renderer]
name = "dream"
steps = { keys = [[0, 2], [5, 12]], ease = "linear" }
step_size = 0.02

[[transforms]]
name = "zoom"
scale = { keys = [[1, 0.0], [3, 0.2], [5, 0.1]], ease = "smooth" }
"""


def make_spec(tmp_path: Path, host, text: str = SPEC, *, out: str = "out", overrides=(), frames=None):
    path = tmp_path / "spec.toml"
    path.write_text(text, encoding="utf-8")
    return load_spec(path, host=host, overrides=overrides, frames=frames, out=tmp_path / out)


def keys(*pairs, ease="linear", kind=float):
    return parse_keyframes({"keys": [list(p) for p in pairs], "ease": ease}, kind=kind, label="p")


# -- interpolation and easing ------------------------------------------------------------------


def test_linear_keys_interpolate_and_hold_outside():
    k = keys((10, 1.0), (20, 3.0), (30, -1.0))
    assert [k.at(f) for f in (0, 10, 15, 20, 25, 30, 99)] == [1.0, 1.0, 2.0, 3.0, 1.0, -1.0, -1.0]


def test_a_single_key_is_a_constant():
    k = keys((4, 0.25))
    assert {k.at(f) for f in range(10)} == {0.25}


@pytest.mark.parametrize("name", sorted(EASINGS))
def test_every_easing_joins_the_keys_without_overshoot(name):
    ease = EASINGS[name]
    ts = np.linspace(0, 1, 201)
    ys = np.array([ease(t) for t in ts])
    assert ease(0.0) == pytest.approx(0.0)
    assert ys.min() >= 0.0 and ys.max() <= 1.0 + 1e-12
    assert np.all(np.diff(ys) >= -1e-12), "an easing must not turn back"
    if name != "step":
        assert ease(1.0) == pytest.approx(1.0)
    k = keys((0, 2.0), (10, 4.0), ease=name)
    assert all(2.0 <= k.at(f) <= 4.0 for f in range(12))
    assert k.at(10) == 4.0  # the key's value is reached at the key, for every easing


def test_easings_have_their_shapes():
    assert EASINGS["smooth"](0.5) == pytest.approx(0.5)
    assert EASINGS["smooth"](0.1) < 0.1 < EASINGS["ease-out"](0.1)
    assert EASINGS["ease-in"](0.5) == pytest.approx(0.25)
    assert EASINGS["smoother"](0.1) < EASINGS["smooth"](0.1)
    step = keys((0, 1.0), (5, 2.0), ease="step")
    assert [step.at(f) for f in range(7)] == [1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0]
    # smooth: symmetric about the middle of a segment, slow near the keys
    k = keys((0, 0.0), (10, 1.0), ease="smooth")
    assert k.at(1) + k.at(9) == pytest.approx(1.0) and k.at(1) < 0.05


def test_whole_number_parameters_round_to_the_nearest():
    k = keys((0, 2), (4, 4), kind=int)
    assert [k.at(f) for f in range(5)] == [2, 3, 3, 4, 4]  # 2.5 rounds up to 3, 3.5 to 4
    assert all(isinstance(k.at(f), int) for f in range(5))


def test_only_numbers_can_move():
    assert numeric_kind(float) is float and numeric_kind(int) is int
    assert numeric_kind(float | None) is float
    assert numeric_kind(bool) is None and numeric_kind(str) is None and numeric_kind(int | str) is None


# -- validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "table, kind, message",
    [
        ({"keys": []}, float, "keys must be a list of [frame, value] pairs"),
        ({"keys": 0.1}, float, "keys must be a list of [frame, value] pairs"),
        ({"keys": [[0, 0.1, 2]]}, float, "key 0 must be a pair [frame, value]"),
        ({"keys": [[-1, 0.1]]}, float, "key 0 must start with a frame number (a whole number >= 0); got -1"),
        ({"keys": [[0.5, 0.1]]}, float, "key 0 must start with a frame number"),
        ({"keys": [[0, "big"]]}, float, "key 0 (frame 0) must give a number as its value; got 'big'"),
        ({"keys": [[0, 1], [5, 2.5]]}, int, "key 1 (frame 5) must give a whole number as its value; got 2.5"),
        ({"keys": [[0, 1.0], [60, 2.0], [30, 3.0]]}, float, "keys must be in frame order, each frame after the one before; key 2 is at frame 30, after frame 60"),
        ({"keys": [[0, 1.0], [0, 2.0]]}, float, "key 1 is at frame 0, after frame 0"),
        ({"keys": [[0, 1.0]], "ease": "smoth"}, float, "ease must be one of 'linear', 'smooth'"),
        ({"keys": [[0, 1.0]], "eas": "smooth"}, float, "unknown key 'eas' in its schedule; did you mean 'ease'?"),
    ],
)
def test_bad_keyframes_are_one_clear_line(table, kind, message):
    with pytest.raises(NeuralgaeError) as info:
        parse_keyframes(table, kind=kind, label="spec: renderer (dream): parameter 'x'")
    text = str(info.value)
    assert message in text and text.startswith("spec: renderer (dream): parameter 'x'") and "\n" not in text
    if "ease must be" in message:
        assert "did you mean 'smooth'" in text


def test_a_schedule_on_a_parameter_that_is_not_a_number_is_refused(tmp_path):
    text = SPEC.replace('step_size = 0.02', 'layers = { keys = [[0, 1]] }')
    with pytest.raises(NeuralgaeError, match=r"renderer \(dream\): parameter 'layers' is str, not a number, so it cannot follow a schedule"):
        make_spec(tmp_path, fake_host(), text)


def test_key_values_are_checked_against_the_components_own_limits(tmp_path):
    # The real zoom refuses scale >= 1; a key that reaches 1.5 is refused before any frame is rendered.
    host = PluginHost(entry_points=False)
    text = (
        '[source]\nnoise = "64x64"\n[renderer]\nname = "dream"\n'
        '[[transforms]]\nname = "zoom"\nscale = { keys = [[0, 0.05], [30, 1.5]] }\n'
    )
    with pytest.raises(NeuralgaeError) as info:
        make_spec(tmp_path, host, text)
    message = str(info.value)
    assert "transforms[0] (zoom): parameter 'scale': its schedule reaches 1.5, which the component refuses" in message
    assert "transform 'zoom': parameter 'scale' must be < 1; got 1.5" in message
    assert make_spec(tmp_path, host, text.replace("1.5", "0.2")).transforms[0].at(30)["scale"] == 0.2


def test_set_gives_a_schedule_and_changes_its_parts(tmp_path):
    host = fake_host()
    spec = make_spec(tmp_path, host, overrides=["transforms.0.scale={keys=[[0,0.01],[99,0.05]]}"])
    scale = spec.transforms[0].params["scale"]
    assert isinstance(scale, Keyframes) and scale.at(99) == 0.05 and scale.at(0) == 0.01
    spec = make_spec(tmp_path, host, overrides=["transforms.0.scale.ease=step", "renderer.steps=4"])
    assert spec.transforms[0].params["scale"].ease == "step" and spec.renderer.params["steps"] == 4
    with pytest.raises(NeuralgaeError, match="ease must be one of"):
        make_spec(tmp_path, host, overrides=["transforms.0.scale.ease=wobbly"])


# -- runs ---------------------------------------------------------------------------------------


def test_the_manifest_records_the_value_each_frame_used(tmp_path):
    host = fake_host()
    run = run_spec(make_spec(tmp_path, host), host=host)
    entries = read_manifest(run.dir)
    assert [e["renderer"]["steps"] for e in entries] == [2, 4, 6, 8, 10, 12]
    assert entries[0]["transforms"] == []
    scales = [e["transforms"][0]["scale"] for e in entries[1:]]
    assert scales == pytest.approx([0.0, 0.1, 0.2, 0.15, 0.1])
    # the resolved spec keeps the schedules, and reads back equal
    saved = (run.dir / "spec.toml").read_text()
    assert 'steps = {keys = [[0, 2], [5, 12]], ease = "linear"}' in saved
    assert load_spec(run.dir / "spec.toml", host=host).to_dict() == run.spec.to_dict()


def test_frames_follow_the_schedule(tmp_path):
    # Frame 0 uses the first key's values: the same pixels as a run with those values fixed;
    # later frames use other values, so their pixels part ways with that run.
    host = fake_host()
    moving = run_spec(make_spec(tmp_path, host, frames=3), host=host)
    fixed = run_spec(make_spec(tmp_path, host, out="fixed", overrides=["renderer.steps=2", "transforms.0.scale=0.0"], frames=3), host=host)
    pixels = lambda run, i: load_image(run.dir / f"frame_0000{i}.png")  # noqa: E731
    np.testing.assert_array_equal(pixels(moving, 0), pixels(fixed, 0))
    assert not np.array_equal(pixels(moving, 1), pixels(fixed, 1))
    # a schedule that holds one value is that value
    flat = run_spec(make_spec(tmp_path, host, out="flat", overrides=[
        "renderer.steps={keys=[[0, 2], [9, 2]]}", "transforms.0.scale={keys=[[0, 0.0]], ease='step'}"], frames=3), host=host)
    for i in range(3):
        np.testing.assert_array_equal(pixels(flat, i), pixels(fixed, i))


@pytest.mark.parametrize("stop", [0, 3])
def test_resume_with_schedules_gives_identical_frames(tmp_path, stop):
    host = fake_host()
    clean = run_spec(make_spec(tmp_path, host, out="clean"), host=host)
    killer = fake_host(StopAfter(stop))
    with pytest.raises(KeyboardInterrupt):
        run_spec(make_spec(tmp_path, killer, out="resumed"), host=killer)
    resumed = run_spec(make_spec(tmp_path, host, out="resumed"), host=host, resume=True)
    assert resumed.start == stop + 1
    names = sorted(p.name for p in clean.dir.glob("frame_*.png"))
    assert [(resumed.dir / n).read_bytes() for n in names] == [(clean.dir / n).read_bytes() for n in names]
    strip = lambda es: [{k: v for k, v in e.items() if k != "seconds"} for e in es]  # noqa: E731
    assert strip(read_manifest(resumed.dir)) == strip(read_manifest(clean.dir))


def test_resume_refuses_a_changed_schedule(tmp_path):
    host = fake_host()
    killer = fake_host(StopAfter(1))
    with pytest.raises(KeyboardInterrupt):
        run_spec(make_spec(tmp_path, killer), host=killer)
    with pytest.raises(NeuralgaeError, match=r"the spec changed at transforms\[0\]\.scale\.ease"):
        run_spec(make_spec(tmp_path, host, overrides=["transforms.0.scale.ease=linear"]), host=host, resume=True)


def test_samplers_take_schedules_too(tmp_path):
    host = fake_host()
    text = SPEC + '\n[sampler]\nname = "top"\nk = { keys = [[1, 1], [4, 4]] }\n'
    run = run_spec(make_spec(tmp_path, host, text), host=host)
    assert [len(e["classes"]) for e in read_manifest(run.dir)[1:]] == [1, 2, 3, 4, 4]


def test_nested_steps_of_a_chain_follow_their_schedules():
    from neuralgae.plugins import transforms as T

    registry = PluginHost(entry_points=False).transforms
    step = {"name": "zoom", "scale": {"keys": [[0, 0.0], [10, 0.5]]}}
    for index, expected in ((0, 0.0), (5, 0.25), (10, 0.5)):
        ctx = FrameContext(index=index, total=11, rng=np.random.default_rng(0), transforms=registry)
        _, params = T.resolve_step(step, ctx, where="chain")
        assert params["scale"] == pytest.approx(expected)


def test_a_renderers_schedule_is_checked_against_its_check_params(tmp_path):
    # The real dream renderer declares its limits (check_params): a step size of 2 is refused before any work.
    host = PluginHost(entry_points=False)
    text = '[source]\nnoise = "64x64"\n[renderer]\nname = "dream"\nstep_size = { keys = [[0, 0.01], [59, 2.0]] }\n'
    with pytest.raises(NeuralgaeError) as info:
        make_spec(tmp_path, host, text)
    assert (
        "renderer (dream): parameter 'step_size': its schedule reaches 2.0, which the component refuses: "
        "renderer 'dream': parameter 'step_size' must satisfy 0 < value <= 1; got 2.0"
    ) in str(info.value)
    # a limit across parameters is still the renderer's check_params
    text = '[source]\nnoise = "64x64"\n[renderer]\nname = "dream"\ntile_size = 128\ntile_overlap = { keys = [[0, 8], [9, 100]] }\n'
    with pytest.raises(NeuralgaeError, match="its schedule reaches 100, which the component refuses: tile overlap must be between 0 and half"):
        make_spec(tmp_path, host, text)
    with pytest.raises(NeuralgaeError, match=r"renderer \(dream\): parameter 'octaves' must be >= 1; got 0"):
        make_spec(tmp_path, host, '[source]\nnoise = "64x64"\n[renderer]\nname = "dream"\noctaves = 0\n')
    # a renderer without check_params (the fake dream) is checked against the type only
    assert make_spec(tmp_path, fake_host(), SPEC.replace("[5, 12]", "[5, 500]")).renderer.at(5)["steps"] == 500


def test_the_manifest_records_the_values_nested_steps_used(tmp_path):
    import neuralgae.plugins.transforms as builtin
    from neuralgae.core.host.hookspecs import hookimpl

    class ChainOnly:  # the built-in chain beside the fakes (whose zoom it nests)
        __name__ = "chain_only"

        @hookimpl
        def register_transforms(self, register):
            register(builtin.chain)

    host = fake_host(ChainOnly())
    text = SPEC.replace(
        '[[transforms]]\nname = "zoom"\nscale = { keys = [[1, 0.0], [3, 0.2], [5, 0.1]], ease = "smooth" }',
        '[[transforms]]\nname = "chain"\ntransforms = [{ name = "zoom", scale = { keys = [[1, 0.0], [5, 0.2]] } }]',
    )
    run = run_spec(make_spec(tmp_path, host, text), host=host)
    steps = [e["transforms"][0]["transforms"][0] for e in read_manifest(run.dir)[1:]]
    assert [s["name"] for s in steps] == ["zoom"] * 5
    assert [s["scale"] for s in steps] == pytest.approx([0.0, 0.05, 0.1, 0.15, 0.2])
    assert "keys" in (run.dir / "spec.toml").read_text()  # the spec keeps the schedule itself
