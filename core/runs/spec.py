"""Pipeline specs: TOML files that describe a run, validated completely before any work starts.

A spec names a source image (or noise), a renderer with its parameters, a
chain of inter-frame transforms, an optional category sampler, the number of
frames, the seed and the outputs. :func:`load_spec` reads one (a file or the
name of a built-in spec), applies ``--set key.path=value`` overrides and
returns a validated :class:`Spec`; every problem is reported as one
:class:`~neuralgae.core.host.errors.NeuralgaeError` naming the file, the key path
and what is allowed. Nothing in a spec is ever evaluated as code: values are
parsed by ``tomllib`` and checked against :data:`SCHEMA` and against the
parameters the plugins declare.

The key reference in ``docs/spec.md`` contains :func:`schema_markdown`
verbatim (a test checks it), so documentation and schema cannot drift.

The schema lives in :mod:`.spec_schema`, ``--set`` overrides in
:mod:`.spec_overrides` and TOML writing in :mod:`.spec_toml`; their public
names are importable from here as before.
"""

from __future__ import annotations

import logging
import re
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from ..host.errors import NeuralgaeError, did_you_mean, option
from ..media.images import parse_size
from ..media.movie import DEFAULT_FPS
from ..host.limits import MAX_SPEC_BYTES, MAX_TOML_DEPTH, check_frames, toml_depth
from .schedule import FrameSignals, as_table_value, check_schedules, resolve, split_schedules
from .spec_schema import (  # the schema, overrides and TOML writing live apart; their names stay importable from here
    SAMPLE_IMAGES,
    DEFAULT_NETWORK,
    DEFAULT_FRAME_PATTERN,
    DEFAULT_NOISE,
    DEFAULT_COHERENCE,
    SOURCE_STARTS,
    VIDEO_KEYS,
    RESERVED_STAGE_KEYS,
    MAX_NETWORKS,
    Key,
    SCHEMA,
    SCHEMA_BY_PATH,
    TOP_LEVEL_KEYS,
    FIXED_TABLES,
    schema_markdown,
)
from .spec_overrides import (  # the schema, overrides and TOML writing live apart; their names stay importable from here
    parse_value,
    spec_relative,
    CWD_RELATIVE_KEYS,
    cwd_relative,
    apply_overrides,
)
from .spec_toml import (  # the schema, overrides and TOML writing live apart; their names stay importable from here
    dumps_spec,
    first_difference,
)


# -- the validated spec -----------------------------------------------------------


@dataclass(frozen=True)
class Stage:
    """A renderer, transform or sampler as a spec uses it: its name and bound parameters.

    ``params`` holds every parameter with defaults filled in; ``given`` only
    those the spec wrote.
    """

    name: str
    params: dict
    given: dict = field(default_factory=dict)

    def as_table(self) -> dict:
        """The stage as the spec writes it: schedules as their tables."""
        return {"name": self.name, **{k: as_table_value(v) for k, v in self.params.items() if v is not None}}

    def at(self, frame: int, signals: FrameSignals | None = None) -> dict:
        """The parameters frame ``frame`` passes to the component: schedules at their value on that frame."""
        return resolve(self.params, frame, signals)

    def table_at(self, frame: int, signals: FrameSignals | None = None) -> dict:
        """:meth:`as_table` with the values frame ``frame`` uses (what its manifest entry records)."""
        return {"name": self.name, **{k: v for k, v in self.at(frame, signals).items() if v is not None}}


@dataclass(frozen=True)
class Source:
    """Where the frames start: exactly one of ``image``, ``sample``, ``noise`` (W, H) or ``video``.

    ``video`` is a video file or folder of frames, probed at validation
    (``video_info``, a :class:`~neuralgae.core.media.video.VideoSource`);
    ``coherence`` applies to videos only.
    """

    image: Path | None = None
    sample: str | None = None
    noise: tuple[int, int] | None = None
    resize: tuple[int, int] | None = None
    video: Path | None = None
    coherence: float = DEFAULT_COHERENCE
    video_info: Any = field(default=None, compare=False, repr=False)

    def as_table(self) -> dict:
        out: dict = {}
        if self.image is not None:
            out["image"] = str(self.image)
        if self.sample is not None:
            out["sample"] = self.sample
        if self.noise is not None:
            out["noise"] = f"{self.noise[0]}x{self.noise[1]}"
        if self.video is not None:
            out["video"] = str(self.video)
            out["coherence"] = self.coherence
        if self.resize is not None:
            out["resize"] = f"{self.resize[0]}x{self.resize[1]}"
        return out


@dataclass(frozen=True)
class Output:
    """Where and how a run writes its frames and animations."""

    dir: Path
    frame_pattern: str = DEFAULT_FRAME_PATTERN
    gif: bool | str = False
    mp4: bool | str = False
    fps: float = DEFAULT_FPS
    reverse: bool = False
    pingpong: bool = False
    loop: int = 0
    seamless: bool = False

    def frame_name(self, index: int) -> str:
        return self.frame_pattern.format(index=index)

    def animation_path(self, kind: str, spec_name: str) -> Path | None:
        """The GIF or MP4 file to write, or None when that output is off."""
        value = getattr(self, kind)
        if value is False:
            return None
        return self.dir / (f"{spec_name}.{kind}" if value is True else value)

    def as_table(self) -> dict:
        return {
            "dir": str(self.dir),
            "frame_pattern": self.frame_pattern,
            "gif": self.gif,
            "mp4": self.mp4,
            "fps": self.fps,
            "reverse": self.reverse,
            "pingpong": self.pingpong,
            "loop": self.loop,
            "seamless": self.seamless,
        }


@dataclass(frozen=True)
class Spec:
    """A validated pipeline spec. ``origin`` labels it in messages (the file as given)."""

    name: str
    origin: str
    path: Path | None
    description: str
    seed: int
    frames: int
    network: str | tuple[str, ...]
    source: Source
    renderer: Stage
    transforms: tuple[Stage, ...]
    sampler: Stage | None
    output: Output
    audio: Any = None  # a decoded neuralgae.core.media.audio.AudioTrack, or None
    network_options: dict = field(default_factory=dict)  # network name -> its options (files absolute)

    @property
    def networks(self) -> tuple[str, ...]:
        """Every network the spec uses, in its order (one, or the list it alternates)."""
        return self.network if isinstance(self.network, tuple) else (self.network,)

    def network_at(self, index: int) -> str:
        """The network frame ``index`` is made with: the list's entries in turn."""
        return self.networks[index % len(self.networks)]

    def to_dict(self, *, include_output: bool = True) -> dict:
        """The resolved spec as plain TOML values (paths absolute, defaults filled in)."""
        out: dict = {
            "description": self.description,
            "seed": self.seed,
            "frames": self.frames,
            "network": [self._network_table(n) for n in self.network] if isinstance(self.network, tuple) else self._network_table(self.network),
            "source": self.source.as_table(),
            "renderer": self.renderer.as_table(),
            "transforms": [t.as_table() for t in self.transforms],
        }
        if self.sampler is not None:
            out["sampler"] = self.sampler.as_table()
        if self.audio is not None:
            out["audio"] = {"file": str(self.audio.path)}
        if include_output:
            out["output"] = self.output.as_table()
        return _plain(out)

    def _network_table(self, name: str):
        """A network as the spec writes it: its name, or a table with its options (files as absolute paths)."""
        options = self.network_options.get(name)
        if not options:
            return name
        return {"name": name, **{k: str(v) if isinstance(v, Path) else v for k, v in options.items() if v is not None}}


def _plain(value):
    """Tuples -> lists, recursively, so the spec compares equal after a TOML round trip."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


# -- reading ---------------------------------------------------------------------


def read_toml(path: Path, *, origin: str) -> dict:
    """Parse a TOML file; syntax errors name the file and the line."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_SPEC_BYTES + 1)
        if len(raw) > MAX_SPEC_BYTES:
            raise NeuralgaeError(
                f"spec file '{origin}' is larger than the limit of {MAX_SPEC_BYTES // 1024} KiB for a spec; "
                "is it the right file?"
            )
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise NeuralgaeError(f"spec file '{origin}' does not exist") from None
    except IsADirectoryError:
        raise NeuralgaeError(f"'{origin}' is a folder, not a spec file") from None
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise NeuralgaeError(
            f"spec file '{origin}' is not UTF-8 text (byte 0x{raw[exc.start]:02x} on line {line}); "
            "save it as UTF-8, as TOML requires"
        ) from None
    except OSError as exc:
        raise NeuralgaeError(f"cannot read spec file '{origin}': {exc.strerror or exc}") from None
    too_deep = NeuralgaeError(f"{origin}: tables and arrays nest more than {MAX_TOML_DEPTH} deep; a spec needs at most 4")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise NeuralgaeError(f"{origin}: not valid TOML: {exc}") from None
    except RecursionError:
        raise too_deep from None
    if toml_depth(data) > MAX_TOML_DEPTH:
        raise too_deep
    return data


def is_spec_name(text: str | Path, host) -> bool:
    """Whether ``text`` is the bare name (no ``.toml``, no folder) of a built-in or plugin spec."""
    text = str(text)
    return text in host.specs and Path(text).suffix != ".toml" and "/" not in text and "\\" not in text


_noted_ambiguous: set[str] = set()


def find_spec(name_or_path: str | Path, host) -> tuple[Path, str, str]:
    """Resolve a spec argument: the name of a registered spec, or an existing file.

    A bare name of a built-in or plugin spec is that spec even when the
    current folder holds a folder of the same name (``nd run zoom --out zoom``
    leaves one); when it holds a *file* of that name, the registered spec is
    still taken and a notice says how to run the file (``./zoom``), so a name
    never means different things in different folders.
    Returns (file, origin label, spec name).
    """
    text = str(name_or_path)
    path = Path(text)
    if is_spec_name(text, host):
        if path.is_file() and text not in _noted_ambiguous:
            _noted_ambiguous.add(text)
            kind = _label(text, host).partition(" (")[2].rstrip(")")
            logging.getLogger("neuralgae").info(f"'{text}' names a file here and a {kind}; using the {kind}, write ./{text} to run the file")
        return Path(host.specs[text].path), _label(text, host), text
    if path.suffix == ".toml" or path.exists() or "/" in text or "\\" in text:
        if not path.exists():
            hint = did_you_mean(path.stem, host.specs) if path.suffix == ".toml" else ""
            raise NeuralgaeError(
                f"spec file '{text}' does not exist{hint.replace('; did you mean', '; a built-in spec is called') if hint else ''}"
            )
        if path.is_dir():
            raise NeuralgaeError(f"'{text}' is a folder, not a spec file; give the TOML file in it, or a built-in spec's name (`nd specs`)")
        return path, text, path.stem
    known = list(host.specs)
    raise NeuralgaeError(
        f"no spec file or built-in spec called '{text}'{did_you_mean(text, known)} "
        f"(built-in specs: {', '.join(known) or 'none'}; `nd specs` lists them)"
    )


def _label(name: str, host) -> str:
    """How a registered spec is named in messages: ``zoom (built-in spec)`` or ``x (spec from PLUGIN)``."""
    entry = host.specs[name]
    return f"{name} (built-in spec)" if entry.source == "built-in" else f"{name} (spec from {entry.source})"


# -- validation ----------------------------------------------------------------------


def _fail(origin: str, where: str, message: str) -> NeuralgaeError:
    return NeuralgaeError(f"{origin}: {where} {message}" if where else f"{origin}: {message}")


def _check_keys(origin: str, table: dict, allowed: Sequence[str], where: str, *, video_keys: Sequence[str] = ()) -> None:
    """Refuse keys not in ``allowed`` (or ``video_keys``, listed apart in the message), with a near-miss hint."""
    known = [*allowed, *video_keys]
    for key in table:
        if key not in known:
            hint = did_you_mean(key, known)
            place = f"in [{where}]" if where else "at the top level"
            for_video = f"; for a video: {', '.join(video_keys)}" if video_keys else ""
            raise NeuralgaeError(
                f"{origin}: unknown key '{key}' {place}{hint or ''}"
                + ("" if hint else f" (allowed: {', '.join(allowed)}){for_video}")
            )


def _value(origin: str, table: dict, path: str):
    key = SCHEMA_BY_PATH[path]
    if key.name not in table:
        return key.default
    try:
        return key.check(table[key.name]) if key.check else table[key.name]
    except ValueError as exc:
        raise _fail(origin, path, str(exc)) from None


def _table(origin: str, data: dict, name: str) -> dict:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise NeuralgaeError(f"{origin}: '{name}' must be a table ([{name}]); got {value!r}")
    return value


def _stage(origin: str, table, where: str, kind: str, host, base_dir: Path) -> Stage:
    if not isinstance(table, dict):
        raise NeuralgaeError(f"{origin}: {where} must be a table with a 'name' key; got {table!r}")
    if "name" not in table:
        known = list(host.registry(kind))
        raise NeuralgaeError(
            f"{origin}: {where} needs a 'name' naming the {kind} (installed: {', '.join(known) or 'none'})"
        )
    name = table["name"]
    if not isinstance(name, str):
        raise NeuralgaeError(f"{origin}: {where}.name must be a string; got {name!r}")
    registry = host.registry(kind)
    if name not in registry:
        raise NeuralgaeError(f"{origin}: {where}: {host.unknown(kind, name, list(registry))}")
    component = registry[name]
    given = {k: v for k, v in table.items() if k not in RESERVED_STAGE_KEYS}
    label = f"{origin}: {where} ({name})"
    fixed, schedules = split_schedules(component, given, where=label)
    params = component.bind({**fixed, **{k: s.probe_values()[0] for k, s in schedules.items()}}, where=label)
    for key, value in params.items():
        if isinstance(value, (str, Path)) and _is_path_param(component.params[key]):
            path = Path(value).expanduser()
            params[key] = str(path if path.is_absolute() else (base_dir / path).resolve())
    params.update(schedules)
    check_schedules(kind, component, params, where=label, transforms=host.transforms if kind == "transform" else None)
    return Stage(name, params, given)


def _is_path_param(param) -> bool:
    """Parameters annotated ``Path`` (or ``Path | None``) name files relative to the spec."""
    t = param.type
    return t is Path or Path in typing.get_args(t)


def validate_spec(data: dict, *, host, origin: str, name: str, base_dir: Path, out: str | Path | None = None) -> Spec:
    """Check a parsed spec against the schema and the installed plugins; return a :class:`Spec`."""
    if not isinstance(data, dict):
        raise NeuralgaeError(f"{origin}: a spec must be a TOML table")
    _check_keys(origin, data, TOP_LEVEL_KEYS, "")

    description = _value(origin, data, "description")
    seed = _value(origin, data, "seed")
    frames = _value(origin, data, "frames")
    if "video" not in (data.get("source") if isinstance(data.get("source"), dict) else {}):  # a video's own length is checked when it is probed
        try:
            check_frames(frames)
        except NeuralgaeError as exc:
            raise NeuralgaeError(f"{origin}: {exc}") from None
    network, network_options = _networks(origin, _value(origin, data, "network"), host, base_dir)

    src = _table(origin, data, "source")
    source_keys = [k.name for k in SCHEMA if k.table == "source"]
    _check_keys(origin, src, [k for k in source_keys if k not in VIDEO_KEYS], "source", video_keys=VIDEO_KEYS)
    starts = [k for k in SOURCE_STARTS if k in src]
    if len(starts) > 1:
        raise _fail(origin, "source", f"gives both '{starts[0]}' and '{starts[1]}'; choose one of image, sample or noise (or video)")
    image = _value(origin, src, "source.image")
    resize = _value(origin, src, "source.resize")
    noise = _value(origin, src, "source.noise")
    if not starts:
        noise = parse_size(DEFAULT_NOISE)
    if noise is not None and resize is not None:
        raise _fail(origin, "source.resize", "applies only to an image or sample; for noise, set source.noise to the size you want")
    if image is not None:
        image = spec_relative(image, base_dir)
        if not image.is_file():
            raise _fail(origin, "source.image", f"'{src['image']}' does not exist (looked for {image})")
    video, video_info, coherence = _video_source(origin, src, base_dir, frames if "frames" in data else None)
    source = Source(
        image=image, sample=_value(origin, src, "source.sample"), noise=noise, resize=resize,
        video=video, coherence=coherence, video_info=video_info,
    )
    if video_info is not None:
        frames = min(frames, video_info.frame_count) if "frames" in data else video_info.frame_count

    if "renderer" not in data:
        known = list(host.renderers)
        raise NeuralgaeError(f"{origin}: missing [renderer] table; add one with a name (installed: {', '.join(known) or 'none'})")
    renderer = _stage(origin, data["renderer"], "renderer", "renderer", host, base_dir)

    transforms = data.get("transforms", [])
    if isinstance(transforms, dict):
        raise NeuralgaeError(f"{origin}: 'transforms' must be an array of tables: write [[transforms]], not [transforms]")
    if not isinstance(transforms, list):
        raise NeuralgaeError(f"{origin}: 'transforms' must be an array of tables ([[transforms]]); got {transforms!r}")
    stages = tuple(_stage(origin, t, f"transforms[{i}]", "transform", host, base_dir) for i, t in enumerate(transforms))
    if video is not None and stages:
        raise _fail(
            origin, "transforms",
            "cannot be used with source.video: every frame starts from the video's own frame; remove the [[transforms]] tables",
        )

    sampler = None
    if "sampler" in data:
        sampler = _stage(origin, data["sampler"], "sampler", "sampler", host, base_dir)

    outt = _table(origin, data, "output")
    _check_keys(origin, outt, [k.name for k in SCHEMA if k.table == "output"], "output")
    out_dir = Path(out) if out is not None else Path(_value(origin, outt, "output.dir") if "dir" in outt else Path("runs") / name)
    output = Output(
        dir=out_dir.expanduser().absolute(),
        frame_pattern=_value(origin, outt, "output.frame_pattern"),
        gif=_value(origin, outt, "output.gif"),
        mp4=_value(origin, outt, "output.mp4"),
        fps=_output_fps(origin, outt, video_info),
        reverse=_value(origin, outt, "output.reverse"),
        pingpong=_value(origin, outt, "output.pingpong"),
        loop=_value(origin, outt, "output.loop"),
        seamless=_value(origin, outt, "output.seamless"),
    )
    _check_output_names(origin, output, name)
    if output.seamless and output.pingpong:
        raise _fail(origin, "output.seamless", "and output.pingpong both make the animation loop; set one of them to false")
    audio = _audio(origin, data, base_dir, video)
    if audio is not None and "frames" not in data:
        from ..media.audio import frames_for

        frames = frames_for(audio.duration, output.fps)
        try:
            check_frames(frames, f"the audio's length at {output.fps:g} fps, frames")
        except NeuralgaeError as exc:
            raise NeuralgaeError(f"{origin}: {exc}") from None
    spec = Spec(
        name=name,
        origin=origin,
        path=None,
        description=description,
        seed=seed,
        frames=frames,
        network=network,
        source=source,
        renderer=renderer,
        transforms=stages,
        sampler=sampler,
        output=output,
        audio=audio,
        network_options=network_options,
    )
    _check_followers(origin, spec)
    return spec


def _networks(origin: str, value, host, base_dir: Path) -> tuple[str | tuple[str, ...], dict]:
    """The spec's network (a name, or the tuple it alternates) and each one's checked options.

    Every name must be installed and every option right (files exist,
    relative to ``base_dir``) before any work; one network given twice with
    different options is refused.
    """
    from ..nets.ensemble import ensemble_members
    from ..host.plugins import FAMILY_SEPARATOR

    choices = value if isinstance(value, list) else [value]
    names: list[str] = []
    options: dict[str, dict] = {}
    for choice in choices:
        name = choice["name"] if isinstance(choice, dict) else choice
        given = {k: v for k, v in choice.items() if k != "name"} if isinstance(choice, dict) else {}
        for member in ensemble_members(name):
            if member not in host.networks and member.partition(FAMILY_SEPARATOR)[0] not in host.networks:
                known = host.network_names()
                listed = host.network_summary()
                raise _fail(origin, "network", f"'{member}' is not installed{did_you_mean(member, known)} (installed: {', '.join(listed) or 'none'})")
        try:
            checked = host.check_network(name, given, base_dir=base_dir)
        except NeuralgaeError as exc:
            raise _fail(origin, "network:", str(exc)) from None
        if name in options and options[name] != checked:
            raise _fail(origin, "network", f"lists '{name}' twice with different options; a network has one set of options in a run")
        options[name] = checked
        names.append(name)
    network = names[0] if len(names) == 1 else tuple(names)
    return network, {name: opts for name, opts in options.items() if opts}


RUN_FILES = ("manifest.jsonl", "spec.toml")
"""Files every run folder holds beside its frames; an animation must not be written over them."""


def _check_output_names(origin: str, output: Output, name: str) -> None:
    """The output folder and the animation names: no NUL byte, nothing that overwrites a frame or a run file or leaves the folder."""
    if "\0" in str(output.dir):
        raise _fail(origin, "output.dir", f"contains a NUL byte, which no file system allows; choose another folder with {option('out')}")
    prefix, _, rest = output.frame_pattern.partition("{")
    frame = re.compile("^" + re.escape(prefix) + r"\d+" + re.escape(rest.partition("}")[2]) + "$")
    names = {}
    for kind in ("gif", "mp4"):
        path = output.animation_path(kind, name)
        if path is None:
            continue
        file = path.name
        where = f"output.{kind}"
        if "\0" in file or file in (".", "..") or path.parent != output.dir:
            raise _fail(origin, where, f"must be a file name inside the output folder; got {getattr(output, kind)!r}")
        if file in RUN_FILES:
            raise _fail(origin, where, f"'{file}' would overwrite the run's own {file}; choose another name, e.g. \"{name}.{kind}\"")
        if frame.match(file):
            raise _fail(origin, where, f"'{file}' would overwrite a frame (output.frame_pattern is {output.frame_pattern!r}); choose another name")
        if file in names:
            raise _fail(origin, where, f"'{file}' is also the name of output.{names[file]}; give them different names")
        names[file] = kind


def _audio(origin: str, data: dict, base_dir: Path, video):
    """The decoded [audio] file, or None without an [audio] table."""
    table = _table(origin, data, "audio")
    if "audio" not in data:
        return None
    _check_keys(origin, table, [k.name for k in SCHEMA if k.table == "audio"], "audio")
    value = _value(origin, table, "audio.file")
    if value is None:
        raise _fail(origin, "audio", f"needs a file: add file = \"song.mp3\" (or {option('set')} audio.file=song.mp3)")
    if video is not None:
        raise _fail(origin, "audio", "cannot be used with source.video, which brings its own sound; remove one of them")
    from ..media.audio import read_audio

    path = spec_relative(value, base_dir)
    if not path.exists():
        raise _fail(origin, "audio.file", f"'{value}' does not exist (looked for {path})")
    try:
        return read_audio(path)
    except NeuralgaeError as exc:
        raise _fail(origin, "audio.file:", str(exc)) from None


def _check_followers(origin: str, spec: Spec) -> None:
    """Parameters that follow the audio need an [audio] file and librosa."""
    from ..media.audio import follows_audio, require_librosa

    followers = follows_audio(spec)
    if not followers:
        return
    where, name, schedule = followers[0]
    if spec.audio is None:
        raise _fail(
            origin, f"{where}.{name}",
            f"follows the audio's '{schedule.feature}', but the spec has no [audio]; add [audio] file = \"song.mp3\" "
            f"(or {option('set')} audio.file=song.mp3)",
        )
    try:
        require_librosa()
    except NeuralgaeError as exc:
        raise _fail(origin, f"{where}.{name}:", str(exc)) from None


def _video_source(origin: str, src: dict, base_dir: Path, frames: int | None = None):
    """(video path, probed VideoSource, coherence) from the [source] table; (None, None, default) without a video."""
    coherence = _value(origin, src, "source.coherence")
    value = _value(origin, src, "source.video")
    if value is None:
        if "coherence" in src:
            raise _fail(origin, "source.coherence", "applies only to a video; add source.video or remove source.coherence")
        return None, None, coherence
    from ..media.video import open_video

    path = spec_relative(value, base_dir)
    if not path.exists():
        raise _fail(origin, "source.video", f"'{value}' does not exist (looked for {path})")
    try:
        info = open_video(path, frames=frames)
    except NeuralgaeError as exc:
        raise _fail(origin, "source.video:", str(exc)) from None
    return path, info, coherence


def _output_fps(origin: str, outt: dict, video_info) -> float:
    """output.fps as given, else the video's own rate, else the default."""
    if "fps" not in outt and video_info is not None and video_info.fps:
        return float(video_info.fps)
    return float(_value(origin, outt, "output.fps"))


def load_spec(
    name_or_path: str | Path,
    *,
    host,
    overrides: Sequence[str] = (),
    frames: int | None = None,
    out: str | Path | None = None,
) -> Spec:
    """Read, override and validate a spec file or built-in spec; nothing is written."""
    path, origin, name = find_spec(name_or_path, host)
    data = read_toml(path, origin=origin)
    if overrides:
        data = apply_overrides(data, overrides)
    if frames is not None:
        if frames < 1:
            raise NeuralgaeError(f"{option('frames')} must be at least 1; got {frames}")
        check_frames(frames, option("frames"))
        data["frames"] = frames
    spec = validate_spec(data, host=host, origin=origin, name=name, base_dir=path.resolve().parent, out=out)
    return _with_path(spec, path)


def _with_path(spec: Spec, path: Path) -> Spec:
    from dataclasses import replace

    return replace(spec, path=path)
