"""The one exception type for problems a user can cause and fix.

The CLI catches :class:`NeuralgaeError` at its boundary and prints its message
as a single line, without a traceback. Library code raises it (or a subclass)
for bad input: unknown names, unreadable files, impossible sizes, bad specs.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class NeuralgaeError(Exception):
    """A problem with the user's input, described in one actionable sentence."""


def check_all(checks: Iterable[tuple[bool, str]]) -> None:
    """Raise :class:`NeuralgaeError` with the message of the first ``(ok, message)`` pair that failed."""
    for ok, message in checks:
        if not ok:
            raise NeuralgaeError(message)


def did_you_mean(word: str, choices: Iterable[str], n: int = 3, cutoff: float = 0.6) -> str:
    """Return a ``"; did you mean 'x'?"`` suffix for the closest choices, or ``""``."""
    choices = list(choices)
    close = difflib.get_close_matches(word, choices, n=n, cutoff=cutoff)
    if not close:
        lowered = {c.lower(): c for c in choices}
        close = [lowered[c] for c in difflib.get_close_matches(word.lower(), list(lowered), n=n, cutoff=cutoff)]
    if not close:
        return ""
    if len(close) == 1:
        return f"; did you mean '{close[0]}'?"
    return "; did you mean " + ", ".join(f"'{c}'" for c in close[:-1]) + f" or '{close[-1]}'?"
