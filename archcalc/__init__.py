"""archcalc: closed-form shapes, parameters, MACs/FLOPs and receptive fields from YAML specs."""

__version__ = "0.1.0"
