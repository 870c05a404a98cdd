"""DeepDream: gradient ascent on layer activations, over octaves, at any image size.

The algorithm follows the classic notebook: the image is shrunk into a
pyramid of octaves; starting from the smallest, each octave runs ``steps``
normalised gradient-ascent steps with random jitter, and the detail it added
(dreamed minus base) is enlarged and carried into the next octave. Large
octaves are processed in tiles whose grid moves every step (see
:mod:`neuralgae.core.optvis.tiling`), so memory stays bounded and no seams show.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch

from ..host.components import ProgressCallback, no_progress
from ..nets.device import NOTICES, free_memory, is_out_of_memory, release_cached_memory
from ..host.errors import NeuralgaeError, check_all
from ..media.images import resize
from ..host.limits import MAX_STEPS
from .tensors import flush_denormals, resize_tensor, to_image, to_tensor
from ..nets.network import LayerSelection, Network, check_layer, input_gradient, network_device, network_precision
from .objectives import Objective, dream_objective, guided
from .tiling import tile_boxes
from .tileable import octave_resize

MIN_SIDE = 32
DEFAULT_LAYERS = "block10"
"""The layer ``nd dream`` and the dream renderer amplify unless told otherwise: mid-level shapes (eyes, scales, arches)."""


WHOLE_IMAGE_MAX_PIXELS = 1_500_000
"""Largest image dreamed in one piece by ``tiling="auto"``: a pass to block10
holds about 1 GB of activations per megapixel, so this caps it near 1.5 GB."""


@dataclass(frozen=True)
class DreamSettings:
    """How to dream. Step size is in image units (the image spans 0..1).

    ``tiling``: ``"auto"`` tiles when a whole-image pass would need more
    memory than :data:`WHOLE_IMAGE_MAX_PIXELS` allows, ``"always"`` and
    ``"never"`` force the choice.
    """

    octaves: int = 4
    octave_scale: float = 1.4
    steps: int = 10
    step_size: float = 0.01
    jitter: int = 32
    tile_size: int = 768
    tile_overlap: int = 32
    tiling: str = "auto"

    def validate(self) -> DreamSettings:
        checks = [
            (self.octaves >= 1, f"octaves must be at least 1; got {self.octaves}"),
            (1.0 < self.octave_scale <= 4.0, f"octave scale must be above 1 and at most 4; got {self.octave_scale}"),
            (self.steps >= 0, f"steps must be 0 or more; got {self.steps}"),
            (self.steps <= MAX_STEPS, f"steps must be at most {MAX_STEPS:,} per octave; got {self.steps:,}"),
            (0 < self.step_size <= 1, f"step size must be above 0 and at most 1 (the image spans 0..1); got {self.step_size}"),
            (self.jitter >= 0, f"jitter must be 0 or more pixels; got {self.jitter}"),
            (self.tile_size >= 64, f"tile size must be at least 64 pixels; got {self.tile_size}"),
            (0 <= self.tile_overlap <= self.tile_size // 2, f"tile overlap must be between 0 and half the tile size ({self.tile_size // 2}); got {self.tile_overlap}"),
            (self.tiling in ("auto", "always", "never"), f"tiling must be 'auto', 'always' or 'never'; got '{self.tiling}'"),
        ]
        check_all(checks)
        return self

    def as_dict(self) -> dict:
        return asdict(self)


def octave_shapes(height: int, width: int, octaves: int, scale: float) -> list[tuple[int, int]]:
    """Octave sizes from the smallest to the full size, none below the network's minimum.

    Fewer octaves are returned when shrinking further would go below
    ``MIN_SIDE`` pixels.
    """
    shapes = [(height, width)]
    for _ in range(octaves - 1):
        h, w = round(shapes[-1][0] / scale), round(shapes[-1][1] / scale)
        if min(h, w) < MIN_SIDE:
            break
        shapes.append((h, w))
    return shapes[::-1]


def objective_gradient(net: Network, objective: Objective, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradient of ``objective`` with respect to ``image`` (1, 3, H, W), and the objective's value.

    The value is a 0-d tensor on the image's device (``float()`` it where a
    number is needed: on a GPU that waits for the step). A network in fp16
    has its objective scaled before the backward pass (:func:`loss_scale`)
    so small gradients do not vanish; the gradient is scaled back.
    """
    x = image.detach().requires_grad_(True)
    value = objective(net.features(x, objective.layers))
    return input_gradient(net, value, x), value.detach()


def tiled_gradient(
    net: Network, objective: Objective, image: torch.Tensor, tile: int, rng: np.random.Generator, *, overlap: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradient computed tile by tile, the borders moved at random; memory bounded by the tile size.

    Each tile is run on a window with ``overlap`` pixels of surrounding
    context on every side (where the image has them; all windows have the
    same size, see :mod:`neuralgae.core.optvis.tiling`) and only its own part of the
    gradient is kept, so features near tile borders see their neighbourhood.
    The value returned estimates the whole image's objective: each window's
    objective weighted by the share of the window it keeps.
    """
    grad = torch.zeros_like(image)
    total = image.new_zeros(())
    h, w = image.shape[-2:]
    for (top, bottom, left, right), (t, b, l, r) in tile_boxes(h, w, tile, overlap, rng):
        g, v = objective_gradient(net, objective, image[:, :, t:b, l:r])
        grad[:, :, top:bottom, left:right] = g[:, :, top - t : bottom - t, left - l : right - l]
        total += v * (bottom - top) * (right - left) / ((b - t) * (r - l))
    return grad, total


def uses_tiles(shape: tuple[int, int], settings: DreamSettings) -> bool:
    """Whether a gradient on an image of ``shape`` is computed in tiles.

    Automatically only above :data:`WHOLE_IMAGE_MAX_PIXELS`: on a CPU a whole
    image is no slower per pixel than tiles (which also pay for their
    context overlap), so tiles are there to bound memory, not for speed.
    """
    if settings.tiling == "always":
        return True
    if settings.tiling == "never":
        return False
    return shape[0] * shape[1] > WHOLE_IMAGE_MAX_PIXELS


GPU_BYTES_PER_PIXEL = {"fp32": 2600, "bf16": 1600, "fp16": 1600}
"""Device memory one pixel of a whole-image step needs (activations kept for
the backward pass, to block10 and beyond; autograd's plain layers on a GPU
keep more than the CPU's fused ones). Generous on purpose: an estimate too
small is caught by the out-of-memory retry, one too large only costs tiles."""
GPU_MEMORY_SHARE = 0.7
"""Share of the free device memory a step may plan to use."""


def step_memory(device: torch.device) -> int | None:
    """Bytes a step may use on ``device``: free device memory plus what torch's allocator holds unused (CUDA only)."""
    free = free_memory(device)
    if free is None:
        return None
    return free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)


def fit_to_device(settings: DreamSettings, image: torch.Tensor, precision: str = "fp32") -> DreamSettings:
    """On a CUDA device with ``tiling="auto"``: whole images while they fit its free memory, else tiles sized to it.

    The full-size buffers (image, base, detail) are already allocated when
    this is asked, at the start of each octave, so what is free is what the
    step has. Other devices, and ``tiling`` set by the user, are unchanged.
    """
    free = step_memory(image.device) if settings.tiling == "auto" else None
    if free is None:
        return settings
    per_pixel = GPU_BYTES_PER_PIXEL.get(precision, GPU_BYTES_PER_PIXEL["fp32"])
    budget = GPU_MEMORY_SHARE * free / per_pixel  # pixels one pass may hold
    h, w = image.shape[-2:]
    if h * w <= budget:
        return replace(settings, tiling="never")
    window = int(budget**0.5)
    return with_tiles(settings, max(MIN_RETRY_TILE, (window - 2 * settings.tile_overlap) // 32 * 32))


def with_tiles(settings: DreamSettings, tile: int) -> DreamSettings:
    """``settings`` tiled with ``tile`` px tiles, their context cut to what such a tile allows (half its side)."""
    return replace(settings, tiling="always", tile_size=tile, tile_overlap=min(settings.tile_overlap, tile // 2))


MIN_RETRY_TILE = 128
"""Smallest tile an out-of-memory retry goes down to (below it, the error stands)."""


def step_gradient(
    net: Network, objective: Objective, shifted: torch.Tensor, settings: DreamSettings, grid_rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor, DreamSettings]:
    """The gradient of one step, whole or tiled; on a device out of memory, retried with smaller tiles.

    Each retry halves the tile (down to :data:`MIN_RETRY_TILE`) and says so in
    one line on the ``neuralgae`` logger. Returns the settings that worked,
    so the rest of the dream keeps the tile size that fits.
    """
    while True:
        try:
            if uses_tiles(tuple(shifted.shape[-2:]), settings):
                grad, value = tiled_gradient(net, objective, shifted, settings.tile_size, grid_rng, overlap=settings.tile_overlap)
            else:
                grad, value = objective_gradient(net, objective, shifted)
            return grad, value, settings
        except Exception as exc:  # noqa: BLE001 - only out-of-memory errors are handled
            if not is_out_of_memory(exc):
                raise
            smaller = retry_settings(settings, tuple(shifted.shape[-2:]))
            if smaller is None:
                raise NeuralgaeError(
                    f"the device ran out of memory even with {settings.tile_size} px tiles; "
                    "make the image smaller, or run on the CPU"
                ) from None
            release_cached_memory(shifted.device)
            tiled = uses_tiles(tuple(shifted.shape[-2:]), settings)
            NOTICES.warning(
                "out of memory on %s with %s; retrying this step with %s px tiles",
                shifted.device, f"{settings.tile_size} px tiles" if tiled else "the whole image", smaller.tile_size,
            )
            settings = smaller


def retry_settings(settings: DreamSettings, shape: tuple[int, int]) -> DreamSettings | None:
    """Settings for a retry after running out of memory: tiles, or tiles half the size; None at the smallest."""
    if not uses_tiles(shape, settings):
        return with_tiles(settings, min(settings.tile_size, max(MIN_RETRY_TILE, max(shape) // 2)))
    if settings.tile_size <= MIN_RETRY_TILE:
        return None
    return with_tiles(settings, max(MIN_RETRY_TILE, settings.tile_size // 2))


def ascent_step(
    net: Network,
    objective: Objective,
    image: torch.Tensor,
    settings: DreamSettings,
    rng: np.random.Generator,
    tile_rng: np.random.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One jittered, normalised gradient-ascent step, in place; returns the image and the objective.

    ``rng`` draws the jitter and ``tile_rng`` the tile offsets, so tiled and
    whole-image dreams with the same seed jitter alike. Nothing is copied
    back to the host: the normalisation stays on the image's device.
    """
    image, value, _ = _ascent_step(net, objective, image, settings, rng, tile_rng)
    return image, value


def _ascent_step(net, objective, image, settings, rng, tile_rng):
    j = settings.jitter
    dy, dx = (int(v) for v in rng.integers(-j, j + 1, size=2)) if j else (0, 0)
    shifted = torch.roll(image, shifts=(dy, dx), dims=(2, 3))
    grad, value, settings = step_gradient(net, objective, shifted, settings, tile_rng if tile_rng is not None else rng)
    del shifted  # full-size buffers are what bound memory on huge images: free each one early
    grad = torch.roll(grad, shifts=(-dy, -dx), dims=(2, 3))
    mean_magnitude = torch.linalg.vector_norm(grad, ord=1) / grad.numel()
    grad.mul_(settings.step_size / (mean_magnitude + 1e-12))
    return image.add_(grad).clamp_(0.0, 1.0), value, settings


def dream(
    net: Network,
    image: np.ndarray,
    objective: Objective,
    *,
    settings: DreamSettings = DreamSettings(),
    rng: np.random.Generator | None = None,
    progress: ProgressCallback = no_progress,
) -> np.ndarray:
    """Dream ``image`` (H, W, 3 float in [0, 1]) toward ``objective``; returns an image of the same size."""
    settings.validate()
    if image.ndim != 3 or image.shape[2] != 3:
        raise NeuralgaeError(f"dream needs an RGB image (H, W, 3); got shape {image.shape}")
    h, w = image.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise NeuralgaeError(f"image of {w}x{h} px is too small to dream; use at least {MIN_SIDE}x{MIN_SIDE}")
    rng = rng if rng is not None else np.random.default_rng(0)
    tile_rng = np.random.default_rng(rng.integers(2**63))
    shapes = octave_shapes(h, w, settings.octaves, settings.octave_scale)
    total = len(shapes) * settings.steps
    device = network_device(net)
    original = to_tensor(image, device)
    detail = torch.zeros(1, 3, *shapes[0], device=device)
    done = 0
    with torch.no_grad(), flush_denormals():
        for octave, shape in enumerate(shapes):
            base = octave_resize(net, original, shape, resize_tensor).contiguous()
            current = octave_resize(net, detail, shape, resize_tensor).add_(base).clamp_(0.0, 1.0)
            del detail
            octave_settings = fit_to_device(settings, current, network_precision(net))
            for _ in range(settings.steps):
                with torch.enable_grad():
                    current, _value, octave_settings = _ascent_step(net, objective, current, octave_settings, rng, tile_rng)
                done += 1
                progress(done, total, f"octave {octave + 1}/{len(shapes)}")
            if octave == len(shapes) - 1:
                break
            detail = current.sub_(base)
            del base, current
    return to_image(current)


def guide_objective(net: Network, selection: LayerSelection, guide: np.ndarray, *, max_side: int = 512) -> Objective:
    """A guided-dream objective from a guide image, shrunk so its longer side is at most ``max_side``."""
    check_layer(net, selection.layer)
    h, w = guide.shape[:2]
    k = min(1.0, max_side / max(h, w))
    small = resize(guide, max(MIN_SIDE, round(h * k)), max(MIN_SIDE, round(w * k)))
    with torch.no_grad():
        feats = net.features(to_tensor(small, network_device(net)), [selection.layer])[selection.layer]
    if selection.channels is not None:
        feats = feats[:, list(selection.channels)]
    return guided(selection, feats[0].flatten(1).contiguous())


def keep_colours(original: np.ndarray, dreamed: np.ndarray) -> np.ndarray:
    """The dream's luminance with the original's colour (chroma): keeps the photo's palette."""
    from skimage.color import rgb2ycbcr, ycbcr2rgb

    y = rgb2ycbcr(dreamed)[..., :1]
    cbcr = rgb2ycbcr(original)[..., 1:]
    return np.clip(ycbcr2rgb(np.concatenate([y, cbcr], axis=2)), 0.0, 1.0).astype(np.float32)


def build_objective(
    net: Network, selections: Sequence[LayerSelection], guide: np.ndarray | None = None
) -> Objective:
    """The L2 objective of the selections, or a guided one on each selection when a guide is given."""
    for sel in selections:
        check_layer(net, sel.layer)
    if guide is None:
        return dream_objective(selections)
    objective = guide_objective(net, selections[0], guide)
    for sel in selections[1:]:
        objective = objective + guide_objective(net, sel, guide)
    return objective
