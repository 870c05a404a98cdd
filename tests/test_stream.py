"""The live stream's engine: requests, rate limits, the subject queue, zoom, frames, recording, the render thread."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from neuralgae.core.nets.classes import lookup_class
from neuralgae.core.host.errors import NeuralgaeError
from neuralgae.core.stream.stream import (
    RateLimiter,
    RequestRejected,
    StreamRenderer,
    StreamSettings,
    SubjectQueue,
    parse_request,
    subject_targets,
    zoom_image,
)
from neuralgae.core.stream.stream_live import LiveStream
from neuralgae.core.stream.stream_record import StreamRecorder

GOLDFISH, VOLCANO, FROG = (lookup_class(n).index for n in ("goldfish", "volcano", "tree frog"))


def queue(**kw) -> SubjectQueue:
    kw.setdefault("limiter", RateLimiter(burst=100, every=1.0))
    return SubjectQueue(rng=np.random.default_rng(5), hold=60.0, **kw)


def names(q: SubjectQueue) -> list[str]:
    return [s.name for s in q.subjects]


# -- requests --------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["goldfish", "  GoldFish ", "Carassius auratus", "1", "tree   frog"])
def test_requests_find_classes_by_any_name(text):
    assert parse_request(text).index in (GOLDFISH, FROG)


@pytest.mark.parametrize(
    "text, words",
    [
        ("", "empty"),
        ("   ", "empty"),
        (None, "name of a class"),
        (42, "name of a class"),
        ("x" * 81, "81 characters"),
        ("gold\x00fish", "control characters"),
        ("goldfsh", "did you mean 'goldfish'"),
        ("qwzzyx", "pick a name"),
    ],
)
def test_bad_requests_say_what_is_wrong(text, words):
    with pytest.raises(RequestRejected, match=words) as info:
        parse_request(text)
    assert info.value.kind == "invalid"
    assert isinstance(info.value, NeuralgaeError)


def test_rate_limiter_allows_a_burst_then_one_per_interval():
    limiter = RateLimiter(burst=3, every=10.0)
    for _ in range(3):
        limiter.take("a", 0.0)
    with pytest.raises(RequestRejected, match="wait 10 s") as info:
        limiter.take("a", 0.0)
    assert info.value.kind == "too_many"
    limiter.take("b", 0.0)  # other clients are not affected
    assert limiter.wait("a", 4.0) == pytest.approx(6.0)
    limiter.take("a", 10.0)
    with pytest.raises(RequestRejected):
        limiter.take("a", 11.0)


def test_rate_limiter_memory_is_bounded():
    limiter = RateLimiter(burst=1, every=1.0, max_clients=10)
    for i in range(100):
        limiter.take(str(i), float(i))
    assert len(limiter._buckets) <= 11


# -- the subject queue -------------------------------------------------------------------


def test_a_request_replaces_the_streams_own_pick_at_once():
    q = queue()
    assert len(q.subjects) == 1 and not q.subjects[0].requested
    placed = q.request("goldfish", client="a", now=1.0)
    assert placed["position"] == 0
    assert names(q) == ["goldfish"] and q.subjects[0].requested


def test_two_subjects_are_aimed_at_the_top_and_bottom_and_a_third_waits():
    q = queue(initial=["goldfish"])
    assert q.request("volcano", client="a", now=1.0)["position"] == 0
    assert q.request("tree frog", client="b", now=2.0)["position"] == 1
    snap = q.snapshot(3.0)
    assert [(s["name"], s["aim"]) for s in snap["subjects"]] == [("goldfish", "top"), ("volcano", "bottom")]
    assert [w["name"] for w in snap["queue"]] == ["tree frog"]
    assert snap["subjects"][0]["left"] == pytest.approx(57.0)


def test_when_a_subject_has_held_its_time_the_next_request_takes_its_slot():
    q = queue(initial=["goldfish"], now=0.0)
    q.request("volcano", client="a", now=30.0)
    q.request("tree frog", client="a", now=31.0)
    assert not q.advance(59.0)
    assert q.advance(60.0)
    assert names(q) == ["tree frog", "volcano"]  # goldfish's slot (top); volcano stays below
    assert q.waiting == []


def test_an_expired_second_subject_leaves_the_picture_to_the_first_when_nobody_waits():
    q = queue(initial=["goldfish"], now=0.0)
    q.request("volcano", client="a", now=10.0)
    q.advance(60.0)
    assert names(q) == ["volcano"]
    assert q.snapshot(60.0)["subjects"][0]["aim"] == "all"


def test_a_lone_expired_subject_wanders_to_a_new_class_or_stays():
    wandering = queue(initial=["goldfish"])
    wandering.advance(61.0)
    [s] = wandering.subjects
    assert s.index != GOLDFISH and not s.requested and s.since == 61.0
    staying = queue(initial=["goldfish"], wander=False)
    assert not staying.advance(500.0)
    assert names(staying) == ["goldfish"]


def test_duplicates_and_a_full_queue_are_refused_and_change_nothing():
    q = queue(initial=["goldfish", "volcano"], max_waiting=2)
    q.request("tree frog", client="a", now=1.0)
    q.request("pizza", client="a", now=1.0)
    version = q.version
    with pytest.raises(RequestRejected, match="on the stream now") as info:
        q.request("Goldfish", client="a", now=2.0)
    assert info.value.kind == "duplicate"
    with pytest.raises(RequestRejected, match="already in the queue"):
        q.request("tree frog", client="a", now=2.0)
    with pytest.raises(RequestRejected, match="queue is full") as info:
        q.request("broccoli", client="b", now=2.0)
    assert info.value.kind == "queue_full"
    with pytest.raises(RequestRejected):
        q.request("goldfsh", client="b", now=2.0)
    assert q.version == version
    assert [w.name for w in q.waiting] == ["tree frog", "pizza"]


def test_refused_requests_do_not_spend_the_clients_allowance():
    q = queue(initial=["goldfish"], limiter=RateLimiter(burst=1, every=60.0))
    for _ in range(3):
        with pytest.raises(RequestRejected):
            q.request("nonsense-thing", client="a", now=0.0)
    q.request("volcano", client="a", now=0.0)
    with pytest.raises(RequestRejected, match="too many") as info:
        q.request("tree frog", client="a", now=1.0)
    assert info.value.kind == "too_many"


def test_queue_settings_are_checked():
    with pytest.raises(NeuralgaeError, match="hold time"):
        SubjectQueue(rng=np.random.default_rng(0), hold=0)
    with pytest.raises(NeuralgaeError, match="at most 2"):
        SubjectQueue(rng=np.random.default_rng(0), initial=["goldfish", "volcano", "pizza"])


def test_the_queue_is_safe_to_use_from_several_threads():
    q = queue(max_waiting=1000)
    classes = [str(i) for i in range(200)]

    def ask(part):
        for c in part:
            q.request(c, client=c, now=1.0)

    threads = [threading.Thread(target=ask, args=(classes[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    shown = {s.index for s in q.subjects}
    assert len(shown) + len(q.waiting) == 200
    assert shown | {w.index for w in q.waiting} == set(range(200))


# -- zoom and targets -------------------------------------------------------------------


def test_zoom_image_turns_counter_clockwise_and_magnifies_about_the_centre():
    image = np.zeros((65, 65, 3), np.float32)
    image[32, 52] = 1.0  # a dot 20 px right of the centre
    turned = zoom_image(image, zoom=1.0, degrees=90.0)
    row, col = np.unravel_index(turned[..., 0].argmax(), turned.shape[:2])
    assert abs(row - 12) <= 1 and abs(col - 32) <= 1  # now 20 px above it
    square = np.zeros((64, 64, 3), np.float32)
    square[24:40, 24:40] = 1.0
    grown = zoom_image(square, zoom=2.0, degrees=0.0)
    assert grown.mean() == pytest.approx(4 * square.mean(), rel=0.1)
    assert np.allclose(zoom_image(square, zoom=1.0, degrees=0.0), square, atol=1e-5)


def test_one_subject_covers_the_picture_and_two_split_it():
    [one] = subject_targets([GOLDFISH], 64, 96)
    assert one.mask is None and one.name == "goldfish"
    top, bottom = subject_targets([GOLDFISH, VOLCANO], 64, 96)
    assert top.mask[:32].min() == 1 and top.mask[32:].max() == 0
    assert bottom.mask[32:].min() == 1 and bottom.mask[:32].max() == 0
    with pytest.raises(NeuralgaeError, match="no subject"):
        subject_targets([], 64, 64)


# -- the renderer -------------------------------------------------------------------------

TINY = StreamSettings(width=64, height=48, steps=1, first_steps=2, prior_weight=0.0)


def test_stream_settings_are_checked():
    with pytest.raises(NeuralgaeError, match="zoom per frame"):
        StreamSettings(zoom=0.9).validate()
    with pytest.raises(NeuralgaeError, match="at least 32x32"):
        StreamSettings(width=16).validate()
    with pytest.raises(NeuralgaeError, match="steps per frame"):
        StreamSettings(steps=0).validate()


def test_the_renderer_zooms_and_draws_deterministically(net):
    def frames(seed):
        r = StreamRenderer(net, settings=TINY, rng=np.random.default_rng(seed))
        return [r.next_frame([GOLDFISH]), r.next_frame([GOLDFISH, VOLCANO])]

    a, b = frames(3), frames(3)
    assert a[0].shape == (48, 64, 3) and a[0].dtype == np.float32
    assert 0 <= a[1].min() and a[1].max() <= 1
    assert np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], a[1])


@pytest.mark.usefixtures("cli_spelling")
def test_the_renderer_continues_only_from_an_image_of_its_size(net):
    with pytest.raises(NeuralgaeError, match="--size 32x32"):
        StreamRenderer(net, settings=TINY, rng=np.random.default_rng(0), image=np.zeros((32, 32, 3), np.float32))


# -- recording ---------------------------------------------------------------------------


def test_a_recording_is_a_run_folder_that_continues(tmp_path):
    from neuralgae.core.media.movie import list_frames
    from neuralgae.core.runs.runfolder import read_manifest

    folder = tmp_path / "rec"
    rec = StreamRecorder(folder, settings=TINY.as_dict(), seed=7)
    assert rec.last_image() is None
    image = np.full((48, 64, 3), 0.25, np.float32)
    rec.write(image, subjects=[GOLDFISH], seconds=1.5)
    rec.write(image * 2, subjects=[GOLDFISH, VOLCANO])
    entries = read_manifest(folder)
    assert [e["file"] for e in entries] == ["frame_00000.png", "frame_00001.png"]
    assert entries[1]["class_names"] == ["goldfish", "volcano"]
    assert entries[0]["renderer"]["name"] == "stream"
    again = StreamRecorder(folder, settings=TINY.as_dict(), seed=7)
    assert again.count == 2
    assert np.allclose(again.last_image(), 0.5, atol=1 / 255)
    again.write(image, subjects=[FROG])
    assert len(list_frames(folder)) == 3 and len(read_manifest(folder)) == 3


def test_recording_refuses_a_folder_of_other_files(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(NeuralgaeError, match="holds other files"):
        StreamRecorder(tmp_path, settings={}, seed=0)
    with pytest.raises(NeuralgaeError, match="is a file"):
        StreamRecorder(tmp_path / "notes.txt", settings={}, seed=0)


# -- the render thread ---------------------------------------------------------------------


class FakeRenderer:
    """Frames in a few milliseconds: a grey level that counts up."""

    def __init__(self):
        self.settings = StreamSettings(width=32, height=32, steps=2, first_steps=2)
        self.calls: list[tuple[int, ...]] = []

    def steps_of_next(self):
        return 2

    def next_frame(self, subjects, *, progress):
        for i in range(2):
            time.sleep(0.005)
            progress(i + 1, 2, "")
        self.calls.append(tuple(subjects))
        return np.full((32, 32, 3), (len(self.calls) % 10) / 10, np.float32)


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_the_thread_renders_only_while_someone_watches_and_stops_cleanly(tmp_path):
    clock = Clock()
    renderer = FakeRenderer()
    rec = StreamRecorder(tmp_path / "rec", settings=renderer.settings.as_dict(), seed=0)
    live = LiveStream(renderer, queue(initial=["goldfish"]), recorder=rec, clock=clock, idle_after=10.0)
    live.start()
    try:
        state = live.wait_for(lambda s: s["status"] == "paused", timeout=10)
        assert state["status"] == "paused" and renderer.calls == []
        live.viewer_joined()
        state = live.wait_for(lambda s: s["frame"] is not None and s["frame"]["index"] >= 2, timeout=10)
        assert state["frame"]["subjects"] == [GOLDFISH]
        assert live.frame(0).jpeg[:2] == b"\xff\xd8"
        live.viewer_left()
        clock.now = 11.0
        live.wait_for(lambda s: s["status"] == "paused", timeout=10)
        made = len(renderer.calls)
        time.sleep(0.1)
        assert len(renderer.calls) == made
    finally:
        live.stop()
    assert live.state()["status"] == "stopped"
    assert rec.count == made
    assert live.error is None


def test_always_render_renders_with_nobody_watching_and_keeps_only_recent_frames():
    live = LiveStream(FakeRenderer(), queue(), always_render=True, keep=3)
    live.start()
    try:
        state = live.wait_for(lambda s: s["frame"] is not None and s["frame"]["index"] >= 5, timeout=10)
    finally:
        live.stop()
    assert len(state["frames"]) == 3 and live.frame(0) is None
    assert state["interval"] is not None and state["progress"]["total"] == 2


def test_an_error_in_the_thread_is_reported_not_lost():
    class Broken(FakeRenderer):
        def next_frame(self, subjects, *, progress):
            raise RuntimeError("out of paint")

    live = LiveStream(Broken(), queue(), always_render=True)
    live.start()
    state = live.wait_for(lambda s: s["status"] == "failed", timeout=10)
    live.stop()
    assert state["error"] == "RuntimeError: out of paint"
