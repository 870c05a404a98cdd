import numpy as np
import pytest

from neuralgae.core.host.errors import NeuralgaeError
from neuralgae.core.media.images import as_rgb_float, load_image, parse_size, read_metadata, save_image


def test_png_round_trip_keeps_pixels_and_metadata(tmp_path, rng):
    img = rng.random((20, 30, 3)).astype(np.float32)
    path = save_image(tmp_path / "a.png", img, {"seed": 3, "layers": "block10"})
    back = load_image(path)
    assert back.shape == (20, 30, 3) and back.dtype == np.float32
    assert np.abs(back - img).max() <= 0.5 / 255 + 1e-6
    assert read_metadata(path) == {"seed": 3, "layers": "block10"}
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]  # no temporary left behind


def test_grey_and_rgba_become_rgb():
    assert as_rgb_float(np.zeros((4, 5), np.uint8)).shape == (4, 5, 3)
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 3] = 0
    assert np.allclose(as_rgb_float(rgba), 1.0)  # transparent composites on white


def test_unreadable_files(tmp_path):
    with pytest.raises(NeuralgaeError, match="does not exist"):
        load_image(tmp_path / "missing.png")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(NeuralgaeError, match="cannot read image"):
        load_image(bad)
    with pytest.raises(NeuralgaeError, match="is a folder"):
        load_image(tmp_path)


def test_failed_write_leaves_nothing(tmp_path):
    with pytest.raises(NeuralgaeError, match="unknown image type"):
        save_image(tmp_path / "a.xyz", np.zeros((4, 4, 3), np.float32))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("text, expected", [("640x480", (640, 480)), ("64", (64, 64)), (" 100 X 50 ", (100, 50))])
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text, message", [("10x10", "too small"), ("big", "cannot read"), ("99999x64", "too large")])
def test_parse_size_errors(text, message):
    with pytest.raises(NeuralgaeError, match=message):
        parse_size(text)


def test_written_files_honour_the_umask(tmp_path):
    import os

    mask = os.umask(0o022)
    try:
        path = save_image(tmp_path / "m.png", np.zeros((4, 4, 3), np.float32))
    finally:
        os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o644
