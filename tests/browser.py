"""Headless Chromium for browser tests, driven by Playwright.

Uses the system's Chromium (Debian's ``chromium`` package, which
``scripts/setup`` installs) through ``executable_path``: Playwright's own
browser download is never used. Tests that need it take the ``browser``
fixture from ``conftest.py`` and skip, saying why, where no browser exists.
"""

from __future__ import annotations

import shutil

CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium_path() -> str | None:
    """The system Chromium, or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def why_no_browser() -> str | None:
    """A reason the browser tests cannot run here, or None when they can."""
    if chromium_path() is None:
        return "needs Debian's chromium (scripts/setup installs it where apt-get is allowed)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "needs the playwright package (the test extra)"
    return None
