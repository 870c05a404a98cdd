"""Any ``torch.nn.Module`` classifier as a network: named layers from its module tree, a pass that stops early.

:class:`ModuleNetwork` wraps a module that maps normalised images
(N, 3, H, W) to class logits (N, C), as torchvision's classifiers and most
home-made ones do, behind the engine's :class:`~neuralgae.core.nets.network.Network`
contract:

- *Layers* are modules of the tree, by name: by default the top-level
  children and the children of top-level containers (``features.3``,
  ``layer2.1``), leaving out activations, norms, pooling, dropout and the
  head. One forward pass on meta tensors (shapes only, no arithmetic) at
  the input size measures each layer's channels and stride, and the order
  the layers finish in, which is what "deepest" means.
- ``features(x, layers)`` lets forward hooks keep the requested layers'
  outputs; the hook of the deepest one raises an exception that ends the
  pass, so nothing deeper runs (dreaming a middle layer never pays for the
  head). The hooks are registered once and read a per-thread request, so
  threads may share the network.
- ``logits``: with a *spatial head* (``trunk``, the module whose map the model
  pools, and ``classifier``, applied at every position of it), a map of
  class logits whose spatial mean is the model's output: exact when the model
  pools right after the trunk and its head is linear. Otherwise ``logits`` is
  the model's own output as a 1x1 map (``spatial_logits`` is then False).

Inputs to ``features`` are RGB in [0, 1]; the network subtracts ``mean`` and
divides by ``std`` itself. Inputs smaller than ``min_side`` are enlarged to
it; a model that takes one size only (``fixed_side``) gets every input
resized to it.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import chain

import torch
import torch.nn.functional as F
from torch import nn

from ..host.errors import NeuralgaeError
from .network import LayerInfo, check_input, requested_layers

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
LOGITS = "logits"

TRIVIAL_MODULES: tuple[type, ...] = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Mish, nn.Hardswish, nn.Hardsigmoid,
    nn.Sigmoid, nn.Tanh, nn.Softmax,
    nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm,
    nn.modules.dropout._DropoutNd, nn.Flatten, nn.Identity, nn.Linear,
    nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AvgPoolNd,
    nn.modules.pooling._AdaptiveAvgPoolNd, nn.modules.pooling._AdaptiveMaxPoolNd,
)
"""Modules not offered as layers: they only reshape or rescale what the layer before them made."""

HEAD_NAMES = ("fc", "classifier", "head", "heads", "aux1", "aux2", "AuxLogits")
"""Top-level children that are heads (or auxiliary heads), not layers to dream on."""


@dataclass(frozen=True)
class LayerPlan:
    """Where a layer comes from: the module ``path`` whose output it is ("" for the whole model) and how to read it.

    ``convert`` turns the module's output into an (N, C, h, w) map: e.g.
    channels-last or token outputs, or, for the ``logits`` of a spatial
    head, the classifier applied at every position of the trunk's map.
    """

    name: str
    path: str
    convert: Callable[[torch.Tensor], torch.Tensor] | None = None
    description: str = ""

    def read(self, output) -> torch.Tensor:
        return self.convert(output) if self.convert is not None else output


def _is_trivial(module: nn.Module) -> bool:
    return isinstance(module, TRIVIAL_MODULES) or type(module).__name__ == "Permute"


def default_layers(model: nn.Module) -> list[tuple[str, str]]:
    """(name, module path) of the layers worth targeting, named by their paths.

    Every top-level child but the head, and for a top-level container
    (``nn.Sequential``, ``nn.ModuleList``) its children instead; activations,
    norms, pooling and dropout are left out.
    """
    out = []
    for name, child in model.named_children():
        if child is None or name in HEAD_NAMES or _is_trivial(child):
            continue
        if isinstance(child, (nn.Sequential, nn.ModuleList)):
            out += [(f"{name}.{sub}", f"{name}.{sub}") for sub, m in child.named_children() if not _is_trivial(m)]
        else:
            out.append((name, name))
    return out


def per_position(linear: nn.Linear) -> Callable[[torch.Tensor], torch.Tensor]:
    """A linear layer applied at every position of a map (N, C, h, w): the 1x1 convolution with its weights."""

    def apply(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, linear.weight[:, :, None, None], linear.bias)

    return apply


def nhwc_to_nchw(x: torch.Tensor) -> torch.Tensor:
    """A channels-last map (N, H, W, C), as Swin's stages give, as (N, C, H, W)."""
    return x.permute(0, 3, 1, 2)


def tokens_to_map(x: torch.Tensor) -> torch.Tensor:
    """A Vision Transformer's tokens (N, 1 + h*w, C), class token first, as the map (N, C, h, w) of the patch tokens."""
    patches = x[:, 1:]
    side = math.isqrt(patches.shape[1])
    if side * side != patches.shape[1]:
        raise NeuralgaeError(f"cannot lay {patches.shape[1]} patch tokens out as a square map")
    return patches.transpose(1, 2).reshape(x.shape[0], x.shape[2], side, side)


class _Stop(Exception):
    """Raised by the hook of the deepest requested layer: the rest of the forward pass is not needed."""


class _Request:
    """What one ``features`` call wants from the hooks: layers by module path, where to stop, and the outputs."""

    def __init__(self, capture: dict[str, list[LayerPlan]], stop: str | None):
        self.capture = capture
        self.stop = stop
        self.out: dict[str, torch.Tensor] = {}


def _logits_of(output) -> torch.Tensor:
    """A model's class logits from what its forward returned (a tensor, or a tuple/namedtuple starting with them)."""
    if isinstance(output, (tuple, list)):
        output = output[0]
    if not torch.is_tensor(output) or output.ndim != 2:
        shape = tuple(output.shape) if torch.is_tensor(output) else type(output).__name__
        raise NeuralgaeError(f"the model returned {shape}, not class logits (N, classes)")
    return output


class ModuleNetwork(nn.Module):
    """A classifier module behind the engine's network contract (see the module's documentation).

    ``layers`` lists (name, module path) or (name, module path, convert)
    entries (default: :func:`default_layers`); ``trunk`` and ``classifier``
    give a spatial head (``classifier`` an ``nn.Linear``, or a function from
    the trunk's map to a logit map); ``logits_note`` says, for ``nd
    layers``, why a model without one has a 1x1 ``logits``.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        name: str,
        input_size: int = 224,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        layers: Sequence[tuple] | None = None,
        trunk: str | None = None,
        classifier: nn.Module | Callable | None = None,
        logits: bool = True,
        logits_note: str = "",
        min_side: int = 1,
        fixed_side: int | None = None,
        class_names: Sequence[str] | None = None,
        weights_file=None,
    ):
        super().__init__()
        self.model = model.eval().requires_grad_(False)
        for module in model.modules():  # an in-place activation would overwrite a layer kept for the objective
            if isinstance(getattr(module, "inplace", None), bool):
                module.inplace = False
        self.name = name
        self.input_size = int(input_size)
        self.min_side = max(1, int(min_side))
        self.fixed_side = fixed_side
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        if isinstance(classifier, nn.Linear):
            classifier = per_position(classifier)
        if (trunk is None) != (classifier is None):
            raise ValueError("a spatial head needs both trunk and classifier")
        self._head = classifier
        self.spatial_logits = bool(logits and trunk is not None)
        self.weights_file = weights_file
        plans = [LayerPlan(*entry) if len(entry) > 2 else LayerPlan(entry[0], entry[1]) for entry in (layers or default_layers(model))]
        self._modules_by_path = dict(model.named_modules())
        for plan in plans:
            if plan.path not in self._modules_by_path:
                raise ValueError(f"layer '{plan.name}' names module '{plan.path}', which the model does not have")
        if logits:
            plans.append(LayerPlan(LOGITS, trunk if trunk is not None else ""))
        self.layers, self._plans, self.num_classes = self._probe(plans, logits_note, trunk)
        self._order = {info.name: i for i, info in enumerate(self.layers)}
        self.class_names = tuple(class_names) if class_names is not None and len(class_names) == self.num_classes else None
        self._local = threading.local()
        for path in dict.fromkeys(p.path for p in self._plans.values() if p.path):
            self._modules_by_path[path].register_forward_hook(self._hook(path))

    # -- the probe -------------------------------------------------------------

    def _probe_outputs(self, paths: Sequence[str]) -> tuple[dict[str, tuple[int, object]], object, int]:
        """Each module's first output (shape-only where possible) and the order it finished in, the model's output and the side probed."""
        side = self.fixed_side or max(self.input_size, self.min_side)
        seen: dict[str, tuple[int, object]] = {}
        handles = []
        for path in dict.fromkeys(p for p in paths if p):
            def record(module, inputs, output, path=path):
                seen.setdefault(path, (len(seen), output))
            handles.append(self._modules_by_path[path].register_forward_hook(record))
        try:
            try:  # shapes only: the same pass on meta tensors costs nothing
                from torch.func import functional_call

                tensors = {k: torch.empty_like(v, device="meta") for k, v in chain(
                    self.model.named_parameters(remove_duplicate=False), self.model.named_buffers(remove_duplicate=False))}
                result = functional_call(self.model, tensors, (torch.empty(1, 3, side, side, device="meta"),))
            except Exception:  # an operation without a meta kernel: one real pass
                seen.clear()
                device = next(chain(self.model.parameters(), self.model.buffers()), torch.empty(0)).device
                with torch.no_grad():
                    result = self.model(torch.full((1, 3, side, side), 0.5, device=device))
        finally:
            for h in handles:
                h.remove()
        return seen, result, side

    def _probe(self, plans: list[LayerPlan], logits_note: str, trunk: str | None):
        seen, result, side = self._probe_outputs([p.path for p in plans])
        num_classes = _logits_of(result).shape[1]
        infos: list[tuple[int, LayerInfo]] = []
        kept: dict[str, LayerPlan] = {}
        for plan in plans:
            if plan.name == LOGITS:
                continue
            if plan.path not in seen:
                continue  # not run by the forward pass (an auxiliary head in eval mode)
            order, output = seen[plan.path]
            try:
                fmap = plan.read(output)
            except Exception:
                continue
            if not torch.is_tensor(fmap) or fmap.ndim != 4 or min(fmap.shape[-2:]) < 1:
                continue
            module = self._modules_by_path[plan.path]
            description = plan.description or type(module).__name__
            infos.append((order, LayerInfo(plan.name, int(fmap.shape[1]), _stride(side, fmap.shape[-1]), description)))
            kept[plan.name] = plan
        infos.sort(key=lambda item: item[0])
        layers = [info for _, info in infos]
        logits_plan = next((p for p in plans if p.name == LOGITS), None)
        if logits_plan is not None:
            if trunk is not None:
                fmap = seen[trunk][1] if trunk in seen else None
                if not torch.is_tensor(fmap) or fmap.ndim != 4:
                    raise ValueError(f"the trunk '{trunk}' of a spatial head must give an (N, C, h, w) map")
                stride = _stride(side, fmap.shape[-1])
                text = f"class logits at every position of {trunk} (the classifier per position; their mean is its output)"
                plan = LayerPlan(LOGITS, trunk, self._head, text)
            else:
                stride = side
                text = "class logits of the whole image (a 1x1 map" + (f": {logits_note}" if logits_note else "") + ")"
                plan = LayerPlan(LOGITS, "", None, text)
            layers.append(LayerInfo(LOGITS, num_classes, stride, text))
            kept[LOGITS] = plan
        if not layers:
            raise NeuralgaeError(f"network '{self.name}' has no layer that gives an (N, C, h, w) map, and no logits")
        return tuple(layers), kept, num_classes

    # -- the forward pass --------------------------------------------------------

    def _hook(self, path: str):
        def hook(module, inputs, output):
            request = getattr(self._local, "request", None)
            if request is None:
                return None
            for plan in request.capture.get(path, ()):
                request.out[plan.name] = plan.read(output)
            if path == request.stop:
                raise _Stop
            return None

        return hook

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """An RGB batch in [0, 1] as the model takes it: resized where the model needs a size, normalised."""
        h, w = check_input(x).shape[-2:]
        if self.fixed_side is not None and (h, w) != (self.fixed_side, self.fixed_side):
            size = (self.fixed_side, self.fixed_side)
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=min(h, w) > self.fixed_side)
        elif min(h, w) < self.min_side:
            k = self.min_side / min(h, w)
            x = F.interpolate(x, size=(max(self.min_side, round(h * k)), max(self.min_side, round(w * k))),
                              mode="bilinear", align_corners=False)
        return (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)

    def features(self, x: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
        """Activations of ``layers`` as (N, C, h, w) maps, the forward pass stopped after the deepest one."""
        if not layers:
            return {}
        wanted = requested_layers(self, layers)
        x = self.prepare(x)
        plans = [self._plans[n] for n in wanted]
        whole = any(p.path == "" for p in plans)  # the model's own logits: the pass runs to the end
        capture: dict[str, list[LayerPlan]] = {}
        for plan in plans:
            if plan.path:
                capture.setdefault(plan.path, []).append(plan)
        deepest = max(wanted, key=self._order.__getitem__)
        request = _Request(capture, None if whole else self._plans[deepest].path)
        self._local.request = request
        try:
            result = self.model(x)
        except _Stop:
            result = None
        except RuntimeError as exc:
            raise _size_error(self, x, exc) from exc
        finally:
            self._local.request = None
        out = request.out
        if whole:
            out[LOGITS] = _logits_of(result)[:, :, None, None]
        missing = [n for n in wanted if n not in out]
        if missing:
            raise NeuralgaeError(f"network '{self.name}' did not compute layer '{missing[0]}' on this input")
        return {n: out[n].float() for n in wanted}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (N, num_classes) of images in [0, 1]: the spatial mean of ``logits``."""
        return self.features(x, [LOGITS])[LOGITS].mean(dim=(2, 3))


def _stride(side: int, out_side: int) -> int:
    """The stride of a map of ``out_side`` made from an input of ``side``: the nearest power of two."""
    return 2 ** max(0, round(math.log2(side / max(1, out_side))))


def _size_error(net: ModuleNetwork, x: torch.Tensor, exc: RuntimeError) -> Exception:
    """A forward pass that failed on the input's size as one line; any other failure as it was."""
    text = str(exc)
    if any(s in text for s in ("too small", "Kernel size can't be greater", "output size", "Output size")):
        return NeuralgaeError(
            f"an image of {x.shape[-1]}x{x.shape[-2]} px is too small for network '{net.name}' ({text.splitlines()[0][:100]}); "
            "use a larger image or fewer octaves"
        )
    return exc


def module_network(model: nn.Module, *, name: str, input_size: int = 224, **options) -> ModuleNetwork:
    """Your own classifier as a network: ``model`` maps normalised images (N, 3, H, W) to logits (N, classes).

    Layers default to the module tree's (:func:`default_layers`); give
    ``trunk`` (a module path) and ``classifier`` (its ``nn.Linear``) when the
    model pools the trunk's map and classifies it linearly, so ``logits`` is
    a map (aiming classes at regions needs one). Other options as for
    :class:`ModuleNetwork` (``mean``, ``std``, ``layers``, ``class_names``).
    """
    return ModuleNetwork(model, name=name, input_size=input_size, **options)


__all__ = ["ModuleNetwork", "module_network", "default_layers", "per_position", "IMAGENET_MEAN", "IMAGENET_STD"]
