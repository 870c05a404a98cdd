"""Running a pipeline spec: source -> renderer -> (write) -> transforms -> renderer -> ...

Frame 0 is the renderer applied to the source image. Every later frame *k*
starts from frame *k-1* as it was written (quantised to 8 bits, exactly as the
PNG on disk holds it), which the spec's transforms change in order; when the
spec has a sampler, frame *k-1* is also classified by the network and the
sampler chooses frame *k*'s classes, which the renderer receives as
``ctx.classes``. Because each frame depends only on the previous PNG, the
manifest and generators derived from (seed, frame index), a run that is
killed can be resumed and yields byte-identical frames.

The output folder is a run folder (:mod:`~neuralgae.core.runs.runfolder`: the
frames, ``manifest.jsonl``, ``spec.toml``) plus ``NAME.gif`` / ``NAME.mp4``,
written at the end.

A **video source** (``source.video``: a video file or a folder of frames)
changes where each frame starts: frame *k* is the renderer applied to the
video's frame *k*, streamed one frame at a time. With ``source.coherence``
above 0, frame *k* starts from the video frame plus the previous output's
dream detail warped along the optical flow, and keeps only part of what the
renderer changes where the flow is reliable (:mod:`neuralgae.core.media.flow`), so
the dream sticks to moving things instead of flickering. A resumed video run
re-reads the video up to the resume point and continues from the last
written frame, giving the same frames. The MP4 plays at the video's rate
with its audio.

The engine never prints: progress goes to the ``progress(done, total,
message)`` callback and events to the ``run_started``, ``frame_written`` and
``run_finished`` hooks.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..nets.classify import class_probabilities
from ..host.components import FrameContext, ProgressCallback, RenderContext, SamplerContext, no_progress
from ..host.errors import NeuralgaeError
from ..host.atomic import atomic_write_text
from ..media.images import as_rgb_float, load_image, resize, smooth_noise, to_uint8
from ..nets.network import network_device, network_record, placement_record
from ..host.plugins import PluginError, PluginHost
from .schedule import ScheduledComponent
from .runfolder import MANIFEST, SPEC_FILE, FrameRecord, prepare_output, read_manifest, write_frame, write_manifest
from .spec import Spec, dumps_spec
from ..media.video import start_video, video_of, video_start

FIRST_RANDOM_CLASSES = 8
TOP_SEEN = 10

# Independent random streams within a frame, so that adding a transform does
# not change the numbers the renderer or the sampler draws.
RENDER_STREAM, TRANSFORM_STREAM, SAMPLER_STREAM, SOURCE_STREAM, TORCH_STREAM = range(5)


def frame_rng(seed: int, index: int, stream: int, *more: int) -> np.random.Generator:
    """The generator of one stream of one frame, derived from (seed, index, stream)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index, stream, *more)))


def frame_torch_seed(seed: int, index: int) -> int:
    """An integer seed for torch generators of frame ``index`` (below 2**63)."""
    state = np.random.SeedSequence(seed, spawn_key=(index, TORCH_STREAM)).generate_state(2, np.uint32)
    return int(state[0]) << 31 | int(state[1]) >> 1


@dataclass
class Run:
    """A run in progress: the spec, the host, the output folder and the frames so far.

    ``entries`` holds the manifest entries of every frame written (including
    those of an earlier, resumed session); ``records`` the frames written in
    this session; ``start`` the first frame index this session renders.
    """

    spec: Spec
    host: PluginHost
    dir: Path
    start: int = 0
    entries: list[dict] = field(default_factory=list)
    records: list[FrameRecord] = field(default_factory=list)
    outputs: list[Path] = field(default_factory=list)
    resumed: bool = False

    @property
    def frame_paths(self) -> list[Path]:
        return [self.dir / e["file"] for e in self.entries]

    @property
    def done(self) -> int:
        return len(self.entries)


# -- the steps of a frame -------------------------------------------------------------


def load_source(spec: Spec) -> np.ndarray:
    """Frame 0's input: the image, bundled sample or smooth noise the spec names (a video streams instead)."""
    src = spec.source
    if src.image is not None:
        image = load_image(src.image)
    elif src.sample is not None:
        import skimage.data

        image = as_rgb_float(getattr(skimage.data, src.sample)())
    else:
        width, height = src.noise
        return smooth_noise(height, width, frame_rng(spec.seed, 0, SOURCE_STREAM))
    if src.resize is not None:
        width, height = src.resize
        image = np.clip(resize(image, height, width), 0.0, 1.0).astype(np.float32)
    return image


def quantise(image: np.ndarray) -> np.ndarray:
    """The float image exactly as an 8-bit PNG stores it, so resumed runs continue from the same pixels."""
    return as_rgb_float(to_uint8(image))


def _check_image(result, what: str, frame: int, shape: tuple | None = None, origin: str = "") -> np.ndarray:
    """A renderer's or transform's result as float32 (H, W, 3) in [0, 1]; anything else is a PluginError naming it."""
    tail = f" ({origin})" if origin else ""
    if not isinstance(result, np.ndarray) or result.ndim != 3 or result.shape[2] != 3:
        got = f"shape {result.shape}" if isinstance(result, np.ndarray) else type(result).__name__
        raise PluginError(f"{what} returned {got} on frame {frame}; it must return an (H, W, 3) image array{tail}")
    if shape is not None and result.shape != shape:
        raise PluginError(f"{what} changed the image shape from {shape} to {result.shape} on frame {frame}; transforms must keep it{tail}")
    if not np.issubdtype(result.dtype, np.floating):
        span = f" {result.min()}-{result.max()}" if result.size and np.issubdtype(result.dtype, np.number) else ""
        raise PluginError(
            f"{what} returned {result.dtype} values{span} on frame {frame}; it must return floats in [0, 1] "
            f"(an 8-bit image divided by 255){tail}"
        )
    bad = int(result.size - np.count_nonzero(np.isfinite(result)))
    if bad:
        raise PluginError(
            f"{what} returned {bad} NaN or infinite value{'s' if bad != 1 else ''} on frame {frame}; "
            f"it must return finite floats in [0, 1]{tail}"
        )
    return np.clip(result.astype(np.float32, copy=False), 0.0, 1.0)


RANGE_SLACK = 1e-3  # float rounding in a transform's arithmetic is not an error


def _origin(component) -> str:
    """Where a component comes from, for error messages: its distribution, or built in."""
    source = getattr(component, "source", None)
    if source is None:
        return ""
    return "built into neuralgae" if source == "built-in" else f"from {source}"


def _call(component, what: str, frame: int, *args, **params):
    """Call a plugin's component; what goes wrong in it is a PluginError naming it, its spec position, the frame and its distribution.

    A transform's or renderer's result is checked here, where the component
    is known: an (H, W, 3) float array, finite; a transform's keeps the shape
    and stays in [0, 1] (an 8-bit or overflowing image would otherwise be a
    white or black frame).
    """
    origin = _origin(component)
    try:
        result = component(*args, **params)
    except NeuralgaeError as exc:
        raise PluginError(f"{exc} ({what} on frame {frame}, {origin})" if origin else f"{exc} ({what} on frame {frame})") from exc
    except Exception as exc:
        raise PluginError(f"{what} (from {component.source}) failed on frame {frame}: {type(exc).__name__}: {exc}") from exc
    kind = getattr(component, "kind", None)
    if kind in ("transform", "renderer"):
        shape = args[0].shape if kind == "transform" and args and isinstance(args[0], np.ndarray) else None
        _check_image(result, what, frame, shape, origin)
        if kind == "transform":
            low, high = float(result.min()), float(result.max())
            if low < -RANGE_SLACK or high > 1 + RANGE_SLACK:
                raise PluginError(
                    f"{what} returned values from {low:.4g} to {high:.4g} on frame {frame}; a transform must keep "
                    f"them in [0, 1] (clip with np.clip(image, 0, 1), or divide an 8-bit image by 255) ({origin})"
                )
    return result


def apply_transforms(image: np.ndarray, spec: Spec, host: PluginHost, index: int, signals=None) -> np.ndarray:
    """Apply the spec's transform chain in order, each with its own generator and this frame's scheduled values."""
    for i, stage in enumerate(spec.transforms):
        component = host.get("transform", stage.name)
        ctx = FrameContext(
            index=index, total=spec.frames, rng=frame_rng(spec.seed, index, TRANSFORM_STREAM, i),
            transforms=host.transforms, signals=signals,
        )
        what = f"transform '{stage.name}' (transforms[{i}])"
        image = _check_image(_call(component, what, index, image, ctx, **stage.at(index, signals)), what, index, image.shape)
    return image


def steps_at(table: dict, host: PluginHost, index: int, signals=None) -> dict:
    """``table`` with the schedules of its nested steps (a ``chain``'s or ``subregions``' transforms) at frame ``index``.

    What a manifest entry records: the value each nested step used, as for
    the transform itself. Lists of tables that name no installed transform
    are left as they are.
    """
    from .schedule import split_schedules

    def nested(value):
        if not (isinstance(value, list) and value and all(isinstance(v, dict) and v.get("name") in host.transforms for v in value)):
            return value
        steps = []
        for step in value:
            params = {k: v for k, v in step.items() if k != "name"}
            fixed, schedules = split_schedules(host.transforms[step["name"]], params, where=f"transform '{step['name']}'")
            moving = {k: sched.at(index, signals) for k, sched in schedules.items()}
            steps.append({"name": step["name"], **{k: nested(v) for k, v in {**fixed, **moving}.items()}})
        return steps

    return {k: nested(v) for k, v in table.items()}


def first_classes(spec: Spec, num_classes: int) -> list[tuple[int, float]]:
    """Frame 0's classes when a sampler feeds classes back: the renderer's own, or random ones."""
    given = spec.renderer.given.get("classes")
    if given:
        from ..nets.classes import parse_class_list

        return [(c.index, w) for c, w in parse_class_list(given)]
    rng = frame_rng(spec.seed, 0, SAMPLER_STREAM)
    picks = rng.choice(num_classes, size=min(FIRST_RANDOM_CLASSES, num_classes), replace=False)
    return [(int(i), 1.0) for i in picks]


def sample_classes(spec: Spec, host: PluginHost, probs: np.ndarray, index: int, history: list, signals=None) -> list[tuple[int, float]]:
    """Ask the spec's sampler for frame ``index``'s classes, given the previous frame's probabilities."""
    stage = spec.sampler
    component = host.get("sampler", stage.name)
    ctx = SamplerContext(index=index, rng=frame_rng(spec.seed, index, SAMPLER_STREAM), history=history)
    what = f"sampler '{stage.name}'"
    result = _call(component, what, index, probs, ctx, **stage.at(index, signals))
    try:
        classes = [(int(i), float(w)) for i, w in result]
    except (TypeError, ValueError):
        raise PluginError(f"{what} returned {result!r} on frame {index}; it must return (class index, weight) pairs") from None
    if not classes:
        raise PluginError(f"{what} returned no classes on frame {index}")
    bad = [i for i, w in classes if not 0 <= i < len(probs) or not np.isfinite(w)]
    if bad:
        i, w = next((i, w) for i, w in classes if i == bad[0])
        raise PluginError(
            f"{what} returned class {i} with weight {w:g} on frame {index}; a class index must be from 0 to "
            f"{len(probs) - 1} (the network's classes) and its weight a finite number ({_origin(component)})"
        )
    return classes


def _top(probs: np.ndarray, n: int = TOP_SEEN) -> list[tuple[int, float]]:
    order = np.argsort(-probs, kind="stable")[:n]
    return [(int(i), round(float(probs[i]), 6)) for i in order]


# -- the run ------------------------------------------------------------------------------


def _rate_message(done_here: int, elapsed: float, left: int) -> str:
    if done_here == 0 or elapsed <= 0:
        return ""
    per = elapsed / done_here
    eta = per * left
    rate = f"{1 / per:.2f} frames/s" if per < 1 else f"{per:.1f} s/frame"
    return f"{rate}, about {eta:.0f} s left" if left else rate


def run_spec(
    spec: Spec,
    *,
    host: PluginHost,
    resume: bool = False,
    overwrite: bool = False,
    progress: ProgressCallback = no_progress,
) -> Run:
    """Render every frame of ``spec`` into its output folder, then write its animations.

    With ``resume``, continues after the last complete frame of an earlier run
    of the same spec. Raises :class:`NeuralgaeError` before writing anything
    when the output folder is not usable.
    """
    entries = prepare_output(spec, resume=resume, overwrite=overwrite)
    folder = spec.output.dir
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    try:
        return _run_frames(spec, host, entries, progress)
    except BaseException:
        if not entries and _manifest_entries_or_none(folder) == []:  # nothing made: leave no empty run behind
            for name in (MANIFEST, SPEC_FILE):
                (folder / name).unlink(missing_ok=True)
            if created and not any(folder.iterdir()):
                folder.rmdir()
        raise


def _manifest_entries_or_none(folder: Path):
    """The manifest's entries, or None where it cannot be read: cleaning up after an error must not hide that error."""
    try:
        return read_manifest(folder)
    except (NeuralgaeError, OSError):
        return None


def _run_frames(spec: Spec, host: PluginHost, entries: list[dict], progress: ProgressCallback) -> Run:
    folder = spec.output.dir
    spec_text = dumps_spec(spec.to_dict())
    atomic_write_text(folder / SPEC_FILE, spec_text)
    if not entries:
        write_manifest(folder, [])
    run = Run(spec=spec, host=host, dir=folder, start=len(entries), entries=list(entries), resumed=bool(entries))
    host.pm.hook.run_started(run=run)  # before anything can fail: plugins bring their files in step first
    renderer = host.get("renderer", spec.renderer.name)
    networks = host.networks_of(spec)  # each loaded once (with the spec's options), used in turn
    flow_device = network_device(networks[spec.network_at(0)])

    previous = load_image(folder / entries[-1]["file"]) if entries else None
    video = start_video(spec, run.start) if spec.source.video is not None else None
    history = [[tuple(p) for p in e["classes"]] for e in entries if e.get("classes") is not None]
    from ..media.audio import spec_signals

    signals = spec_signals(spec)  # per-frame music features, when parameters follow the [audio]
    renderer = ScheduledComponent(renderer, signals)  # called with each frame's scheduled values
    began = time.monotonic()
    total = spec.frames
    progress(run.start, total, "resuming" if entries else "starting")
    for index in range(run.start, total):
        t0 = time.monotonic()
        seen = None
        motion = None
        network = networks[spec.network_at(index)]
        if video is not None:
            image, motion = video_start(spec, video, previous, index, device=flow_device)
        elif index == 0:
            image = load_source(spec)
        else:
            image = apply_transforms(previous, spec, host, index, signals)
        classes = None
        if spec.sampler and index == 0:
            classes = first_classes(spec, int(getattr(network, "num_classes", 1000)))
        elif spec.sampler:
            probs = class_probabilities(network, previous)
            seen = _top(probs)
            classes = sample_classes(spec, host, probs, index, history, signals)

        def frame_progress(done: int, steps: int, message: str = "", _index=index) -> None:
            # The renderer's own steps move the bar within the frame: a 10 s frame is not a frozen bar.
            within = min(max(done / steps, 0.0), 1.0) if steps > 0 else 0.0
            progress(_index + within, total, f"frame {_index}: {message}" if message else f"frame {_index}")

        render_seed = frame_torch_seed(spec.seed, index)
        extra = {  # which network and weights, where it ran (specs name no device) and what to reinstall
            **network_record(network, spec.network_at(index)), **placement_record(network), "provided_by": host.provided_by(spec),
        }
        ctx = RenderContext(
            network=network,
            rng=frame_rng(spec.seed, index, RENDER_STREAM),
            seed=render_seed,
            index=index,
            classes=classes,
            progress=frame_progress,
            network_name=spec.network_at(index),
            load_network=host.network,
        )
        what = f"renderer '{spec.renderer.name}'"
        rendered = _check_image(_call(renderer, what, index, image, ctx, **spec.renderer.params), what, index)
        extra.update(json.loads(json.dumps(ctx.notes, default=str)))  # the renderer's notes: plain JSON only
        if video is not None:
            extra["source_frame"] = index
            if motion is not None:
                from ..media.flow import coherent_result, warp_error

                if rendered.shape != image.shape:
                    raise PluginError(
                        f"{what} changed the frame size from {image.shape[1]}x{image.shape[0]} to "
                        f"{rendered.shape[1]}x{rendered.shape[0]} on frame {index}; coherence needs the size kept "
                        "(set source.coherence = 0 or use a renderer that keeps it)"
                    )
                rendered = coherent_result(image, rendered, motion, weight=spec.source.coherence)
                extra["warp_error"] = round(warp_error(previous, quantise(rendered), motion), 6)
        if signals is not None:
            extra["audio"] = {k: round(float(v[index]), 4) for k, v in signals.features.items()}
        pixels = to_uint8(rendered)
        record = FrameRecord(
            index=index,
            path=folder / spec.output.frame_name(index),
            image=as_rgb_float(pixels),
            renderer=spec.renderer.table_at(index, signals),
            transforms=[steps_at(t.table_at(index, signals), host, index, signals) for t in spec.transforms] if index > 0 else [],
            classes=classes,
            seen=seen,
            render_seed=render_seed,
            extra=extra,
        )
        entry = write_frame(folder, record, pixels, record.recipe(spec), started=t0)
        run.entries.append(entry)
        run.records.append(record)
        if classes is not None:
            history.append(list(classes))
        previous = record.image
        host.pm.hook.frame_written(run=run, frame=record)
        if video is not None and len(run.records) > 1:
            run.records[-2].image = None  # a video keeps one frame in memory, however long it is
        done_here = index + 1 - run.start
        progress(index + 1, total, _rate_message(done_here, time.monotonic() - began, total - index - 1))

    run.outputs = write_outputs(run, progress=progress)
    host.pm.hook.run_finished(run=run)
    return run


def write_outputs(run: Run, *, progress: ProgressCallback = no_progress) -> list[Path]:
    """Assemble the frames into the GIF and/or MP4 the spec asks for."""
    out = run.spec.output
    targets = [p for p in (out.animation_path("gif", run.spec.name), out.animation_path("mp4", run.spec.name)) if p]
    if not targets:
        return []
    try:
        from ..media.movie import write_animation
    except ImportError:
        raise NeuralgaeError(
            "cannot write the GIF/MP4: neuralgae.core.media.movie is not available; "
            "the frames are written, set output.gif and output.mp4 to false"
        ) from None
    frames = run.frame_paths[: run.spec.frames]
    written = []
    audio = _audio_source(run.spec)
    for target in targets:
        if audio is not None and target.suffix.lower() == ".mp4" and not (out.reverse or out.pingpong or out.seamless):
            from ..media.video import write_video

            written.append(write_video(frames, target, fps=out.fps, audio_from=audio, progress=progress))
            continue
        written.append(
            Path(
                write_animation(
                    frames, target, fps=out.fps, reverse=out.reverse, pingpong=out.pingpong, loop=out.loop,
                    seamless=out.seamless, progress=progress,
                )
            )
        )
    return written


def _audio_source(spec: Spec) -> Path | None:
    """The sound an MP4 output carries: the [audio] file, or the video's, or None (a folder, or no audio track)."""
    if spec.audio is not None:
        return spec.audio.path
    info = video_of(spec)
    return info.path if info is not None and info.has_audio else None
