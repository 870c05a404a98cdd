"""Best of N: draw several candidates at once and keep the one another network believes most.

The drawing network is the worst judge of its own drawing: gradient ascent
finds patterns that excite it and nothing else (adversarial noise). A network
that did not draw sees only what transfers, so its belief in the target
classes is a fair score of how legible a candidate is. The candidates are
drawn as one batch (:func:`neuralgae.core.optvis.draw.render_draw` takes (N, H, W, 3)),
so a step costs one pass for all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .draw import DrawTarget, class_scores
from ..nets.ensemble import ensemble_members
from ..host.errors import NeuralgaeError
from ..media.images import resize
from ..host.limits import MAX_BEST_OF

JUDGES = ("efficientnet-lite1", "efficientnet-lite0", "efficientnet-lite2")
"""Built-in judges in order of preference: the first that did not draw is taken."""


@dataclass(frozen=True)
class BestOf:
    """The kept candidate, its index among the candidates, and every candidate's score."""

    image: np.ndarray
    index: int
    scores: tuple[float, ...]
    judge: str

    @property
    def score(self) -> float:
        return self.scores[self.index]

    def as_dict(self) -> dict:
        """What a PNG's metadata and a manifest record."""
        return {
            "best_of": len(self.scores),
            "best_of_index": self.index,
            "judge": self.judge,
            "judge_score": round(self.score, 4),
            "judge_scores": [round(s, 4) for s in self.scores],
        }


def check_best_of(count: int) -> int:
    """``count`` if it is a usable number of candidates (1 to :data:`MAX_BEST_OF`), else a clear error."""
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or not 1 <= count <= MAX_BEST_OF:
        raise NeuralgaeError(f"best-of must be a whole number from 1 to {MAX_BEST_OF}; got {count!r}")
    return int(count)


def default_judge(drawing_network: str, installed: Sequence[str]) -> str:
    """The first built-in judge that is installed and took no part in the drawing."""
    members = set(ensemble_members(drawing_network))
    for name in JUDGES:
        if name in installed and name not in members:
            return name
    raise NeuralgaeError(
        f"no judge is left for best-of: every built-in network drew ({drawing_network}); name a judge that did not draw"
    )


def check_judge(judge: str, drawing_network: str) -> str:
    """``judge`` if it took no part in the drawing: a network cannot judge its own drawings fairly."""
    if judge in ensemble_members(drawing_network) or any(m in ensemble_members(drawing_network) for m in ensemble_members(judge)):
        raise NeuralgaeError(
            f"the judge '{judge}' drew too ({drawing_network}); a network believes its own drawings, so choose one that did not draw"
        )
    return judge


def choose_judge(judge: str | None, drawing_network: str, installed: Sequence[str] | None = None) -> str:
    """The judge of a best-of drawing: ``judge`` if given (and it did not draw), else the first built-in one that did not draw.

    ``installed`` (the host's networks) is checked where known; without it the
    built-in judges are taken as installed and a named judge is left for the
    loader to find.
    """
    name = check_judge(judge, drawing_network) if judge else default_judge(drawing_network, installed or JUDGES)
    if installed is not None and name not in installed:
        raise NeuralgaeError(f"judge '{name}' is not installed (installed: {', '.join(installed)})")
    return name


def judge_scores(judge, images: np.ndarray, targets: Sequence[DrawTarget]) -> np.ndarray:
    """How much ``judge`` believes each image (N, H, W, 3) shows ``targets``: (N,) scores, higher is better.

    The score is the weighted mean over the targets of the judge's log
    probability of the class, seen over the whole image (or over a target's
    aim mask), the image resized so its shorter side is the judge's input
    size. Log probabilities, not logits: a candidate cannot score by making
    every class likely.
    """
    weights = np.array([max(t.weight, 0.0) for t in targets], dtype=np.float64)
    if weights.sum() <= 0:
        weights = np.ones(len(targets))
    images = np.asarray(images, dtype=np.float32)
    h, w = images.shape[1:3]
    k = judge.input_size / min(h, w)
    shape = max(1, round(h * k)), max(1, round(w * k))
    masks = [None if t.mask is None else resize(np.asarray(t.mask, np.float32)[..., None], *shape)[..., 0] for t in targets]
    out = []
    for image in images:
        seen = resize(image, *shape)
        logits = class_scores(judge, seen, masks=masks) if any(m is not None for m in masks) else class_scores(judge, seen)[None]
        logp = torch.log_softmax(torch.from_numpy(np.atleast_2d(logits)).double(), dim=1).numpy()
        per_target = [logp[i if logp.shape[0] > 1 else 0, t.index] for i, t in enumerate(targets)]
        out.append(float(np.dot(weights, per_target) / weights.sum()))
    return np.array(out)


def candidate_starts(image: np.ndarray, count: int, rng: np.random.Generator, *, keep: bool = False) -> np.ndarray:
    """(count, H, W, 3) starting canvases: ``image``, then ``image`` with fresh soft noise from ``rng`` added.

    Candidates differ by that noise and by the random views each one sees.
    A photo that is kept (a lucid dream) starts every candidate unchanged,
    so only their views differ.
    """
    from .draw import start_canvas

    image = np.asarray(image, dtype=np.float32)
    h, w = image.shape[:2]
    rest = [image if keep else np.clip(image + start_canvas(h, w, rng) - 0.5, 0.0, 1.0) for _ in range(count - 1)]
    return np.stack([image, *rest]).astype(np.float32)


def draw_best_of(net, judge, judge_name: str, starts: np.ndarray, targets: Sequence[DrawTarget], **render) -> BestOf:
    """Draw the candidates ``starts`` (N, H, W, 3) in one batch with ``net`` and keep the one ``judge`` believes most.

    ``render`` goes to :func:`neuralgae.core.optvis.draw.render_draw` (settings, rng,
    keep_image, clip_mask, progress, tileable).
    """
    from .draw import render_draw

    starts = np.asarray(starts, dtype=np.float32)
    if starts.ndim != 4:
        raise ValueError("best-of needs a batch of starting images (N, H, W, 3)")
    images = render_draw(net, starts, targets, **render)
    return pick_best(images, judge_scores(judge, images, targets), judge_name)


def pick_best(images: np.ndarray, scores: np.ndarray, judge: str) -> BestOf:
    """The candidate with the highest score (the first of equals)."""
    scores = np.asarray(scores, dtype=np.float64)
    if len(images) != len(scores) or len(scores) == 0:
        raise ValueError("one score per candidate image is needed")
    index = int(np.argmax(scores))
    return BestOf(np.asarray(images[index]), index, tuple(float(s) for s in scores), judge)


__all__ = ["BestOf", "check_best_of", "draw_best_of", "candidate_starts", "default_judge", "check_judge", "choose_judge", "judge_scores", "pick_best", "JUDGES"]
