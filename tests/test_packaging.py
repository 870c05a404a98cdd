"""The distribution installs neuralgae.core and neuralgae.plugins, never top-level core/plugins."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_names():
    import neuralgae.core
    import neuralgae.plugins

    assert Path(neuralgae.core.__file__).parent.name == "core"
    assert Path(neuralgae.plugins.__file__).parent.name == "plugins"


@pytest.mark.slow
def test_wheel_maps_core_and_plugins_under_neuralgae(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True,
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot build a wheel here: {proc.stderr.strip()[-200:]}")
    (wheel,) = tmp_path.glob("neuralgae-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert "core" not in tops and "plugins" not in tops
    assert "neuralgae/core/optvis/dream.py" in names
    assert "neuralgae/plugins/transforms.py" in names
    assert any(n.startswith("neuralgae/plugins/specs/") and n.endswith(".toml") for n in names)
    assert "neuralgae/plugins/specs/music-beat.flac" in names  # the built-in spec 'music' dances to it
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "Provides-Extra: audio" in metadata and "librosa" in metadata
    assert "neuralgae_cli/main.py" in names
    assert {"neuralgae_cli/web/index.html", "neuralgae_cli/web/app.js", "neuralgae_cli/web/style.css"} <= set(names)
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "nd = neuralgae_cli.main:main" in entry_points
