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
