"""Weight files: reading a state_dict safely, and the short hash that records which weights made a picture.

:func:`read_state_dict` loads a file with ``torch.load(..., weights_only=True)``
(tensors and plain containers only, never arbitrary pickled objects) and
unwraps the usual checkpoint shapes: a bare ``state_dict``, or a dict holding
it under ``"state_dict"``, ``"model"``, ``"model_state_dict"``, ``"net"`` or
``"weights"``, with DataParallel's ``module.`` prefix removed. Every way a
file can be wrong (missing, a folder, not a torch file, Python objects
inside, no tensors) is one :class:`NeuralgaeError` line.

:func:`file_sha256` and :func:`tensors_sha256` give the hashes manifests and
PNG metadata record (:data:`SHORT_HASH` hex digits); a file is hashed once
per process (by path, size and modification time), a module once per object.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path

import torch

from ..host.errors import NeuralgaeError

SHORT_HASH = 12
"""Hex digits of a weights hash kept in records: enough to tell files apart."""

CHECKPOINT_KEYS = ("state_dict", "model_state_dict", "model", "net", "weights", "params")
"""Keys under which checkpoints commonly keep their state_dict, tried in this order."""

_file_hashes: dict[tuple[str, int, int], str] = {}


def check_weights_file(path: str | Path, *, what: str) -> Path:
    """``path`` as an existing file, or one error naming ``what`` needs it."""
    p = Path(path).expanduser()
    if not p.exists():
        raise NeuralgaeError(f"the weights file '{path}' for {what} does not exist; give the path of a saved state_dict")
    if p.is_dir():
        raise NeuralgaeError(f"the weights '{path}' for {what} is a folder; give the weights file in it")
    return p


def _is_state_dict(value) -> bool:
    return isinstance(value, Mapping) and bool(value) and all(isinstance(k, str) for k in value) and all(
        torch.is_tensor(v) for v in value.values()
    )


def unwrap_checkpoint(data, *, origin: str) -> dict[str, torch.Tensor]:
    """The state_dict inside what ``torch.load`` returned: itself, or under a checkpoint key (one level or two)."""
    for _ in range(3):
        if _is_state_dict(data):
            break
        if not isinstance(data, Mapping):
            raise NeuralgaeError(
                f"'{origin}' holds a {type(data).__name__}, not a state_dict; save model.state_dict() with torch.save"
            )
        inner = next((data[k] for k in CHECKPOINT_KEYS if k in data), None)
        if inner is None:
            keys = ", ".join(list(map(str, data))[:5]) or "nothing"
            raise NeuralgaeError(
                f"'{origin}' is a dict without tensors at the top or under {', '.join(map(repr, CHECKPOINT_KEYS))} "
                f"(it holds {keys}); save model.state_dict() with torch.save"
            )
        data = inner
    else:
        raise NeuralgaeError(f"'{origin}' holds no state_dict of tensors; save model.state_dict() with torch.save")
    metadata = getattr(data, "_metadata", None)  # module versions some architectures read when loading (MNASNet)
    sd = {k: v for k, v in data.items() if torch.is_tensor(v)}
    if sd and all(k.startswith("module.") for k in sd):  # saved from DataParallel
        sd = {k[len("module."):]: v for k, v in sd.items()}
        if metadata is not None:
            metadata = {k[len("module."):] if k.startswith("module.") else ("" if k == "module" else k): v for k, v in metadata.items()}
    return with_metadata(sd, metadata)


def with_metadata(sd: dict, metadata) -> OrderedDict:
    """``sd`` as an OrderedDict carrying ``_metadata`` (what ``nn.Module.state_dict`` attaches), where there is some."""
    out = OrderedDict(sd)
    if metadata is not None:
        out._metadata = metadata
    return out


def looks_like_torch_file(path: Path) -> bool:
    """Whether ``path`` starts like a file of ``torch.save`` (a zip archive, or the legacy pickle format)."""
    import zipfile

    try:
        with open(path, "rb") as f:
            head = f.read(2)
        return zipfile.is_zipfile(path) or head[:1] == b"\x80"
    except OSError:
        return False


def read_state_dict(path: str | Path, *, what: str) -> dict[str, torch.Tensor]:
    """The state_dict in ``path`` (a bare one or a checkpoint holding one), on the CPU, for ``what``."""
    p = check_weights_file(path, what=what)
    try:
        data = torch.load(p, map_location="cpu", weights_only=True)
    except MemoryError:
        raise NeuralgaeError(f"'{path}' is too large to load into memory as weights for {what}") from None
    except Exception as exc:  # a torch file of something else, or no torch file at all
        reason = " ".join(str(exc).split())
        if looks_like_torch_file(p) and ("weights_only" in reason or "Unsupported global" in reason):
            raise NeuralgaeError(
                f"'{path}' holds Python objects besides tensors, which nd does not unpickle (torch.load weights_only); "
                "save model.state_dict() alone with torch.save"
            ) from None
        raise NeuralgaeError(
            f"'{path}' is not a torch weights file ({type(exc).__name__}: {reason.split('. ')[0][:100]}); give a file saved with torch.save"
        ) from None
    return unwrap_checkpoint(data, origin=str(path))


def file_sha256(path: str | Path) -> str:
    """The short sha256 of a file's bytes; remembered per (path, size, modification time)."""
    p = Path(path)
    st = p.stat()
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _file_hashes:
        digest = hashlib.sha256()
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        _file_hashes[key] = digest.hexdigest()[:SHORT_HASH]
    return _file_hashes[key]


def tensors_sha256(tensors: Mapping[str, torch.Tensor]) -> str:
    """The short sha256 of named tensors (names, shapes, dtypes and values, in name order)."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach()
        digest.update(f"{name}:{tuple(t.shape)}:{t.dtype}".encode())
        if t.is_meta:
            continue
        data = t.cpu().contiguous()
        if data.dtype == torch.bfloat16:
            data = data.view(torch.int16)
        digest.update(data.numpy().tobytes() if data.dim() else data.reshape(1).numpy().tobytes())
    return digest.hexdigest()[:SHORT_HASH]
