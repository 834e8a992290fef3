"""Layer rules, one module per family, all registered by name in ``REGISTRY``."""

from .base import REGISTRY, UNION, Arg, Ctx, LayerError, Out, Rule, Window, register_layer
from . import activation, attention, conv, linear, merge, norm, pool, tensor  # noqa: F401  (registers)

__all__ = [
    "REGISTRY", "UNION", "Arg", "Ctx", "LayerError", "Out", "Rule", "Window", "register_layer",
]
