"""Element-wise layers: activations, dropout, identity, stochastic depth, layer scale.

All keep the shape; only PReLU and layer scale have parameters. None has multiply-
accumulates in the default convention (docs/conventions.md lists profiles that count them).
"""

from __future__ import annotations

from .backward import backward_zero
from .base import Arg, Ctx, Out, register_layer
from .costs import counts, counts_zero, record_params
from .saves import BOOL, FLOAT, kept_input, kept_new, kept_output, saves, saves_nothing
from .saves import view_of_input

_RESULT_KEPT = ("relu", "sigmoid", "tanh", "softmax", "logsoftmax")
_INPUT_KEPT = ("gelu", "silu", "mish", "hardswish", "hardsigmoid", "elu", "leakyrelu",
               "softplus", "hardtanh", "relu6", "prelu")

# Why each metric without a formula is zero (checked by tests/test_explain.py).
ZERO_MACS = {"macs": "element-wise: no multiply-accumulates (counted as zero on purpose)"}
ZERO = {"params": "{type} has no parameters", **ZERO_MACS}

_SIMPLE = {
    "relu": {}, "relu6": {}, "gelu": {"approximate": Arg("str", "none", choices=("none", "tanh"))},
    "silu": {}, "sigmoid": {}, "tanh": {}, "hardswish": {}, "hardsigmoid": {}, "mish": {},
    "elu": {"alpha": Arg("float", 1.0)}, "leakyrelu": {"slope": Arg("float", 0.01)},
    "softplus": {}, "hardtanh": {"min": Arg("float", -1.0), "max": Arg("float", 1.0)},
    "identity": {}, "dropout": {"p": Arg("float", 0.5)}, "dropout1d": {"p": Arg("float", 0.5)},
    "dropout2d": {"p": Arg("float", 0.5)}, "dropout3d": {"p": Arg("float", 0.5)},
    "stochasticdepth": {"p": Arg("float", 0.0), "mode": Arg("str", "row", choices=("row", "batch"))},
}


def _register_simple():
    for name, args in _SIMPLE.items():
        register_layer(name, family="elementwise", zero=ZERO, args=args)(elementwise)


def elementwise(ctx: Ctx) -> Out:
    """Element-wise: same shape, no parameters."""
    if "p" in ctx.a and not 0 <= ctx.p <= 1:  # dropout, stochastic depth: PyTorch rejects it too
        ctx.fail(f"probability p = {ctx.p} is not between 0 and 1")
    if ctx.type == "dropout1d" and len(ctx.x) > 2:  # PyTorch: "Expected 2D or 3D input"
        ctx.fail(f"expects a [C, L] input (rank 2), got rank {len(ctx.x)}")
    for name in ("alpha", "slope", "min", "max"):
        if name in ctx.a:
            fits_float32(ctx, name)
    if ctx.type == "hardtanh" and not ctx.max > ctx.min:  # PyTorch asserts max_val > min_val
        ctx.fail(f"max {ctx.max} must be greater than min {ctx.min}")
    return Out(shape=ctx.x)


FLOAT32_MAX = 3.4028234663852886e38  # PyTorch computes in float32 and refuses larger scalars


def fits_float32(ctx: Ctx, name: str) -> None:
    """A scalar that PyTorch turns into a float32 value must fit in one."""
    value = ctx.a[name]
    if isinstance(value, (int, float)) and abs(value) > FLOAT32_MAX:
        text = f"{value:g}" if isinstance(value, float) else \
            f"of about {int(value.bit_length() * 0.30103) + 1} digits"
        ctx.fail(f"{name} {text} does not fit in float32, which PyTorch computes in "
                 f"(at most ±{FLOAT32_MAX:g})")


_register_simple()


@register_layer("softmax", "logsoftmax", family="elementwise", zero=ZERO,
                args={"dim": Arg("int", 0, doc="axis, without the batch axis; default channels")})
def softmax(ctx: Ctx) -> Out:
    """Softmax along one axis (default the channels): same shape, no parameters."""
    if not -len(ctx.x) <= ctx.dim < len(ctx.x):
        ctx.fail(f"dim {ctx.dim} is out of range for a rank-{len(ctx.x)} input")
    return Out(shape=ctx.x)


@register_layer("prelu", family="elementwise", zero=ZERO_MACS,
                args={"num": Arg("int", 1, min=1, doc="1 (shared) or the channel count")})
def prelu(ctx: Ctx) -> Out:
    """PReLU: ``num`` learned slopes, 1 (PyTorch's default) or one per channel."""
    if ctx.num != 1:
        ctx.require(ctx.num == ctx.x[0],
                    f"num {ctx.num} must be 1 or the channel count {ctx.x[0]}")
    return Out(shape=ctx.x, params=ctx.term("num_parameters", ctx.num))


@register_layer("layerscale", family="elementwise", zero=ZERO_MACS,
                args={"init": Arg("float", 1e-6, doc="initial value (no effect on counts)"),
                      "dim": Arg("int", 0, doc="axis scaled: 0 = channels first ([C, 1, …], "
                                 "ConvNeXt), -1 = last (tokens [N, D], CaiT)")})
def layerscale(ctx: Ctx) -> Out:
    """Learned scale per index of one axis: C parameters for ConvNeXt's [C, 1, 1] γ, D for
    CaiT's γ over the features of [N, D] tokens."""
    if not -len(ctx.x) <= ctx.dim < len(ctx.x):
        ctx.fail(f"dim {ctx.dim} is out of range for a rank-{len(ctx.x)} input")
    fits_float32(ctx, "init")
    return Out(shape=ctx.x, params=ctx.term("C" if ctx.dim == 0 else "D", ctx.x[ctx.dim]))


# ---------------------------------------------------------------- other tools' counts
# ptflops/pytorch_ops.py (0.7.5), backend 'pytorch', count_functional=True (default):
# module hooks PLUS patched torch.nn.functional calls, so a module whose forward calls a
# patched function (F.relu, ...) is counted twice.
@counts("ptflops", "relu", "prelu", "elu", "gelu")
def _ptflops_doubled_activation(v):
    """relu_flops_counter_hook (output numel) + the patched F.relu/prelu/elu/gelu (numel)."""
    return 2 * v.n_out


@counts("ptflops", "leakyrelu", "relu6", "silu", "softmax")
def _ptflops_single_activation(v):
    """LeakyReLU, ReLU6 (F.hardtanh): module hook only; SiLU, Softmax: F.silu/F.softmax
    patch only. One numel each."""
    return v.n_out


# thop/vision/basic_hooks.py (0.1.1.post2209072238): zero rules for these activations.
counts_zero("thop", "relu", "relu6", "leakyrelu", "dropout")


@counts("thop", "prelu")
def _thop_prelu(v):
    """count_prelu, eval mode: numel."""
    return v.n_in


@counts("thop", "softmax")
def _thop_softmax(v):
    """count_softmax: (numel / n)·(3n − 1), n = size along the softmax axis."""
    from ..dims import floordiv

    n = v.x[v.arg("dim", 0)]
    return floordiv(v.n_in, n) * (3 * n - 1)


# torchinfo/layer_info.py calculate_macs (1.8.0): each weight numel × batch.
counts("torchinfo", "prelu")(record_params)


# The backward pass (archcalc/layers/backward.py): no multiply-accumulates.
backward_zero(
    "element-wise derivatives (a mask or a product per element): no products",
    "relu", "relu6", "gelu", "silu", "sigmoid", "tanh", "hardswish", "hardsigmoid",
    "mish", "elu", "leakyrelu", "softplus", "hardtanh", "identity", "dropout",
    "dropout1d", "dropout2d", "dropout3d", "stochasticdepth", "softmax", "logsoftmax",
    "prelu", "layerscale")

# ---------------------------------------------------------------- kept for backward
# tools/autograd/derivatives.yaml: relu (threshold_backward(grad, result, 0)), sigmoid
# (sigmoid_backward(grad, result)), tanh, _softmax and _log_softmax keep their result;
# gelu, silu, mish, hardswish, hardsigmoid, elu (is_result=false), leaky_relu, softplus and
# hardtanh (relu6 is hardtanh(0, 6)) keep their input (self); _prelu_kernel keeps its
# input and weight. An in-place ReLU (torchvision's inplace=True) keeps its result too: the
# storage it wrote over, which the next layer keeps anyway, so the distinct bytes are the
# same (tests/test_activations.py measures both).
saves(*_RESULT_KEPT)(lambda v: [kept_output()])
saves(*_INPUT_KEPT)(lambda v: [kept_input()])


@saves("layerscale")
def _layerscale_keeps(v) -> list:
    """x · γ: the gradient of γ reads x (kept when γ is trainable)."""
    return [kept_input()] if v.trainable else []


def dropout_kept(elements, p, device: str) -> list:
    """What ATen's dropout (Dropout.cpp) keeps of an input of ``elements`` elements at
    probability ``p`` in training: p = 0 returns the input itself (nothing); p = 1
    multiplies by a zero scalar, which the mul keeps (one element of the activation dtype);
    otherwise on a CPU the composite ``input * noise``, whose mul keeps the noise (activation
    dtype, one per element), and on a GPU the fused native_dropout, which keeps its bool mask
    (derivatives.yaml: native_dropout, result1). The one home of dropout's saved tensors:
    the dropout layer and attention's dropout of its weights read it."""
    if p == 0:
        return []
    if p == 1:  # is_fused_kernel_acceptable needs p < 1: the composite path on every device
        return [kept_new(1)]
    return [kept_new(elements, BOOL if device == "cuda" else FLOAT)]


@saves("dropout")
def _dropout_keeps(v) -> list:
    """ATen's dropout of the input (``dropout_kept``)."""
    return dropout_kept(v.elements(v.x), v.arg("p", 0.5), v.device)


@saves("dropout1d", "dropout2d", "dropout3d")
def _feature_dropout_keeps(v) -> list:
    """Feature dropout (ATen's _dropout_impl with feature_dropout): noise of shape
    [B, C, 1, …] in the activation dtype, kept by the mul, on every device."""
    if v.arg("p", 0.5) == 0:
        return []
    return [kept_new(v.batch * v.x[0])]


@saves("stochasticdepth")
def _stochastic_depth_keeps(v) -> list:
    """torchvision.ops.stochastic_depth in training: ``input * noise``, noise [B, 1, …]
    ('row') or [1, …] ('batch') in the activation dtype, kept by the mul; p = 0 returns the
    input."""
    if v.arg("p", 0.0) == 0:
        return []
    return [kept_new(v.batch if v.arg("mode", "row") == "row" else 1)]


saves_nothing("{type} returns its input: no autograd node", "identity")
view_of_input("same", "identity")
