"""Several networks drawing one picture: ``efficientnet-lite0+efficientnet-lite1``.

An ensemble's class logits are the mean of its members' logit maps, so a
deepdraw objective on them is the mean of the members' objectives: the
drawing has to convince every member at once. Features one network alone
exploits (adversarial patterns) do not move the others, so what survives is
structure that transfers, and the drawing looks less like noise to a network
outside the ensemble (docs/networks.md has the measurement).

Only ``logits`` is offered: the members' inner layers have different depths
and widths, so a DeepDream takes one network.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain

import torch
import torch.nn.functional as F

from ..host.errors import NeuralgaeError
from .network import LayerInfo, check_layer

SEPARATOR = "+"


def ensemble_members(name: str) -> list[str]:
    """The member names of ``a+b+c`` (one name for a plain network); an empty member is an error."""
    parts = [part.strip() for part in name.split(SEPARATOR)]
    if len(parts) > 1 and not all(parts):
        raise NeuralgaeError(
            f"network '{name}' has an empty part; join network names with '+', e.g. efficientnet-lite0+efficientnet-lite1"
        )
    return parts


def is_ensemble(name: str) -> bool:
    return SEPARATOR in name


class EnsembleNetwork:
    """The members' mean logit map behind the engine's network contract."""

    def __init__(self, members: Sequence):
        if len(members) < 2:
            raise NeuralgaeError("an ensemble needs at least two networks, e.g. efficientnet-lite0+efficientnet-lite1")
        for m in members:
            check_layer(m, "logits")
        classes = {m.num_classes for m in members}
        if len(classes) != 1:
            raise NeuralgaeError(f"the networks of an ensemble must know the same classes; these have {sorted(classes)}")
        self.members = list(members)
        self.name = SEPARATOR.join(m.name for m in members)
        self.input_size = max(m.input_size for m in members)
        self.num_classes = classes.pop()
        stride = max(next(layer.stride for layer in m.layers if layer.name == "logits") for m in members)
        self.layers = (LayerInfo("logits", self.num_classes, stride, f"mean class logits of {self.name}"),)
        self.placement = getattr(members[0], "placement", None)

    def parameters(self):
        return chain.from_iterable(m.parameters() for m in self.members if hasattr(m, "parameters"))

    def features(self, x: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
        for name in layers:
            if name != "logits":
                raise NeuralgaeError(
                    f"the ensemble '{self.name}' offers only 'logits' (for deepdraw); dream on layer '{name}' with one of its networks"
                )
        maps = [m.features(x, ["logits"])["logits"].float() for m in self.members]
        size = maps[0].shape[-2:]
        total = sum(m if m.shape[-2:] == size else F.adaptive_avg_pool2d(m, size) for m in maps)
        return {"logits": total / len(maps)} if layers else {}

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (N, num_classes): the spatial mean of the mean logit map."""
        return self.features(x, ["logits"])["logits"].mean(dim=(2, 3))
