"""`nd serve`: a live zooming deepdraw in the browser, steered by its viewers (seed 003).

The web layer is thin: :func:`create_app` builds a Starlette app around a
:class:`~neuralgae.core.stream.stream_live.LiveStream` (which renders in its own
thread) and :func:`serve` runs it with uvicorn. Endpoints:

- ``GET /``: the page (``neuralgae_cli/web``), ``/static/...`` its assets;
- ``GET /events``: Server-Sent Events, one JSON state each time something changes
  (``?limit=N`` ends the stream after N events);
- ``GET /state``: the same state once, as JSON;
- ``GET /frame/{n}.jpg`` and ``/frame/latest.jpg``: computed frames;
- ``GET /classes``: every class name, for the request box's suggestions;
- ``POST /request`` with JSON ``{"name": "goldfish"}``: ask for a subject; a
  rejected request answers 4xx with ``{"error": message}`` and changes nothing.

Hostile input is answered, never crashed on: a frame number that is not one
(or too long to be one) and a body that is not small, readable JSON each get
one sentence, and a body is refused while it is read, once it passes
:data:`MAX_BODY` bytes. Clients are told apart by the socket's peer address;
``X-Forwarded-For`` counts only with ``proxy_headers`` and only from a proxy
on this machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from neuralgae.core.stream.stream import DEFAULT_HOLD, StreamSettings
from neuralgae_cli.common import DeviceOption, PrecisionOption

WEB_DIR = Path(__file__).parent / "web"
HEARTBEAT = 15.0
POLL = 0.1

# why a request was refused -> HTTP status
REJECTION_STATUS = {"invalid": 400, "duplicate": 409, "too_many": 429, "queue_full": 503}

MAX_BODY = 4096  # bytes of a request body; {"name": ...} needs well under 200
MAX_FRAME_DIGITS = 18  # a longer frame number names no frame this stream will ever make
TRUSTED_PROXIES = "127.0.0.1,::1"  # with proxy_headers: X-Forwarded-For counts from these peers only
SEND_JSON = 'send JSON such as {"name": "goldfish"}'


class BadInput(ValueError):
    """Input an endpoint refuses, with its HTTP status and the one sentence that says why."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def parse_frame_index(text: str) -> int | None:
    """The frame number in ``/frame/{text}.jpg``, None for a number no frame can have, or :class:`BadInput`.

    Only plain digits count (no sign, no spaces, no underscores, which
    ``int`` would accept); a number too long to be a frame's is None (404)
    rather than converted, so no size of number costs anything.
    """
    if not (text.isascii() and text.isdigit()):
        raise BadInput(400, f"'{text[:40]}' is not a frame number; ask for /frame/12.jpg or /frame/latest.jpg")
    if len(text) > MAX_FRAME_DIGITS:
        return None
    return int(text)


async def read_body(request, limit: int = MAX_BODY) -> bytes:
    """The request body, read chunk by chunk and refused (:class:`BadInput`, 413) once it passes ``limit``.

    A declared ``Content-Length`` over the limit is refused before reading
    anything; a body without one (chunked) is refused at the first chunk that
    takes it over, so a huge body never sits in the server's memory.
    """
    too_big = BadInput(413, f"the request body is too large; a request is JSON of at most {limit} bytes")
    declared = request.headers.get("content-length", "")  # uvicorn has checked it is a number
    if declared.isascii() and declared.isdigit() and (len(declared) > len(str(limit)) or int(declared) > limit):
        raise too_big
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_big
    return bytes(body)


def _no_constants(name: str):
    raise ValueError(f"{name} is not JSON")


def parse_body(body: bytes):
    """A request body as JSON, or :class:`BadInput` (400) for anything that is not plain, readable JSON.

    Catches what ``json.loads`` raises beyond JSONDecodeError: too deep a
    nesting (RecursionError), bad UTF-8, NaN and Infinity (refused, as JSON
    has none); an overflowing float such as 1e400 reads as infinity and is
    then simply not a class name.
    """
    try:
        return json.loads(body, parse_constant=_no_constants)
    except RecursionError:
        raise BadInput(400, f"the request is nested too deeply; {SEND_JSON}") from None
    except ValueError:  # JSONDecodeError, UnicodeDecodeError, NaN/Infinity, integers over 4300 digits
        raise BadInput(400, SEND_JSON) from None


def classes_payload() -> list[dict]:
    """Every class with its index and other names, for autocomplete."""
    from neuralgae.core.nets.classes import imagenet_classes

    return [{"index": c.index, "name": c.name, "also": [s for s in c.synonyms[1:4] if s != c.name]} for c in imagenet_classes()]


def create_app(live, *, web_dir: Path = WEB_DIR, manage: bool = True, proxy_headers: bool = False):
    """The Starlette app serving ``live`` (a LiveStream).

    With ``manage``, the app starts the stream's thread on startup and stops
    it on shutdown. With ``proxy_headers``, a request from a proxy on this
    machine (:data:`TRUSTED_PROXIES`) counts as coming from the address its
    ``X-Forwarded-For`` names (the rate limit is per client); without it, the
    client is the socket's peer, whatever the headers say.
    """
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    from neuralgae.core.stream.stream import RequestRejected

    classes_json = json.dumps(classes_payload(), separators=(",", ":"))

    async def index(request: Request):
        return FileResponse(web_dir / "index.html", headers={"Cache-Control": "no-cache"})

    async def state(request: Request):
        live.touch()
        return JSONResponse(live.state(), headers={"Cache-Control": "no-store"})

    async def classes(request: Request):
        return Response(classes_json, media_type="application/json", headers={"Cache-Control": "max-age=3600"})

    def frame_response(frame):
        if frame is None:
            return JSONResponse({"error": "that frame is not available (only the latest few are kept)"}, status_code=404)
        return Response(frame.jpeg, media_type="image/jpeg", headers={"Cache-Control": "max-age=600", "X-Frame-Index": str(frame.index)})

    def refusal(exc: BadInput):
        # after a refused body the connection closes, so the rest of it is never read
        headers = {"Connection": "close"} if exc.status == 413 else None
        return JSONResponse({"error": str(exc)}, status_code=exc.status, headers=headers)

    async def frame(request: Request):
        live.touch()
        try:
            index = parse_frame_index(request.path_params["name"])
        except BadInput as exc:
            return refusal(exc)
        return frame_response(None if index is None else live.frame(index))

    async def latest(request: Request):
        live.touch()
        response = frame_response(live.latest())
        response.headers["Cache-Control"] = "no-store"
        return response

    async def events(request: Request):
        try:
            limit = int(request.query_params.get("limit", "0"))
        except ValueError:
            return JSONResponse({"error": "limit must be a whole number"}, status_code=400)

        async def stream():
            live.viewer_joined()
            try:
                sent, seen, quiet = 0, -1, 0.0
                yield "retry: 2000\n\n"
                while not live.stopped:
                    if live.version != seen:
                        seen = live.version
                        yield f"data: {json.dumps(live.state(), separators=(',', ':'))}\n\n"
                        sent += 1
                        quiet = 0.0
                        if limit and sent >= limit:
                            return
                    elif quiet >= HEARTBEAT:
                        yield ": still here\n\n"
                        quiet = 0.0
                    await asyncio.sleep(POLL)
                    quiet += POLL
            finally:
                live.viewer_left()

        return StreamingResponse(
            stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        )

    async def request_class(request: Request):
        try:
            body = parse_body(await read_body(request))
        except BadInput as exc:
            return refusal(exc)
        name = body.get("name") if isinstance(body, dict) else None
        client = request.client.host if request.client else "unknown"
        try:
            placed = live.request(name, client=client)
        except RequestRejected as exc:
            return JSONResponse({"error": str(exc), "kind": exc.kind}, status_code=REJECTION_STATUS.get(exc.kind, 400))
        where = "on the stream now" if placed["position"] == 0 else f"number {placed['position']} in the queue"
        return JSONResponse({**placed, "message": f"{placed['name']}: {where}"})

    @contextlib.asynccontextmanager
    async def lifespan(app):
        if manage:
            live.start()
        try:
            yield
        finally:
            if manage:
                await asyncio.get_running_loop().run_in_executor(None, live.stop)

    routes = [
        Route("/", index),
        Route("/state", state),
        Route("/events", events),
        Route("/classes", classes),
        Route("/frame/latest.jpg", latest),
        Route("/frame/{name}.jpg", frame),
        Route("/request", request_class, methods=["POST"]),
        Mount("/static", StaticFiles(directory=web_dir), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    if proxy_headers:
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        return ProxyHeadersMiddleware(app, trusted_hosts=TRUSTED_PROXIES)
    return app


def serve(live, *, host: str = "127.0.0.1", port: int = 8000, on_ready=None, proxy_headers: bool = False) -> None:
    """Run the app with uvicorn until Ctrl-C (or SIGTERM); ``on_ready(url)`` once it listens.

    Stopping also stops the stream, which ends the open event streams, so
    uvicorn's shutdown does not wait for them. uvicorn's own proxy handling
    stays off (it would trust ``X-Forwarded-For`` from any loopback client,
    or whatever FORWARDED_ALLOW_IPS says); the app does it when asked.
    """
    import uvicorn

    app = create_app(live, proxy_headers=proxy_headers)

    class StreamServer(uvicorn.Server):
        def handle_exit(self, sig, frame):
            live.stop(timeout=0)
            super().handle_exit(sig, frame)

        async def startup(self, sockets=None):
            await super().startup(sockets)
            if on_ready is not None and self.started:
                bound = self.servers[0].sockets[0].getsockname() if self.servers else (host, port)
                on_ready(f"http://{_url_host(bound[0])}:{bound[1]}/")

    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on",
                            timeout_graceful_shutdown=3, proxy_headers=False)
    server = StreamServer(config)
    try:
        server.run()
    except SystemExit:  # uvicorn exits when it cannot bind
        if server.started:
            raise
        from neuralgae.core.host.errors import NeuralgaeError

        raise NeuralgaeError(f"cannot listen on {host}:{port}; is another program using that port? Try --port 0 for a free one") from None


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


# -- the command ---------------------------------------------------------------------


def build_stream(
    *,
    size: str,
    steps: int,
    hold: float,
    seed: int,
    classes: str | None,
    record: Path | None,
    always_render: bool,
    network: str,
    zoom: float | None = None,
    rotate: float | None = None,
    prior: float | None = None,
    net=None,
    weights: Path | None = None,
):
    """A LiveStream from the command's options (the network is loaded unless given)."""
    from dataclasses import replace

    import numpy as np

    from neuralgae.core.nets.classes import parse_class_list
    from neuralgae.core.media.images import parse_size
    from neuralgae.core.stream.stream import RateLimiter, StreamRenderer, StreamSettings, SubjectQueue
    from neuralgae.core.stream.stream_live import LiveStream
    from neuralgae.core.stream.stream_record import StreamRecorder

    width, height = parse_size(size, max_side=4096)
    settings = StreamSettings(width=width, height=height, steps=steps, first_steps=max(steps, 4 * steps))
    if zoom is not None:
        settings = replace(settings, zoom=zoom)
    if rotate is not None:
        settings = replace(settings, rotate=rotate)
    if prior is not None:
        settings = replace(settings, prior_weight=prior)
    settings.validate()
    initial = [c.index for c, _ in parse_class_list(classes)] if classes else []
    seeds = np.random.SeedSequence(seed).spawn(2)
    queue = SubjectQueue(rng=np.random.default_rng(seeds[0]), hold=hold, initial=initial, limiter=RateLimiter())
    if net is None:
        from neuralgae.core.host.plugins import default_host
        from neuralgae_cli.common import checked_network

        host = default_host()
        net = host.network(network, **checked_network(host, network, weights))
    from neuralgae.core.nets.network import network_record, placement_record

    placement = {**network_record(net, network), **placement_record(net)}
    recorder = (StreamRecorder(record, settings=settings.as_dict(), seed=seed, placement=placement)
                if record is not None else None)
    start = recorder.last_image() if recorder is not None else None
    renderer = StreamRenderer(net, settings=settings, rng=np.random.default_rng(seeds[1]), image=start)
    return LiveStream(renderer, queue, recorder=recorder, always_render=always_render)


def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on; 0.0.0.0 lets other machines watch.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on; 0 picks a free one.")] = 8000,
    size: Annotated[str, typer.Option(help="Size of the computed frames, WxH; the page scales them up smoothly.")] = f"{StreamSettings.width}x{StreamSettings.height}",
    steps: Annotated[int, typer.Option(min=1, help="Optimisation steps per computed frame (more: slower, richer).")] = StreamSettings.steps,
    hold: Annotated[float, typer.Option(min=1, help="Seconds each requested subject holds the stream.")] = DEFAULT_HOLD,
    classes: Annotated[Optional[str], typer.Option("--classes", "-c", help='One or two classes to start with, e.g. "goldfish, volcano" (default: a random one).')] = None,
    record: Annotated[Optional[Path], typer.Option(help="Write every computed frame and its subjects to this folder (`nd gif DIR` makes an animation).")] = None,
    always_render: Annotated[bool, typer.Option("--always-render", help="Keep rendering while no one watches.")] = False,
    zoom: Annotated[Optional[float], typer.Option(help=f"Magnification per computed frame (default {StreamSettings.zoom:g}).")] = None,
    rotate: Annotated[Optional[float], typer.Option(help=f"Counter-clockwise turn per computed frame, in degrees (default {StreamSettings.rotate:g}).")] = None,
    prior: Annotated[Optional[float], typer.Option(help=f"Strength of the Student-t patch prior (default {StreamSettings.prior_weight:g}; 0 = off).")] = None,
    seed: Annotated[int, typer.Option(min=0, help="Random seed of the stream.")] = 0,
    network: Annotated[str, typer.Option(help="Network to draw with: efficientnet-lite0/1/2, torchvision:NAME, torchscript (with --weights), an ensemble a+b, or a plugin's.")] = "efficientnet-lite0",
    weights: Annotated[Optional[Path], typer.Option("--weights", help="Weights file for --network (a state_dict or checkpoint, or the TorchScript file); never downloaded.")] = None,
    proxy_headers: Annotated[bool, typer.Option("--proxy-headers", help="Behind a reverse proxy on this machine: tell clients apart by its X-Forwarded-For.")] = False,
    device: DeviceOption = None,
    precision: PrecisionOption = None,
) -> None:
    """Serve a live, zooming deepdraw that viewers steer from a web page."""
    from neuralgae_cli.common import fail, use_device, user_errors

    with user_errors():
        use_device(device, precision)
        live = build_stream(size=size, steps=steps, hold=hold, seed=seed, classes=classes, record=record,
                            always_render=always_render, network=network, zoom=zoom, rotate=rotate, prior=prior,
                            weights=weights)

        def ready(url: str) -> None:
            typer.echo(f"nd serve: streaming at {url}  (Ctrl-C stops)", err=False)
            if record is not None:
                typer.echo(f"nd serve: recording into {record}")

        try:
            serve(live, host=host, port=port, on_ready=ready, proxy_headers=proxy_headers)
        except KeyboardInterrupt:
            pass
        finally:
            live.stop()
        if live.error:
            raise fail(f"the stream stopped: {live.error}")
        made = f"; {live.recorder.count} frames in {record}" if live.recorder is not None else ""
        typer.echo(f"nd serve: stopped{made}")


def register(app: typer.Typer) -> None:
    """Add `nd serve` to the application."""
    app.command("serve")(serve_command)
