"""Classifying images with a network: class probabilities and ranked names."""

from __future__ import annotations

import numpy as np
import torch

from .classes import ImageNetClass, imagenet_classes
from .errors import NeuralgaeError
from .images import resize


def fit_to_input(image: np.ndarray, size: int) -> np.ndarray:
    """Resize so the shorter side is ``size``, then crop the centre square: the network's view."""
    h, w = image.shape[:2]
    k = size / min(h, w)
    nh, nw = max(size, round(h * k)), max(size, round(w * k))
    scaled = resize(image, nh, nw)
    top, left = (nh - size) // 2, (nw - size) // 2
    return scaled[top : top + size, left : left + size]


def class_probabilities(net, image: np.ndarray) -> np.ndarray:
    """Softmax probabilities (num_classes,) of an (H, W, 3) image at the network's input size."""
    from .network import network_device

    x = torch.from_numpy(np.ascontiguousarray(fit_to_input(image, net.input_size))).permute(2, 0, 1)[None]
    with torch.no_grad():
        logits = net(x.to(network_device(net)))[0].float().cpu()
    return torch.softmax(logits, dim=0).numpy().astype(np.float64)


def top_classes(probs: np.ndarray, k: int = 5, *, names=None) -> list[tuple[ImageNetClass, float]]:
    """The ``k`` most probable classes with their probabilities, best first.

    Probabilities over ImageNet-1k's 1000 classes are named by them; a
    network with other classes names them with ``names`` (its
    ``class_names``) or by number.
    """
    if k < 1:
        raise NeuralgaeError(f"--top must be at least 1; got {k}")
    order = np.argsort(-probs)[:k]
    if len(probs) == len(imagenet_classes()):
        classes = imagenet_classes()
        return [(classes[i], float(probs[i])) for i in order]
    label = (lambda i: str(names[i])) if names is not None and len(names) == len(probs) else (lambda i: f"class {i}")
    return [(ImageNetClass(int(i), label(i), (label(i),), ""), float(probs[i])) for i in order]
