"""Convolutions: conv1d/2d/3d, convtranspose1d/2d/3d, CondenseNet's learned group convolution."""

from __future__ import annotations

from .. import dims
from ..dims import divides, dmax, eq, resolve
from .base import Arg, Ctx, Out, Window, per_axis, register_layer
from .backward import backward, each_needed, flopcounter_backward
from .costs import bias_adds, counts, record_macs
from .terms import named, prod
from .terms import value as value_of
from .saves import NotModelled, kept_input, kept_new, saves
from .window import effective_kernel, keras_same_pads, paddings, same_out, sliding_out

_LAYOUT = {1: "[C, L]", 2: "[C, H, W]", 3: "[C, D, H, W]"}
AXES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}


def kernel_terms(ctx: Ctx, k: tuple) -> tuple:
    """The kernel sizes labelled for the count formulas: ``k`` (1-d) or ``k_h``, ``k_w``."""
    if len(k) == 1:
        return (ctx.term("k", k[0]),)
    return tuple(ctx.term(f"k_{a.lower()}", ki) for a, ki in zip(AXES[len(k)], k))


def sliding_axis(ctx: Ctx, axis: int, n, k, s, d, left, right):
    """One output size ``⌊(n + 2·p − d·(k − 1) − 1)/s⌋ + 1`` (``p_l + p_r`` when the sides
    differ), with the rule's values and the formula's labels."""
    name = AXES[ctx.nd][axis]
    t = ctx.term
    if left is right or resolve(eq(left, right)) is True:
        pl = pr = t("p", left)
    else:
        pl, pr = t("p_l", left), t("p_r", right)
    k_eff = effective_kernel(t("k", k), t("d", d))
    return named(f"{name}_out", sliding_out(t(name, n), pl, pr, k_eff, t("s", s)))


CONV_ARGS = {
    "out": Arg("int", min=1, doc="output channels"),
    "kernel": Arg("ints", min=1, doc="kernel size, one or one per axis"),
    "stride": Arg("ints", 1, min=1),
    "padding": Arg("padding", 0, min=0, doc="per side; or 'same'/'valid' (Keras, any stride), 'full' (d·(k−1))"),
    "dilation": Arg("ints", 1, min=1),
    "groups": Arg("int", 1, min=1),
    "bias": Arg("bool", True),
    "padding_mode": Arg("str", "zeros", choices=("zeros", "reflect", "replicate", "circular")),
}


def _check_groups(ctx: Ctx, cin, cout, g) -> None:
    ctx.require(divides(g, cin), f"groups {g} does not divide the input channels {cin}")
    ctx.require(divides(g, cout), f"groups {g} does not divide the output channels {cout}")


CONVS = ("conv1d", "conv2d", "conv3d")
CONV_TRANSPOSES = ("convtranspose1d", "convtranspose2d", "convtranspose3d")


@register_layer(*CONVS, args=CONV_ARGS, family="conv",
                nd={"conv1d": 1, "conv2d": 2, "conv3d": 3})
def conv(ctx: Ctx) -> Out:
    """Convolution: out = ⌊(n + 2p − d(k−1) − 1)/s⌋ + 1; params Cout·Cin/g·∏k (+ Cout)."""
    ctx.expect_rank(ctx.nd + 1, _LAYOUT[ctx.nd])
    cin, cout, g = ctx.x[0], ctx.out, ctx.groups
    _check_groups(ctx, cin, cout, g)
    k, s, d = ctx.per_axis("kernel"), ctx.per_axis("stride"), ctx.per_axis("dilation")
    k_eff = tuple(effective_kernel(ki, di) for ki, di in zip(k, d))
    pads = paddings(ctx, k_eff, s)
    out_sp = []
    for axis, (n, ki, di, ke, si, (pl, pr)) in enumerate(zip(ctx.spatial, k, d, k_eff, s, pads)):
        if ctx.padding_mode == "reflect":  # torch checks each side (F.pad)
            ctx.require(dmax(pl, pr) < n,
                        f"reflect padding {dmax(pl, pr)} must be smaller than the input size {n}")
        if ctx.padding_mode == "circular":
            ctx.require(dmax(pl, pr) <= n, f"circular padding {dmax(pl, pr)} must not exceed "
                        f"the input size {n} (it would wrap around more than once)")
        if ctx.padding == "same":
            name = AXES[ctx.nd][axis]
            out_sp.append(named(f"{name}_out", same_out(ctx.term(name, n), ctx.term("s", si))))
            continue
        ctx.require(
            n + pl + pr >= ke,
            f"kernel span {ke} is larger than the padded input {n + pl + pr} on spatial axis "
            f"{axis + 1} (input {n}, padding {pl}+{pr}); needs n + padding ≥ d·(k−1)+1",
        )
        out_sp.append(sliding_axis(ctx, axis, n, ki, si, di, pl, pr))
    t = ctx.term
    kt, cin_t, cout_t = kernel_terms(ctx, k), t("C_in", cin), t("C_out", cout)
    per_out = prod(kt) * (cin_t // t("groups", g, elide_one=True))  # weights per output channel
    outs = tuple(t(f"{a}_out", value_of(o)) for a, o in zip(AXES[ctx.nd], out_sp))
    return Out(
        shape=(cout, *out_sp),
        params=(per_out + 1) * cout_t if ctx.bias else per_out * cout_t,
        macs=prod(outs) * cout_t * per_out,
        rf=(None, *(Window(ke, si, pl) for ke, si, (pl, _) in zip(k_eff, s, pads))),
    )


CONVT_ARGS = {
    "out": Arg("int", min=1, doc="output channels"),
    "kernel": Arg("ints", min=1),
    "stride": Arg("ints", 1, min=1),
    "padding": Arg("ints", 0, min=0),
    "output_padding": Arg("ints", 0, min=0),
    "dilation": Arg("ints", 1, min=1),
    "groups": Arg("int", 1, min=1),
    "bias": Arg("bool", True),
}


@register_layer(
    *CONV_TRANSPOSES, args=CONVT_ARGS, family="conv",
    nd={"convtranspose1d": 1, "convtranspose2d": 2, "convtranspose3d": 3},
)
def conv_transpose(ctx: Ctx) -> Out:
    """Transposed convolution: out = (n−1)s − 2p + d(k−1) + output_padding + 1.

    MACs use the input's spatial size (FlopCounterMode, fvcore): ∏n_in · Cin · Cout/g · ∏k.
    """
    ctx.expect_rank(ctx.nd + 1, _LAYOUT[ctx.nd])
    cin, cout, g = ctx.x[0], ctx.out, ctx.groups
    _check_groups(ctx, cin, cout, g)
    k, s, d = ctx.per_axis("kernel"), ctx.per_axis("stride"), ctx.per_axis("dilation")
    p, op = ctx.per_axis("padding"), ctx.per_axis("output_padding")
    t = ctx.term
    out_sp = []
    for axis, (n, ki, si, di, pi, opi) in enumerate(zip(ctx.spatial, k, s, d, p, op)):
        ctx.require(
            opi < dmax(si, di),
            f"output_padding {opi} must be smaller than stride {si} or dilation {di}",
        )
        name = AXES[ctx.nd][axis]
        size = (t(name, n) - 1) * t("s", si) - 2 * t("p", pi) + t("d", di) * (t("k", ki) - 1) \
            + t("output_padding", opi) + 1
        ctx.require(
            value_of(size) >= 1,
            f"output size {value_of(size)} on spatial axis {axis + 1} is not positive",
        )
        out_sp.append(named(f"{name}_out", size))
    cin_t, cout_t = t("C_in", cin), t("C_out", cout)
    weights = prod(kernel_terms(ctx, k)) * cin_t * (cout_t // t("groups", g, elide_one=True))
    ins = tuple(t(f"{a}_in", n) for a, n in zip(AXES[ctx.nd], ctx.spatial))
    return Out(
        shape=(cout, *out_sp),
        params=weights + cout_t if ctx.bias else weights,
        macs=prod(ins) * cin_t * (cout_t // t("groups", g, elide_one=True))
        * prod(kernel_terms(ctx, k)),
        rf=(None,) * (ctx.nd + 1),
    )


LEARNED_GROUP_ARGS = {
    "out": Arg("int", min=1, doc="output channels"),
    "kernel": Arg("ints", 1, min=1, doc="kernel size (1 in CondenseNet)"),
    "stride": Arg("ints", 1, min=1),
    "padding": Arg("ints", 0, min=0),
    "groups": Arg("int", min=1, doc="G: output groups"),
    "condense_factor": Arg("int", min=1, doc="C: each group keeps in/C input channels"),
    "phase": Arg("str", "test", choices=("test", "train"),
                 doc="test: the condensed layer; train: the dense masked convolution"),
    "bias": Arg("bool", False),
}


@register_layer("learnedgroupconv", args=LEARNED_GROUP_ARGS, family="conv", nd={"learnedgroupconv": 2})
def learned_group_conv(ctx: Ctx) -> Out:
    """Learned group convolution (CondenseNet), condensed at test time.

    phase test (the deployed layer, CondensingConv): an index selection of Cin·G/C channels
    (its index a buffer) and a G-group convolution: each output reads Cin/C channels, params
    Cout·Cin/C·∏k. phase train: the dense convolution, params Cout·Cin·∏k, with its mask (a
    buffer of the weight's size) that learning prunes. The BN-ReLU the authors' module runs
    first is written in the spec (on the selected channels, as many as Cin when G = C).
    """
    ctx.expect_rank(3, _LAYOUT[2])
    cin, cout, g, c = ctx.x[0], ctx.out, ctx.groups, ctx.condense_factor
    # The conditions of the authors' LearnedGroupConv (ShichenLiu/CondenseNet, layers.py):
    # the condensed layer's G groups each read a whole Cin/C of the input channels.
    ctx.require(divides(c, cin),
                f"condense_factor {c} does not divide the input channels {cin}")
    _check_groups(ctx, cin, cout, g)
    k, s = ctx.per_axis("kernel"), ctx.per_axis("stride")
    pads = ctx.per_axis("padding")
    out_sp = []
    for axis, (n, ki, si, pi) in enumerate(zip(ctx.spatial, k, s, pads)):
        ctx.require(n + 2 * pi >= ki,
                    f"kernel {ki} is larger than the padded input {n + 2 * pi} on spatial "
                    f"axis {axis + 1} (input {n}, padding {pi})")
        out_sp.append(sliding_axis(ctx, axis, n, ki, si, 1, pi, pi))
    t = ctx.term
    kt, cin_t, cout_t = kernel_terms(ctx, k), t("C_in", cin), t("C_out", cout)
    if ctx.phase == "test":  # the index of the Cin·G/C selected channels is a buffer
        per_out = prod(kt) * (cin_t // t("C", c))  # each output reads Cin/C channels
        index = cin_t * t("G", g) // t("C", c)
    else:  # the mask: one entry per weight
        per_out = prod(kt) * cin_t
        index = per_out * cout_t
    outs = tuple(t(f"{a}_out", value_of(o)) for a, o in zip(AXES[2], out_sp))
    return Out(
        shape=(cout, *out_sp),
        params=(per_out + 1) * cout_t if ctx.bias else per_out * cout_t,
        buffers=index,
        macs=prod(outs) * cout_t * per_out,
        rf=(None, *(Window(ki, si, pi) for ki, si, pi in zip(k, s, pads))),
    )


# ---------------------------------------------------------------- other tools' counts
# FlopCounterMode (torch/utils/flop_counter.py): convolutions, 2 FLOPs per MAC; the
# transposed convolution uses the input's spatial size (archcalc's MACs exactly).
counts("flopcounter", *CONVS, *CONV_TRANSPOSES, "learnedgroupconv")(record_macs)
# fvcore/nn/flop_count.py + jit_handles.py (0.1.5.post20221221): one fused multiply-add
# is one "flop".
counts("fvcore", *CONVS, *CONV_TRANSPOSES, "learnedgroupconv")(record_macs)


@counts("ptflops", *CONVS, *CONV_TRANSPOSES, "learnedgroupconv")
def _ptflops_conv(v):
    """conv_flops_counter_hook: MACs (input size when transposed) + bias: output numel."""
    return v.record.macs + bias_adds(v)


# ptflops, backend 'aten': mm/addmm/bmm/convolution only, as MACs including the bias.
@counts("ptflops-aten", *CONVS, *CONV_TRANSPOSES, "learnedgroupconv")
def _ptflops_aten_conv(v):
    return v.record.macs + bias_adds(v)


# thop/vision/basic_hooks.py + calc_func.py (0.1.1.post2209072238)
@counts("thop", *CONVS, *CONV_TRANSPOSES)
def _thop_conv(v):
    """count_convNd: output numel·(C_in/groups)·∏k — the OUTPUT size, transposed too."""
    ks = per_axis(v.arg("kernel"), v.spatial_rank)
    return v.n_out * (v.x[0] // v.arg("groups", 1)) * prod(ks)


# The learned group convolution is, in each phase, one Conv2d (after an index_select that no
# tool counts at test time): thop's count_convNd reads that Conv2d's in_channels/groups,
# Cin·G/C/G = Cin/C at test time and Cin in training, which gives archcalc's MACs.
counts("thop", "learnedgroupconv")(record_macs)


# torchinfo/layer_info.py calculate_macs (1.8.0): for every parameter named weight or
# bias, a Conv* layer adds numel·∏(output spatial).
@counts("torchinfo", *CONVS, *CONV_TRANSPOSES, "learnedgroupconv")
def _torchinfo_conv(v):
    """(weight + bias)·∏output spatial — bias included, the OUTPUT size when transposed."""
    return v.record.params * prod(v.output[1:])


# Backward (torch/utils/flop_counter.py conv_backward_flop): grad_input is one transposed
# convolution of grad_out with the weight (a convolution for a transposed layer), grad_weight
# one convolution of the input with grad_out, each the forward's MACs, counted only where
# convolution_backward's output_mask asks for it; grad_bias is a sum (no MACs).
backward(*CONVS, *CONV_TRANSPOSES, "learnedgroupconv")(each_needed)


# FlopCounterMode's grad_weight of a grouped convolution (conv_backward_flop, "grad_weight as
# conv(inp, grad_out)") swaps the batch and channel axes of the input and grad_out and counts
# that convolution as if ungrouped: groups × the MACs autograd's grouped convolution does
# (measured in tests/test_training.py). Verify compares its measurement with this count.
@flopcounter_backward(*CONVS, *CONV_TRANSPOSES)
def _flopcounter_conv_backward(v, grads):
    """grad_input as computed; grad_weight counted groups times."""
    return grads[0] + v.arg("groups", 1) * grads[1]

# ---------------------------------------------------------------- kept for backward
# tools/autograd/derivatives.yaml, convolution: the weight's gradient reads the input, the
# input's gradient the weight (a parameter: not an activation). The input is kept only
# when the weight needs a gradient (the codegen saves a variable only for the gradients
# that are needed). A padding that PyTorch applies as a separate pad (Keras 'same' with a
# stride: the builder's constant pad; torch's own 'same' with an odd total padding along
# an axis: ATen's _convolution_mode pads the extra element, Convolution.cpp) makes the
# convolution keep the padded copy instead.


@saves(*CONVS, *CONV_TRANSPOSES, "learnedgroupconv")
def _conv_keeps(v) -> list:
    if not v.trainable:
        return []
    if v.arg("padding_mode", "zeros") != "zeros":
        raise NotModelled(f"the tensors {v.type} keeps with padding_mode "
                          f"{v.arg('padding_mode')} are not modelled")
    if v.type == "learnedgroupconv":  # the convolution keeps its input: the selected
        if v.arg("phase", "test") == "train":  # channels at test time, the input in training
            return [kept_input()]
        return [kept_new(v.batch * v.x[0] * v.arg("groups") // v.arg("condense_factor")
                         * dims.prod(v.x[1:]))]
    if v.type in CONV_TRANSPOSES or v.arg("padding") != "same":
        return [kept_input()]
    nd = len(v.x) - 1
    k = per_axis(v.arg("kernel"), nd)
    s = per_axis(v.arg("stride", 1), nd)
    d = per_axis(v.arg("dilation", 1), nd)
    spans = [effective_kernel(ki, di) for ki, di in zip(k, d)]
    if any(si != 1 for si in s):
        padded = [n + sum(keras_same_pads(n, e, si)) for n, e, si in zip(v.x[1:], spans, s)]
    else:
        odd = [(e - 1) % 2 for e in spans]
        if not any(odd):
            return [kept_input()]
        padded = [n + o for n, o in zip(v.x[1:], odd)]
    return [kept_new(v.batch * v.x[0] * dims.prod(padded))]
