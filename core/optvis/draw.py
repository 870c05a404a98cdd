"""deepdraw: the network draws what it believes a class looks like.

Gradient ascent on class *logits* (never the softmax, which can rise by
pushing other classes down instead of drawing this one), read from the
network's fully convolutional ``logits`` layer so that a subject can be aimed
at part of the image. Each step:

1. for every tile of the canvas (one tile when it fits the network; a spiral
   of overlapping tiles from the centre when it does not) and every focus
   point, take a randomly shifted, zoomed and turned view, and get the
   gradient of the weighted class logits (minus the optional Student-t prior);
2. map that gradient through decorrelated colour and a 1/f spectrum,
   normalise it, and blend the tiles' gradients with soft windows;
3. step, blur with the schedule's sigma, clip to [0, 1] and to the clipping mask.

Octaves grow the canvas to the output size; blur and step glide within each
octave (:mod:`neuralgae.core.optvis.draw_schedule`). Everything random comes from the
``numpy.random.Generator`` passed in, so a seed reproduces a drawing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from ..nets.classes import NUM_CLASSES, ImageNetClass, lookup_class
from ..host.components import ProgressCallback, no_progress
from .draw_aim import check_mask
from .draw_schedule import PRESETS, DrawSettings
from .draw_tiles import random_offset, spiral_tiles, tile_window
from .draw_views import apply_view, gaussian_blur, random_affine
from ..host.errors import NeuralgaeError
from ..media.images import smooth_noise
from ..nets.device import NOTICES, free_memory, is_out_of_memory, release_cached_memory
from ..nets.network import Network, check_layer, input_gradient, network_device
from .parameterisation import precondition
from .prior import student_t_penalty
from .tensors import batch_image, batch_tensor, flush_denormals, resize_tensor, to_image, to_tensor
from .tileable import torus_ops

MIN_SIDE = 32
LOGITS = "logits"


@dataclass(frozen=True, eq=False)
class DrawTarget:
    """One class to draw: its index, weight, and optionally where.

    ``mask`` (H, W) in [0, 1] on the output canvas aims the class at a region
    (its logits are averaged over the positions the mask covers); ``focus``
    (x, y) in [0, 1] draws it on crops around a point of the canvas
    (deepdraw's mixing) instead of over the whole canvas.
    """

    index: int
    weight: float = 1.0
    mask: np.ndarray | None = None
    focus: tuple[float, float] | None = None
    name: str = ""

    def describe(self) -> str:
        label = self.name or str(self.index)
        return label if self.weight == 1.0 else f"{label}:{self.weight:g}"


def targets_from_classes(
    classes: Sequence[tuple[ImageNetClass | int | str, float]],
    *,
    masks: Sequence[np.ndarray | None] | None = None,
    focus: Sequence[tuple[float, float] | None] | None = None,
) -> list[DrawTarget]:
    """Draw targets from (class, weight) pairs, with optional per-class masks and focus points."""
    targets = []
    for i, (cls, weight) in enumerate(classes):
        c = cls if isinstance(cls, ImageNetClass) else lookup_class(cls)
        m = masks[i] if masks is not None else None
        f = focus[i] if focus is not None else None
        targets.append(DrawTarget(c.index, float(weight), m, f, c.name))
    return targets


def check_targets(targets: Sequence[DrawTarget], height: int, width: int) -> list[DrawTarget]:
    """Validate targets (indices, weights, masks, focus points) against a canvas; masks resized to it."""
    if not targets:
        raise NeuralgaeError("no classes to draw; name at least one, e.g. 'goldfish'")
    out = []
    for t in targets:
        if not 0 <= t.index < NUM_CLASSES:
            raise NeuralgaeError(f"class index {t.index} is out of range; ImageNet classes are numbered 0 to {NUM_CLASSES - 1}")
        if not np.isfinite(t.weight):
            raise NeuralgaeError(f"the weight of class '{t.describe()}' must be a finite number")
        mask = None if t.mask is None else check_mask(t.mask, height, width, what=f"aim mask of '{t.describe()}'")
        if t.focus is not None:
            fx, fy = t.focus
            if not (0 <= fx <= 1 and 0 <= fy <= 1):
                raise NeuralgaeError(f"focus point {t.focus} of '{t.describe()}' must lie in [0, 1] x [0, 1]")
        out.append(DrawTarget(t.index, t.weight, mask, t.focus, t.name))
    if all(t.weight == 0 for t in out):
        raise NeuralgaeError("every class weight is 0; give at least one class a weight")
    return out


def start_canvas(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A light grey canvas with soft colour noise: deepdraw's starting point."""
    return smooth_noise(height, width, rng, scale=0.1)


# -- the objective -------------------------------------------------------------


def class_objectives(
    logits: torch.Tensor,
    targets: Sequence[DrawTarget],
    masks: Sequence[torch.Tensor | None],
    *,
    others_weight: float = 0.0,
    balance: float = 0.0,
) -> torch.Tensor:
    """Weighted class logits read from a batch of logit maps (N, 1000, h, w): one objective per map, (N,).

    A target with a mask (N, 1, h, w) gets its logit averaged over the
    mask; one without, over the whole map. Targets whose mask is empty
    here contribute nothing. ``others_weight`` subtracts that multiple of the
    mean of all logits. With several targets, ``balance`` > 0 multiplies
    the weights by ``n * softmax(-balance * logit)`` (held constant for the
    gradient), so a class that lags behind is pushed harder and an easy
    class cannot take over a hybrid. Everything is decided on the device:
    nothing waits for the host.
    """
    n = logits.shape[0]
    terms, present = [], []
    for t, m in zip(targets, masks):
        channel = logits[:, t.index : t.index + 1]
        if m is None:
            terms.append(channel.mean(dim=(1, 2, 3)))
            present.append(logits.new_ones(n))
        else:
            area = m.sum(dim=(1, 2, 3))  # an empty mask gives weight 0
            terms.append((channel * m).sum(dim=(1, 2, 3)) / area.clamp_min(1e-3))
            present.append((area > 1e-3).to(logits.dtype))
    total = logits.new_zeros(n)
    if terms:
        values = torch.stack(terms)  # (targets, N)
        here = torch.stack(present)
        w = torch.stack([h * t.weight for h, t in zip(present, targets)])  # made on the device, not copied to it
        if balance and len(terms) > 1:
            # lagging classes get more of the push: weights times a softmin of the logits of the classes present
            lag = torch.where(here > 0, -balance * values.detach(), torch.full_like(values, -1e30))
            w = w * here.sum(dim=0) * torch.softmax(lag, dim=0) * here
        total = (w * values).sum(dim=0)
    if others_weight:
        total = total - others_weight * logits.mean(dim=(1, 2, 3))
    return total


def class_objective(
    logits: torch.Tensor,
    targets: Sequence[DrawTarget],
    masks: Sequence[torch.Tensor | None],
    *,
    others_weight: float = 0.0,
    balance: float = 0.0,
) -> torch.Tensor:
    """:func:`class_objectives` summed over the batch: the objective of one logit map (1, 1000, h, w)."""
    return class_objectives(logits, targets, masks, others_weight=others_weight, balance=balance).sum()


def crops_gradient(
    net: Network,
    crops: torch.Tensor,
    targets: Sequence[DrawTarget],
    masks: Sequence[torch.Tensor | None],
    settings: DrawSettings,
    thetas: Sequence[torch.Tensor],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradients of the objective over random views of a batch of crops (N, 3, h, w), and each crop's value (N,).

    One forward and backward pass per view for the whole batch: the crops
    do not interact (the network is frozen, no batch statistics), so each
    crop's gradient is the one it would get alone. ``thetas`` holds one
    (N, 2, 3) view matrix per view; ``masks`` are the targets' masks cropped
    like the images ((N, 1, h, w) or None), moved with each view.
    """
    x = crops.detach().requires_grad_(True)
    loss, objective = views_objective(net, x, targets, masks, settings, thetas)
    return input_gradient(net, loss, x), objective


def views_objective(
    net: Network,
    x: torch.Tensor,
    targets: Sequence[DrawTarget],
    masks: Sequence[torch.Tensor | None],
    settings: DrawSettings,
    thetas: Sequence[torch.Tensor],
) -> tuple[torch.Tensor, torch.Tensor]:
    """The loss to ascend for a batch of crops ``x`` seen through ``thetas``, and each crop's objective (N,), detached."""
    total = x.new_zeros(x.shape[0])
    for theta in thetas:
        view = apply_view(x, theta)
        logits = net.features(view, [LOGITS])[LOGITS]
        size = logits.shape[-2:]
        view_masks = [
            None if m is None else F.adaptive_avg_pool2d(apply_view(m, theta, padding="zeros"), size) for m in masks
        ]
        total = total + class_objectives(logits, targets, view_masks, others_weight=settings.others_weight, balance=settings.balance)
    objective = total / len(thetas)
    loss = objective.sum()
    if settings.prior_weight:
        # the penalty is a mean over the batch's equal-sized crops: times N, it is the sum of theirs
        loss = loss - settings.prior_weight * x.shape[0] * student_t_penalty(x, scales=settings.prior_scales)
    return loss, objective.detach()


def zoom_boxes(rng: np.random.Generator, height: int, width: int, count: int, cover: float) -> list[tuple[int, int, int, int]]:
    """``count`` random boxes (top, bottom, left, right) of the canvas's shape, each ``cover``..1 times its size."""
    boxes = []
    for _ in range(count):
        s = float(rng.uniform(cover, 1.0)) if cover < 1 else 1.0
        ch, cw = max(1, round(s * height)), max(1, round(s * width))
        top = int(rng.integers(0, height - ch + 1))
        left = int(rng.integers(0, width - cw + 1))
        boxes.append((top, top + ch, left, left + cw))
    return boxes


def view_shape(height: int, width: int, tile: int) -> tuple[int, int]:
    """The size a zoomed-out view is seen at: the canvas's shape with its shorter side ``tile``."""
    k = tile / min(height, width)
    return max(1, round(height * k)), max(1, round(width * k))


def zoomed_gradient(
    net: Network,
    canvas: torch.Tensor,
    targets: Sequence[DrawTarget],
    masks: Sequence[torch.Tensor | None],
    settings: DrawSettings,
    tile: int,
    rng: np.random.Generator,
    group: tuple[int, ...],
) -> tuple[torch.Tensor, torch.Tensor]:
    """The normalised gradient of the whole canvas from zoomed-out views, and their objectives (N,).

    Each of ``settings.zoom_views`` views is a random box covering
    ``settings.zoom_cover``..1 of the canvas, shrunk (anti-aliased) so its
    shorter side is the network's ``tile``, then shifted, zoomed and turned
    as any view. The network sees the whole composition at its own scale, so
    a large canvas gets one object, or a few, instead of one per tile; the
    smaller boxes see the detail at close to the canvas's own resolution.
    All views go through the network in one batch.
    """
    n, (h, w) = canvas.shape[0], canvas.shape[-2:]
    cover, count = zoom_plan(settings, min(h, w) / tile)
    boxes = zoom_boxes(rng, h, w, count, cover)
    shape = view_shape(h, w, tile)
    # crops box-major (every candidate's crop of a box together); each crop its own random views
    thetas = [torch.cat(views) for views in zip(*(random_views(rng, *shape, settings) for _ in range(len(boxes) * n)))]
    grad, values = _zoomed_parts(net, canvas, boxes, thetas, [targets[i] for i in group], [masks[i] for i in group], settings, shape)
    decay = zoomed_decay(settings, min(h, w) / tile)
    return normalised(grad, replace(settings, spectrum_decay=decay)), values


def _zoomed_parts(net, canvas, boxes, thetas, targets, masks, settings, shape) -> tuple[torch.Tensor, torch.Tensor]:
    """The summed input gradient of the zoomed-out views of ``boxes`` on ``canvas``, and their objectives.

    The views' objectives add up, so the gradient can be taken in parts: a
    device that runs out of memory gets the boxes in two halves, and so on
    down to one box, saying so once per size (as tiles do).
    """
    n, device = canvas.shape[0], str(canvas.device)
    most = max(1, _fits.get(device, len(boxes) * n) // n)
    if len(boxes) > most:
        return _sum_parts([_zoomed_parts(net, canvas, boxes[i : i + most], [t[i * n : (i + most) * n] for t in thetas],
                                         targets, masks, settings, shape) for i in range(0, len(boxes), most)])
    try:
        x = canvas.detach().requires_grad_(True)
        crops = torch.cat([resize_tensor(x[:, :, t:b, l:r], shape) for t, b, l, r in boxes])
        crop_masks = [
            None if m is None else torch.cat([resize_tensor(m[:, :, t:b, l:r], shape).expand(n, -1, -1, -1) for t, b, l, r in boxes])
            for m in masks
        ]
        loss, objective = views_objective(net, crops, targets, crop_masks, settings, thetas)
        return input_gradient(net, loss, x), objective
    except Exception as exc:  # noqa: BLE001 - only out-of-memory errors are handled
        if not is_out_of_memory(exc):
            raise
        if len(boxes) == 1:
            raise NeuralgaeError("the device ran out of memory drawing a single view; draw a smaller canvas, or run on the CPU") from None
        release_cached_memory(canvas.device)
        half = len(boxes) // 2
        if _fits.get(device, len(boxes) * n) > half * n:
            _fits[device] = half * n
            NOTICES.warning("out of memory on %s with %d views in one pass; drawing %d at a time", canvas.device, len(boxes) * n, half * n)
        return _zoomed_parts(net, canvas, boxes, thetas, targets, masks, settings, shape)


def _sum_parts(parts) -> tuple[torch.Tensor, torch.Tensor]:
    return sum(g for g, _ in parts), torch.cat([v for _, v in parts])


ZOOM_REFERENCE = 512 / 224
"""The canvas-to-network ratio at which ``zoom_views``, ``zoom_cover`` and
``zoom_decay`` were tuned (a 512 drawing by a 224 network: docs/deepdraw.md)."""


def zoom_plan(settings: DrawSettings, ratio: float) -> tuple[float, int]:
    """The smallest box (a share of the canvas) and the number of zoomed-out views for a canvas ``ratio`` times the network's size.

    Up to :data:`ZOOM_REFERENCE` the settings hold as they are. Beyond it the
    smallest box shrinks so that some views still see the canvas at close to
    its own resolution (about 1.15 network sizes across: detail, not a
    blown-up drawing), and the views grow with the canvas's area so the
    smaller boxes still cover it (at most 64).
    """
    cover = min(1.0, max(settings.zoom_cover, 0.0), 1.15 / ratio) if ratio > 0 else 1.0
    count = min(64, int(np.ceil(settings.zoom_views * max(1.0, ratio / ZOOM_REFERENCE) ** 2)))
    return cover, count


def zoomed_decay(settings: DrawSettings, ratio: float) -> float:
    """The spectrum decay for a canvas ``ratio`` times the network's size: ``zoom_decay`` more per doubling, up to :data:`ZOOM_REFERENCE`.

    The 1/f filter counts frequencies in canvas pixels; the network sees a
    large canvas shrunk, so the same decay would favour detail finer than the
    network can see, which reads as grain over the drawing.
    """
    if settings.spectrum_decay == 0 or ratio <= 1:
        return settings.spectrum_decay
    return settings.spectrum_decay + settings.zoom_decay * float(np.log2(min(ratio, ZOOM_REFERENCE)))


def candidate_views(rng: np.random.Generator, box: tuple[int, int, int, int], n: int, settings: DrawSettings) -> list[torch.Tensor]:
    """For each of ``settings.views``, an (n, 2, 3) stack of view matrices: the box seen differently by each of ``n`` candidates."""
    top, bottom, left, right = box
    per_candidate = [random_views(rng, bottom - top, right - left, settings) for _ in range(n)]
    return [torch.cat(views) for views in zip(*per_candidate)]


def random_views(rng: np.random.Generator, height: int, width: int, settings: DrawSettings) -> list[torch.Tensor]:
    """``settings.views`` random view matrices (1, 2, 3) for a ``height`` x ``width`` crop, drawn from ``rng``."""
    return [
        random_affine(rng, height=height, width=width, jitter=settings.jitter, scale=settings.scale_jitter, rotate=settings.rotate)
        for _ in range(settings.views)
    ]


def normalised(grad: torch.Tensor, settings: DrawSettings) -> torch.Tensor:
    """Precondition (colour, spectrum) and scale each crop of the batch to unit mean absolute value."""
    g = precondition(grad, colour=settings.colour, decay=settings.spectrum_decay)
    return g / (g.abs().mean(dim=(1, 2, 3), keepdim=True) + 1e-12)


def focus_box(focus: tuple[float, float], height: int, width: int, tile: int, spread: float, rng: np.random.Generator) -> tuple[int, int, int, int]:
    """A ``tile``-sized box near a focus point (x, y in [0, 1]), drawn around it.

    The box centre is the point plus Gaussian noise of ``spread`` times the
    room the canvas leaves around a tile (as deepdraw did), kept inside the canvas.
    """
    th, tw = min(tile, height), min(tile, width)
    cy = focus[1] * height + rng.normal() * spread * (height - th) / 2
    cx = focus[0] * width + rng.normal() * spread * (width - tw) / 2
    top = int(np.clip(round(cy - th / 2), 0, height - th))
    left = int(np.clip(round(cx - tw / 2), 0, width - tw))
    return top, top + th, left, left + tw


BATCH_PIXELS = 1_500_000
"""Most crop pixels one batched pass holds (the dream's whole-image limit): a
4096x4096 drawing's hundreds of tiles go through in batches of this size."""


def canvas_gradient(
    net: Network,
    canvas: torch.Tensor,
    targets: Sequence[DrawTarget],
    masks: Sequence[torch.Tensor | None],
    settings: DrawSettings,
    tile: int,
    rng: np.random.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The blended, normalised gradient of the whole canvas for one step, and the mean objective (0-d tensor).

    Targets without a focus point are drawn on spiral tiles (one tile when
    the canvas fits); each focused target on a crop near its point. Every
    tile reads the canvas as it was at the start of the step, so tiles of
    one size and target group go through the network together, in batches
    of up to :data:`BATCH_PIXELS`; the random numbers are drawn in the
    order one tile at a time would draw them.
    """
    n, (h, w) = canvas.shape[0], canvas.shape[-2:]
    jobs: list[tuple[tuple[int, int, int, int], tuple[int, ...], list[torch.Tensor]]] = []
    spread_group = tuple(i for i, t in enumerate(targets) if t.focus is None)
    zoomed = None
    if spread_group and settings.zoom_views and max(h, w) > 1.25 * tile:
        zoomed = zoomed_gradient(net, canvas, targets, masks, settings, tile, rng, spread_group)
    elif spread_group:
        if max(h, w) <= 1.25 * tile:
            boxes = [(0, h, 0, w)]
        else:
            boxes = spiral_tiles(h, w, tile, overlap=settings.tile_overlap, offset=random_offset(tile, settings.tile_overlap, rng))
        for box in boxes:
            jobs.append((box, spread_group, candidate_views(rng, box, n, settings)))
    for i, t in enumerate(targets):
        if t.focus is not None:
            box = focus_box(t.focus, h, w, tile, settings.focus_spread, rng)
            jobs.append((box, (i,), candidate_views(rng, box, n, settings)))

    acc = torch.zeros_like(canvas)
    weight = canvas.new_zeros(1, 1, h, w)
    values: list[torch.Tensor] = []
    fade = max(1, int(tile * settings.tile_overlap / 2))
    most_crops = _fits.get(str(canvas.device))
    for batch in _batches(jobs, batch_pixels(canvas.device) // n, None if most_crops is None else max(1, most_crops // n)):
        for part, grads, batch_values in _batch_gradients(net, canvas, batch, targets, masks, settings):
            (top, bottom, left, right), _, _ = part[0]
            win = device_window(bottom - top, right - left, fade, canvas.device)
            for k, ((t, b, l, r), _, _) in enumerate(part):
                acc[:, :, t:b, l:r] += grads[k * n : (k + 1) * n] * win
                weight[:, :, t:b, l:r] += win
            values.append(batch_values)
    grad = acc / weight.clamp_min(1e-6)
    if zoomed is not None:
        grad = grad + zoomed[0]
        values.append(zoomed[1])
    return grad, torch.cat(values).mean()


def batch_pixels(device: torch.device) -> int:
    """Most crop pixels one batched pass holds on ``device``: :data:`BATCH_PIXELS`, or what a GPU's free memory allows."""
    free = free_memory(device)
    if free is None:
        return BATCH_PIXELS
    return max(BATCH_PIXELS, min(16 * BATCH_PIXELS, int(0.5 * free / GPU_BYTES_PER_CROP_PIXEL)))


GPU_BYTES_PER_CROP_PIXEL = 4000
"""Device memory a crop pixel of a batched deepdraw pass needs (to the logits, with its view and the prior): generous."""


def _batch_gradients(net, canvas, batch, targets, masks, settings):
    """The normalised gradients of a batch of jobs, as (jobs, gradients, values) parts.

    A device that runs out of memory gets the batch in two halves, and so
    on down to one crop, saying so once per size on the ``neuralgae`` logger.
    """
    group, n = batch[0][1], canvas.shape[0]
    try:
        crops = torch.cat([canvas[:, :, t:b, l:r] for (t, b, l, r), _, _ in batch])  # job-major, the candidates of a job together
        crop_masks = [
            None if masks[i] is None
            else torch.cat([masks[i][:, :, t:b, l:r].expand(n, -1, -1, -1) for (t, b, l, r), _, _ in batch])
            for i in group
        ]
        thetas = [torch.cat([views[v] for _, _, views in batch]) for v in range(settings.views)]
        grads, values = crops_gradient(net, crops, [targets[i] for i in group], crop_masks, settings, thetas)
        return [(batch, normalised(grads, settings), values)]
    except Exception as exc:  # noqa: BLE001 - only out-of-memory errors are handled
        if not is_out_of_memory(exc):
            raise
        if len(batch) == 1:
            raise NeuralgaeError("the device ran out of memory drawing a single tile; draw smaller tiles, or run on the CPU") from None
        release_cached_memory(canvas.device)
        device, half = str(canvas.device), len(batch) // 2
        if _fits.get(device, len(batch) * n) > half * n:  # a smaller size (in crops), learned once for the later steps
            _fits[device] = half * n
            NOTICES.warning("out of memory on %s with %d tiles in one pass; drawing %d at a time", canvas.device, len(batch) * n, half * n)
        size = max(1, _fits[device] // n)
        parts = []
        for i in range(0, len(batch), size):
            parts += _batch_gradients(net, canvas, batch[i : i + size], targets, masks, settings)
        return parts


_fits: dict[str, int] = {}
"""Per device, the most crops a pass held after running out of memory (this process learns it once)."""


def _batches(jobs, most_pixels: int = BATCH_PIXELS, most_crops: int | None = None):
    """Consecutive runs of jobs with the same crop size and target group, each at most ``most_pixels`` (and ``most_crops``)."""
    batch: list = []
    for job in jobs:
        (t, b, l, r), group, _ = job
        if batch:
            (t0, b0, l0, r0), group0, _ = batch[0]
            same = (b - t, r - l) == (b0 - t0, r0 - l0) and group == group0
            full = (len(batch) + 1) * (b - t) * (r - l) > most_pixels or (most_crops is not None and len(batch) >= most_crops)
            if not same or full:
                yield batch
                batch = []
        batch.append(job)
    if batch:
        yield batch


@lru_cache(maxsize=64)
def device_window(height: int, width: int, fade: int, device: torch.device) -> torch.Tensor:
    """:func:`tile_window` as a (1, 1, height, width) tensor on ``device``, made once per shape."""
    return torch.from_numpy(tile_window(height, width, fade))[None, None].to(device)


@lru_cache(maxsize=16)
def vignette_window(height: int, width: int, strength: float, device: torch.device) -> torch.Tensor:
    """(1, 1, H, W): 1 at the centre, falling toward the edges to ``1 - strength`` (a Gaussian of half the side)."""
    y = torch.linspace(-1, 1, height, device=device)[:, None]
    x = torch.linspace(-1, 1, width, device=device)[None, :]
    bump = torch.exp(-(x**2 + y**2) / (2 * 0.5**2))
    return ((1 - strength) + strength * bump)[None, None]


def vignetted(grad: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """``grad`` weighted by ``window``, rescaled to its former mean size: the same step, gathered toward the centre."""
    before = grad.abs().mean(dim=(1, 2, 3), keepdim=True)
    out = grad * window
    return out * (before / (out.abs().mean(dim=(1, 2, 3), keepdim=True) + 1e-12))


def octave_shape(height: int, width: int, scale: float) -> tuple[int, int]:
    """The canvas size of an octave: ``scale`` times the output, never below :data:`MIN_SIDE`."""
    k = max(scale, MIN_SIDE / min(height, width))
    return max(MIN_SIDE, round(height * k)), max(MIN_SIDE, round(width * k))


def render_draw(
    net: Network,
    image: np.ndarray,
    targets: Sequence[DrawTarget],
    *,
    settings: DrawSettings = PRESETS["default"],
    rng: np.random.Generator | None = None,
    keep_image: bool = False,
    clip_mask: np.ndarray | None = None,
    progress: ProgressCallback = no_progress,
    on_step=None,
    tileable: bool = False,
) -> np.ndarray:
    """Draw ``targets`` into ``image`` (H, W, 3 float in [0, 1]); returns an image of the same size.

    Parameters
    ----------
    net : a network with a ``logits`` layer (a spatial map of class logits).
    image : the starting canvas: noise (see :func:`start_canvas`) or a photo;
        or a batch (N, H, W, 3) of them, drawn together (one pass per step for
        all; each candidate sees its own random views) and returned as a batch.
    targets : the classes, weights, aims and focus points.
    settings : schedule and regularisation (``PRESETS[name]``).
    rng : the only source of randomness; the same seed gives the same drawing.
    keep_image : a lucid dream: the photo is kept sharp and the drawing grows
        into it (octaves carry only the drawn detail and the blur smooths only
        that detail) instead of being painted over.
    clip_mask : (H, W) in [0, 1]; outside it the starting image is kept.
    progress : ``progress(done, total, message)`` after every step.
    on_step : optional ``on_step(iteration, objective)`` (tests, benchmarks).
    tileable : draw on the torus, so the drawing wraps around (:func:`neuralgae.core.optvis.tileable.torus_ops`).
    """
    with flush_denormals():
        return _render(net, image, targets, settings=settings, rng=rng, keep_image=keep_image,
                       clip_mask=clip_mask, progress=progress, on_step=on_step, tileable=tileable)


def _render(net, image, targets, *, settings, rng, keep_image, clip_mask, progress, on_step, tileable=False) -> np.ndarray:
    plain = (canvas_gradient, gaussian_blur, resize_tensor)
    gradient_of, blur, resize = torus_ops(canvas_gradient, gaussian_blur) if tileable else plain
    settings.validate()
    check_layer(net, LOGITS)
    image = np.asarray(image, dtype=np.float32)
    batched = image.ndim == 4
    if image.ndim not in (3, 4) or image.shape[-1] != 3 or (batched and image.shape[0] < 1):
        raise NeuralgaeError(f"deepdraw needs an RGB image (H, W, 3) or a batch of them (N, H, W, 3); got shape {image.shape}")
    H, W = image.shape[-3:-1]
    if min(H, W) < MIN_SIDE:
        raise NeuralgaeError(f"image of {W}x{H} px is too small to draw on; use at least {MIN_SIDE}x{MIN_SIDE}")
    targets = check_targets(targets, H, W)
    clip = None if clip_mask is None else to_tensor(check_mask(clip_mask, H, W, what="clipping mask")).to(network_device(net))
    rng = rng if rng is not None else np.random.default_rng(0)
    tile = settings.tile or net.input_size
    check_aim_fits(net, targets, H, W, tile)
    device = network_device(net)
    original = (batch_tensor(image) if batched else to_tensor(image)).to(device)
    full_masks = [None if t.mask is None else to_tensor(t.mask).to(device) for t in targets]
    total = settings.iterations
    # the vignette centres one subject on a quiet ground: not for photos, aims, focus points or textures
    vignette = bool(settings.vignette) and not (keep_image or tileable or any(t.mask is not None or t.focus is not None for t in targets))
    canvas = original.clone()
    base = original
    done = 0
    for n, octave in enumerate(settings.octaves):
        shape = octave_shape(H, W, octave.scale)
        if keep_image:
            new_base = resize(original, shape)
            canvas = new_base + resize(canvas - base, shape)
            base = new_base
        else:
            canvas = resize(canvas, shape)
            base = resize(original, shape)
        masks = [None if m is None else resize(m, shape) for m in full_masks]
        clip_o = None if clip is None else resize(clip, shape)
        for i in range(octave.iterations):
            sigma, step = octave.at(i)
            grad, value = gradient_of(net, canvas, targets, masks, settings, tile, rng)
            if clip_o is not None:
                grad = grad * clip_o
            if vignette:
                grad = vignetted(grad, vignette_window(*shape, settings.vignette, device))
            canvas = canvas + step * grad
            if keep_image:
                canvas = base + blur(canvas - base, sigma)
            else:
                canvas = blur(canvas, sigma)
            canvas = canvas.clamp(0.0, 1.0)
            if clip_o is not None:
                canvas = base * (1 - clip_o) + canvas * clip_o
            done += 1
            if on_step is not None:
                on_step(done, float(value))  # waits for the device: only when asked
            progress(done, total, f"octave {n + 1}/{len(settings.octaves)}")
    canvas = resize(canvas, (H, W))
    if keep_image:
        canvas = original + (canvas - resize(base, (H, W)))
    if clip is not None:
        canvas = original * (1 - clip) + canvas * clip
    canvas = canvas.clamp(0.0, 1.0)
    return batch_image(canvas) if batched else to_image(canvas)


def check_aim_fits(net: Network, targets: Sequence[DrawTarget], height: int, width: int, tile: int) -> None:
    """Aiming classes at regions needs logits per region: a map, or a canvas drawn in tiles (each tile judged alone).

    A network whose ``logits`` is one value per class (a 1x1 map, e.g. VGG)
    cannot tell the regions of a canvas it sees whole apart; on a canvas
    larger than one tile, each tile's logits stand for its own part.
    """
    from ..nets.network import has_spatial_logits

    if not any(t.mask is not None for t in targets) or has_spatial_logits(net) or max(height, width) > 1.25 * tile:
        return
    raise NeuralgaeError(
        f"network '{net.name}' gives one logit per class for the whole image (its logits are a 1x1 map), so it cannot "
        f"aim classes at regions of a {width}x{height} canvas it sees in one piece; draw at least {2 * tile}x{2 * tile} "
        "(each tile is then judged on its own), or use a network whose logits are a map "
        "(efficientnet-lite0, torchvision:googlenet, torchvision:resnet50)"
    )


def class_scores(net: Network, image: np.ndarray, *, masks: Sequence[np.ndarray | None] = ()) -> np.ndarray:
    """Class logits of ``image``: (1000,) over the whole image, or (len(masks), 1000) averaged over each mask."""
    with torch.no_grad():
        logits = net.features(to_tensor(image).to(network_device(net)), [LOGITS])[LOGITS].float().cpu()
    if not masks:
        return logits.mean(dim=(2, 3))[0].numpy()
    out = []
    for m in masks:
        if m is None:
            out.append(logits.mean(dim=(2, 3))[0])
            continue
        mm = F.adaptive_avg_pool2d(to_tensor(np.asarray(m, dtype=np.float32)), logits.shape[-2:])
        out.append((logits * mm).sum(dim=(2, 3))[0] / mm.sum().clamp_min(1e-6))
    return torch.stack(out).numpy()


__all__ = [
    "DrawTarget",
    "targets_from_classes",
    "render_draw",
    "start_canvas",
    "class_objective",
    "class_scores",
]
