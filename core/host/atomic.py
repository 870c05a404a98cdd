"""Writing files atomically: readers (and a resumed run) see the old file or the new one, never half of one.

A file is written under a hidden temporary name in its own folder
(``.NAME.XXXX.part``, which frame listings and ``nd run --overwrite`` know
to skip or clear) and renamed onto its name only once complete. Every file
nd writes goes through :func:`atomic_write` or :func:`atomic_write_text`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

PART_SUFFIX = ".part"
"""The suffix of a file being written; a folder may hold one left by a kill."""


def _atomic_target(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=PART_SUFFIX, dir=path.parent)
    os.close(fd)
    return Path(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp_path)`` and move the result onto ``path`` only once it is complete.

    The file gets the permissions the umask gives a new file (not mkstemp's
    private 0600); on any failure the temporary file is removed and the
    exception goes on.
    """
    path = Path(path)
    tmp = _atomic_target(path)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` as UTF-8 into ``path`` atomically (a manifest, a spec, a page, a cache)."""
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
