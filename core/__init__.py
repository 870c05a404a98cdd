"""Neuralgae engine: networks, objectives, renderers and the plugin host.

The limit markers a component declares in its signature
(``Annotated[float, Range(0, 1)]``) are public here: :class:`Range`,
:class:`Choice`, :class:`Shape`, :data:`Finite` and :data:`NonFinite`.
"""

from .components import Choice, Finite, NonFinite, Range, Shape

__all__ = ["Choice", "Finite", "NonFinite", "Range", "Shape"]
