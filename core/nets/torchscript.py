"""A TorchScript file as a network: ``--network torchscript --weights model.pt``.

A TorchScript file holds the architecture and the weights together, so it is
given as the ``weights`` of the network ``torchscript`` (in a spec:
``network = { name = "torchscript", weights = "model.pt" }``). It is loaded
with ``torch.jit.load`` onto the CPU and placed on ``--device`` like every
network. The module must map images (N, 3, H, W) to class logits
(N, classes); by default it gets them normalised with ImageNet's mean and std
(``normalise = false``: RGB in [0, 1] as they are).

Layers: when running the module's top-level children one after another gives
what the module gives (a scripted or traced ``nn.Sequential``, checked once on
a test image), each child whose output is a map is a layer, by its name
(``layer0``, ``layer1`` ... for a Sequential's numbered children), and the
pass stops at the deepest one asked for. Otherwise TorchScript gives no
way into the module, and the only layer is ``logits``: the true logits as a
1x1 map.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from ..host.errors import NeuralgaeError
from .module_network import IMAGENET_MEAN, IMAGENET_STD, LOGITS
from .network import LayerInfo, check_input, requested_layers
from .weights import check_weights_file

NAME = "torchscript"


def read_torchscript(path: str | Path) -> torch.jit.ScriptModule:
    """The TorchScript module in ``path``, on the CPU, or one line saying why it is not one."""
    p = check_weights_file(path, what=f"network '{NAME}'")
    try:
        with warnings.catch_warnings():  # torch's note that TorchScript is deprecated is not the user's business here
            warnings.simplefilter("ignore", FutureWarning)
            return torch.jit.load(str(p), map_location="cpu")
    except Exception as exc:
        reason = " ".join(str(exc).split()).split(". ")[0][:100]
        raise NeuralgaeError(
            f"'{path}' is not a TorchScript file ({type(exc).__name__}: {reason}); save one with "
            "torch.jit.save(torch.jit.script(model), FILE), or give a state_dict to a network of its architecture"
        ) from None


def check_torchscript(*, weights: Path, input_size: int = 224, normalise: bool = True) -> None:
    """Before any work: the file is there and the input size is sensible."""
    check_weights_file(weights, what=f"network '{NAME}'")
    if not 16 <= input_size <= 4096:
        raise NeuralgaeError(f"the input_size of network '{NAME}' must be from 16 to 4096 px; got {input_size}")


def layer_name(child: str) -> str:
    """A child's name as a layer name: an ``nn.Sequential``'s ``0``, ``1`` ... become ``layer0``, ``layer1`` ..."""
    return f"layer{child}" if child[:1].isdigit() else child


class TorchScriptNetwork(nn.Module):
    """A TorchScript classifier behind the engine's network contract (see the module's documentation)."""

    def __init__(self, module: torch.jit.ScriptModule, *, path: Path, input_size: int = 224, normalise: bool = True):
        super().__init__()
        self.model = module.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.name = NAME
        self.input_size = int(input_size)
        self.weights_file = Path(path)
        self.spatial_logits = False
        self.normalise = normalise
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self._children = [(layer_name(name), child) for name, child in self.model.named_children()]
        self.layers, self.num_classes = self._probe()
        index = {name: i for i, (name, _) in enumerate(self._children)}
        self._child_index = {info.name: index.get(info.name, len(self._children) - 1) for info in self.layers}

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x)
        return (x - self.mean) / self.std if self.normalise else x

    def _probe(self) -> tuple[tuple[LayerInfo, ...], int]:
        side = self.input_size
        x = self.prepare(torch.rand(1, 3, side, side, generator=torch.Generator().manual_seed(0)))
        with torch.no_grad():
            try:
                logits = self.model(x)
            except Exception as exc:
                raise NeuralgaeError(
                    f"the TorchScript module in '{self.weights_file}' fails on a {side}x{side} image "
                    f"({type(exc).__name__}: {' '.join(str(exc).split())[:100]}); it must map images (N, 3, H, W) to logits"
                ) from None
            if not torch.is_tensor(logits) or logits.ndim != 2:
                raise NeuralgaeError(
                    f"the TorchScript module in '{self.weights_file}' returns "
                    f"{tuple(logits.shape) if torch.is_tensor(logits) else type(logits).__name__}, not logits (N, classes)"
                )
            layers: list[LayerInfo] = []
            y = x
            try:
                for name, child in self._children:
                    y = child(y)
                    if torch.is_tensor(y) and y.ndim == 4:
                        stride = 2 ** max(0, round(torch.log2(torch.tensor(side / y.shape[-1])).item()))
                        layers.append(LayerInfo(name, int(y.shape[1]), stride, f"{child.original_name}"))
                sequential = bool(self._children) and torch.is_tensor(y) and y.shape == logits.shape and torch.allclose(y, logits, atol=1e-4, rtol=1e-3)
            except Exception:
                sequential = False
        if not sequential:
            layers = []
            self._children = []
        note = "" if sequential else ", the only layer TorchScript lets nd reach in this module"
        layers.append(LayerInfo(LOGITS, int(logits.shape[1]), side, f"class logits of the whole image (a 1x1 map{note})"))
        return tuple(layers), int(logits.shape[1])

    def features(self, x: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
        """Activations of ``layers``: the children run in order up to the deepest one; ``logits`` from the whole module."""
        if not layers:
            return {}
        wanted = requested_layers(self, layers)
        x = self.prepare(x)
        if LOGITS in wanted and not self._children:
            return {LOGITS: self.model(x).float()[:, :, None, None]}
        deepest = max(self._child_index[n] for n in wanted)
        out: dict[str, torch.Tensor] = {}
        y = x
        for i, (name, child) in enumerate(self._children):
            y = child(y)
            if name in wanted:
                out[name] = y.float()
            if i >= deepest:
                break
        if LOGITS in wanted:
            out[LOGITS] = y.float()[:, :, None, None]
        return {n: out[n] for n in wanted}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (N, num_classes) of images in [0, 1]."""
        return self.features(x, [LOGITS])[LOGITS].mean(dim=(2, 3))


def load_torchscript(*, weights: Path, input_size: int = 224, normalise: bool = True) -> TorchScriptNetwork:
    """The TorchScript module in ``weights`` as a network."""
    check_torchscript(weights=weights, input_size=input_size, normalise=normalise)
    return TorchScriptNetwork(read_torchscript(weights), path=Path(weights), input_size=input_size, normalise=normalise)
