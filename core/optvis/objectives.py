"""Objectives: scalar functions of a network's activations that rendering maximises.

An objective names the layers it reads (so the forward pass can stop at the
deepest one) and maps a dict of activations to a scalar. Objectives add and
scale like numbers, so ``0.5 * layer_l2(a) + layer_l2(b)`` is an objective.
Values are *sums* over positions, so the objective of an image split into
tiles is the sum of the tiles' objectives, and tiled gradients match
whole-image ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from ..nets.network import LayerSelection


@dataclass(frozen=True)
class Objective:
    """A scalar function of activations, with the layers it needs and a description."""

    layers: tuple[str, ...]
    function: Callable[[dict[str, torch.Tensor]], torch.Tensor]
    description: str

    def __call__(self, activations: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.function(activations)

    def __add__(self, other: Objective) -> Objective:
        layers = tuple(dict.fromkeys(self.layers + other.layers))
        return Objective(layers, lambda a: self(a) + other(a), f"{self.description} + {other.description}")

    def __mul__(self, k: float) -> Objective:
        return Objective(self.layers, lambda a: k * self(a), f"{k:g} * ({self.description})")

    __rmul__ = __mul__

    def __str__(self) -> str:
        return self.description


def _select(activation: torch.Tensor, channels: Sequence[int] | None) -> torch.Tensor:
    return activation if channels is None else activation[:, list(channels)]


def layer_l2(selection: LayerSelection) -> Objective:
    """Classic DeepDream: half the sum of squared activations, per channel.

    The gradient with respect to the activations is the activations
    themselves (divided by the channel count, so layers of different widths
    weigh alike): whatever the layer sees a little of, it is pushed to see more.
    """
    name, channels = selection.layer, selection.channels

    def f(acts):
        a = _select(acts[name], channels)
        return selection.weight * 0.5 * a.pow(2).sum() / a.shape[1]

    return Objective((name,), f, f"L2({selection})")


def dream_objective(selections: Sequence[LayerSelection]) -> Objective:
    """The sum of :func:`layer_l2` over several weighted layer selections."""
    objective = layer_l2(selections[0])
    for sel in selections[1:]:
        objective = objective + layer_l2(sel)
    return objective


def guided(selection: LayerSelection, guide_features: torch.Tensor) -> Objective:
    """Guided dreaming: pull each position toward its best-matching guide feature.

    ``guide_features`` is (C, M): M feature vectors of the guide image on the
    selection's layer (channel-selected already). At every position of the
    dream the guide vector with the largest dot product is chosen and the
    objective is that dot product, so its gradient is the chosen guide vector.
    """
    name, channels = selection.layer, selection.channels
    guide = guide_features.detach()

    def f(acts):
        a = _select(acts[name], channels)  # (N, C, h, w)
        x = a.flatten(2)  # (N, C, P)
        scores = torch.einsum("cm,ncp->nmp", guide, x)
        best = scores.detach().argmax(dim=1)  # (N, P)
        chosen = guide[:, best].permute(1, 0, 2)  # (N, C, P)
        return selection.weight * (x * chosen).sum() / a.shape[1]

    return Objective((name,), f, f"guided({selection})")
