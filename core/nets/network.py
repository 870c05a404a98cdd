"""The contract between the engine and a network.

A network maps a batch of RGB images in [0, 1] to named feature maps. The
engine only ever asks for the layers an objective needs, and a network must
stop its forward pass at the deepest of them: dreaming ``block5`` must not pay
for the head. Networks are provided by plugins through the
``register_networks`` hook; the default one is EfficientNet-Lite0.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch

from .device import device_label
from ..host.errors import NeuralgaeError, did_you_mean
from ..host.limits import MAX_CHANNEL, MAX_LAYER_TEXT, MAX_LAYERS


@dataclass(frozen=True)
class LayerInfo:
    """A layer a user can target: its name, channel count and stride relative to the input."""

    name: str
    channels: int
    stride: int
    description: str = ""


@runtime_checkable
class Network(Protocol):
    """What the engine needs from a network.

    ``layers`` lists the targetable layers from shallow to deep. ``features``
    takes a float tensor (N, 3, H, W) in [0, 1] and returns the requested
    layers' activations, computing nothing deeper than the deepest of them.
    A layer named ``logits`` (when present) is a spatial map of class logits
    (N, num_classes, h, w) whose spatial mean is the classifier's output.

    Optional attributes the engine reads where a network has them:
    ``spatial_logits`` (False when ``logits`` is the whole image's, a 1x1
    map: aiming classes at regions then needs tiles), ``weights_file`` or
    ``weights_sha256`` (what records name as its weights, see
    :func:`weights_sha256`) and ``class_names`` (one per class, where they
    are not ImageNet-1k's).
    """

    name: str
    input_size: int
    num_classes: int
    layers: Sequence[LayerInfo]

    def features(self, x: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]: ...


def network_device(net) -> torch.device:
    """Where the network runs: where its weights live, else its placement's device, else the CPU."""
    params = getattr(net, "parameters", None)
    if callable(params):
        for p in params():
            return p.device
    placement = getattr(net, "placement", None)
    return placement.device if placement is not None else torch.device("cpu")


def network_precision(net) -> str:
    """The precision the network runs in ('fp32' unless it was placed otherwise)."""
    placement = getattr(net, "placement", None)
    return placement.precision if placement is not None else "fp32"


def placement_record(net) -> dict:
    """``{"device": ..., "precision": ...}`` of a network: what manifests and PNG metadata record."""
    placement = getattr(net, "placement", None)
    if placement is not None and hasattr(placement, "as_dict"):
        return placement.as_dict()
    return {"device": device_label(network_device(net)), "precision": "fp32"}


def weights_sha256(net) -> str | None:
    """The short sha256 of the weights ``net`` runs with, worked out once per network.

    The network's own ``weights_sha256`` where it says, else the hash of its
    ``weights_file`` (the file it was loaded from), else of its tensors
    (``state_dict``); an ensemble's is its members' joined with ``+``.
    None for a network with none of these.
    """
    cached = getattr(net, "_nd_weights_sha256", None)
    if cached is not None:
        return cached
    from .weights import file_sha256, tensors_sha256

    members = getattr(net, "members", None)
    if members:
        value = "+".join(weights_sha256(m) or "unknown" for m in members)
    elif isinstance(getattr(net, "weights_sha256", None), str):
        value = net.weights_sha256
    elif getattr(net, "weights_file", None):
        value = file_sha256(net.weights_file)
    elif callable(getattr(net, "state_dict", None)):
        value = tensors_sha256(net.state_dict())
    else:
        return None
    try:
        object.__setattr__(net, "_nd_weights_sha256", value)
    except (AttributeError, TypeError):
        pass
    return value


def network_record(net, name: str | None = None) -> dict:
    """``{"network": ..., "weights_sha256": ...}``: which network and which weights made a picture (manifests, PNG metadata)."""
    return {"network": name or getattr(net, "name", None), "weights_sha256": weights_sha256(net)}


def has_spatial_logits(net) -> bool:
    """Whether the network's ``logits`` is a map over the image (False: one value per class, as a 1x1 map)."""
    members = getattr(net, "members", None)
    if members:
        return all(has_spatial_logits(m) for m in members)
    return bool(getattr(net, "spatial_logits", True))


FP16_LOSS_SCALE = 1024.0
"""Objectives of a network in fp16 are multiplied by this before the backward
pass: gradients as small as 1e-6 (seen in early layers) would flush to zero in
fp16, and a dream's largest ones stay far below fp16's limit of 65504."""


def loss_scale(net) -> float:
    """The factor an objective is multiplied by before the backward pass (1 but in fp16)."""
    return FP16_LOSS_SCALE if network_precision(net) == "fp16" else 1.0


def input_gradient(net, loss: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Gradient of ``loss`` with respect to ``x``, with the :func:`loss_scale` of ``net`` applied and undone.

    In fp16 a gradient that overflows anyway is zeroed where it did, not
    spread as inf or NaN over the image.
    """
    scale = loss_scale(net)
    (grad,) = torch.autograd.grad(loss * scale if scale != 1 else loss, x)
    if scale != 1:
        grad = torch.nan_to_num_(grad.div_(scale), nan=0.0, posinf=0.0, neginf=0.0)
    return grad


def layer_names(net: Network) -> list[str]:
    return [layer.name for layer in net.layers]


def check_layer(net: Network, name: str) -> LayerInfo:
    """Return the :class:`LayerInfo` for ``name`` or raise a helpful error."""
    for layer in net.layers:
        if layer.name == name:
            return layer
    names = layer_names(net)
    raise NeuralgaeError(
        f"network '{net.name}' has no layer '{name}'{did_you_mean(name, names)} "
        f"(layers: {names[0]} ... {names[-1]}; `nd layers` lists them)"
    )


def requested_layers(net: Network, layers: Sequence[str]) -> list[str]:
    """``layers`` once each, in their order, every one checked against ``net`` (what a ``features`` call starts with)."""
    wanted = list(dict.fromkeys(layers))
    for name in wanted:
        check_layer(net, name)
    return wanted


def check_input(x: torch.Tensor) -> torch.Tensor:
    """``x`` if it is a batch of RGB images (N, 3, H, W), else one clear error."""
    if x.ndim != 4 or x.shape[1] != 3:
        raise NeuralgaeError(f"network input must be (N, 3, H, W); got {tuple(x.shape)}")
    return x


@dataclass(frozen=True)
class LayerSelection:
    """A layer, an optional subset of its channels, and a weight.

    Written ``NAME[:CHANNELS][@WEIGHT]``: ``block10``, ``block10:0-15``,
    ``block8:3,7,40-47@0.5``.
    """

    layer: str
    channels: tuple[int, ...] | None = None
    weight: float = 1.0

    def __str__(self) -> str:
        s = self.layer
        if self.channels is not None:
            s += ":" + ",".join(map(str, self.channels))
        if self.weight != 1.0:
            s += f"@{self.weight:g}"
        return s


_SELECTION = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(?::\s*([\d,\s\-]+))?\s*(?:@\s*([-+0-9.eE]+))?\s*$")


def _channel(digits: str, text: str) -> int:
    """A channel number of layer ``text``, refused above :data:`MAX_CHANNEL` (before any range is expanded)."""
    channel = int(digits)
    if channel > MAX_CHANNEL:
        raise NeuralgaeError(f"channel {channel} in layer '{text}' is above {MAX_CHANNEL}; no layer has that many channels")
    return channel


def parse_layer_selection(text: str, net: Network | None = None) -> LayerSelection:
    """Parse one ``NAME[:CHANNELS][@WEIGHT]`` item, checking it against ``net`` if given."""
    if len(text) > MAX_LAYER_TEXT:
        raise NeuralgaeError(f"layer '{text[:40]}...' is {len(text):,} characters long; the limit is {MAX_LAYER_TEXT:,}")
    m = _SELECTION.match(text)
    if not m:
        raise NeuralgaeError(
            f"cannot read layer '{text}'; write NAME, NAME:CHANNELS or NAME:CHANNELS@WEIGHT, e.g. 'block10:0-15@0.5'"
        )
    name, chans, weight = m.groups()
    channels = None
    if chans:
        channels = []
        for part in chans.split(","):
            part = part.strip()
            if not part:
                continue
            if "-" in part:
                lo, _, hi = part.partition("-")
                if not (lo.strip().isdigit() and hi.strip().isdigit()) or int(lo) > int(hi):
                    raise NeuralgaeError(f"bad channel range '{part}' in layer '{text}'; write e.g. '0-15'")
                channels.extend(range(int(lo), _channel(hi, text) + 1))
            elif part.isdigit():
                channels.append(_channel(part, text))
            else:
                raise NeuralgaeError(f"bad channel '{part}' in layer '{text}'; channels are whole numbers")
        channels = tuple(dict.fromkeys(channels))
    try:
        w = float(weight) if weight is not None else 1.0
    except ValueError:
        raise NeuralgaeError(f"bad weight '{weight}' in layer '{text}'; write e.g. 'block10@0.5'") from None
    sel = LayerSelection(name, channels, w)
    if net is not None:
        info = check_layer(net, name)
        if channels:
            bad = [c for c in channels if c >= info.channels]
            if bad:
                raise NeuralgaeError(
                    f"layer '{name}' has {info.channels} channels (0-{info.channels - 1}); channel {bad[0]} does not exist"
                )
    return sel


def parse_layer_selections(text: str | Sequence[str], net: Network | None = None) -> list[LayerSelection]:
    """Parse a comma/space separated list (or a list) of layer selections.

    Commas inside a channel list bind to the preceding layer:
    ``"block8:1,2,3 block10"`` and ``["block8:1,2,3", "block10"]`` both work.
    """
    size = len(text) if isinstance(text, str) else sum(len(str(i)) for i in text)
    if size > MAX_LAYER_TEXT:
        raise NeuralgaeError(f"the layer list is {size:,} characters long; the limit is {MAX_LAYER_TEXT:,} (name fewer layers)")
    if isinstance(text, str):
        items = re.findall(r"[A-Za-z_][\w.]*(?::[\d,\s\-]*[\d])?(?:\s*@\s*[-+0-9.eE]+)?", text)
        leftovers = re.sub(r"[A-Za-z_][\w.]*(?::[\d,\s\-]*[\d])?(?:\s*@\s*[-+0-9.eE]+)?", "", text)
        if leftovers.strip(" ,;"):
            raise NeuralgaeError(
                f"cannot read layers '{text}'; write e.g. 'block10' or 'block8:0-15@0.5, block10'"
            )
    else:
        items = list(text)
    if len(items) > MAX_LAYERS:
        raise NeuralgaeError(f"the layer list names {len(items):,} layers; the limit is {MAX_LAYERS} (name fewer layers)")
    sels = [parse_layer_selection(i, net) for i in items if str(i).strip()]
    if not sels:
        raise NeuralgaeError("no layers given; name at least one, e.g. 'block10' (`nd layers` lists them)")
    return sels
