"""Running a pipeline spec: source -> renderer -> (write) -> transforms -> renderer -> ...

Frame 0 is the renderer applied to the source image. Every later frame *k*
starts from frame *k-1* as it was written (quantised to 8 bits, exactly as the
PNG on disk holds it), which the spec's transforms change in order; when the
spec has a sampler, frame *k-1* is also classified by the network and the
sampler chooses frame *k*'s classes, which the renderer receives as
``ctx.classes``. Because each frame depends only on the previous PNG, the
manifest and generators derived from (seed, frame index), a run that is
killed can be resumed and yields byte-identical frames.

Output folder layout::

    frame_00000.png ...   the frames, written atomically, each carrying its recipe
    manifest.jsonl        one JSON line per frame, appended once the frame is in place
    spec.toml             the resolved spec (defaults filled in, paths absolute)
    NAME.gif / NAME.mp4   the animations, written at the end

A **video source** (``source.video``: a video file or a folder of frames)
changes where each frame starts: frame *k* is the renderer applied to the
video's frame *k*, streamed one frame at a time. With ``source.coherence``
above 0, frame *k* starts from the video frame plus the previous output's
dream detail warped along the optical flow, and keeps only part of what the
renderer changes where the flow is reliable (:mod:`neuralgae.core.flow`), so
the dream sticks to moving things instead of flickering. A resumed video run
re-reads the video up to the resume point and continues from the last
written frame, giving the same frames. The MP4 plays at the video's rate
with its audio.

The engine never prints: progress goes to the ``progress(done, total,
message)`` callback and events to the ``run_started``, ``frame_written`` and
``run_finished`` hooks.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .components import FrameContext, ProgressCallback, RenderContext, SamplerContext, no_progress
from .errors import NeuralgaeError
from .images import as_rgb_float, atomic_write, check_output_folder, load_image, resize, save_image, smooth_noise, to_uint8
from .network import network_device, network_record, placement_record
from .plugins import PluginError, PluginHost
from .schedule import ScheduledComponent
from .spec import Spec, dumps_spec, first_difference, read_toml

MANIFEST = "manifest.jsonl"
SPEC_FILE = "spec.toml"
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


# -- records ---------------------------------------------------------------------


@dataclass
class FrameRecord:
    """One written frame: where it is, the image as written, and what made it.

    ``image`` is the quantised float32 (H, W, 3) image (what the PNG holds).
    ``classes`` are the (class index, weight) pairs passed to the renderer
    (None without a sampler); ``seen`` the top classes of the previous frame
    as the network classified it (None without a sampler or for frame 0).
    """

    index: int
    path: Path
    image: np.ndarray
    renderer: dict
    transforms: list[dict]
    classes: list[tuple[int, float]] | None
    seen: list[tuple[int, float]] | None
    render_seed: int
    seconds: float = 0.0
    sha256: str = ""
    extra: dict = field(default_factory=dict)

    PNG_EXTRAS = ("source_frame", "network", "weights_sha256", "device", "precision",
                  "best_of", "best_of_index", "judge", "judge_score", "judge_scores")
    """The frame's extra facts that its PNG records too (the rest stay in the manifest)."""

    def recipe(self, spec: Spec) -> dict:
        """Everything needed to remake this frame from the previous one: stored in the PNG."""
        return {
            "frame": self.index,
            "seed": spec.seed,
            "render_seed": self.render_seed,
            "renderer": self.renderer,
            "transforms": self.transforms,
            "classes": _pairs(self.classes),
            "spec": spec.to_dict(include_output=False),
            "spec_name": spec.name,
            **{k: v for k, v in self.extra.items() if k in self.PNG_EXTRAS},
        }

    def manifest_entry(self) -> dict:
        return {
            "index": self.index,
            "file": self.path.name,
            "sha256": self.sha256,
            "render_seed": self.render_seed,
            "renderer": self.renderer,
            "transforms": self.transforms,
            "classes": _pairs(self.classes),
            "class_names": _class_names(self.classes),
            "seen": _pairs(self.seen),
            "seconds": round(self.seconds, 3),
            **self.extra,
        }


def _pairs(classes) -> list[list] | None:
    return None if classes is None else [[int(i), float(w)] for i, w in classes]


def _class_names(classes) -> list[str] | None:
    if classes is None:
        return None
    from .classes import NUM_CLASSES, imagenet_classes

    table = imagenet_classes()
    return [table[int(i)].name if 0 <= int(i) < NUM_CLASSES else str(i) for i, _ in classes]


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


# -- the output folder -------------------------------------------------------------


def read_manifest(folder: Path) -> list[dict]:
    """The complete entries of a manifest: contiguous from frame 0, each with its file present.

    A torn last line (a kill while writing it) and entries after a gap are dropped.
    """
    return [entry for entry, _ in _complete_lines(folder)]


def _complete_lines(folder: Path) -> list[tuple[dict, str]]:
    """The manifest's complete (entry, line) pairs, contiguous from frame 0.

    A line that is not UTF-8 JSON, not an object, out of order or whose file is
    missing ends the list (a torn write); an entry whose file lies outside
    ``folder`` raises, since the manifest is untrusted input.
    """
    path = folder / MANIFEST
    if not path.is_file():
        return []
    out: list[tuple[dict, str]] = []
    with path.open("rb") as fh:
        for raw in fh:
            try:
                line = raw.decode("utf-8")
                entry = json.loads(line)
            except (UnicodeDecodeError, json.JSONDecodeError):
                break
            if not line.endswith("\n") or not isinstance(entry, dict) or entry.get("index") != len(out):
                break
            name = entry.get("file")
            if not isinstance(name, str) or not name:
                break
            inside(folder, name, f"{MANIFEST} entry {len(out)} (file {name!r})")
            if not (folder / name).is_file():
                break
            out.append((entry, line))
    return out


def _lies_inside(folder: Path, path: Path) -> bool:
    """Whether ``path`` (symlinks followed) lies inside ``folder``."""
    try:
        inside(folder, path, "path")
    except NeuralgaeError:
        return False
    return True


def inside(folder: Path, name: str | Path, what: str) -> Path:
    """``folder / name``, checked to lie inside ``folder`` once symlinks are followed; else a clear error.

    A run folder may come from elsewhere (shared, downloaded), so a path it
    names is never trusted to stay in it: nothing ``nd`` deletes, overwrites
    or copies may lie outside the folder it owns.
    """
    folder = Path(folder)
    path = folder / name
    root = folder.resolve()
    try:
        target = path.resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop
        raise NeuralgaeError(f"{what} in '{folder}' cannot be followed ({exc}); remove it from the folder") from None
    if target != root and root not in target.parents:
        raise NeuralgaeError(
            f"{what} in '{folder}' points outside the folder (to '{target}'); "
            "nd only touches files inside a run folder: remove that entry or choose another folder"
        )
    return path


def write_manifest(folder: Path, entries: list[dict]) -> None:
    """Replace the run's manifest with ``entries`` in one atomic write."""
    text = "".join(json.dumps(e, default=str) + "\n" for e in entries)
    atomic_write(folder / MANIFEST, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def append_manifest(folder: Path, entry: dict) -> None:
    """Add one frame's entry to the manifest, on disk before the call returns (a torn line is dropped on resume)."""
    with (folder / MANIFEST).open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, default=str) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def _frame_glob(pattern: str) -> str:
    start = pattern.index("{")
    end = pattern.index("}", start)
    return pattern[:start] + "*" + pattern[end + 1 :]


def _fingerprint_of(data: dict) -> dict:
    d = {k: v for k, v in data.items() if k not in ("frames", "description", "output")}
    d.setdefault("transforms", [])  # TOML writes no key for an empty array of tables
    d["frame_pattern"] = data.get("output", {}).get("frame_pattern")
    return d


def _clear_run(folder: Path, spec: Spec) -> None:
    """Remove what a run writes (frames, manifest, spec, animations, torn temporaries); leave other files.

    Every path is checked to lie inside ``folder`` before the first is
    deleted, so a crafted manifest or a symlink cannot make it remove a file elsewhere.
    """
    doomed: set[Path] = {folder / e["file"] for e in read_manifest(folder)}  # read_manifest checks each entry
    doomed.update(folder.glob(_frame_glob(spec.output.frame_pattern)))
    doomed.update(folder.glob(".*.part"))
    for name in (MANIFEST, SPEC_FILE):
        doomed.add(folder / name)
    for kind in ("gif", "mp4"):
        p = spec.output.animation_path(kind, spec.name)
        if p is not None and (p.is_symlink() or _lies_inside(folder, p)):  # one the spec puts elsewhere is replaced at the end
            doomed.add(p)
    for p in doomed:
        if p.is_symlink() or p.is_file():  # removing a link never touches its target
            p.unlink()


def prepare_output(spec: Spec, *, resume: bool = False, overwrite: bool = False) -> list[dict]:
    """Check the output folder before any work; return the manifest entries to continue from.

    A fresh run needs an empty (or missing) folder unless ``overwrite``;
    ``resume`` continues a run of the same spec (or starts one in an empty folder).
    """
    folder = spec.output.dir
    check_output_folder(folder)
    has_run = (folder / MANIFEST).exists() or (folder / SPEC_FILE).exists()
    busy = folder.is_dir() and any(folder.iterdir())
    if resume and overwrite:
        raise NeuralgaeError("--resume and --overwrite contradict each other; use one of them")
    if resume:
        if has_run:
            inside(folder, MANIFEST, MANIFEST)  # appended to: a link elsewhere would write there
            return _resumable_entries(spec, folder)
        if busy:
            raise NeuralgaeError(
                f"cannot resume: output folder '{folder}' holds no run (no {MANIFEST}); "
                "choose another with --out, or start again with --overwrite"
            )
        return []
    if busy and not overwrite:
        if has_run:
            raise NeuralgaeError(
                f"output folder '{folder}' already holds a run; add --resume to continue it "
                "or --overwrite to start again"
            )
        raise NeuralgaeError(f"output folder '{folder}' is not empty; choose another with --out or add --overwrite")
    if busy:
        _clear_run(folder, spec)
    return []


def _resumable_entries(spec: Spec, folder: Path) -> list[dict]:
    saved_path = folder / SPEC_FILE
    if not saved_path.exists():
        raise NeuralgaeError(f"cannot resume: '{saved_path}' is missing; start again with --overwrite")
    saved = read_toml(saved_path, origin=str(saved_path))
    diff = first_difference(_fingerprint_of(saved), _fingerprint_of(spec.to_dict()))
    if diff is not None:
        key, old, new = diff
        raise NeuralgaeError(
            f"cannot resume '{folder}': the spec changed at {key} (was {old!r}, now {new!r}); "
            "restore it, or start again with --overwrite"
        )
    complete = _complete_lines(folder)
    text = "".join(line for _, line in complete)
    if (folder / MANIFEST).read_bytes() != text.encode("utf-8"):  # torn or orphaned lines: keep the complete prefix
        atomic_write(folder / MANIFEST, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return [entry for entry, _ in complete]


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


def video_of(spec: Spec):
    """The spec's probed video source (:class:`~neuralgae.core.video.VideoSource`), or None."""
    src = spec.source
    if src.video is None:
        return None
    if src.video_info is not None:
        return src.video_info
    from .video import open_video

    return open_video(src.video)


def video_frames(spec: Spec, *, start: int = 0):
    """Stream ``(index, frame)`` of the spec's video from ``start``, resized as the spec says."""
    from .video import iter_frames

    return iter_frames(video_of(spec), start=start, size=spec.source.resize)


@dataclass
class VideoState:
    """What a video run carries from one frame to the next: the previous source frame only.

    (The previous output is the pipeline's ``previous``; nothing else is kept,
    so memory does not grow with the video's length.)
    """

    frames: object
    previous_source: np.ndarray | None = None

    def next_frame(self, index: int) -> np.ndarray:
        try:
            got, frame = next(self.frames)
        except StopIteration:
            raise NeuralgaeError(
                f"the video ended before frame {index}; it may be damaged: set frames to {index} or re-encode it"
            ) from None
        if got != index:  # pragma: no cover - iter_frames yields consecutive indices
            raise NeuralgaeError(f"the video gave frame {got} where frame {index} was expected")
        return frame


def start_video(spec: Spec, first: int) -> VideoState:
    """Open the video stream for a run whose first frame to render is ``first`` (re-reading frame first-1 on resume)."""
    if first == 0 or spec.source.coherence <= 0:
        return VideoState(video_frames(spec, start=first))
    state = VideoState(video_frames(spec, start=first - 1))
    state.previous_source = state.next_frame(first - 1)
    return state


def video_start(spec: Spec, state: VideoState, previous: np.ndarray | None, index: int, *, device=None):
    """Frame ``index``'s input and the motion from the previous frame (None when coherence is off or on frame 0).

    The optical flow runs on ``device`` (the network's): scikit-image on the
    CPU, a torch TV-L1 elsewhere (:mod:`neuralgae.core.flow_torch`).
    """
    from .flow import coherent_start, frame_motion

    frame = state.next_frame(index)
    weight = spec.source.coherence
    motion = None
    start = frame
    if weight > 0 and previous is not None and state.previous_source is not None:
        if previous.shape != frame.shape:
            raise NeuralgaeError(
                f"frame {index - 1} is {previous.shape[1]}x{previous.shape[0]} but the video is "
                f"{frame.shape[1]}x{frame.shape[0]}; coherence needs a renderer that keeps the frame size"
            )
        motion = frame_motion(frame, state.previous_source, device=device)
        start = coherent_start(frame, state.previous_source, previous, motion, weight=weight)
    state.previous_source = frame if weight > 0 else None
    return start, motion


def quantise(image: np.ndarray) -> np.ndarray:
    """The float image exactly as an 8-bit PNG stores it, so resumed runs continue from the same pixels."""
    return as_rgb_float(to_uint8(image))


def classify(network, image: np.ndarray) -> np.ndarray:
    """Class probabilities (softmax of the logits) of ``image`` at the network's input size.

    The network sees what ``nd classify`` shows it: the shorter side scaled to
    its input size, the centre square cropped.
    """
    import torch

    from .classify import fit_to_input

    view = fit_to_input(image, int(getattr(network, "input_size", 224)))
    x = torch.from_numpy(np.ascontiguousarray(view, dtype=np.float32)).permute(2, 0, 1)[None].to(network_device(network))
    with torch.no_grad():
        logits = network.features(x.clamp(0, 1), ["logits"])["logits"].mean(dim=(2, 3))[0]
    return torch.softmax(logits.double().cpu(), dim=0).numpy()


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
        from .classes import parse_class_list

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
    atomic_write(folder / SPEC_FILE, lambda tmp: Path(tmp).write_text(spec_text, encoding="utf-8"))
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
    from .audio import spec_signals

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
            probs = classify(network, previous)
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
                from .flow import coherent_result, warp_error

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
        save_image(record.path, pixels, json.loads(json.dumps(record.recipe(spec), default=str)))
        record.sha256 = hashlib.sha256(record.path.read_bytes()).hexdigest()
        record.seconds = time.monotonic() - t0
        entry = record.manifest_entry()
        append_manifest(folder, entry)
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
        from .movie import write_animation
    except ImportError:
        raise NeuralgaeError(
            "cannot write the GIF/MP4: neuralgae.core.movie is not available; "
            "the frames are written, set output.gif and output.mp4 to false"
        ) from None
    frames = run.frame_paths[: run.spec.frames]
    written = []
    audio = _audio_source(run.spec)
    for target in targets:
        if audio is not None and target.suffix.lower() == ".mp4" and not (out.reverse or out.pingpong or out.seamless):
            from .video import write_video

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


def frame_paths(folder: Path) -> Sequence[Path]:
    """The frames of a finished or interrupted run, in order, from its manifest."""
    return [folder / e["file"] for e in read_manifest(Path(folder))]
