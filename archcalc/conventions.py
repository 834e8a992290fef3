"""Counting conventions: what "params", "MACs" and "FLOPs" mean in a report.

The default is PyTorch's: params are ``parameters()`` (BatchNorm running statistics are
buffers, reported apart as non-trainable); MACs are the multiply-accumulates of
convolutions, linear layers and matrix products, bias excluded; FLOPs = 2 × MACs, as
``torch.utils.flop_counter.FlopCounterMode`` reports. The other profiles reproduce what a
named tool prints for the same network (the layer families register their per-layer rules;
archcalc/profiles.py applies them).
docs/conventions.md states them all, with sources and measurements.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import SpecError, did_you_mean


@dataclass(frozen=True)
class Convention:
    name: str
    title: str
    params_include_buffers: bool = False  # Keras: moving statistics are (non-trainable) params
    flops_per_mac: int = 2
    source: str = ""
    tool: str | None = None  # a tool profile (archcalc/profiles.py) that recounts MACs and params
    reports: str = "flops"  # which column equals the number the tool prints: macs or flops
    macs_note: str = "MACs = conv, linear and attention multiply-accumulates, bias excluded"
    printed_as: str = ""  # how the tool labels its headline number

    def params(self, trainable, buffers):
        return trainable + buffers if self.params_include_buffers else trainable

    def count(self, record, metric: str, frozen=0):
        """One count of a record as this convention states it: params, trainable_params,
        non_trainable_params, macs or flops. ``frozen``: the parameters of its layers that
        say ``trainable: false`` (Keras counts them as non-trainable; PyTorch's parameters()
        still holds them, with requires_grad off)."""
        if metric == "params":
            return self.params(record.params, record.buffers)
        if metric == "trainable_params":
            return record.params - frozen
        if metric == "non_trainable_params":
            return (record.buffers if self.params_include_buffers else 0) + frozen
        if metric == "macs":
            return record.macs
        if metric == "flops":
            return self.flops_per_mac * record.macs
        raise ValueError(f"not a count: {metric}")

    def apply(self, analysis):
        """The analysis as this convention counts it (the same object for PyTorch/Keras)."""
        if self.tool is None:
            return analysis
        from .profiles import recount

        return recount(analysis, self.tool)


DEFAULT = Convention(
    "pytorch", "PyTorch: params = parameters(); FLOPs = 2 × MACs (FlopCounterMode)",
    source="torch.nn.Module.parameters(); torch/utils/flop_counter.py",
)
KERAS = Convention(
    "keras", "Keras: params include BatchNorm moving mean/variance as non-trainable",
    params_include_buffers=True, source="keras Model.summary(); BatchNormalization weights",
    printed_as="Total params",
)
FLOPCOUNTER = Convention(
    "flopcounter", "torch.utils.flop_counter.FlopCounterMode: FLOPs = 2 × conv/linear MACs",
    source="torch/utils/flop_counter.py (torch 2.13)", tool="flopcounter",
    printed_as="get_total_flops()",
)
FVCORE = Convention(
    "fvcore", "fvcore FlopCountAnalysis: 'flops' = MACs + norms + adaptive avg-pool + upsample",
    source="fvcore/nn/flop_count.py, jit_handles.py (0.1.5.post20221221)", tool="fvcore",
    reports="macs", printed_as="FlopCountAnalysis.total() ('flops', one per fused multiply-add)",
    macs_note="MACs column = fvcore's count: conv/linear MACs, BatchNorm numel·2 (eval), "
              "Group/Layer/InstanceNorm numel·5, adaptive avg-pool input numel, upsample",
)
PTFLOPS = Convention(
    "ptflops", "ptflops (pytorch backend): MACs + bias + norms + activations + pooling",
    source="ptflops/pytorch_ops.py, pytorch_engine.py (0.7.5)", tool="ptflops",
    reports="macs", printed_as="get_model_complexity_info() 'GMac'",
    macs_note="MACs column = ptflops' count: conv/linear MACs + bias, norms numel(·2 if "
              "affine), activations and pools counted by module hook and functional patch",
)
PTFLOPS_ATEN = Convention(
    "ptflops-aten", "ptflops (aten backend): conv/linear MACs including the bias additions",
    source="ptflops/aten_engine.py, aten_ops.py (0.7.5)", tool="ptflops-aten",
    reports="macs", printed_as="get_model_complexity_info(backend='aten') 'GMac'",
    macs_note="MACs column = ptflops' aten count: conv/linear MACs + one add per bias element",
)
THOP = Convention(
    "thop", "thop profile(): MACs (transposed conv on output size) + norms + avg-pools",
    source="thop/vision/basic_hooks.py, calc_func.py (0.1.1.post2209072238)", tool="thop",
    reports="macs", printed_as="profile() 'macs'",
    macs_note="MACs column = thop's count: conv MACs on the output size, linear in·out, "
              "norms 2·numel (×2 affine), avg-pools, softmax, upsample; unknown modules 0 "
              "(their params too)",
)
TORCHINFO = Convention(
    "torchinfo", "torchinfo summary(): mult-adds = (weight + bias)·output positions",
    source="torchinfo/layer_info.py calculate_macs (1.8.0)", tool="torchinfo",
    reports="macs", printed_as="'Total mult-adds'",
    macs_note="MACs column = torchinfo's mult-adds: conv (weight + bias)·∏output spatial, "
              "other layers their parameter count once",
)
MEGATRON = Convention(
    "megatron", "Megatron-LM: FLOPs = 2 × MACs, causal attention's Q·Kᵀ and A·V halved",
    source="megatron/training/training.py num_floating_point_operations (NVIDIA/Megatron-LM "
           "001b00c)", tool="megatron",
    printed_as="num_floating_point_operations() / 3 (the forward pass)",
    macs_note="MACs = conv, linear and attention multiply-accumulates, bias excluded; a "
              "causal attention layer's two products counted half (its unmasked half)",
)
CONVENTIONS = {c.name: c for c in (DEFAULT, KERAS, FLOPCOUNTER, FVCORE, PTFLOPS, PTFLOPS_ATEN,
                                   THOP, TORCHINFO, MEGATRON)}


def get(name: str) -> Convention:
    try:
        return CONVENTIONS[name]
    except KeyError:
        raise SpecError(f"unknown convention '{name}'{did_you_mean(name, CONVENTIONS)}; "
                        f"choose from {', '.join(CONVENTIONS)}") from None
