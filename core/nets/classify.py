"""Classifying images with a network: class probabilities and ranked names (the one implementation; the pipeline's sampler uses it too)."""

from __future__ import annotations

import numpy as np
import torch

from .classes import ImageNetClass, imagenet_classes
from ..host.errors import NeuralgaeError, option
from ..media.images import resize


def fit_to_input(image: np.ndarray, size: int) -> np.ndarray:
    """Resize so the shorter side is ``size``, then crop the centre square: the network's view."""
    h, w = image.shape[:2]
    k = size / min(h, w)
    nh, nw = max(size, round(h * k)), max(size, round(w * k))
    scaled = resize(image, nh, nw)
    top, left = (nh - size) // 2, (nw - size) // 2
    return scaled[top : top + size, left : left + size]


def class_probabilities(net, image: np.ndarray) -> np.ndarray:
    """Softmax probabilities (num_classes,) of an (H, W, 3) image in [0, 1], as the network sees it.

    The view is :func:`fit_to_input` (what ``nd classify`` and a chain's
    sampler both see); the logits are the spatial mean of the network's
    ``logits`` layer (the :class:`~neuralgae.core.nets.network.Network`
    contract), so any network that offers one can classify. The softmax is
    taken in float64 on the CPU, so the tiny probabilities a sampler ranks
    are not rounded to 0, on any device.
    """
    from .network import network_device

    view = fit_to_input(image, int(getattr(net, "input_size", 224)))
    x = torch.from_numpy(np.ascontiguousarray(view, dtype=np.float32)).permute(2, 0, 1)[None].to(network_device(net))
    with torch.no_grad():
        logits = net.features(x.clamp(0, 1), ["logits"])["logits"].mean(dim=(2, 3))[0]
    return torch.softmax(logits.float().cpu().double(), dim=0).numpy()


def top_classes(probs: np.ndarray, k: int = 5, *, names=None) -> list[tuple[ImageNetClass, float]]:
    """The ``k`` most probable classes with their probabilities, best first.

    Probabilities over ImageNet-1k's 1000 classes are named by them; a
    network with other classes names them with ``names`` (its
    ``class_names``) or by number.
    """
    if k < 1:
        raise NeuralgaeError(f"{option('top')} must be at least 1; got {k}")
    order = np.argsort(-probs)[:k]
    if len(probs) == len(imagenet_classes()):
        classes = imagenet_classes()
        return [(classes[i], float(probs[i])) for i in order]
    label = (lambda i: str(names[i])) if names is not None and len(names) == len(probs) else (lambda i: f"class {i}")
    return [(ImageNetClass(int(i), label(i), (label(i),), ""), float(probs[i])) for i in order]


def classify(net, image: np.ndarray, k: int = 5) -> list[tuple[ImageNetClass, float]]:
    """The ``k`` classes ``net`` sees most in ``image`` with their probabilities, best first (what ``nd classify`` prints)."""
    return top_classes(class_probabilities(net, image), k, names=getattr(net, "class_names", None))
