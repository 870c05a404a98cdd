"""The live stream running: a background thread that renders while someone watches.

:class:`LiveStream` owns a :class:`~neuralgae.core.stream.stream.StreamRenderer` and a
:class:`~neuralgae.core.stream.stream.SubjectQueue`. Its thread takes the current
subjects, computes the next frame, encodes it as JPEG and keeps the last few
frames for viewers to fetch; a web layer (``nd serve``) only reads
:meth:`LiveStream.state` and :meth:`LiveStream.frame` and passes requests in.
Nobody watching costs nothing: the thread sleeps until a viewer comes back,
unless ``always_render``. Errors in the thread end up in ``state()["error"]``;
the engine never prints.
"""

from __future__ import annotations

import io
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from ..media.images import to_uint8
from .stream import StreamRenderer, SubjectQueue
from .stream_record import StreamRecorder

IDLE_AFTER = 15.0


@dataclass(frozen=True)
class Keyframe:
    """One computed frame as viewers get it: JPEG bytes, its subjects and timing."""

    index: int
    jpeg: bytes
    subjects: tuple[int, ...]
    seconds: float
    at: float


def encode_jpeg(image: np.ndarray, *, quality: int = 90) -> bytes:
    """A float (H, W, 3) image in [0, 1] as JPEG bytes."""
    buffer = io.BytesIO()
    Image.fromarray(to_uint8(image)).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


class _Stopped(Exception):
    """Raised inside a frame's progress callback to abandon it when the stream stops."""


class LiveStream:
    """Renders a stream in a background thread and keeps its latest frames and state.

    Parameters
    ----------
    renderer, queue : what to draw and who is on screen.
    recorder : optional; every computed frame is also written there.
    always_render : keep rendering with nobody watching.
    idle_after : seconds after the last sign of a viewer (an open event
        stream, a state or frame fetch) before rendering pauses.
    keep : how many recent frames viewers can fetch.
    clock : monotonic seconds (tests pass a fake one).
    """

    def __init__(
        self,
        renderer: StreamRenderer,
        queue: SubjectQueue,
        *,
        recorder: StreamRecorder | None = None,
        always_render: bool = False,
        idle_after: float = IDLE_AFTER,
        keep: int = 16,
        clock: Callable[[], float] = time.monotonic,
        jpeg_quality: int = 90,
    ):
        self.renderer = renderer
        self.queue = queue
        self.recorder = recorder
        self.always_render = always_render
        self.idle_after = idle_after
        self.keep = max(2, keep)
        self.clock = clock
        self.jpeg_quality = jpeg_quality
        self.version = 0
        self.error: str | None = None
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._frames: OrderedDict[int, Keyframe] = OrderedDict()
        self._viewers = 0
        self._last_seen = -float("inf")
        self._progress = (0, renderer.steps_of_next())
        self._frame_started: float | None = None
        self._interval: float | None = None
        self._status = "starting"
        self._next_index = recorder.count if recorder is not None else 0
        self._thread: threading.Thread | None = None
        queue.rebase(clock())  # the subjects' hold starts with the stream, on its clock

    # -- life

    def start(self) -> None:
        """Start the render thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="nd-stream", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop rendering (the frame in progress is abandoned at its next step) and wait for the thread."""
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    # -- viewers

    def viewer_joined(self) -> None:
        with self._wake:
            self._viewers += 1
            self._last_seen = self.clock()
            self._changed()

    def viewer_left(self) -> None:
        with self._wake:
            self._viewers = max(0, self._viewers - 1)
            self._last_seen = self.clock()
            self._changed()

    def touch(self) -> None:
        """A sign of a viewer without an open stream (a fetch): keeps rendering for ``idle_after`` seconds."""
        with self._wake:
            self._last_seen = self.clock()
            self._wake.notify_all()

    def watched(self) -> bool:
        """Whether anyone is watching now (or rendering is wanted anyway)."""
        with self._lock:
            return self._watched()

    def _watched(self) -> bool:
        return self.always_render or self._viewers > 0 or self.clock() - self._last_seen < self.idle_after

    # -- requests and reading

    def request(self, text: object, *, client: str) -> dict:
        """Pass a viewer's request to the queue (raises RequestRejected); returns where it went."""
        result = self.queue.request(text, client=client, now=self.clock())
        with self._wake:
            self._changed()
        return result

    def frame(self, index: int) -> Keyframe | None:
        """A recent computed frame by index, or None when it is gone or not made yet."""
        with self._lock:
            return self._frames.get(index)

    def latest(self) -> Keyframe | None:
        with self._lock:
            return next(reversed(self._frames.values()), None)

    def state(self) -> dict:
        """Everything a viewer shows: subjects, queue, the latest frame, progress to the next, status."""
        now = self.clock()
        if self.queue.advance(now):
            with self._wake:
                self._changed()
        snap = self.queue.snapshot(now)
        s = self.renderer.settings
        with self._lock:
            latest = next(reversed(self._frames.values()), None)
            done, total = self._progress
            eta = self._eta(now)
            return {
                **snap,
                "version": self.version,
                "status": self._status,
                "error": self.error,
                "frame": None if latest is None else {"index": latest.index, "seconds": round(latest.seconds, 2), "subjects": list(latest.subjects)},
                "frames": list(self._frames),
                "progress": {"done": done, "total": total, "eta": None if eta is None else round(eta, 2)},
                "interval": None if self._interval is None else round(self._interval, 2),
                "width": s.width,
                "height": s.height,
                "zoom": s.zoom,
                "rotate": s.rotate,
                "viewers": self._viewers,
                "recording": self.recorder is not None,
            }

    def _eta(self, now: float) -> float | None:
        """Honest seconds until the next frame: from this frame's pace, or the last frames' when none yet."""
        if self._status != "drawing" or self._frame_started is None:
            return None
        done, total = self._progress
        elapsed = now - self._frame_started
        if done > 0:
            return max(0.0, elapsed / done * (total - done))
        if self._interval is not None:
            return max(0.0, self._interval - elapsed)
        return None

    def wait_for(self, predicate: Callable[[dict], bool], *, timeout: float = 30.0) -> dict:
        """Block until ``predicate(state())`` holds or ``timeout`` passes; returns the last state (tests, tools)."""
        end = time.monotonic() + timeout
        while True:
            state = self.state()
            if predicate(state) or time.monotonic() > end or (self.stopped and not predicate(state)):
                return state
            with self._wake:
                self._wake.wait(0.05)

    def _changed(self) -> None:
        """Call with the lock held."""
        self.version += 1
        self._wake.notify_all()

    # -- the thread

    def _set_status(self, status: str) -> None:
        with self._wake:
            if self._status != status:
                self._status = status
                self._changed()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                now = self.clock()
                if self.queue.advance(now):
                    with self._wake:
                        self._changed()
                with self._wake:
                    if not self._watched():
                        if self._status != "paused":
                            self._status = "paused"
                            self._changed()
                        self._wake.wait(0.25)
                        continue
                self._render_one()
        except _Stopped:
            pass
        except Exception as exc:  # the thread must not die silently: viewers and the CLI see this
            with self._wake:
                self.error = f"{type(exc).__name__}: {exc}"
                self._status = "failed"
                self._changed()
            return
        self._set_status("stopped")

    def _render_one(self) -> None:
        subjects = tuple(s.index for s in self.queue.subjects)
        total = self.renderer.steps_of_next()
        began = self.clock()
        with self._wake:
            self._status = "drawing"
            self._progress = (0, total)
            self._frame_started = began
            self._changed()

        def progress(done: int, steps: int, message: str = "") -> None:
            if self._stop.is_set():
                raise _Stopped
            with self._wake:
                self._progress = (done, steps)
                self._changed()

        image = self.renderer.next_frame(subjects, progress=progress)
        seconds = self.clock() - began
        if self.recorder is not None:
            self.recorder.write(image, subjects=subjects, seconds=seconds)
        frame = Keyframe(self._next_index, encode_jpeg(image, quality=self.jpeg_quality), subjects, seconds, self.clock())
        with self._wake:
            self._frames[frame.index] = frame
            while len(self._frames) > self.keep:
                self._frames.popitem(last=False)
            self._next_index += 1
            if frame.index > 0 and total == self.renderer.settings.steps:
                self._interval = seconds if self._interval is None else 0.7 * self._interval + 0.3 * seconds
            self._progress = (0, self.renderer.steps_of_next())
            self._frame_started = self.clock()
            self._changed()


__all__ = ["LiveStream", "Keyframe", "encode_jpeg", "IDLE_AFTER"]
