"""Process-wide memory settings that make repeated dream steps cheaper.

A dream step at 1024x1024 allocates and frees about a gigabyte of
activations. glibc hands blocks that large straight back to the kernel on
``free`` and maps fresh, zeroed pages on the next ``malloc``: some 200,000
page faults a step, a fifth of its time on a two-core machine. Told to serve
every block from its heap and never to trim it, glibc reuses the same memory
step after step. The process's memory then stays at its peak until it exits,
which is what a dream process reaches on every step anyway; a long-lived
program embedding the engine may prefer not to call this.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading

_M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's <malloc.h>
_M_MMAP_MAX = -4
_lock = threading.Lock()
_applied: bool | None = None


def _glibc():
    """glibc's C library, or None on other C libraries (musl, macOS, Windows)."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        libc.gnu_get_libc_version  # noqa: B018 - present only in glibc
        return libc if hasattr(libc, "mallopt") else None
    except (OSError, AttributeError, TypeError):
        return None


def keep_freed_memory() -> bool:
    """Make glibc keep freed memory for reuse instead of returning it to the kernel.

    Idempotent and safe to call from any thread; returns whether the setting
    is in force (False where the C library is not glibc, which then behaves
    as before).
    """
    global _applied
    with _lock:
        if _applied is None:
            libc = _glibc()
            _applied = bool(libc) and libc.mallopt(_M_MMAP_MAX, 0) == 1 and libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1) == 1
        return _applied
