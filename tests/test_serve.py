"""`nd serve`'s web layer with Starlette's test client, on a real network at a tiny size."""

from __future__ import annotations

import asyncio
import io
import json
import logging

import numpy as np
import pytest
import typer
from PIL import Image
from starlette.testclient import TestClient
from typer.testing import CliRunner
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from neuralgae.core.stream.stream import RateLimiter, StreamRenderer, StreamSettings, SubjectQueue
from neuralgae.core.stream.stream_live import LiveStream
from neuralgae_cli.serve import MAX_BODY, build_stream, create_app, register

TINY = StreamSettings(width=64, height=64, steps=1, first_steps=1, prior_weight=0.0)


def make_live(net, **queue_options) -> LiveStream:
    """A stream that renders without viewers (the test client opens no event stream while it waits)."""
    queue_options.setdefault("limiter", RateLimiter(burst=3, every=60.0))
    queue = SubjectQueue(rng=np.random.default_rng(1), hold=60.0, **queue_options)
    renderer = StreamRenderer(net, settings=TINY, rng=np.random.default_rng(2))
    return LiveStream(renderer, queue, always_render=True)


@pytest.fixture
def client(net):
    live = make_live(net, initial=["goldfish"])
    with TestClient(create_app(live)) as c:
        c.live = live
        yield c


def ask(client, name):
    return client.post("/request", json={"name": name})


def test_the_page_and_its_assets_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    for piece in ('<canvas id="view"', 'list="class-names"', "/static/app.js", "/static/style.css", 'id="queue"'):
        assert piece in page.text
    assert "EventSource" in client.get("/static/app.js").text
    assert client.get("/static/style.css").status_code == 200


def test_classes_for_autocomplete(client):
    classes = client.get("/classes").json()
    assert len(classes) == 1000
    assert classes[1]["name"] == "goldfish" and "Carassius auratus" in classes[1]["also"]


def test_the_stream_delivers_image_frames(client):
    state = client.live.wait_for(lambda s: s["frame"] is not None and s["frame"]["index"] >= 1, timeout=60)
    index = state["frame"]["index"]
    response = client.get(f"/frame/{index}.jpg")
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    image = Image.open(io.BytesIO(response.content))
    assert image.size == (64, 64)
    assert np.asarray(image).std() > 1  # a picture, not a blank
    latest = client.get("/frame/latest.jpg")
    assert latest.status_code == 200 and int(latest.headers["x-frame-index"]) >= index
    missing = client.get("/frame/999999.jpg")
    assert missing.status_code == 404 and "not available" in missing.json()["error"]


def test_events_stream_the_state_as_json(client):
    response = client.get("/events?limit=2")
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [json.loads(line[len("data: "):]) for line in response.text.splitlines() if line.startswith("data: ")]
    assert len(events) == 2
    assert events[0]["subjects"][0]["name"] == "goldfish"
    assert {"progress", "queue", "zoom", "rotate", "width", "height", "status"} <= set(events[0])
    assert client.get("/events?limit=x").status_code == 400


def test_a_valid_request_enters_the_queue_and_becomes_a_subject(client):
    first = ask(client, "volcano")
    assert first.status_code == 200 and first.json()["position"] == 0
    assert "on the stream now" in first.json()["message"]
    second = ask(client, "Tree Frog")
    assert second.json() == {"name": "tree frog", "index": 31, "position": 1, "message": "tree frog: number 1 in the queue"}
    state = client.get("/state").json()
    assert [(s["name"], s["aim"]) for s in state["subjects"]] == [("goldfish", "top"), ("volcano", "bottom")]
    assert [q["name"] for q in state["queue"]] == ["tree frog"]
    live = client.live
    live.queue.advance(live.clock() + 61)  # the hold is over: the queue moves on
    names = [s["name"] for s in client.get("/state").json()["subjects"]]
    assert "tree frog" in names
    drawn = live.wait_for(lambda s: s["frame"] is not None and 31 in s["frame"]["subjects"], timeout=60)
    assert 31 in drawn["frame"]["subjects"]


@pytest.mark.parametrize(
    "body, status, words",
    [
        ({"name": "goldfsh"}, 400, "did you mean 'goldfish'"),
        ({"name": ""}, 400, "empty"),
        ({"name": 7.5}, 400, "name of a class"),
        ({"name": "x" * 200}, 400, "at most 80"),
        (["goldfish"], 400, "name of a class"),
        ({"name": "goldfish"}, 409, "on the stream now"),
    ],
)
def test_invalid_requests_are_rejected_with_their_message_and_change_nothing(client, body, status, words):
    def who(state):
        return [s["name"] for s in state["subjects"]], state["queue"]

    before = client.get("/state").json()
    response = client.post("/request", json=body)
    assert response.status_code == status
    assert words in response.json()["error"]
    assert who(client.get("/state").json()) == who(before)


def test_malformed_json_is_rejected(client):
    response = client.post("/request", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400 and "send JSON" in response.json()["error"]


def test_over_limit_requests_are_rejected(client):
    for name in ("volcano", "tree frog", "pizza"):
        assert ask(client, name).status_code == 200
    response = ask(client, "broccoli")
    assert response.status_code == 429
    assert "too many requests" in response.json()["error"] and "wait" in response.json()["error"]
    assert "broccoli" not in [q["name"] for q in client.get("/state").json()["queue"]]


def test_a_full_queue_is_rejected(net):
    live = make_live(net, initial=["goldfish", "volcano"], max_waiting=1, limiter=RateLimiter(burst=10, every=1))
    with TestClient(create_app(live)) as client:
        assert ask(client, "pizza").json()["position"] == 1
        response = ask(client, "broccoli")
        assert response.status_code == 503 and "queue is full" in response.json()["error"]


def test_the_stream_stops_with_the_app(net):
    live = make_live(net)
    with TestClient(create_app(live)):
        assert not live.stopped
    assert live.stopped and live.state()["status"] in ("stopped", "paused")


def test_subjects_hold_from_when_the_stream_starts(net):
    queue = SubjectQueue(rng=np.random.default_rng(0), hold=60.0, initial=["goldfish"], now=0.0)
    renderer = StreamRenderer(net, settings=TINY, rng=np.random.default_rng(0))
    live = LiveStream(renderer, queue, clock=lambda: 5000.0)
    [subject] = live.state()["subjects"]
    assert subject["name"] == "goldfish" and subject["left"] == 60.0


def test_build_stream_records_and_continues(net, tmp_path):
    options = dict(size="64x64", steps=1, hold=60.0, seed=3, classes="goldfish", always_render=True,
                   network="efficientnet-lite0", prior=0.0, net=net)
    live = build_stream(record=tmp_path / "rec", **options)
    assert live.renderer.settings.width == 64 and [s.name for s in live.queue.subjects] == ["goldfish"]
    live.start()
    live.wait_for(lambda s: s["frame"] is not None and s["frame"]["index"] >= 1, timeout=60)
    live.stop()
    made = live.recorder.count
    assert made >= 2
    again = build_stream(record=tmp_path / "rec", **options)
    assert again.recorder.count == made and not again.renderer.fresh


def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.command("noop", hidden=True)
    def noop() -> None:  # a second command keeps `serve` a named subcommand
        pass

    return app


@pytest.mark.parametrize(
    "args, words",
    [
        (["--size", "10x10"], "too small"),
        (["--size", "big"], "cannot read size"),
        (["--classes", "goldfish, volcano, pizza"], "at most 2"),
        (["--classes", "goldfsh"], "did you mean 'goldfish'"),
        (["--zoom", "3"], "zoom per frame"),
    ],
)
def test_serve_command_reports_bad_options_in_one_line(args, words):
    result = CliRunner().invoke(cli(), ["serve", *args])
    assert result.exit_code == 1
    assert words in result.output and "Traceback" not in result.output


def test_serve_command_refuses_to_record_over_other_files(tmp_path):
    (tmp_path / "mine.txt").write_text("x")
    result = CliRunner().invoke(cli(), ["serve", "--record", str(tmp_path)])
    assert result.exit_code == 1 and "holds other files" in result.output


def test_a_stream_that_stopped_on_an_error_ends_in_one_line(net, monkeypatch):
    import neuralgae_cli.serve as serve_module

    def broken_serve(live, **_):
        live.error = "RuntimeError: out of [memory]"

    real_build = serve_module.build_stream
    monkeypatch.setattr(serve_module, "build_stream", lambda **kw: real_build(**kw, net=net))
    monkeypatch.setattr(serve_module, "serve", broken_serve)
    result = CliRunner().invoke(cli(), ["serve", "--size", "64x64", "--steps", "1"])
    assert result.exit_code == 1
    assert result.output.strip() == "nd: error: the stream stopped: RuntimeError: out of [memory]"


# -- hostile input: frame numbers, bodies, forwarded addresses -------------------------


def no_errors_logged(caplog) -> bool:
    """Nothing at ERROR or above and no traceback in the captured logs (uvicorn's and Starlette's included)."""
    return not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


@pytest.mark.parametrize(
    "name, status, words",
    [
        (str(10**30), 404, "not available"),
        ("9" * 5000, 404, "not available"),
        ("-1", 400, "not a frame number"),
        ("abc", 400, "not a frame number"),
        ("1_0", 400, "not a frame number"),
        ("\u0663", 400, "not a frame number"),  # an Arabic-Indic three: a digit, but not ASCII
        ("+1", 400, "not a frame number"),
    ],
)
def test_frame_numbers_that_are_not_frames_get_one_sentence(client, caplog, name, status, words):
    caplog.set_level(logging.DEBUG)
    response = client.get(f"/frame/{name}.jpg")
    assert response.status_code == status
    assert words in response.json()["error"] and "\n" not in response.json()["error"]
    assert no_errors_logged(caplog)


@pytest.mark.parametrize(
    "body, status, words",
    [
        (b"[" * 100_000 + b"]" * 100_000, 413, "too large"),
        (b"[" * 2040 + b"]" * 2040, 400, "nested too deeply"),  # under the size limit, over json's recursion limit
        (b'{"class": 1e400}', 400, "name of a class"),
        (b'{"name": 1e400}', 400, "name of a class"),
        (b'{"name": ' + b"7" * 4000 + b"}", 400, "name of a class"),
        (b'{"name": NaN}', 400, "send JSON"),
        (b'{"name": -Infinity}', 400, "send JSON"),
        (b'{"name": "\xff\xfe"}', 400, "send JSON"),
        (b"", 400, "send JSON"),
    ],
)
def test_hostile_bodies_get_one_sentence_and_change_nothing(client, caplog, body, status, words):
    caplog.set_level(logging.DEBUG)
    before = client.get("/state").json()["queue"]
    response = client.post("/request", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status
    assert words in response.json()["error"] and "\n" not in response.json()["error"]
    assert client.get("/state").json()["queue"] == before
    assert no_errors_logged(caplog)



def run_in_fresh_loop(coroutine) -> None:
    """Run ``coroutine`` to the end on a new event loop in its own thread.

    The browser tests' Playwright keeps an event loop running in the test
    thread, where ``asyncio.run`` refuses to start another.
    """
    import threading

    failure: list[BaseException] = []

    def target():
        try:
            asyncio.run(coroutine)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread
            failure.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(timeout=60)
    if failure:
        raise failure[0]

def post_streamed(app, *, chunks: int, chunk: bytes, headers=()) -> tuple[int, dict, int, dict]:
    """POST a body of ``chunks`` x ``chunk`` to /request through ASGI.

    Returns the status, the JSON answer, how many bytes the app pulled and the response headers.
    """
    pulled = 0
    sent: list[dict] = []

    async def receive():
        nonlocal pulled
        if pulled >= chunks * len(chunk):
            return {"type": "http.disconnect"}
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": pulled < chunks * len(chunk)}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/request", "raw_path": b"/request", "root_path": "", "query_string": b"",
             "headers": [(b"content-type", b"application/json"), *headers],
             "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8000)}
    run_in_fresh_loop(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], json.loads(body), pulled, {k.decode(): v.decode() for k, v in start["headers"]}


def test_a_huge_body_is_refused_while_it_is_read(net):
    live = make_live(net)  # not started: manage=False, nothing renders
    app = create_app(live, manage=False)
    chunk = b"[" * 65536
    # 64 MB without a Content-Length (chunked): refused at the chunk that passes the limit
    status, answer, pulled, headers = post_streamed(app, chunks=1024, chunk=chunk)
    assert status == 413 and "too large" in answer["error"] and f"{MAX_BODY} bytes" in answer["error"]
    assert pulled <= MAX_BODY + len(chunk)
    assert headers["connection"] == "close"  # uvicorn then closes the connection: the rest is never read
    # declared 64 MB: refused before reading a byte
    status, answer, pulled, headers = post_streamed(app, chunks=1024, chunk=chunk, headers=[(b"content-length", str(1024 * 65536).encode())])
    assert status == 413 and pulled == 0 and headers["connection"] == "close"
    # small bodies in many chunks are read whole
    status, answer, pulled, headers = post_streamed(app, chunks=3, chunk=b" " * 1000)
    assert status == 400 and "send JSON" in answer["error"] and pulled == 3000 and "connection" not in headers


def spy_on_clients(live) -> list[str]:
    """The client address of every request that reaches the stream, in order."""
    seen: list[str] = []
    real = live.request

    def request(text, *, client):
        seen.append(client)
        return real(text, client=client)

    live.request = request
    return seen


NAMES = ("volcano", "tree frog", "pizza", "broccoli")


@pytest.mark.parametrize("peer", ["127.0.0.1", "::1", "203.0.113.9"])
def test_forwarded_addresses_are_ignored_by_default(net, peer):
    live = make_live(net, initial=["goldfish"])
    seen = spy_on_clients(live)
    with TestClient(create_app(live), client=(peer, 5000)) as client:
        answers = [client.post("/request", json={"name": n}, headers={"x-forwarded-for": f"198.51.100.{i}"})
                   for i, n in enumerate(NAMES)]
    assert seen == [peer] * 4
    assert [a.status_code for a in answers] == [200, 200, 200, 429]  # one client, one allowance


def test_proxy_headers_trust_a_local_proxy_and_only_its_last_hop(net):
    live = make_live(net, initial=["goldfish"])
    seen = spy_on_clients(live)
    with TestClient(create_app(live, proxy_headers=True), client=("127.0.0.1", 5000)) as client:
        answers = [client.post("/request", json={"name": n}, headers={"x-forwarded-for": f"198.51.100.{i}"})
                   for i, n in enumerate(NAMES)]
        assert seen == [f"198.51.100.{i}" for i in range(4)]
        assert [a.status_code for a in answers] == [200] * 4  # four viewers behind one proxy
        # what a client writes itself comes first; the proxy appends the address it saw
        spoofed = client.post("/request", json={"name": "pretzel"}, headers={"x-forwarded-for": "10.9.9.9, 198.51.100.7"})
        assert spoofed.status_code == 200 and seen[-1] == "198.51.100.7"


def test_proxy_headers_from_a_remote_peer_are_ignored(net):
    live = make_live(net, initial=["goldfish"])
    seen = spy_on_clients(live)
    with TestClient(create_app(live, proxy_headers=True), client=("203.0.113.9", 5000)) as client:
        client.post("/request", json={"name": "volcano"}, headers={"x-forwarded-for": "198.51.100.1"})
    assert seen == ["203.0.113.9"]


def test_uvicorn_never_rewrites_the_client_address(net, monkeypatch):
    import uvicorn

    import neuralgae_cli.serve as serve_module

    configs = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: configs.append(self.config))
    live = make_live(net)
    for proxy_headers in (False, True):
        serve_module.serve(live, port=0, proxy_headers=proxy_headers)
    assert [c.proxy_headers for c in configs] == [False, False]  # uvicorn's own handling trusts any loopback peer
    assert not isinstance(configs[0].app, ProxyHeadersMiddleware) and isinstance(configs[1].app, ProxyHeadersMiddleware)


def test_serve_command_passes_proxy_headers(net, monkeypatch):
    import neuralgae_cli.serve as serve_module

    calls = []
    real_build = serve_module.build_stream
    monkeypatch.setattr(serve_module, "build_stream", lambda **kw: real_build(**kw, net=net))
    monkeypatch.setattr(serve_module, "serve", lambda live, **kw: calls.append(kw["proxy_headers"]))
    for args in ([], ["--proxy-headers"]):
        result = CliRunner().invoke(cli(), ["serve", "--size", "64x64", "--steps", "1", *args])
        assert result.exit_code == 0, result.output
    assert calls == [False, True]
