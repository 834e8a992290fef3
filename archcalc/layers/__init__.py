"""Layer rules, one module per family, all registered by name in ``REGISTRY``."""

from .base import REGISTRY, UNION, Arg, Ctx, LayerError, Out, Rule, Window, register_layer
from . import activation, conv, linear, merge, norm, pool, tensor  # noqa: F401  (registers)
from . import partition, product  # noqa: F401  (registers)
from . import attention  # noqa: F401  (registers; last in list-layers)
from . import embedding  # noqa: F401  (registers)
from . import opaque  # noqa: F401  (registers)

__all__ = [
    "REGISTRY", "UNION", "Arg", "Ctx", "LayerError", "Out", "Rule", "Window", "register_layer",
]
