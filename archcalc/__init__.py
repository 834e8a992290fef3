"""archcalc: closed-form shapes, parameters, MACs/FLOPs and receptive fields from YAML specs."""

__version__ = "0.1.0"

__all__ = ["Analysis", "SpecError", "__version__", "analyse", "check", "export_pytorch",
           "import_onnx", "import_torch", "memory", "solve", "sweep", "verify"]


def __getattr__(name: str):
    """The API is imported on first use, so that the CLI's start-up stays light."""
    if name in ("Analysis", "analyse", "check", "export_pytorch", "import_onnx", "import_torch",
                "memory", "solve", "sweep", "verify"):
        from . import api

        return getattr(api, name)
    if name == "SpecError":
        from .errors import SpecError

        return SpecError
    raise AttributeError(f"module 'archcalc' has no attribute {name!r}")
