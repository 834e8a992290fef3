"""Build the analysed network in PyTorch and measure it (``archcalc verify``).

PyTorch is an optional extra: nothing outside this package imports it, and this package
imports it only when a function here is called, so ``archcalc`` runs without it.
"""

from __future__ import annotations

from ..errors import SpecError

INSTALL_HINT = "archcalc verify needs PyTorch: pip install 'archcalc[verify]'"


class TorchMissing(SpecError):
    """PyTorch is not installed."""


def require_torch():
    """Import torch, or fail with the install command (exit 2 in the CLI)."""
    try:
        import torch
    except ImportError:
        raise TorchMissing(INSTALL_HINT) from None
    return torch


def check_installed() -> None:
    """Fail with the install command when PyTorch is missing, without importing it (the
    import takes seconds; a spec that is refused should not wait for it)."""
    import importlib.util

    try:
        found = importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise TorchMissing(INSTALL_HINT)
