"""Read an ONNX model as an archcalc spec (``archcalc import onnx``).

The ``onnx`` package is an optional extra: nothing outside this package imports it, and
this package imports it only when a model is read, so ``archcalc`` runs without it (and
without PyTorch: an ONNX model is read as data, never run).
"""

from __future__ import annotations

from ..errors import SpecError

INSTALL_HINT = "archcalc import onnx needs the onnx package: pip install 'archcalc[onnx]'"


class OnnxMissing(SpecError):
    """The onnx package is not installed."""


def require_onnx():
    """Import onnx, or fail with the install command (exit 2 in the CLI)."""
    try:
        import onnx
    except ImportError:
        raise OnnxMissing(INSTALL_HINT) from None
    return onnx
