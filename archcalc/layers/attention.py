"""Attention layers: ``nn.MultiheadAttention`` on a sequence ``[L, E]`` (batch_first; the
batch axis is left out as everywhere), self-attention or cross-attention on a named output.

Counts follow torch 2.13 (torch/nn/modules/activation.py, class MultiheadAttention, and
torch/nn/functional.py, multi_head_attention_forward): the parameters are exactly
``sum(p.numel() for p in m.parameters())``; the MACs are those FlopCounterMode counts when
the module is called with ``need_weights=True`` (explicit matrix products; the fused
scaled_dot_product_attention path of need_weights=False is not counted by it)."""

from __future__ import annotations

from ..dims import divides, eq, resolve
from .base import Arg, Ctx, Out, fmt_shape, register_layer
from .costs import counts, record_macs


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
