"""Images that tile: circular padding with a crossfaded fold, circular octave resizing, periodic starts, the seam figure."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuralgae.core.host.components import RenderContext
from neuralgae.core.media.images import smooth_noise
from neuralgae.core.optvis.tileable import (
    SEAM_LIMIT,
    TileableNetwork,
    circular_pad,
    circular_resize,
    make_periodic,
    pad_for,
    seam_ratios,
    tiled,
)


def test_circular_padding_wraps_the_image_around():
    x = torch.arange(2 * 5 * 6, dtype=torch.float32).reshape(1, 2, 5, 6)
    padded = circular_pad(x, 2)
    expected = np.pad(x.numpy(), ((0, 0), (0, 0), (2, 2), (2, 2)), mode="wrap")
    np.testing.assert_array_equal(padded.numpy(), expected)


def test_the_fold_gives_every_pixel_a_total_weight_of_one():
    # d(sum of the padded image)/dx: each pixel's copies are crossfaded to weights summing to 1,
    # so the band along the edges is neither dreamed twice as hard nor cut off.
    x = torch.rand(1, 3, 12, 10, requires_grad=True)
    circular_pad(x, 4).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 1.0, rtol=1e-6)


def test_the_fold_sends_each_copys_gradient_to_its_pixel():
    x = torch.zeros(1, 1, 8, 8, requires_grad=True)
    padded = circular_pad(x, 3)
    probe = torch.zeros_like(padded)
    probe[0, 0, 1, 1] = 1.0  # padded (1, 1) is pixel (1 - 3) % 8 = 6 in both axes
    (padded * probe).sum().backward()
    got = np.argwhere(x.grad.numpy()[0, 0] != 0)
    assert got.tolist() == [[6, 6]]
    assert 0 < x.grad[0, 0, 6, 6] < 1  # a copy near the padded border gets the smaller share


def test_pad_is_at_most_half_the_side():
    assert pad_for(1000, 1000) == 64 and pad_for(40, 100) == 20 and pad_for(1, 1) == 0


def test_circular_resize_treats_the_image_as_periodic():
    h, w = 24, 32
    yy, xx = np.meshgrid(np.arange(h) / h, np.arange(w) / w, indexing="ij")
    wave = lambda y, x: np.cos(2 * np.pi * (2 * x + y))  # noqa: E731 - periodic on the unit torus
    t = torch.from_numpy(wave(yy, xx)).float()[None, None]
    big = circular_resize(t, (36, 48))
    by, bx = np.meshgrid(np.arange(36) / 36, np.arange(48) / 48, indexing="ij")
    np.testing.assert_allclose(big[0, 0].numpy(), wave(by, bx), atol=1e-4)
    np.testing.assert_allclose(circular_resize(big, (h, w))[0, 0].numpy(), wave(yy, xx), atol=1e-4)


def test_make_periodic_removes_the_seam_of_a_start_image():
    noise = smooth_noise(96, 128, np.random.default_rng(3))
    assert min(seam_ratios(noise)) > 2  # smooth noise does not wrap
    made = make_periodic(noise)
    assert max(seam_ratios(made)) <= SEAM_LIMIT
    assert made.dtype == np.float32 and made.shape == noise.shape
    assert abs(float(made.std()) - float(noise.std())) < 0.15 * float(noise.std())  # contrast kept


def test_the_network_is_wrapped_not_changed(net):
    wrapped = TileableNetwork(net)
    assert wrapped.layers == net.layers and wrapped.input_size == net.input_size
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        feats = wrapped.features(x, ["block8"])["block8"]
        direct = net.features(circular_pad(x, 32), ["block8"])["block8"]
    torch.testing.assert_close(feats, direct)


@pytest.mark.parametrize("seed", [0, 1])
def test_a_tileable_dream_has_no_seam(net, seed):
    from neuralgae.plugins.renderers import dream

    start = smooth_noise(192, 192, np.random.default_rng(seed))
    settings = dict(layers="block8", octaves=2, steps=2, step_size=0.03)
    out = dream(start, RenderContext(network=net, rng=np.random.default_rng(seed)), tileable=True, **settings)
    across_columns, across_rows = seam_ratios(out)
    assert across_columns <= SEAM_LIMIT and across_rows <= SEAM_LIMIT
    assert float(np.abs(out - start).mean()) > 0.02  # it did dream
    if seed == 0:  # the same dream without --tileable shows its edges
        plain = dream(start, RenderContext(network=net, rng=np.random.default_rng(seed)), **settings)
        assert min(seam_ratios(plain)) > 1.5 * SEAM_LIMIT


def test_tiled_repeats_the_image():
    image = np.random.default_rng(0).random((4, 5, 3))
    big = tiled(image, 3)
    assert big.shape == (12, 15, 3)
    np.testing.assert_array_equal(big[4:8, 10:15], image)


def test_a_spec_can_ask_for_tileable(tmp_path):
    from neuralgae.core.host.plugins import PluginHost
    from neuralgae.core.runs.spec import load_spec

    path = tmp_path / "t.toml"
    path.write_text('[source]\nnoise = "64x64"\n[renderer]\nname = "dream"\ntileable = true\n', encoding="utf-8")
    spec = load_spec(path, host=PluginHost(entry_points=False))
    assert spec.renderer.params["tileable"] is True


def test_a_tileable_drawing_has_no_seam(net):
    from neuralgae.core.optvis.draw import start_canvas
    from neuralgae.plugins.draw import draw

    start = start_canvas(96, 96, np.random.default_rng(0))
    settings = dict(classes=["goldfish"], preset="fast", steps=4)
    out = draw(start, RenderContext(network=net, rng=np.random.default_rng(0)), tileable=True, **settings)
    assert max(seam_ratios(out)) <= SEAM_LIMIT
    plain = draw(start, RenderContext(network=net, rng=np.random.default_rng(0)), **settings)
    assert min(seam_ratios(plain)) > 1.5 * SEAM_LIMIT


def test_the_torus_blur_smooths_across_the_wrap():
    from neuralgae.core.optvis.draw_views import gaussian_blur
    from neuralgae.core.optvis.tileable import torus_ops

    _, blur, _ = torus_ops(None, gaussian_blur)
    x = torch.zeros(1, 1, 16, 16)
    x[0, 0, :, 0] = 1.0  # a line on the left edge: a torus blur spreads it to the right edge too
    out = blur(x, 1.0)
    assert out[0, 0, 5, 15] > 0.1 and torch.allclose(out[0, 0, 5, 15], out[0, 0, 5, 1], atol=1e-6)
    assert gaussian_blur(x, 1.0)[0, 0, 5, 15] < 1e-6


def test_nd_dream_and_nd_draw_tileable_write_textures_that_wrap(tmp_path):
    from typer.testing import CliRunner

    from neuralgae.core.media.images import load_image, read_metadata
    from neuralgae_cli.main import app

    dreamed, drawn = tmp_path / "dream.png", tmp_path / "draw.png"
    run = CliRunner().invoke(app, ["dream", "noise:96x96", "-o", str(dreamed), "--tileable", "--octaves", "2", "--steps", "4"])
    assert run.exit_code == 0, run.output
    run = CliRunner().invoke(app, ["draw", "--classes", "goldfish", "--size", "64x64", "--steps", "6", "--seed", "1",
                                   "--tileable", "-o", str(drawn)])
    assert run.exit_code == 0, run.output
    for path in (dreamed, drawn):
        assert max(seam_ratios(load_image(path))) <= SEAM_LIMIT
    assert read_metadata(dreamed)["params"]["tileable"] is True
    assert read_metadata(drawn)["tileable"] is True
