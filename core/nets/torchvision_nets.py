"""torchvision's classification architectures as networks: ``torchvision:googlenet``, ``torchvision:vgg16`` ...

torchvision is the optional extra ``neuralgae[zoo]``. Every model that
``torchvision.models.list_models(module=torchvision.models)`` lists can be
named; its weights come from a file the user has, never from the internet:

- ``weights=FILE`` (``--weights FILE``): a state_dict, or a checkpoint dict
  holding one (:func:`neuralgae.core.nets.weights.read_state_dict`);
  torchvision's own files (``googlenet-1378be20.pth``) are recognised by
  name, so their input size and normalisation are the ones they were
  trained with;
- else torchvision's file in the torch hub cache
  (``torch.hub.get_dir()/checkpoints``), where ``torchvision.models.X(weights=...)``
  leaves it on a machine with internet; the default weights first, then the
  other published ones.

The architecture is built on the meta device (no memory, no random
initialisation) and the weights are assigned to it. googlenet and
inception_v3 are built as torchvision's weights expect them
(``transform_input=True``: the ImageNet-normalised input is turned into the
[-1, 1] scaling the ported TensorFlow weights were trained on), and their
auxiliary heads, unused at inference, are dropped.

Layer names (:func:`layer_plan`): googlenet and inception_v3 keep their
classic names (``inception4c``, ``Mixed_6b``), VGG and AlexNet take Caffe's
(``conv4_3``, ``pool5``; AlexNet ``conv1`` ... ``conv5``), ResNets their
stages and blocks (``stem``, ``layer3.1``, ``layer3``), Vision Transformers
their encoder layers as maps; every other model its module paths
(``features.6``). ``logits`` is a spatial map where the head is linear right
after global pooling (:func:`spatial_head`), else the true logits as a 1x1
map.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..host.errors import NeuralgaeError, did_you_mean, option
from .module_network import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    ModuleNetwork,
    default_layers,
    nhwc_to_nchw,
    per_position,
    tokens_to_map,
)
from .weights import read_state_dict, with_metadata

FAMILY = "torchvision"
INSTALL_HINT = "pip install neuralgae[zoo]"
TRANSFORM_INPUT = ("googlenet", "inception_v3")
"""Architectures whose torchvision weights were ported from TensorFlow and expect ``transform_input=True``."""
AUX_MODULES = ("aux1", "aux2", "AuxLogits")
SHOWCASE = ("googlenet", "inception_v3", "vgg16", "vgg19", "resnet50", "mobilenet_v3_large", "convnext_tiny")
"""The architectures the documentation and tests cover one by one."""


def require_torchvision():
    """The torchvision module, or one line saying how to install it."""
    try:
        import torchvision
    except ImportError:
        raise NeuralgaeError(f"the torchvision networks need torchvision, which is not installed; run `{INSTALL_HINT}`") from None
    return torchvision


@lru_cache(maxsize=1)
def architectures() -> tuple[str, ...]:
    """Every torchvision classification architecture, by name (``resnet50``, ``vit_b_16`` ...)."""
    tv = require_torchvision()
    return tuple(sorted(tv.models.list_models(module=tv.models)))


def weight_entries(arch: str) -> list:
    """torchvision's published weights for ``arch`` (``Weights`` enum members), the default first."""
    tv = require_torchvision()
    try:
        enum = tv.models.get_model_weights(arch)
    except (ValueError, KeyError):
        return []
    entries = list(enum)
    default = getattr(enum, "DEFAULT", None)
    return sorted(entries, key=lambda e: e is not default)


def file_name(entry) -> str:
    """The file name torchvision saves ``entry``'s weights under (the last part of its URL)."""
    return entry.url.rsplit("/", 1)[-1]


def entry_label(entry) -> str:
    """``GoogLeNet_Weights.IMAGENET1K_V1``: what ``torchvision.models.get_weight`` takes."""
    return f"{type(entry).__name__}.{entry.name}"


def hub_checkpoints() -> Path:
    """Where torchvision keeps downloaded weights: ``torch.hub.get_dir()/checkpoints``."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def cached_weights(arch: str) -> tuple[Path, object] | None:
    """torchvision's weights file for ``arch`` in the hub cache (the default weights first) and its entry, if one is there."""
    folder = hub_checkpoints()
    for entry in weight_entries(arch):
        path = folder / file_name(entry)
        if path.is_file():
            return path, entry
    return None


def missing_weights_message(arch: str) -> str:
    """One line: the network has no weights, what file it needs and where torchvision would keep it."""
    entries = weight_entries(arch)
    where = hub_checkpoints()
    if not entries:
        return f"network '{FAMILY}:{arch}' needs weights: give {option('weights')}FILE (a state_dict of {arch})"
    entry = entries[0]
    return (
        f"network '{FAMILY}:{arch}' needs weights, and none are downloaded: give {option('weights')}FILE, or put torchvision's "
        f"{file_name(entry)} into {where} (on a machine with internet, "
        f"torchvision.models.get_weight('{entry_label(entry)}').url is its address)"
    )


def entry_for_file(arch: str, path: Path):
    """torchvision's weights entry for ``arch`` that ``path`` is the file of (by file name), or None."""
    name = Path(path).name
    return next((e for e in weight_entries(arch) if file_name(e) == name), None)


@lru_cache(maxsize=1)
def _file_owners() -> dict[str, str]:
    """torchvision's weight file names -> their architecture (to name the owner of a wrong file)."""
    owners = {}
    for arch in architectures():
        for entry in weight_entries(arch):
            owners[file_name(entry)] = arch
    return owners


def check_torchvision(arch: str, *, weights: Path | None = None) -> None:
    """Before any work: torchvision is there, ``arch`` is one of its models, and weights can be found."""
    require_torchvision()
    if arch not in architectures():
        raise NeuralgaeError(f"torchvision has no classification model '{arch}'{did_you_mean(arch, architectures())}")
    if weights is None and cached_weights(arch) is None:
        raise NeuralgaeError(missing_weights_message(arch))


# -- building ---------------------------------------------------------------------


def _build(arch: str, num_classes: int, *, meta: bool) -> nn.Module:
    tv = require_torchvision()
    kwargs: dict = {"weights": None, "num_classes": num_classes}
    if arch in TRANSFORM_INPUT:
        kwargs.update(aux_logits=True, init_weights=False, transform_input=True)
    if not meta:
        return tv.models.get_model(arch, **kwargs)
    with torch.device("meta"):
        return tv.models.get_model(arch, **kwargs)


def build_architecture(arch: str, num_classes: int = 1000) -> tuple[nn.Module, bool]:
    """``arch`` with ``num_classes`` outputs and no weights: on the meta device where it can be built there (True), else on the CPU."""
    try:
        return _build(arch, num_classes, meta=True), True
    except (NotImplementedError, RuntimeError):  # an architecture that computes with tensors while it is built
        return _build(arch, num_classes, meta=False), False


def final_classifier(model: nn.Module, num_classes: int = 1000) -> str | None:
    """The module path of the last linear (or 1x1 convolution) layer giving ``num_classes`` outputs: the classifier."""
    found = None
    for path, module in model.named_modules():
        if path.split(".")[0] in AUX_MODULES:
            continue
        if isinstance(module, nn.Linear) and module.out_features == num_classes:
            found = path
        elif isinstance(module, nn.Conv2d) and module.out_channels == num_classes and module.kernel_size == (1, 1):
            found = path
    return found


def _mismatch_line(exc: RuntimeError) -> str:
    for line in str(exc).splitlines():
        if "size mismatch" in line:
            return " ".join(line.split())[:160]
    return " ".join(str(exc).split())[:160]


def load_weights(model: nn.Module, sd: dict, *, arch: str, origin: Path, assign: bool) -> None:
    """``sd`` into ``model``, or one line saying why it does not fit (another architecture's file, another model)."""
    owner = _file_owners().get(Path(origin).name)
    hint = f"; it is torchvision's file for {owner}" if owner and owner != arch else ""
    fix = f"give the weights of {arch}"
    entries = weight_entries(arch)
    if entries:
        fix += f" (torchvision's file is {file_name(entries[0])})"
    try:
        missing, unexpected = model.load_state_dict(sd, strict=False, assign=assign)
    except (RuntimeError, ValueError, KeyError) as exc:
        raise NeuralgaeError(f"the weights in '{origin}' do not fit {FAMILY}:{arch} ({_mismatch_line(exc)}){hint}; {fix}") from None
    missing = [k for k in missing if k.split(".")[0] not in AUX_MODULES]
    unexpected = [k for k in unexpected if k.split(".")[0] not in AUX_MODULES]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} of its tensors are missing, e.g. '{missing[0]}'")
        if unexpected:
            parts.append(f"{len(unexpected)} are not {arch}'s, e.g. '{unexpected[0]}'")
        raise NeuralgaeError(f"the weights in '{origin}' do not fit {FAMILY}:{arch}: {' and '.join(parts)}{hint}; {fix}")


def drop_aux_heads(model: nn.Module) -> None:
    """googlenet's and inception_v3's auxiliary classifiers: trained with, never used to classify."""
    if hasattr(model, "aux_logits"):
        model.aux_logits = False
    for name in AUX_MODULES:
        if getattr(model, name, None) is not None:
            setattr(model, name, None)


def _has_meta(model: nn.Module) -> bool:
    return any(t.is_meta for t in list(model.parameters()) + list(model.buffers()))


def model_with_weights(arch: str, sd: dict, origin: Path) -> nn.Module:
    """``arch`` built for the classes ``sd`` has, with ``sd``'s tensors as its weights."""
    sd = with_metadata({k: v.float() if v.is_floating_point() else v for k, v in sd.items()}, getattr(sd, "_metadata", None))
    model, meta = build_architecture(arch)
    head = final_classifier(model)
    classes = sd.get(f"{head}.weight") if head else None
    if classes is not None and classes.shape[0] != 1000:
        model, meta = build_architecture(arch, int(classes.shape[0]))
    load_weights(model, sd, arch=arch, origin=origin, assign=meta)
    drop_aux_heads(model)
    if meta and _has_meta(model):  # a buffer the file does not hold: build it for real and copy the weights in
        model = _build(arch, int(classes.shape[0]) if classes is not None else 1000, meta=False)
        load_weights(model, sd, arch=arch, origin=origin, assign=False)
        drop_aux_heads(model)
    return model


# -- layers and heads ------------------------------------------------------------------


def caffe_conv_names(features: nn.Sequential, prefix: str = "features", *, numbered: str = "block") -> list[tuple[str, str, None, str]]:
    """Caffe's names for a VGG/AlexNet ``features`` stack: each convolution's ReLU output, each pooling's output.

    ``numbered="block"`` gives VGG's ``conv{block}_{i}`` and ``pool{block}``;
    ``"global"`` AlexNet's ``conv1`` ... ``conv5`` and a pool named after the
    convolution before it (``pool1``, ``pool2``, ``pool5``).
    """
    out = []
    block, within, convs = 1, 0, 0
    pending = None
    for index, module in features.named_children():
        if isinstance(module, nn.Conv2d):
            within += 1
            convs += 1
            pending = f"conv{block}_{within}" if numbered == "block" else f"conv{convs}"
            shape = f"{module.in_channels}->{module.out_channels}, {module.kernel_size[0]}x{module.kernel_size[1]}"
        elif isinstance(module, nn.ReLU) and pending:
            out.append((pending, f"{prefix}.{index}", None, f"convolution {shape} and ReLU"))
            pending = None
        elif isinstance(module, nn.MaxPool2d):
            name = f"pool{block}" if numbered == "block" else f"pool{convs}"
            out.append((name, f"{prefix}.{index}", None, "max pooling"))
            block, within = block + 1, 0
    return out


def layer_plan(arch: str, model: nn.Module) -> list[tuple]:
    """(name, module path[, convert, description]) of the layers ``arch`` offers, shallow to deep."""
    tv = require_torchvision()
    M = tv.models
    if isinstance(model, M.VGG):
        return caffe_conv_names(model.features)
    if isinstance(model, M.AlexNet):
        return caffe_conv_names(model.features, numbered="global")
    if isinstance(model, M.ResNet):
        out = [("stem", "maxpool", None, "7x7 stride-2 convolution and max pooling")]
        for stage in ("layer1", "layer2", "layer3", "layer4"):
            blocks = list(getattr(model, stage).named_children())
            kind = type(blocks[-1][1]).__name__
            out += [(f"{stage}.{i}", f"{stage}.{i}", None, f"{kind} block {i} of {stage}") for i, _ in blocks[:-1]]
            out.append((stage, stage, None, f"output of {stage} ({len(blocks)} {kind} blocks)"))
        return out
    if isinstance(model, M.VisionTransformer):
        layers = [name for name, _ in model.encoder.layers.named_children()]
        out = [("conv_proj", "conv_proj", None, f"{model.patch_size}x{model.patch_size} patch embedding")]
        out += [(name, f"encoder.layers.{name}", tokens_to_map, "transformer encoder layer (patch tokens as a map)") for name in layers]
        out.append(("encoder", "encoder", tokens_to_map, "the encoder's output after its last norm (patch tokens as a map)"))
        return out
    if isinstance(model, M.SwinTransformer):
        return [(name, path, nhwc_to_nchw, "") for name, path in default_layers(model)]
    return default_layers(model)


def spatial_head(model: nn.Module) -> tuple[str, Callable] | None:
    """(trunk, classifier per position) where the model pools its trunk's map and classifies it linearly, else None.

    Exact: the mean over positions of a linear map of the features is the
    linear map of their mean. Not offered where something nonlinear or
    position-dependent comes between the pooling and the logits.
    """
    tv = require_torchvision()
    M = tv.models

    def last_linear(head) -> nn.Linear | None:
        """The Linear of a head that is only dropout and one Linear."""
        if isinstance(head, nn.Linear):
            return head
        if isinstance(head, nn.Sequential):
            parts = [m for m in head if not isinstance(m, (nn.Dropout, nn.Flatten, nn.Identity))]
            if len(parts) == 1 and isinstance(parts[0], nn.Linear):
                return parts[0]
        return None

    if isinstance(model, M.GoogLeNet):
        return "inception5b", per_position(model.fc)
    if isinstance(model, M.Inception3):
        return "Mixed_7c", per_position(model.fc)
    if isinstance(model, M.ResNet):
        return "layer4", per_position(model.fc)
    if isinstance(model, M.RegNet):
        return "trunk_output", per_position(model.fc)
    if isinstance(model, M.ShuffleNetV2):
        return "conv5", per_position(model.fc)
    if isinstance(model, M.DenseNet):
        linear = model.classifier

        def densenet(x):  # DenseNet's forward applies a ReLU to its features before pooling
            return per_position(linear)(F.relu(x))

        return "features", densenet
    if isinstance(model, M.SqueezeNet):
        conv, relu = model.classifier[1], model.classifier[2]
        return "features", lambda x: relu(conv(x))  # its head is convolutional: the map is pooled last
    if isinstance(model, M.SwinTransformer):
        return "permute", per_position(model.head)  # LayerNorm per position, then pooling, then the linear head
    for cls, trunk in ((M.MobileNetV2, "features"), (M.EfficientNet, "features"), (M.MNASNet, "layers")):
        if isinstance(model, cls):
            linear = last_linear(model.classifier)
            return (trunk, per_position(linear)) if linear is not None else None
    return None


def logits_note(model: nn.Module) -> str:
    """Why a model's ``logits`` is a 1x1 map (for ``nd layers``)."""
    tv = require_torchvision()
    M = tv.models
    if isinstance(model, (M.VGG, M.AlexNet)):
        return "its fully connected head needs the fixed-size map of adaptive pooling"
    if isinstance(model, M.MobileNetV3):
        return "its head has two linear layers with hardswish between them after pooling"
    if isinstance(model, M.ConvNeXt):
        return "its head normalises the pooled features before the linear layer"
    if isinstance(model, M.VisionTransformer):
        return "it classifies its class token"
    return "its head is not one linear layer after global pooling"


def fixed_side(model: nn.Module, input_size: int) -> int | None:
    """The one input size a model takes (Vision Transformers, MaxViT), or None where any size works."""
    tv = require_torchvision()
    if isinstance(model, tv.models.VisionTransformer):
        return int(model.image_size)
    if isinstance(model, tv.models.MaxVit):
        return input_size
    return None


def load_torchvision(arch: str, *, weights: Path | None = None) -> ModuleNetwork:
    """The network ``torchvision:ARCH`` with the weights in ``weights``, else torchvision's file in the hub cache."""
    check_torchvision(arch, weights=weights)
    if weights is None:
        path, entry = cached_weights(arch)
    else:
        path, entry = Path(weights), entry_for_file(arch, Path(weights))
    sd = read_state_dict(path, what=f"network '{FAMILY}:{arch}'")
    model = model_with_weights(arch, sd, path)
    default = (weight_entries(arch) or [None])[0]
    meta = entry if entry is not None else default
    keywords = dict(getattr(getattr(meta, "transforms", None), "keywords", {}) or {})
    input_size = int(keywords.get("crop_size", 299 if arch == "inception_v3" else 224))
    head = spatial_head(model)
    categories = meta.meta.get("categories") if meta is not None else None
    classifier_known = not (entry is not None and categories is None)  # e.g. vgg16's features-only weights
    min_size = (meta.meta.get("min_size") if meta is not None else None) or (1, 1)
    return ModuleNetwork(
        model,
        name=f"{FAMILY}:{arch}",
        input_size=input_size,
        mean=keywords.get("mean", IMAGENET_MEAN),
        std=keywords.get("std", IMAGENET_STD),
        layers=layer_plan(arch, model),
        trunk=head[0] if head and classifier_known else None,
        classifier=head[1] if head and classifier_known else None,
        logits=classifier_known,
        logits_note=logits_note(model) if head is None else "",
        min_side=max(min_size),
        fixed_side=fixed_side(model, input_size),
        class_names=categories,
        weights_file=path,
    )


__all__ = ["load_torchvision", "check_torchvision", "architectures", "missing_weights_message", "hub_checkpoints"]
