"""Attention layers: ``nn.MultiheadAttention`` on a sequence ``[L, E]`` (batch_first; the
batch axis is left out as everywhere), self-attention or cross-attention on a named output.

Counts follow torch 2.13 (torch/nn/modules/activation.py, class MultiheadAttention, and
torch/nn/functional.py, multi_head_attention_forward): the parameters are exactly
``sum(p.numel() for p in m.parameters())``; the MACs are those FlopCounterMode counts when
the module is called with ``need_weights=True`` (explicit matrix products; the fused
scaled_dot_product_attention path of need_weights=False is not counted by it).

``attention`` is the general layer of decoder-only and encoder-decoder transformers and of
windowed vision transformers: any leading batch-like axes ``[.., L, E]``, separate q/k/v/o
projections (nn.Linear each, as HF LlamaAttention / T5Attention write them), grouped-query
heads, a causal mask, rotary embeddings and a relative-position bias table. Its parameters
are those four Linear layers' and the table's ``N·H``; its MACs the four projections plus
Q·Kᵀ and A·V, ``L·S·H·d`` each (as torchvision's ``_ops`` and nanoGPT count the two
products: 2·L²·D per layer of full self-attention), per index of the leading axes. Softmax,
the mask, the rotation (element-wise multiplies and adds of q and k), the scale and the
table's gather and add are not multiply-accumulates of a product and count zero, as
FlopCounterMode counts them."""

from __future__ import annotations

from .. import dims
from ..dims import divides, eq, exactdiv, floordiv, prod, resolve
from .base import Arg, Ctx, Out, fmt_shape, register_layer
from .backward import backward
from .costs import counts, record_macs
from .activation import dropout_kept
from .saves import BOOL, CONTIGUOUS, INT64, SEQ_FIRST, NotModelled, kept_contiguous, kept_input
from .saves import kept_new, output_layout, saves
from .terms import named


@register_layer(
    "multiheadattention", family="attention", nd={"multiheadattention": 1},  # rank 2: [L, E]
    args={"heads": Arg("int", min=1, doc="num_heads; must divide E"),
          "bias": Arg("bool", True, doc="in_proj_bias and out_proj.bias"),
          "kdim": Arg("int", None, min=1, doc="key features; default E"),
          "vdim": Arg("int", None, min=1, doc="value features; default E"),
          "add_bias_kv": Arg("bool", False, doc="bias_k, bias_v: one more key and value"),
          "kv": Arg("ref", None, tensor=True,
                    doc="keys and values from this named output [S, kdim] (cross-attention); "
                        "default the input (self-attention, S = L)")},
)
def multiheadattention(ctx: Ctx) -> Out:
    """Multi-head attention [L, E] → [L, E] (nn.MultiheadAttention, batch_first).

    Params 4E² + 4E with kdim = vdim = E and bias; MACs the projections, Q·Kᵀ and A·V."""
    if len(ctx.x) != 2:
        ctx.fail(f"expects a sequence [L, E], got {fmt_shape(ctx.x)} (rank {len(ctx.x)})")
    length, embed = ctx.x
    kdim = embed if ctx.kdim is None else ctx.kdim
    vdim = embed if ctx.vdim is None else ctx.vdim
    # activation.py:1193: "embed_dim must be divisible by num_heads"
    ctx.require(divides(ctx.heads, embed),
                f"embedding size E = {embed} is not divisible by heads = {ctx.heads}")
    source = ctx.x if ctx.kv is None else ctx.kv
    what = "the input (self-attention)" if ctx.kv is None else f"'kv' {fmt_shape(ctx.kv)}"
    if len(source) != 2:
        ctx.fail(f"{what} is not a sequence [S, features]")
    for name, dim in (("kdim", kdim), ("vdim", vdim)):  # key = value = the kv sequence
        ctx.require(eq(source[-1], dim),
                    f"{what} has {source[-1]} features, not {name} = {dim}")
    e = ctx.term("E", embed)
    big_l = ctx.term("L", length)
    big_s = ctx.term("S", source[0])
    # activation.py:1186: _qkv_same_embed_dim = kdim == embed_dim and vdim == embed_dim
    same = resolve(eq(kdim, embed)) is True and resolve(eq(vdim, embed)) is True
    if same:
        in_proj = 3 * e * e  # activation.py:1207: in_proj_weight [3E, E]
        k_proj = big_s * e * e
        v_proj = big_s * e * e
    else:  # activation.py:1196-1205: q/k/v_proj_weight [E, E], [E, kdim], [E, vdim]
        kd, vd = ctx.term("kdim", kdim), ctx.term("vdim", vdim)
        in_proj = e * e + e * kd + e * vd
        k_proj = big_s * kd * e
        v_proj = big_s * vd * e
    params = in_proj + e * e  # activation.py:1218: out_proj Linear(E, E)
    if ctx.bias:
        params = params + 3 * e + e  # activation.py:1215: in_proj_bias [3E]; out_proj.bias
    keys = big_s
    if ctx.add_bias_kv:
        params = params + 2 * e  # activation.py:1223-1224: bias_k, bias_v [1, 1, E]
        keys = big_s + 1  # functional.py:6929: bias_k appended to the keys (and values)
    # functional.py:6871/6889 (in-projections), 7035 Q·Kᵀ (bmm), 7042 A·V (bmm),
    # 7047 out_proj (linear): each L·S·E for the two products, summed over the heads.
    macs = big_l * e * e + k_proj + v_proj + 2 * big_l * keys * e + big_l * e * e
    return Out(shape=ctx.x, params=params, macs=macs, rf=(None, None))


# FlopCounterMode (torch/utils/flop_counter.py): mm, addmm and bmm at 2 FLOPs per MAC, the
# products above exactly (measured in tests/test_differential_layers.py).
counts("flopcounter", "multiheadattention")(record_macs)


# ---------------------------------------------------------------- general attention
def _default(value, fallback):
    return fallback if value is None else value


@register_layer(
    "attention", family="attention",
    args={"heads": Arg("int", min=1, doc="query heads H"),
          "kv_heads": Arg("int", None, min=1,
                          doc="key/value heads; default heads; fewer: grouped-query "
                              "attention (1: multi-query), must divide heads"),
          "head_dim": Arg("int", None, min=1, doc="features per head; default E/heads"),
          "out": Arg("int", None, min=1, doc="output features; default E"),
          "bias": Arg("bool", True, doc="default of q_bias, k_bias, v_bias, o_bias"),
          "q_bias": Arg("bool", None, doc="query projection bias; default bias"),
          "k_bias": Arg("bool", None, doc="key projection bias; default bias"),
          "v_bias": Arg("bool", None, doc="value projection bias; default bias"),
          "o_bias": Arg("bool", None, doc="output projection bias; default bias"),
          "causal": Arg("bool", False, doc="mask later keys (S = L); counted in full, "
                                           "--convention megatron halves the products"),
          "kv": Arg("ref", None, tensor=True,
                    doc="keys and values from this named output [.., S, E_kv] "
                        "(cross-attention); default the input (S = L)"),
          "rotary": Arg("bool", False, doc="rotary position embedding of queries and keys: "
                                           "no parameters, no MACs (element-wise)"),
          "bias_table": Arg("int", 0, min=0,
                            doc="rows N of a learned relative-position bias table [N, heads] "
                                "added to the scores (Swin (2W−1)², T5 32); no MACs"),
          "scale": Arg("float", None, doc="score scale; default 1/√head_dim (no effect on "
                                          "counts)"),
          "dropout": Arg("float", 0.0, doc="dropout probability of the attention weights "
                                           "(softmax's result) in training, as nanoGPT's "
                                           "attn_dropout; no MACs")},
)
def attention(ctx: Ctx) -> Out:
    """General attention [.., L, E] → [.., L, out]: separate q/k/v/o projections (grouped-query
    with kv_heads < heads), Q·Kᵀ and A·V per head; rotary embeddings cost nothing."""
    x = ctx.x
    if not 0 <= ctx.dropout <= 1:  # F.dropout rejects it too
        ctx.fail(f"dropout probability {ctx.dropout} is not between 0 and 1")
    if len(x) < 2:
        ctx.fail(f"expects a sequence [.., L, E], got {fmt_shape(x)} (rank {len(x)})")
    lead, (length, embed) = x[:-2], x[-2:]
    source = x if ctx.kv is None else ctx.kv
    if ctx.kv is not None:
        what = f"'kv' {fmt_shape(ctx.kv)}"
        if len(source) != len(x):
            ctx.fail(f"{what} must be a sequence with the same leading axes as the input "
                     f"{fmt_shape(x)} (rank {len(x)}), got rank {len(source)}")
        for i, (a, b) in enumerate(zip(lead, source[:-2])):
            ctx.require(eq(a, b), f"{what} has {b} along leading axis {i}, the input {a}")
    heads = ctx.heads
    kv_heads = _default(ctx.kv_heads, heads)
    # grouped-query attention: each key/value head serves heads/kv_heads query heads
    ctx.require(divides(kv_heads, heads),
                f"heads = {heads} is not a multiple of kv_heads = {kv_heads}")
    if ctx.head_dim is None:
        ctx.require(divides(heads, embed),
                    f"embedding size E = {embed} is not divisible by heads = {heads}; "
                    f"head_dim sets the features per head")
    if ctx.causal:
        ctx.require(eq(source[-2], length),
                    f"causal attention needs as many keys as queries: S = {source[-2]}, "
                    f"L = {length}")
    if ctx.rotary:  # rotates pairs of features (the two halves of each head)
        ctx.require(divides(2, _default(ctx.head_dim, exactdiv(embed, heads))),
                    f"rotary embeddings need an even head_dim, got "
                    f"{_default(ctx.head_dim, exactdiv(embed, heads))}")
    e = ctx.term("E", embed)
    big_l = ctx.term("L", length)
    big_s = big_l if ctx.kv is None else ctx.term("S", source[-2])
    e_kv = e if ctx.kv is None else ctx.term("E_kv", source[-1])
    h = ctx.term("H", heads)
    h_kv = h if ctx.kv_heads is None else ctx.term("H_kv", kv_heads)
    d = ctx.term("d", _default(ctx.head_dim, exactdiv(embed, heads)))
    out = e if ctx.out is None else ctx.term("out", ctx.out)
    flags = {k: _default(ctx.a[f"{k}_bias"], ctx.bias) for k in "qkvo"}
    params = e * h * d + e_kv * h_kv * d + e_kv * h_kv * d + h * d * out
    for k, size in (("q", h * d), ("k", h_kv * d), ("v", h_kv * d), ("o", out)):
        if flags[k]:
            params = params + size
    if dims.resolve(eq(ctx.bias_table, 0)) is not True:
        params = params + ctx.term("N", ctx.bias_table) * h
    # q, k, v and o projections, Q·Kᵀ and A·V: L·S·H·d multiply-accumulates each.
    macs = big_l * e * h * d + big_s * e_kv * h_kv * d + big_s * e_kv * h_kv * d + \
        2 * big_l * big_s * h * d + big_l * h * d * out
    if lead:
        macs = ctx.term("∏leading", prod(lead)) * macs
    shape = (*lead, length, named("features_out", out))
    return Out(shape=shape, params=params, macs=macs, rf=(*range(len(lead)), None, None))


# FlopCounterMode: the four projections (addmm/mm) and the two products (bmm) at 2 FLOPs
# per MAC (measured in tests/test_differential_layers.py); the rotary and mask arithmetic
# and the bias-table gather are element-wise and not counted.
counts("flopcounter", "attention")(record_macs)


def _sizes(v) -> tuple:
    """An attention layer's view as its count rules read it: input, keys/values input,
    heads, key/value heads, head size, L, S and output features."""
    x = v.x
    kv = v.inputs[1] if len(v.inputs) > 1 else x
    heads = v.arg("heads")
    kv_heads = v.arg("kv_heads") or heads
    d = v.arg("head_dim") or exactdiv(x[-1], heads)
    return x, kv, heads, kv_heads, d, x[-2], kv[-2], v.output[-1]


# Megatron-LM, megatron/training/training.py num_floating_point_operations (commit 001b00c,
# transformer_flops, "MHA or GQA"): per token and layer the core attention is
# query_projection_size · seq_length / 2 ("causal mask (only half of the mask is non-zero)")
# · 2 ("QK^T and (QK^T)V"), at 2 FLOPs per multiply-add, ×3 for forward and backward; the
# projections hidden_size·(q + k + v sizes) and query_projection_size·hidden_size in full.
@counts("megatron", "attention")
def _megatron_attention(v):
    """The projections, and Q·Kᵀ and A·V at L·S·H·d/2 each when causal (Megatron-LM)."""
    x, kv, heads, kv_heads, d, length, keys, out = _sizes(v)
    products = length * keys * heads * d  # both together, half of 2·L·S·H·d
    if not v.arg("causal", False):
        products = 2 * products
    return prod(x[:-2]) * (length * x[-1] * heads * d + 2 * keys * kv[-1] * kv_heads * d +
                           products + length * heads * d * out)


# torchinfo/layer_info.py calculate_macs (1.8.0): each Linear adds its weight and bias numel
# × batch; the bias table is a parameter of the attention module itself, named `table` in
# archcalc's builder, neither "weight" nor "bias", so it adds nothing (measured in
# tests/test_profiles.py; an implementation naming it relative_position_bias_table, as
# Swin's does, would add it once per output row).
@counts("torchinfo", "attention")
def _torchinfo_attention(v):
    """The q, k, v and o projections' parameters × batch (1); not the bias table."""
    return v.record.params - v.arg("bias_table", 0) * v.arg("heads")



# Backward of the explicit products both builders use (matmul/bmm and the projections'
# linear; tools/autograd/derivatives.yaml): each projection's input gradient where its input
# needs one, its weight gradient when trained; Q·Kᵀ gives Q and K a product each, A·V gives A
# and V one each, where they need a gradient (Q needs one when the queries' input does or the
# projections are trained; K and V likewise with the keys' input; A when Q or K does). Softmax,
# the scale, masks, rotary and the bias table's gather have element-wise derivatives: no MACs.
def _attention_parts(v, lead, q_proj, kv_proj, products, o_proj, need):
    """(input grad, weight grad) of one attention layer from its parts' MACs (``kv_proj``:
    the k and v projections together; ``products``: one of Q·Kᵀ and A·V)."""
    need_x = need.inputs[0]
    need_kv = need.inputs[1] if len(need.inputs) > 1 else need_x
    q_n, kv_n = need_x or need.weights, need_kv or need.weights
    a_n = q_n or kv_n
    grads = (q_proj if need_x else 0) + (kv_proj if need_kv else 0)
    grads = grads + products * (int(q_n) + int(kv_n))  # Q·Kᵀ: dQ, dK
    grads = grads + products * (int(a_n) + int(kv_n))  # A·V: dA, dV
    grads = grads + (o_proj if a_n else 0)  # the output projection's input
    weights = q_proj + kv_proj + o_proj if need.weights else 0
    return lead * grads, lead * weights


@backward("multiheadattention")
def _mha_backward(v, need):
    """The projections' and products' gradients that autograd needs (Q·Kᵀ and A·V: two
    operands each)."""
    length, embed = v.x
    kv = v.inputs[1] if len(v.inputs) > 1 else v.x
    kdim, vdim = v.arg("kdim") or embed, v.arg("vdim") or embed
    keys = kv[0] + (1 if v.arg("add_bias_kv", False) else 0)
    return _attention_parts(v, 1, length * embed * embed, kv[0] * (kdim + vdim) * embed,
                            length * keys * embed, length * embed * embed, need)


@backward("attention")
def _attention_backward(v, need):
    """The projections' and products' gradients that autograd needs (Q·Kᵀ and A·V: two
    operands each), per index of the leading axes."""
    x, kv, heads, kv_heads, d, length, keys, out = _sizes(v)
    return _attention_parts(v, prod(x[:-2]), length * x[-1] * heads * d,
                            2 * keys * kv[-1] * kv_heads * d, length * keys * heads * d,
                            length * heads * d * out, need)

# ---------------------------------------------------------------- kept for backward
# General attention as its PyTorch copy computes it (plain operations, HF's LlamaAttention):
# derivatives.yaml keeps the q/k/v projections' inputs (addmm), mul's other operand (the
# rotary cos and sin tables, [L, d] and [S, d]), masked_fill's bool mask and the bias
# table's int64 index ([L, S]), softmax's result, the dropout of the weights (its mask, as the
# dropout layer keeps it, and its result, A·V's first operand instead of softmax's result
# when the probability is not 0), and bmm's operands (Q·scale, Kᵀ and V as
# [N·H, ., .] tensors of their own: the head views cannot be folded without a copy, and a
# repeated grouped-query head is a new tensor) and the output projection's input (a copy of
# the heads put back side by side). N = B·∏ leading axes.
@saves("attention")
def _attention_keeps(v) -> list:
    """Frozen (``trainable: false``): no projection keeps its input and the bias table no
    index; mul and bmm keep an operand only for the other's gradient, so the rotary tables
    of q (k) and Kᵀ (Q·scale) are kept when q (k) needs one: with the layer's own weights
    frozen, when its queries' (keys') input does."""
    x = v.x
    cross = len(v.inputs) > 1
    kv = v.inputs[1] if cross else x
    h = v.arg("heads")
    d = v.arg("head_dim") or floordiv(x[-1], h)
    L, S = x[-2], kv[-2]
    n = v.batch * prod(x[:-2])
    need_q = v.grads[0] or v.trainable
    need_kv = (v.grads[1] if cross else v.grads[0]) or v.trainable
    out = []
    if v.trainable:
        out.append(kept_contiguous(0))
        if cross:
            out.append(kept_contiguous(1))
    if v.arg("rotary"):
        out += [kept_new(2 * L * d)] * need_q + [kept_new(2 * S * d)] * need_kv
    if need_kv:
        out.append(kept_new(n * h * L * d))  # Q·scale
    if need_q:
        out.append(kept_new(n * h * S * d))  # Kᵀ
    if v.arg("bias_table") and v.trainable:
        out.append(kept_new(L * S, INT64))
    if v.arg("causal"):
        out.append(kept_new(L * S, BOOL))
    weights = n * h * L * S
    out.append(kept_new(weights))  # softmax's result
    p = v.arg("dropout", 0.0)
    if p != 0:  # the mask, and the dropped weights A·V's bmm keeps for V's gradient
        out += dropout_kept(weights, p, v.device)
        if need_kv:
            out.append(kept_new(weights))
    out.append(kept_new(n * h * S * d))  # V
    if v.trainable:
        out.append(kept_new(n * L * h * d))  # the output projection's input
    return out


# nn.MultiheadAttention as verify's copy calls it: training mode, batch_first, need_weights=True
# (torch/nn/modules/activation.py MultiheadAttention.forward; torch/nn/functional.py
# multi_head_attention_forward), keys and values one tensor (a view of the input for
# self-attention), so the packed weights take _in_projection_packed's "encoder-decoder" branch:
# q = linear(query, w_q), kv = linear(key, w_kv) made contiguous as [2, S, B, E] (K and V are
# views of it); with kdim ≠ E, _in_projection's three linear layers. The sequence-first
# transposes (query.transpose(1, 0)) fold to [L·B, E] without a copy only when that transpose
# is contiguous: a contiguous input with B = 1 or L = 1, or a sequence-first input (another
# nn.MultiheadAttention's output); else each in-projection keeps a copy of its own.
# derivatives.yaml: mm/addmm keep their input (for the weight's gradient); bmm keeps each
# operand for the other's gradient (Q·scale for K, Kᵀ for Q; the weights A for V, V for A);
# _softmax keeps its result; the scale (a Python float), the mask-free scores, cat
# (add_bias_kv: K and V of S + 1 keys, new tensors) and the average of the weights over the
# heads (need_weights' second result, mean: sizes only) keep nothing; out_proj keeps its input,
# the heads put side by side [L·B, E].
def _is_one(n) -> bool:
    return resolve(eq(n, 1)) is True


def _seq_fold(v, index: int, length, features) -> list:
    """What an in-projection keeps of input ``index`` ([B, length, features]) transposed to
    sequence-first and folded to [length·B, features]: the input's storage when that is a view,
    else a copy."""
    layout = v.layout(index)
    if layout == SEQ_FIRST or (layout == CONTIGUOUS and (_is_one(v.batch) or _is_one(length))):
        return [kept_input(index)]
    if layout == CONTIGUOUS:
        return [kept_new(v.batch * length * features)]
    raise NotModelled("what its in-projection keeps of a sliced or permuted input is not "
                      "modelled")


@saves("multiheadattention")
def _mha_keeps(v) -> list:
    length, embed = v.x
    cross = len(v.inputs) > 1
    keys, kdim = v.inputs[1] if cross else v.x
    packed = resolve(eq(kdim, embed)) is True
    need_q = v.grads[0] or v.trainable
    need_kv = (v.grads[1] if cross else v.grads[0]) or v.trainable
    b, heads = v.batch, v.arg("heads")
    kv_index = 1 if cross else 0
    out = []
    if v.trainable:  # the in-projections' inputs, for their weights' gradients
        out += _seq_fold(v, 0, length, embed)
        out += _seq_fold(v, kv_index, keys, kdim) * (1 if packed else 2)
    extra = v.arg("add_bias_kv", False)
    s = keys + 1 if extra else keys
    if need_kv:
        out.append(kept_new(b * length * embed))  # Q·scale, for K's gradient
    if extra or not packed:  # K and V tensors of their own
        k_storage, v_storage = kept_new(b * s * embed), kept_new(b * s * embed)
        if need_q:
            out.append(k_storage)
        out.append(v_storage)  # for A's gradient (A needs one whenever the layer runs)
    else:  # K and V: views of the packed [2, S, B, E] projection
        out.append(kept_new(2 * b * keys * embed))
    weights = b * heads * length * s
    out.append(kept_new(weights))  # softmax's result, also A·V's first operand
    if v.trainable:
        out.append(kept_new(b * length * embed))  # out_proj's input
    return out


@output_layout("multiheadattention")
def _mha_layout(v) -> str:
    """The output is attn_output.transpose(1, 0) of a [L, B, E] tensor: sequence-first in
    memory, contiguous when B = 1 or L = 1."""
    return CONTIGUOUS if _is_one(v.batch) or _is_one(v.x[0]) else SEQ_FIRST
