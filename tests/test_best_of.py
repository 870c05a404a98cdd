"""Objects, not textures: zoomed-out views, the vignette, batched candidates and best-of-N."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from neuralgae.core.optvis.best_of import (
    BestOf,
    candidate_starts,
    check_best_of,
    check_judge,
    default_judge,
    judge_scores,
    pick_best,
)
from neuralgae.core.optvis.draw import (
    DrawTarget,
    render_draw,
    start_canvas,
    vignette_window,
    vignetted,
    view_shape,
    zoom_boxes,
    zoomed_decay,
)
from neuralgae.core.optvis.draw_schedule import PRESETS, DrawSettings, Octave
from neuralgae.core.host.errors import NeuralgaeError
from neuralgae.core.nets.network import LayerInfo

GOLDFISH, VOLCANO = 1, 980


def tiny(iterations=4, **changes) -> DrawSettings:
    octaves = (Octave(iterations // 2, 0.75, (0.6, 0.4), (0.04, 0.03)), Octave(iterations - iterations // 2, 1.0, (0.4, 0.2), (0.03, 0.02)))
    return replace(PRESETS["default"], octaves=octaves, **changes)


class RecordingNet(torch.nn.Module):
    """A tiny fully convolutional 'network' with a logits map that records the shapes it is shown."""

    name = "recording"
    input_size = 32
    num_classes = 1000

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 1000, 5, stride=4)
        self.layers = [LayerInfo("logits", 1000, 4)]
        self.seen: list[tuple[int, ...]] = []

    def features(self, x, layers):
        self.seen.append(tuple(x.shape))
        return {"logits": self.conv(x)}


class MeanJudge:
    """A judge whose belief in class 1 grows with the image's brightness."""

    input_size = 16
    num_classes = 1000
    name = "mean-judge"
    layers = [LayerInfo("logits", 1000, 1)]

    def features(self, x, layers):
        logits = torch.zeros(x.shape[0], 1000, *x.shape[-2:])
        logits[:, GOLDFISH] = 10 * x.mean(dim=1)
        return {"logits": logits}


# -- zoomed-out views ------------------------------------------------------------


def test_zoom_boxes_lie_inside_the_canvas_and_keep_its_shape():
    rng = np.random.default_rng(0)
    for t, b, l, r in zoom_boxes(rng, 300, 500, 50, 0.5):
        assert 0 <= t < b <= 300 and 0 <= l < r <= 500
        assert 0.5 * 300 - 1 <= b - t <= 300 and abs((r - l) / (b - t) - 500 / 300) < 0.05
    assert zoom_boxes(rng, 100, 100, 3, 1.0) == [(0, 100, 0, 100)] * 3
    assert view_shape(300, 600, 224) == (224, 448)


def test_a_large_canvas_is_seen_whole_and_shrunk_in_one_batch():
    net = RecordingNet()
    settings = tiny(2, zoom_views=3, views=1)  # 64 px is 2x the network's 32: the views as tuned
    render_draw(net, start_canvas(96, 64, np.random.default_rng(0)), [DrawTarget(GOLDFISH)], settings=settings, rng=np.random.default_rng(0))
    # two steps, each one batch of three views with the canvas's shape at the network's size
    assert net.seen == [(3, 3, 48, 32)] * 2


def test_without_zoom_views_a_large_canvas_is_tiled():
    net = RecordingNet()
    settings = tiny(2, zoom_views=0)
    render_draw(net, start_canvas(96, 96, np.random.default_rng(0)), [DrawTarget(GOLDFISH)], settings=settings, rng=np.random.default_rng(0))
    assert all(shape[-2:] == (32, 32) for shape in net.seen) and sum(s[0] for s in net.seen) > 2


def test_zoomed_decay_grows_with_the_canvas():
    s = replace(PRESETS["default"], spectrum_decay=1.0, zoom_decay=0.5)
    assert zoomed_decay(s, 1.0) == 1.0
    assert zoomed_decay(s, 2.0) == pytest.approx(1.5)
    assert zoomed_decay(s, 8.0) == zoomed_decay(s, 512 / 224)  # no steeper than where it was tuned
    assert zoomed_decay(replace(s, spectrum_decay=0.0), 4.0) == 0.0


def test_zoomed_views_draw_the_class_on_a_large_canvas(net):
    rng = np.random.default_rng(0)
    start = start_canvas(320, 320, rng)
    out = render_draw(net, start, [DrawTarget(GOLDFISH)], settings=tiny(8), rng=rng)
    from neuralgae.core.optvis.draw import class_scores

    assert class_scores(net, out)[GOLDFISH] > class_scores(net, start)[GOLDFISH] + 2


# -- the vignette ------------------------------------------------------------------


def test_vignette_gathers_the_step_toward_the_centre_and_keeps_its_size():
    win = vignette_window(64, 64, 0.8, torch.device("cpu"))
    assert win[0, 0, 32, 32] > 0.95 and win[0, 0, 0, 0] == pytest.approx(0.2 + 0.8 * np.exp(-4), abs=1e-3)
    grad = torch.randn(2, 3, 64, 64)
    out = vignetted(grad, win)
    assert torch.allclose(out.abs().mean(dim=(1, 2, 3)), grad.abs().mean(dim=(1, 2, 3)), rtol=1e-4)
    centre, edge = out[..., 24:40, 24:40].abs().mean(), out[..., :8, :8].abs().mean()
    assert centre > 3 * edge


def test_vignette_leaves_aims_and_lucid_dreams_alone():
    from neuralgae.core.optvis.draw_aim import region_mask

    net = RecordingNet()
    rng = np.random.default_rng(0)
    start = start_canvas(32, 32, rng)
    aimed = [DrawTarget(GOLDFISH, mask=region_mask("left", 32, 32))]
    on = render_draw(net, start, aimed, settings=tiny(2, vignette=0.9), rng=np.random.default_rng(1))
    off = render_draw(net, start, aimed, settings=tiny(2, vignette=0.0), rng=np.random.default_rng(1))
    assert np.array_equal(on, off)
    on = render_draw(net, start, [DrawTarget(GOLDFISH)], settings=tiny(2, vignette=0.9), rng=np.random.default_rng(1), keep_image=True)
    off = render_draw(net, start, [DrawTarget(GOLDFISH)], settings=tiny(2, vignette=0.0), rng=np.random.default_rng(1), keep_image=True)
    assert np.array_equal(on, off)
    on = render_draw(net, start, [DrawTarget(GOLDFISH)], settings=tiny(2, vignette=0.9), rng=np.random.default_rng(1))
    assert not np.array_equal(on, off)


# -- candidates drawn together -------------------------------------------------------


def test_a_batch_of_one_is_the_single_drawing():
    net = RecordingNet()
    start = start_canvas(40, 40, np.random.default_rng(0))
    single = render_draw(net, start, [DrawTarget(GOLDFISH)], settings=tiny(3), rng=np.random.default_rng(5))
    batch = render_draw(net, start[None], [DrawTarget(GOLDFISH)], settings=tiny(3), rng=np.random.default_rng(5))
    assert batch.shape == (1, 40, 40, 3) and np.array_equal(batch[0], single)


@pytest.mark.parametrize("size", [40, 96])  # one view of the whole canvas; zoomed-out views
def test_candidates_go_through_in_one_pass_per_step_and_differ(size):
    net = RecordingNet()
    starts = candidate_starts(start_canvas(size, size, np.random.default_rng(0)), 3, np.random.default_rng(1))
    out = render_draw(net, starts, [DrawTarget(GOLDFISH)], settings=tiny(2, zoom_views=2), rng=np.random.default_rng(5))
    assert out.shape == (3, size, size, 3)
    from neuralgae.core.optvis.draw import octave_shape, zoom_plan

    settings = tiny(2, zoom_views=2)
    sides = [min(octave_shape(size, size, o.scale)) for o in settings.octaves]
    views = [zoom_plan(settings, side / 32)[1] if side > 40 else 1 for side in sides]
    assert [s[0] for s in net.seen] == [3 * v for v in views]  # one pass per step: every candidate's views
    assert np.abs(out[1] - out[0]).mean() > 1e-3 and np.abs(out[2] - out[1]).mean() > 1e-3


def test_candidate_starts():
    rng = np.random.default_rng(0)
    photo = np.full((20, 30, 3), 0.3, np.float32)
    starts = candidate_starts(photo, 3, rng)
    assert starts.shape == (3, 20, 30, 3) and np.array_equal(starts[0], photo)
    assert not np.array_equal(starts[1], photo) and starts.min() >= 0 and starts.max() <= 1
    kept = candidate_starts(photo, 3, rng, keep=True)
    assert all(np.array_equal(k, photo) for k in kept)


# -- best of N -------------------------------------------------------------------------


def test_pick_best_keeps_the_highest_score_and_the_first_of_equals():
    images = np.stack([np.full((4, 4, 3), v, np.float32) for v in (0.1, 0.2, 0.3)])
    best = pick_best(images, np.array([-3.0, -1.0, -2.0]), "judge")
    assert best.index == 1 and best.score == -1.0 and np.array_equal(best.image, images[1])
    assert pick_best(images, np.array([-1.0, -1.0, -5.0]), "judge").index == 0
    record = best.as_dict()
    assert record["best_of"] == 3 and record["best_of_index"] == 1 and record["judge"] == "judge" and record["judge_score"] == -1.0


def test_judge_scores_follow_the_judges_belief():
    images = np.stack([np.full((24, 24, 3), v, np.float32) for v in (0.2, 0.9, 0.5)])
    scores = judge_scores(MeanJudge(), images, [DrawTarget(GOLDFISH)])
    assert list(np.argsort(-scores)) == [1, 2, 0]
    assert (scores <= 0).all()  # log probabilities


def test_best_of_keeps_what_the_judge_believes_most():
    from neuralgae.core.optvis.best_of import draw_best_of

    net = RecordingNet()
    starts = candidate_starts(start_canvas(40, 40, np.random.default_rng(0)), 4, np.random.default_rng(1))
    best = draw_best_of(net, MeanJudge(), "mean-judge", starts, [DrawTarget(GOLDFISH)], settings=tiny(2), rng=np.random.default_rng(2))
    means = [float(judge_scores(MeanJudge(), best.image[None], [DrawTarget(GOLDFISH)])[0])]
    assert isinstance(best, BestOf) and len(best.scores) == 4
    assert best.score == max(best.scores) == pytest.approx(means[0])


def test_judges_never_judge_their_own_drawings():
    installed = ["efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2"]
    assert default_judge("efficientnet-lite0", installed) == "efficientnet-lite1"
    assert default_judge("efficientnet-lite1", installed) == "efficientnet-lite0"
    assert default_judge("efficientnet-lite0+efficientnet-lite1", installed) == "efficientnet-lite2"
    with pytest.raises(NeuralgaeError, match="every built-in network drew"):
        default_judge("efficientnet-lite0+efficientnet-lite1+efficientnet-lite2", installed)
    with pytest.raises(NeuralgaeError, match="drew too"):
        check_judge("efficientnet-lite1", "efficientnet-lite0+efficientnet-lite1")
    assert check_judge("efficientnet-lite2", "efficientnet-lite0") == "efficientnet-lite2"


@pytest.mark.parametrize("bad", [0, -1, 65, 2.5, True, "3"])
def test_best_of_counts_are_checked(bad):
    with pytest.raises(NeuralgaeError, match="best-of must be a whole number from 1 to 64"):
        check_best_of(bad)


def test_larger_prints_get_smaller_boxes_and_more_views():
    from neuralgae.core.optvis.draw import zoom_plan

    s = PRESETS["default"]
    assert zoom_plan(s, 512 / 224) == (0.5, 4)  # as tuned
    cover, count = zoom_plan(s, 1024 / 224)
    assert cover * 1024 == pytest.approx(1.15 * 224) and count == 16  # some views near the canvas's own resolution
    assert zoom_plan(s, 100.0)[1] == 64


def test_judge_scores_read_an_aimed_class_over_its_mask():
    image = np.zeros((1, 24, 48, 3), np.float32)
    image[:, :, :24] = 0.9  # bright on the left, dark on the right
    left, right = np.zeros((24, 48), np.float32), np.zeros((24, 48), np.float32)
    left[:, :24], right[:, 24:] = 1, 1
    on_left = judge_scores(MeanJudge(), image, [DrawTarget(GOLDFISH, mask=left)])
    on_right = judge_scores(MeanJudge(), image, [DrawTarget(GOLDFISH, mask=right)])
    assert on_left[0] > on_right[0]
