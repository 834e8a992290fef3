"""What other counting tools report for one layer, computed from the graph.

torchinfo, fvcore, ptflops, thop and FlopCounterMode disagree about the same network
because each counts different things: bias additions, BatchNorm, activations, pooling,
the input or the output spatial size of a transposed convolution. Each tool's rule for
a layer type is one small registered function of the layer's view (type, arguments,
input and output shapes, archcalc's own record); docs/conventions.md cites the source
line each rule copies and the measurements that confirm it.

All counts are for batch size 1 and the tools' evaluation mode (BatchNorm uses its
running statistics), which is how they are run to size a network.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable

from . import dims

CONVS = ("conv1d", "conv2d", "conv3d")
CONV_TRANSPOSES = ("convtranspose1d", "convtranspose2d", "convtranspose3d")
BATCHNORMS = ("batchnorm1d", "batchnorm2d", "batchnorm3d")
INSTANCENORMS = ("instancenorm1d", "instancenorm2d", "instancenorm3d")
MAXPOOLS = ("maxpool1d", "maxpool2d", "maxpool3d", "adaptivemaxpool1d", "adaptivemaxpool2d",
            "adaptivemaxpool3d", "globalmaxpool")
AVGPOOLS = ("avgpool1d", "avgpool2d", "avgpool3d")
ADAPTIVE_AVGPOOLS = ("adaptiveavgpool1d", "adaptiveavgpool2d", "adaptiveavgpool3d",
                     "globalavgpool")


@dataclass(frozen=True)
class LayerView:
    """One layer as a counting rule sees it (batch size 1, no batch axis)."""

    type: str
    args: dict
    inputs: tuple  # input shapes, main input first
    output: tuple  # output shape
    record: Any  # archcalc's Record for the layer (params, buffers, macs)

    @property
    def x(self) -> tuple:
        return self.inputs[0]

    @property
    def n_in(self):
        return dims.prod(self.x)

    @property
    def n_out(self):
        return dims.prod(self.output)

    @property
    def spatial_rank(self) -> int:
        return len(self.x) - 1

    def arg(self, name: str, default=None):
        return self.args.get(name, default)


Rule = Callable[[LayerView], Any]
RULES: dict[str, dict[str, Rule]] = {}  # tool -> layer type -> count
PARAM_RULES: dict[str, Callable[[LayerView], Any]] = {}  # tool -> params of a layer


def counts(tool: str, *types: str):
    """Register ``fn(view) -> count`` as ``tool``'s count for these layer types."""

    def wrap(fn: Rule) -> Rule:
        table = RULES.setdefault(tool, {})
        for t in types:
            if t in table:
                raise ValueError(f"{tool}: layer type '{t}' registered twice")
            table[t] = fn
        return fn

    return wrap


def count(tool: str, view: LayerView):
    """The tool's count for one layer; a type without a rule costs 0 in that tool."""
    rule = RULES[tool].get(view.type)
    return 0 if rule is None else rule(view)


def params(tool: str, view: LayerView):
    rule = PARAM_RULES.get(tool)
    return view.record.params if rule is None else rule(view)


def _macs(v: LayerView):
    return v.record.macs


def _affine(v: LayerView) -> bool:
    return bool(v.arg("affine", False))


def _bias_adds(v: LayerView):
    """One addition per output element when the layer has a bias."""
    return v.n_out if v.arg("bias", True) else 0


# ------------------------------------------------------------- FlopCounterMode
# torch/utils/flop_counter.py: only convolutions and matrix products, 2 FLOPs per MAC;
# the transposed convolution uses the input's spatial size (archcalc's MACs exactly).
counts("flopcounter", *CONVS, *CONV_TRANSPOSES, "linear")(_macs)

# ------------------------------------------------------------------------ fvcore
# fvcore/nn/flop_count.py + jit_handles.py (0.1.5.post20221221): one fused multiply-add
# is one "flop"; relu, dropout, add, mul, softmax are ignored; max/avg pooling are
# "unsupported" and skipped.
counts("fvcore", *CONVS, *CONV_TRANSPOSES, "linear")(_macs)


@counts("fvcore", *BATCHNORMS)
def _fvcore_batchnorm(v):
    """batchnorm_flop_jit, eval mode: numel·(2 if affine else 1)."""
    return v.n_in * (2 if _affine(v) else 1)


@counts("fvcore", "groupnorm", "layernorm", "layernorm2d", *INSTANCENORMS)
def _fvcore_norm(v):
    """norm_flop_counter: numel·(5 if affine else 4)."""
    return v.n_in * (5 if _affine(v) else 4)


@counts("fvcore", "adaptiveavgpool2d", "globalavgpool")
def _fvcore_adaptive_avg(v):
    """aten::adaptive_avg_pool2d only (1-d and 3-d are unsupported): input numel."""
    return v.n_in if v.spatial_rank == 2 else 0


@counts("fvcore", "upsample")
def _fvcore_upsample(v):
    """upsample_nearest2d: output numel; upsample_bilinear2d: 4·output numel; others 0."""
    if v.spatial_rank != 2:
        return 0
    return {"nearest": 1, "bilinear": 4}.get(v.arg("mode"), 0) * v.n_out


# ------------------------------------------------------------------------ ptflops
# ptflops/pytorch_ops.py (0.7.5), backend 'pytorch', count_functional=True (default):
# module hooks PLUS patched torch.nn.functional calls, so a module whose forward calls a
# patched function (F.relu, F.max_pool2d, F.interpolate, ...) is counted twice.
@counts("ptflops", *CONVS, *CONV_TRANSPOSES)
def _ptflops_conv(v):
    """conv_flops_counter_hook: MACs (input size when transposed) + bias: output numel."""
    return v.record.macs + _bias_adds(v)


@counts("ptflops", "linear")
def _ptflops_linear(v):
    """linear_flops_counter_hook: (in·out + out)·∏leading."""
    return v.record.macs + (v.n_out if v.arg("bias", True) else 0)


@counts("ptflops", *BATCHNORMS, *INSTANCENORMS, "groupnorm", "layernorm")
def _ptflops_norm(v):
    """bn_flops_counter_hook: numel·(2 if module.affine) — LayerNorm has no .affine: ×1."""
    return v.n_in * (2 if v.type != "layernorm" and v.arg("affine", False) else 1)


@counts("ptflops", "relu", "prelu", "elu", "gelu")
def _ptflops_doubled_activation(v):
    """relu_flops_counter_hook (output numel) + the patched F.relu/prelu/elu/gelu (numel)."""
    return 2 * v.n_out


@counts("ptflops", "leakyrelu", "relu6", "silu", "softmax")
def _ptflops_single_activation(v):
    """LeakyReLU, ReLU6 (F.hardtanh): module hook only; SiLU, Softmax: F.silu/F.softmax
    patch only. One numel each."""
    return v.n_out


@counts("ptflops", *MAXPOOLS, *AVGPOOLS, *ADAPTIVE_AVGPOOLS)
def _ptflops_pool(v):
    """pool_flops_counter_hook (input numel) + the patched F.*pool* (input numel)."""
    return 2 * v.n_in


@counts("ptflops", "upsample")
def _ptflops_upsample(v):
    """upsample_flops_counter_hook (output numel) + the patched F.interpolate (output)."""
    return 2 * v.n_out


# ptflops, backend 'aten': mm/addmm/bmm/convolution only, as MACs including the bias.
@counts("ptflops-aten", *CONVS, *CONV_TRANSPOSES, "linear")
def _ptflops_aten(v):
    return v.record.macs + _bias_adds(v)


# --------------------------------------------------------------------------- thop
# thop/vision/basic_hooks.py + calc_func.py (0.1.1.post2209072238). A module type without
# a rule counts 0 operations AND 0 parameters ("Treat it as zero Macs and zero Params").
@counts("thop", *CONVS, *CONV_TRANSPOSES)
def _thop_conv(v):
    """count_convNd: output numel·(C_in/groups)·∏k — the OUTPUT size, transposed too."""
    kernel = v.arg("kernel")
    ks = tuple(kernel) if isinstance(kernel, (list, tuple)) else (kernel,)
    if len(ks) == 1:
        ks = ks * v.spatial_rank
    return v.n_out * (v.x[0] // v.arg("groups", 1)) * dims.prod(ks)


@counts("thop", "linear")
def _thop_linear(v):
    """count_linear: in_features·output numel (no bias)."""
    return v.x[-1] * v.n_out


@counts("thop", *BATCHNORMS, *INSTANCENORMS, "layernorm")
def _thop_norm(v):
    """count_normalization: 2·numel, doubled when affine (elementwise_affine)."""
    return 2 * v.n_in * (2 if v.arg("affine", False) else 1)


@counts("thop", "prelu")
def _thop_prelu(v):
    """count_prelu, eval mode: numel."""
    return v.n_in


@counts("thop", "softmax")
def _thop_softmax(v):
    """count_softmax: (numel / n)·(3n − 1), n = size along the softmax axis."""
    n = v.x[v.arg("dim", 0)]
    return dims.floordiv(v.n_in, n) * (3 * n - 1)


@counts("thop", *AVGPOOLS)
def _thop_avgpool(v):
    """count_avgpool: output numel."""
    return v.n_out


@counts("thop", *ADAPTIVE_AVGPOOLS)
def _thop_adaptive_avg(v):
    """count_adap_avgpool: (∏(in/out) + 1)·output numel = input numel + output numel."""
    return v.n_in + v.n_out


@counts("thop", "upsample")
def _thop_upsample(v):
    """count_upsample: output numel × 1 (nearest), 5 (linear), 11 (bilinear), 259
    (bicubic); trilinear is not implemented (0)."""
    return {"nearest": 1, "linear": 5, "bilinear": 11, "bicubic": 259}.get(
        v.arg("mode"), 0) * v.n_out


THOP_TYPES_WITH_RULES = frozenset(
    (*CONVS, *CONV_TRANSPOSES, *BATCHNORMS, *INSTANCENORMS, "layernorm", "linear", "prelu",
     "softmax", "relu", "relu6", "leakyrelu", *MAXPOOLS, *AVGPOOLS, *ADAPTIVE_AVGPOOLS,
     "dropout", "upsample", "pixelshuffle", "zeropad"))
RULES["thop"].update({t: (lambda v: 0) for t in ("relu", "relu6", "leakyrelu", *MAXPOOLS,
                                                 "dropout", "pixelshuffle", "zeropad")})
PARAM_RULES["thop"] = lambda v: v.record.params if v.type in THOP_TYPES_WITH_RULES else 0


# ---------------------------------------------------------------------- torchinfo
# torchinfo/layer_info.py calculate_macs (1.8.0): for every parameter named weight or
# bias, a Conv* layer adds numel·∏(output spatial) and any other layer numel·batch.
@counts("torchinfo", *CONVS, *CONV_TRANSPOSES)
def _torchinfo_conv(v):
    """(weight + bias)·∏output spatial — bias included, the OUTPUT size when transposed."""
    return v.record.params * dims.prod(v.output[1:])


@counts("torchinfo", "linear", *BATCHNORMS, *INSTANCENORMS, "groupnorm", "layernorm",
        "layernorm2d", "prelu")
def _torchinfo_params_once(v):
    """Parameter count × batch (1), whatever the leading sizes of a Linear's input."""
    return v.record.params


# ---------------------------------------------------------------------- apply
def view_of(analysis, node) -> LayerView:
    shapes = tuple(analysis.layers[i].output_shape for i in node.inputs)
    rec = analysis.layers[node.id]
    return LayerView(node.type, node.args, shapes, rec.output_shape, rec)


def recount(analysis, tool: str):
    """The analysis with every layer's MACs (and params) replaced by ``tool``'s count;
    groups and the total are summed again from the layers."""
    g = analysis.graph
    layers = [analysis.layers[0]]
    for node in g.nodes[1:]:
        v = view_of(analysis, node)
        layers.append(replace(v.record, macs=dims.simplify(count(tool, v)),
                              params=dims.simplify(params(tool, v))))
    return analysis.resummed(layers)


def layer_counts(analysis, tool: str) -> dict:
    """Per-layer counts of one tool, by qualified name (for explanations and tests)."""
    return {node.name: count(tool, view_of(analysis, node))
            for node in analysis.graph.nodes[1:]}
