"""The live stream's engine (seed 003): who is on screen, who waits, and the next frame.

A stream is a deepdraw that never ends: every computed frame zooms (and turns
a little) into the previous one, which gives the blur between optimisation
steps for free through its bilinear interpolation, and then takes a few
gradient steps on the *logits* of the current subjects, with the Student-t
patch prior on several scales. Two subjects are aimed at the top and the
bottom half.

Viewers choose the subjects. :class:`SubjectQueue` holds the subjects on
screen (at most two, each for ``hold`` seconds) and a bounded queue of
requests, rate-limited per client by :class:`RateLimiter`; every request is
checked by :func:`parse_request` first. Nothing here knows about the web or
threads: time is passed in as ``now`` (seconds on any monotonic clock), and
randomness comes from a passed ``numpy.random.Generator``.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from ..nets.classes import NUM_CLASSES, ImageNetClass, imagenet_classes, lookup_class
from ..host.components import ProgressCallback, no_progress
from ..optvis.draw import DrawTarget, render_draw, start_canvas
from ..optvis.tensors import to_image, to_tensor
from ..optvis.draw_aim import region_mask
from ..optvis.draw_schedule import DrawSettings, Octave
from ..host.errors import NeuralgaeError, check_all, did_you_mean, option
from ..nets.network import network_device

MAX_SUBJECTS = 2
DEFAULT_HOLD = 60.0
MAX_REQUEST_LENGTH = 80
AIMS = ("top", "bottom")

# -- requests ----------------------------------------------------------------------


class RequestRejected(NeuralgaeError):
    """A viewer's request that changes nothing, with the reason a viewer can act on.

    ``kind`` says why: ``"invalid"`` (malformed or unknown class),
    ``"duplicate"`` (already on screen or waiting), ``"too_many"`` (rate
    limit) or ``"queue_full"``.
    """

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@lru_cache(maxsize=1)
def _all_names() -> tuple[str, ...]:
    return tuple(dict.fromkeys(s.lower() for c in imagenet_classes() for s in c.synonyms))


def parse_request(text: object) -> ImageNetClass:
    """The ImageNet class a viewer asked for, or :class:`RequestRejected` saying what is wrong.

    Accepts any synonym in any case, or a class index; refuses non-text,
    empty, overlong or control-character input before looking it up.
    """
    if not isinstance(text, str):
        raise RequestRejected("invalid", "a request must be the name of a class, such as 'goldfish'")
    name = " ".join(text.split())
    if not name:
        raise RequestRejected("invalid", "the request is empty; type the name of a class, such as 'goldfish'")
    if len(name) > MAX_REQUEST_LENGTH:
        raise RequestRejected("invalid", f"the request is {len(name)} characters long; class names have at most {MAX_REQUEST_LENGTH}")
    if not name.isprintable():
        raise RequestRejected("invalid", "the request holds control characters; type a plain class name")
    try:
        return lookup_class(name)
    except NeuralgaeError:
        pass
    hint = did_you_mean(name.lower(), _all_names())
    raise RequestRejected("invalid", f"the network does not know '{name}'{hint or '; pick a name from the suggestions'}")


class RateLimiter:
    """A token bucket per client: ``burst`` requests at once, then one every ``every`` seconds.

    Memory stays bounded: clients whose bucket has refilled are forgotten
    once more than ``max_clients`` are known.
    """

    def __init__(self, *, burst: int = 3, every: float = 15.0, max_clients: int = 10_000):
        if burst < 1 or every <= 0:
            raise NeuralgaeError(f"a rate limit needs a burst of at least 1 and a positive interval; got {burst} and {every}")
        self.burst = burst
        self.every = every
        self.max_clients = max_clients
        self._buckets: dict[str, tuple[float, float]] = {}

    def _tokens(self, client: str, now: float) -> float:
        tokens, then = self._buckets.get(client, (float(self.burst), now))
        return min(float(self.burst), tokens + max(0.0, now - then) / self.every)

    def wait(self, client: str, now: float) -> float:
        """Seconds ``client`` must wait before its next request is accepted (0 when it may ask now)."""
        return max(0.0, (1.0 - self._tokens(client, now)) * self.every)

    def take(self, client: str, now: float) -> None:
        """Spend one request of ``client``'s allowance, or raise :class:`RequestRejected` (``too_many``)."""
        tokens = self._tokens(client, now)
        if tokens < 1.0:
            wait = math.ceil((1.0 - tokens) * self.every)
            raise RequestRejected("too_many", f"too many requests from you; wait {wait} s before asking again")
        self._buckets[client] = (tokens - 1.0, now)
        if len(self._buckets) > self.max_clients:
            self._forget_full(now)

    def _forget_full(self, now: float) -> None:
        for client in [c for c in self._buckets if self._tokens(c, now) >= self.burst]:
            del self._buckets[client]


# -- subjects and the queue ----------------------------------------------------------


@dataclass(frozen=True)
class Subject:
    """A class on screen: which, since and until when, and whether a viewer asked for it."""

    index: int
    name: str
    since: float
    until: float
    requested: bool = True

    def as_dict(self, now: float, *, aim: str = "all") -> dict:
        return {
            "index": self.index,
            "name": self.name,
            "aim": aim,
            "left": round(max(0.0, self.until - now), 1),
            "hold": round(self.until - self.since, 1),
            "requested": self.requested,
        }


@dataclass(frozen=True)
class Waiting:
    """A request in the queue."""

    index: int
    name: str
    client: str
    at: float


class SubjectQueue:
    """The subjects on screen and the requests waiting for their turn (thread-safe).

    Each subject holds the stream for ``hold`` seconds; after that, the next
    waiting request takes its place (its slot, so halves never swap). New
    requests go on screen at once while a slot is free, and replace the
    stream's own picks at once. With nothing waiting, an expired second
    subject leaves the whole picture to the first; with ``wander``, an
    expired lone subject is replaced by a random class of the stream's own
    choosing, so an unwatched queue still drifts.

    ``version`` grows with every change, for watchers that wait for one.
    """

    def __init__(
        self,
        *,
        rng: np.random.Generator,
        hold: float = DEFAULT_HOLD,
        max_subjects: int = MAX_SUBJECTS,
        max_waiting: int = 12,
        limiter: RateLimiter | None = None,
        wander: bool = True,
        initial: Sequence[int | str] = (),
        now: float = 0.0,
    ):
        if not hold > 0:
            raise NeuralgaeError(f"the hold time must be a positive number of seconds; got {hold}")
        if not 1 <= max_subjects <= MAX_SUBJECTS:
            raise NeuralgaeError(f"a stream shows 1 or 2 subjects at once; got {max_subjects}")
        if max_waiting < 1:
            raise NeuralgaeError(f"the queue must hold at least one request; got {max_waiting}")
        self.rng = rng
        self.hold = float(hold)
        self.max_subjects = max_subjects
        self.max_waiting = max_waiting
        self.limiter = limiter or RateLimiter()
        self.wander = wander
        self.version = 0
        self._lock = threading.Lock()
        self._subjects: list[Subject] = []
        self._waiting: deque[Waiting] = deque()
        classes = [lookup_class(c) for c in initial]
        if len(classes) > max_subjects:
            raise NeuralgaeError(f"{len(classes)} starting classes given; a stream shows at most {max_subjects} at once")
        for c in classes:
            self._subjects.append(Subject(c.index, c.name, now, now + self.hold, requested=True))
        if not self._subjects:
            self._subjects.append(self._pick(now))

    # -- reading

    @property
    def subjects(self) -> list[Subject]:
        with self._lock:
            return list(self._subjects)

    @property
    def waiting(self) -> list[Waiting]:
        with self._lock:
            return list(self._waiting)

    def snapshot(self, now: float) -> dict:
        """Subjects (with their aims and seconds left) and the queue, as plain data."""
        with self._lock:
            aims = subject_aims(len(self._subjects))
            return {
                "subjects": [s.as_dict(now, aim=a) for s, a in zip(self._subjects, aims)],
                "queue": [{"index": w.index, "name": w.name} for w in self._waiting],
                "max_waiting": self.max_waiting,
                "version": self.version,
            }

    # -- changing

    def request(self, text: object, *, client: str, now: float) -> dict:
        """A viewer asks for a class: validate, de-duplicate, rate-limit, then queue it.

        Returns ``{"name", "index", "position"}`` (position 0 = on screen now).
        Raises :class:`RequestRejected` and changes nothing when the request
        is malformed, unknown, already there, over the client's limit or
        the queue is full.
        """
        cls = parse_request(text)
        with self._lock:
            if any(s.index == cls.index and s.requested for s in self._subjects):
                raise RequestRejected("duplicate", f"'{cls.name}' is on the stream now")
            for i, w in enumerate(self._waiting):
                if w.index == cls.index:
                    raise RequestRejected("duplicate", f"'{cls.name}' is already in the queue (number {i + 1})")
            if len(self._waiting) >= self.max_waiting:
                raise RequestRejected("queue_full", f"the queue is full ({self.max_waiting} waiting); try again in a minute")
            self.limiter.take(client, now)
            self._waiting.append(Waiting(cls.index, cls.name, client, now))
            self.version += 1
            self._advance(now)
            position = next((i + 1 for i, w in enumerate(self._waiting) if w.index == cls.index), 0)
            return {"name": cls.name, "index": cls.index, "position": position}

    def advance(self, now: float) -> bool:
        """Let expired subjects go and waiting requests in; True when anything changed."""
        with self._lock:
            return self._advance(now)

    def _advance(self, now: float) -> bool:
        before = (tuple(self._subjects), len(self._waiting))
        subjects = self._subjects
        # requests first replace the stream's own picks, then take free slots, then expired subjects
        for i, s in enumerate(subjects):
            if self._waiting and not s.requested:
                subjects[i] = self._admit(now)
        while self._waiting and len(subjects) < self.max_subjects:
            subjects.append(self._admit(now))
        for i, s in enumerate(subjects):
            if self._waiting and s.until <= now:
                subjects[i] = self._admit(now)
        expired = [s for s in subjects if s.until <= now]
        if expired and len(subjects) > 1:
            subjects[:] = [s for s in subjects if s.until > now] or subjects[:1]
        if len(subjects) == 1 and subjects[0].until <= now and self.wander:
            subjects[0] = self._pick(now, avoid=subjects[0].index)
        changed = (tuple(subjects), len(self._waiting)) != before
        if changed:
            self.version += 1
        return changed

    def rebase(self, now: float) -> None:
        """Start every subject's hold afresh at ``now``: for a queue made before its clock started."""
        with self._lock:
            self._subjects = [replace(s, since=now, until=now + self.hold) for s in self._subjects]
            self.version += 1

    def _admit(self, now: float) -> Subject:
        w = self._waiting.popleft()
        return Subject(w.index, w.name, now, now + self.hold, requested=True)

    def _pick(self, now: float, *, avoid: int = -1) -> Subject:
        index = int(self.rng.integers(NUM_CLASSES - 1))
        index += index >= avoid >= 0  # never the class that just left
        cls = imagenet_classes()[index]
        return Subject(cls.index, cls.name, now, now + self.hold, requested=False)


def subject_aims(count: int) -> tuple[str, ...]:
    """Where each of ``count`` subjects is aimed: the whole picture for one, top and bottom for two."""
    return ("all",) if count <= 1 else AIMS[:count]


# -- the renderer ------------------------------------------------------------------------


@dataclass(frozen=True)
class StreamSettings:
    """How each computed frame of the stream is made.

    ``zoom`` is the magnification per computed frame and ``rotate`` the
    counter-clockwise turn in degrees; their bilinear resampling is the
    blur between optimisation steps. Each frame then takes ``steps``
    gradient steps of ``step_size`` on the subjects' logits, minus
    ``others_weight`` times the mean of all logits, minus ``prior_weight``
    times the Student-t patch prior pooled at ``prior_scales``, and
    blurs by ``blur`` pixels after each step. The first frame, on a bare
    canvas, takes ``first_steps`` steps.
    """

    width: int = 384
    height: int = 256
    steps: int = 6
    first_steps: int = 24
    zoom: float = 1.03
    rotate: float = 0.3
    step_size: float = 0.04
    blur: float = 0.6
    jitter: int = 8
    prior_weight: float = 5.0
    prior_scales: tuple[int, ...] = (1, 4, 8, 16, 32)
    others_weight: float = 0.5

    def validate(self) -> StreamSettings:
        checks = [
            (min(self.width, self.height) >= 32, f"the stream needs at least 32x32 pixels; got {self.width}x{self.height}"),
            (max(self.width, self.height) <= 4096, f"the stream is at most 4096 pixels wide or high; got {self.width}x{self.height}"),
            (self.steps >= 1, f"steps per frame must be at least 1; got {self.steps}"),
            (self.first_steps >= 1, f"steps of the first frame must be at least 1; got {self.first_steps}"),
            (1.0 <= self.zoom <= 1.5, f"zoom per frame must be between 1 (none) and 1.5; got {self.zoom}"),
            (abs(self.rotate) <= 10, f"rotation per frame must be between -10 and 10 degrees; got {self.rotate}"),
            (0 < self.step_size <= 1, f"step size must be above 0 and at most 1; got {self.step_size}"),
            (self.blur >= 0, f"blur must be 0 or more pixels; got {self.blur}"),
        ]
        check_all(checks)
        self.draw_settings(first=False).validate()
        return self

    def draw_settings(self, *, first: bool) -> DrawSettings:
        """The deepdraw settings of one computed frame: one octave at full size, no tiling."""
        steps = self.first_steps if first else self.steps
        return DrawSettings(
            octaves=(Octave(steps, 1.0, (self.blur, self.blur), (self.step_size, self.step_size)),),
            jitter=self.jitter,
            scale_jitter=0.05,
            rotate=2.0,
            prior_weight=self.prior_weight,
            prior_scales=self.prior_scales,
            others_weight=self.others_weight,
            tile=max(64, self.width, self.height),
        )

    def as_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


def zoom_theta(*, zoom: float, degrees: float, height: int, width: int) -> torch.Tensor:
    """The (1, 2, 3) ``affine_grid`` matrix that magnifies by ``zoom`` and turns counter-clockwise by ``degrees``.

    Each output pixel at offset ``o`` from the centre samples the input at
    ``R(degrees) o / zoom`` (rows pointing down), so the picture grows and
    turns about its centre. Normalised coordinates are corrected for the aspect ratio.
    """
    a = math.radians(degrees)
    cos, sin = math.cos(a) / zoom, math.sin(a) / zoom
    aspect = height / width
    return torch.tensor([[[cos, -sin * aspect, 0.0], [sin / aspect, cos, 0.0]]], dtype=torch.float32)


def zoom_image(image: np.ndarray, *, zoom: float, degrees: float, device: torch.device | str = "cpu") -> np.ndarray:
    """Magnify ``image`` (H, W, 3) about its centre by ``zoom`` and turn it by ``degrees``, bilinearly.

    Corners that a turn uncovers are filled by reflection.
    """
    h, w = image.shape[:2]
    x = to_tensor(image).to(device)
    theta = zoom_theta(zoom=zoom, degrees=degrees, height=h, width=w).to(device)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    return np.clip(to_image(out), 0.0, 1.0)


def subject_targets(subjects: Sequence[int], height: int, width: int) -> list[DrawTarget]:
    """Draw targets for the subjects: one over the whole canvas, or two aimed at the top and bottom halves."""
    if not subjects:
        raise NeuralgaeError("the stream has no subject to draw; request a class such as 'goldfish'")
    if len(subjects) > MAX_SUBJECTS:
        raise NeuralgaeError(f"the stream draws at most {MAX_SUBJECTS} subjects at once; got {len(subjects)}")
    names = imagenet_classes()
    aims = subject_aims(len(subjects))
    return [
        DrawTarget(int(i), 1.0, None if aim == "all" else region_mask(aim, height, width), None, names[int(i)].name)
        for i, aim in zip(subjects, aims)
    ]


class StreamRenderer:
    """Makes the stream's computed frames, one after another, from the previous one.

    ``next_frame(subjects)`` zooms and turns the current image, draws the
    subjects into it, keeps the result as the new current image and returns
    it. All randomness comes from ``rng``.
    """

    def __init__(self, net, *, settings: StreamSettings, rng: np.random.Generator, image: np.ndarray | None = None):
        self.net = net
        self.settings = settings.validate()
        self.rng = rng
        shape = (settings.height, settings.width)
        if image is None:
            self.image = start_canvas(*shape, rng)
            self.fresh = True
        else:
            image = np.asarray(image, dtype=np.float32)
            if image.ndim != 3 or image.shape[:2] != shape or image.shape[2] != 3:
                raise NeuralgaeError(
                    f"the stream continues from a {image.shape[1]}x{image.shape[0]} image, but its size is "
                    f"{settings.width}x{settings.height}; use {option('size')} {image.shape[1]}x{image.shape[0]}"
                )
            self.image = image
            self.fresh = False
        self.count = 0

    def steps_of_next(self) -> int:
        """How many optimisation steps the next frame takes."""
        return self.settings.first_steps if self.fresh else self.settings.steps

    def next_frame(self, subjects: Sequence[int], *, progress: ProgressCallback = no_progress) -> np.ndarray:
        """The next computed frame (H, W, 3) for ``subjects`` (one or two class indices)."""
        s = self.settings
        targets = subject_targets(subjects, s.height, s.width)
        device = network_device(self.net)
        start = self.image if self.fresh else zoom_image(self.image, zoom=s.zoom, degrees=s.rotate, device=device)
        settings = s.draw_settings(first=self.fresh)
        out = render_draw(self.net, start, targets, settings=settings, rng=self.rng, progress=progress)
        self.image = out
        self.fresh = False
        self.count += 1
        return out


def with_size(settings: StreamSettings, width: int, height: int) -> StreamSettings:
    """``settings`` at another size."""
    return replace(settings, width=width, height=height)


__all__ = [
    "RequestRejected",
    "parse_request",
    "RateLimiter",
    "Subject",
    "Waiting",
    "SubjectQueue",
    "subject_aims",
    "StreamSettings",
    "zoom_theta",
    "zoom_image",
    "subject_targets",
    "StreamRenderer",
    "with_size",
]
