"""The spec's schema: every key with its type, default, meaning and check (:data:`SCHEMA`), and the key reference of ``docs/spec.md``."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..host.errors import NeuralgaeError, did_you_mean
from ..host.limits import check_fps, check_loop
from ..media.images import parse_size
from ..media.movie import DEFAULT_FPS
from .spec_toml import _toml_value

SAMPLE_IMAGES = ("astronaut", "camera", "chelsea", "coffee")
"""Photos bundled with scikit-image (no download) usable as ``source.sample``."""

DEFAULT_NETWORK = "efficientnet-lite0"
DEFAULT_FRAME_PATTERN = "frame_{index:05d}.png"
DEFAULT_NOISE = "512x512"
DEFAULT_COHERENCE = 0.8
SOURCE_STARTS = ("image", "sample", "noise", "video")
VIDEO_KEYS = ("video", "coherence")
RESERVED_STAGE_KEYS = ("name",)

_FRAME_PATTERN = re.compile(r"^[^{}/\\]*\{index(?::0?[1-9]\d?d)?\}[^{}/\\]*\.png$")

# -- the schema ------------------------------------------------------------------


def _check_int(*, low: int) -> Callable[[Any], Any]:
    def check(value):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"must be a whole number; got {value!r}")
        if value < low:
            raise ValueError(f"must be at least {low}; got {value}")
        return value

    return check


def _check_fps(value):
    try:
        return check_fps(value, "it")
    except NeuralgaeError as exc:
        raise ValueError(str(exc)[len("it "):]) from None


def _check_loop(value):
    try:
        return check_loop(value, "it")
    except NeuralgaeError as exc:
        raise ValueError(str(exc)[len("it "):]) from None


def _check_bool(value):
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false; got {value!r}")
    return value


def _check_text(value):
    if not isinstance(value, str):
        raise ValueError(f"must be a string; got {value!r}")
    return value


MAX_NETWORKS = 16
"""Most networks a spec may alternate between (each is loaded once, and they stay in memory)."""


def _check_network(value):
    if isinstance(value, list):
        if not 1 <= len(value) <= MAX_NETWORKS:
            raise ValueError(f"must list 1 to {MAX_NETWORKS} networks; got {len(value)}")
        return [_check_network_choice(v) for v in value]
    return _check_network_choice(value)


def _check_network_choice(value):
    """A network name, or a table naming one with its options: ``{ name = "torchvision:googlenet", weights = "g.pth" }``."""
    if isinstance(value, dict):
        if "name" not in value:
            raise ValueError(
                f"as a table needs a 'name', e.g. {{ name = \"torchvision:googlenet\", weights = \"googlenet.pth\" }}; got {value!r}"
            )
        _check_str(value["name"])
        return value
    return _check_str(value)


def _check_str(value):
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"must be a non-empty string; got {value!r}")
    return value


def _check_size(value):
    if not isinstance(value, str):
        raise ValueError(f"must be a size written \"WIDTHxHEIGHT\" in quotes, e.g. \"512x512\"; got {value!r}")
    try:
        return parse_size(value)
    except NeuralgaeError as exc:
        raise ValueError(str(exc).replace("cannot read size", "cannot read")) from None


def _check_coherence(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"must be a number from 0 (off) to below 1; got {value!r}")
    if not 0 <= value < 1:
        raise ValueError(f"must be from 0 (off) to below 1 (0.8 is a good start); got {value}")
    return float(value)


def _check_sample(value):
    if value not in SAMPLE_IMAGES:
        hint = did_you_mean(str(value), SAMPLE_IMAGES)
        raise ValueError(f"must be one of {', '.join(map(repr, SAMPLE_IMAGES))}; got {value!r}{hint}")
    return value


def _check_animation(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip() and "/" not in value and "\\" not in value:
        return value
    raise ValueError(f"must be true, false or a file name inside the output folder; got {value!r}")


def _check_frame_pattern(value):
    if not isinstance(value, str) or not _FRAME_PATTERN.match(value):
        raise ValueError(
            f"must be a PNG file name containing {{index}} or {{index:05d}} (no other braces, no folders), "
            f"e.g. \"frame_{{index:05d}}.png\"; got {value!r}"
        )
    return value


@dataclass(frozen=True)
class Key:
    """One key of the spec: its dotted path, type, default and meaning."""

    path: str
    type: str
    default: Any
    doc: str
    check: Callable[[Any], Any] | None = None

    @property
    def table(self) -> str:
        return self.path.rpartition(".")[0]

    @property
    def name(self) -> str:
        return self.path.rpartition(".")[2]


_NONE = None

SCHEMA: tuple[Key, ...] = (
    Key("description", "string", "", "One line saying what the spec makes; `nd specs` shows it.", _check_text),
    Key("seed", "whole number >= 0", 0, "Seeds every random choice. Frame *k* draws from its own generator derived from (seed, k), so a resumed run sees the same numbers.", _check_int(low=0)),
    Key("frames", "whole number >= 1", 10, "How many frames to render.", _check_int(low=1)),
    Key("network", "string, table, or a list of them", DEFAULT_NETWORK, "The network renderers dream with and the sampler classifies with (`nd plugins --kind network` lists them; docs/networks.md describes each). A table names it with its options: `network = { name = \"torchvision:googlenet\", weights = \"googlenet.pth\" }` (or a `[network]` table). A list is used in turn, frame by frame (frame *k* uses entry *k* modulo its length), as the later Neuralgae versions alternated networks; its entries may be tables too.", _check_network),
    Key("network.name", "string (required in a table)", _NONE, "The network's name, as `network` would give it alone. Every other key of the table is one of the network's options.", _check_str),
    Key("network.weights", "string (path)", _NONE, "A weights file for the network (`--weights` on the command line): a state_dict or a checkpoint holding one, or for `torchscript` the TorchScript file. Relative to the spec file (to the current folder with `--set`); checked to exist before any work. Without it, a `torchvision:` network looks in the torch hub cache; nothing is ever downloaded.", _check_str),
    Key("source.image", "string (path)", _NONE, "Start from this image file. A relative path is relative to the spec file (to the current folder when given with `--set`).", _check_str),
    Key("source.sample", "string", _NONE, f"Start from a photo bundled with scikit-image: {', '.join(map(repr, SAMPLE_IMAGES))}.", _check_sample),
    Key("source.noise", "string \"WxH\"", _NONE, f"Start from smooth grey noise of this size (the default when no source is given is \"{DEFAULT_NOISE}\").", _check_size),
    Key("source.resize", "string \"WxH\"", _NONE, "Resize the image, sample or video frames to this size first.", _check_size),
    Key("source.video", "string (path)", _NONE, "Dream a video: a video file (`.mp4`, `.mov`, `.webm`, `.mkv`, `.avi`, `.gif`) or a folder of frames (natural order). Frame *k* is the dream of the video's frame *k*; `frames` defaults to the video's frame count (a smaller `frames` dreams only the first ones), `output.fps` to its frame rate, and an MP4 output keeps its audio. No `[[transforms]]`. Relative paths as for `source.image`.", _check_str),
    Key("source.coherence", "number in [0, 1)", DEFAULT_COHERENCE, "With `source.video`: how much of the previous frame's dream, warped along the video's optical flow, each frame starts from (and keeps); occluded or fast-changing regions dream afresh. 0 dreams every frame on its own (it flickers); 0.8 cuts flicker by about 2.5 times (see docs/video.md).", _check_coherence),
    Key("renderer.name", "string (required)", _NONE, "The renderer that turns the current image into the next frame (`dream`, `draw`, ...). Every other key of `[renderer]` is one of its parameters (`nd plugins NAME` lists them).", _check_str),
    Key("transforms[].name", "string (required)", _NONE, "A transform applied to the previous frame before the next one is rendered; `[[transforms]]` tables apply in order. Every other key of the table is one of its parameters.", _check_str),
    Key("sampler.name", "string (required)", _NONE, "A category sampler. When `[sampler]` is present, each frame is classified by the network and the sampler chooses the classes of the next frame (passed to the renderer). Every other key is one of its parameters.", _check_str),
    Key("audio.file", "string (path)", _NONE, 'Dream to music: a sound file (WAV, MP3, FLAC, OGG, M4A, anything ffmpeg plays), relative to the spec file (to the current folder with `--set`). Without an explicit `frames` the run lasts as long as the sound at `output.fps`; parameters may follow it (`{ audio = \"beat\", min = 0.01, max = 0.08 }`, see docs/animation.md) and an MP4 output carries it, in sync (frame *i* at *i*/fps). Not with `source.video`.', _check_str),
    Key("output.dir", "string (path)", "runs/SPEC-NAME", "Folder for the frames, `manifest.jsonl`, the resolved `spec.toml` and the animations. A relative path is relative to the current folder. `--out` overrides it.", _check_str),
    Key("output.frame_pattern", "string", DEFAULT_FRAME_PATTERN, "File name of each frame: a PNG name containing `{index}` with optional zero padding (`{index:05d}`), so that sorting the names gives the order.", _check_frame_pattern),
    Key("output.gif", "true, false or file name", False, "Write an animated GIF of all frames at the end (`true` names it after the spec).", _check_animation),
    Key("output.mp4", "true, false or file name", False, "Write an MP4 video of all frames at the end (`true` names it after the spec).", _check_animation),
    Key("output.fps", "number > 0, at most 240", DEFAULT_FPS, "Frames per second of the GIF and MP4.", _check_fps),
    Key("output.reverse", "true or false", False, "Play the animations backwards (a zoom-in loop becomes a zoom-out).", _check_bool),
    Key("output.pingpong", "true or false", False, "Play forwards then backwards, so the animation loops without a jump.", _check_bool),
    Key("output.loop", "whole number 0 to 65535", 0, "How many times the GIF loops (0: forever).", _check_loop),
    Key("output.seamless", "true or false", False, "Loop without a jump: the last frames dissolve into the first, as many as it takes for the change across the wrap to be no more than 1.5 times the median change between frames (see docs/animation.md). Not with `pingpong`.", _check_bool),
)

SCHEMA_BY_PATH = {k.path: k for k in SCHEMA}
TOP_LEVEL_KEYS = ("description", "seed", "frames", "network", "source", "renderer", "transforms", "sampler", "audio", "output")
FIXED_TABLES = ("source", "output")


def schema_markdown() -> str:
    """The key reference table of ``docs/spec.md``, generated from :data:`SCHEMA`."""
    lines = ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    for k in SCHEMA:
        if k.default is None:
            default = "—"
        elif k.path == "output.dir":
            default = f"`{k.default}`"
        else:
            default = f"`{_toml_value(k.default)}`"
        lines.append(f"| `{k.path}` | {k.type} | {default} | {k.doc} |")
    return "\n".join(lines) + "\n"
