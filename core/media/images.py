"""Reading and writing images: float32 RGB arrays in [0, 1], PNGs that remember how they were made.

Every image the project writes goes through :func:`save_image`, which writes
atomically (:mod:`~neuralgae.core.host.atomic`: a temporary file in the same folder, then a rename) so that an
interrupted run never leaves a half-written frame, and which stores the
parameters that made the image in a PNG text chunk (``neuralgae``, JSON).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin, UnidentifiedImageError

from ..host.atomic import atomic_write
from ..host.errors import NeuralgaeError, option
from ..host.limits import MAX_SIDE, max_side as _max_side

METADATA_KEY = "neuralgae"
MAX_PIXELS = MAX_SIDE * MAX_SIDE
"""Pillow's decompression-bomb threshold; :func:`load_image` checks the header against the limits itself."""
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


def as_rgb_float(array: np.ndarray) -> np.ndarray:
    """Convert any image array (grey, RGB, RGBA; uint8, uint16 or float) to float32 RGB in [0, 1]."""
    a = np.asarray(array)
    if a.dtype == np.uint8:
        a = a.astype(np.float32) / 255.0
    elif a.dtype == np.uint16:
        a = a.astype(np.float32) / 65535.0
    elif a.dtype == bool:
        a = a.astype(np.float32)
    else:
        a = a.astype(np.float32)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    elif a.ndim == 3 and a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    elif a.ndim == 3 and a.shape[2] == 4:
        alpha = a[..., 3:4]
        a = a[..., :3] * alpha + (1.0 - alpha)  # composite on white
    elif not (a.ndim == 3 and a.shape[2] == 3):
        raise NeuralgaeError(f"an image must be H x W, H x W x 3 or H x W x 4; got shape {a.shape}")
    return np.clip(a, 0.0, 1.0)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Float [0, 1] image -> uint8, rounding to nearest."""
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as float32 RGB (H, W, 3) in [0, 1]; one clear error if it can't be read."""
    p = Path(path)
    if not p.exists():
        raise NeuralgaeError(f"image '{p}' does not exist")
    if p.is_dir():
        raise NeuralgaeError(f"'{p}' is a folder, not an image file")
    try:
        Image.MAX_IMAGE_PIXELS = max(MAX_PIXELS, _max_side() ** 2)
        with Image.open(p) as im:
            check_image_header(p, im.size)
            im.load()
            if im.mode in ("I;16", "I;16B", "I"):
                arr = np.asarray(im, dtype=np.float32) / 65535.0
            elif im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                arr = np.asarray(im.convert("RGBA"))
            else:
                arr = np.asarray(im.convert("RGB"))
    except Image.DecompressionBombError as exc:
        raise NeuralgaeError(
            f"image '{p}' is refused as a possible decompression bomb ({exc}); "
            f"the largest side allowed is {_max_side()} pixels (set ND_MAX_SIDE to lift it)"
        ) from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise NeuralgaeError(f"cannot read image '{p}': {exc}") from None
    return as_rgb_float(arr)


def check_image_header(p: Path, size: tuple[int, int], what: str = "image") -> None:
    """Refuse an image whose header announces more than the limits, before decoding a pixel."""
    w, h = size
    limit = _max_side()
    if w > limit or h > limit:
        raise NeuralgaeError(
            f"{what} '{p}' is {w}x{h} pixels; the largest side allowed is {limit} pixels "
            "(shrink it first, or set ND_MAX_SIDE to lift the limit)"
        )


def probe_image(path: str | os.PathLike, what: str = "image") -> tuple[str, tuple[int, int]]:
    """(format, (width, height)) of an image file from its header, checked against the limits; nothing decoded.

    A file that is no image, a truncated header or a decompression bomb is one
    :class:`NeuralgaeError` naming ``what`` and the file.
    """
    p = Path(path)
    try:
        Image.MAX_IMAGE_PIXELS = max(MAX_PIXELS, _max_side() ** 2)
        with Image.open(p) as im:
            check_image_header(p, im.size, what)
            return im.format, im.size
    except Image.DecompressionBombError as exc:
        raise NeuralgaeError(
            f"{what} '{p}' is refused as a possible decompression bomb ({exc}); "
            f"the largest side allowed is {_max_side()} pixels (set ND_MAX_SIDE to lift it)"
        ) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise NeuralgaeError(f"{what} '{p}' is not an image nd can read ({exc})") from None


def read_metadata(path: str | os.PathLike) -> dict | None:
    """The parameters stored in a PNG written by :func:`save_image`, or None."""
    try:
        with Image.open(path) as im:
            text = im.info.get(METADATA_KEY)
    except (UnidentifiedImageError, OSError):
        return None
    return json.loads(text) if text else None


SYSTEM_FOLDERS = (Path("/proc"), Path("/sys"), Path("/dev"))
"""Kernel file systems: a run folder there cannot hold frames."""


def check_output_folder(folder: Path, *, what: str = "output folder", fix: str = f"choose another with {option('out')}") -> None:
    """Refuse an output folder that cannot be made or written, before any work: NUL byte, under a file, in /proc, read-only."""
    if "\0" in str(folder):
        raise NeuralgaeError(f"{what} contains a NUL byte, which no file system allows; {fix}")
    folder = Path(folder).absolute()
    resolved = Path(os.path.realpath(folder))
    for system in SYSTEM_FOLDERS:
        if resolved == system or system in resolved.parents:
            raise NeuralgaeError(f"{what} '{folder}' is in {system}, which holds no files; {fix}")
    if folder.exists() and not folder.is_dir():
        raise NeuralgaeError(f"{what} '{folder}' is a file, not a folder; {fix}")
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise NeuralgaeError(
            f"{what} '{folder}' cannot be made: '{existing}' is a file, not a folder; {fix}"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise NeuralgaeError(
            f"{what} '{folder}' cannot be written: '{existing}' is not writable by you; {fix}"
        )


_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF", ".bmp": "BMP"}


def image_format(path: str | os.PathLike) -> str:
    """The Pillow format that :func:`save_image` writes for ``path``'s suffix, or a clear error."""
    path = Path(path)
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise NeuralgaeError(
            f"cannot write '{path}': unknown image type '{path.suffix}'; use one of {', '.join(sorted(_FORMATS))}"
        )
    return fmt


def save_image(path: str | os.PathLike, image: np.ndarray, metadata: dict | None = None) -> Path:
    """Write ``image`` (float [0, 1] or uint8) atomically; PNGs carry ``metadata`` as JSON text."""
    path = Path(path)
    fmt = image_format(path)
    arr = image if image.dtype == np.uint8 else to_uint8(image)
    pil = Image.fromarray(arr)
    kwargs = {}
    if fmt == "PNG" and metadata is not None:
        info = PngImagePlugin.PngInfo()
        info.add_text(METADATA_KEY, json.dumps(metadata, sort_keys=True, default=str))
        kwargs["pnginfo"] = info
    if fmt == "JPEG":
        kwargs["quality"] = 95
    try:
        return atomic_write(path, lambda tmp: pil.save(tmp, format=fmt, **kwargs))
    except OSError as exc:
        raise NeuralgaeError(f"cannot write '{path}': {exc.strerror or exc}") from None


_SIZE = re.compile(r"^\s*(\d+)\s*[xX*]\s*(\d+)\s*$")


def parse_size(text: str, *, what: str = "size", max_side: int | None = None) -> tuple[int, int]:
    """Parse ``"WxH"`` (or a single number for a square) into (width, height), validated.

    ``max_side`` defaults to :func:`~neuralgae.core.host.limits.max_side` (``ND_MAX_SIDE``)."""
    text = str(text)
    lift = max_side is None
    if max_side is None:
        max_side = _max_side()
    m = _SIZE.match(text)
    if m:
        w, h = int(m.group(1)), int(m.group(2))
    elif text.strip().isdigit():
        w = h = int(text)
    else:
        raise NeuralgaeError(f"cannot read {what} '{text}'; write WIDTHxHEIGHT, e.g. 512x512")
    if w < 32 or h < 32:
        raise NeuralgaeError(f"{what} {w}x{h} is too small; the network needs at least 32x32 pixels")
    if w > max_side or h > max_side:
        raise NeuralgaeError(
            f"{what} {w}x{h} is too large; the largest side allowed is {max_side} pixels"
            + (" (set ND_MAX_SIDE to lift the limit)" if lift else "")
        )
    return w, h


def resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Smoothly resize a float image to (height, width), anti-aliasing when shrinking."""
    import torch
    import torch.nn.functional as F

    if image.shape[0] == height and image.shape[1] == width:
        return image
    t = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)[None]
    shrinking = height < image.shape[0] or width < image.shape[1]
    out = F.interpolate(t, size=(height, width), mode="bilinear", align_corners=False, antialias=shrinking)
    return out[0].permute(1, 2, 0).numpy()


def smooth_noise(height: int, width: int, rng: np.random.Generator, *, scale: float = 0.08) -> np.ndarray:
    """Grey canvas with gentle, blurry colour noise: a neutral start for dreams and drawings."""
    from scipy.ndimage import gaussian_filter

    noise = rng.standard_normal((height, width, 3)).astype(np.float32)
    sigma = max(1.0, min(height, width) / 256)
    noise = gaussian_filter(noise, sigma=(sigma, sigma, 0))
    noise /= noise.std() + 1e-8
    return np.clip(0.5 + scale * noise, 0.0, 1.0).astype(np.float32)
