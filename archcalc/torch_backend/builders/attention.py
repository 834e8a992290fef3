"""Builders for attention layers (mirrors archcalc/layers/attention.py)."""

from __future__ import annotations

import torch
from torch import nn

from ..registry import BuildCtx, Source, builds, call, exports
from ..weights import constant_weights


class SequenceAttention(nn.Module):
    """nn.MultiheadAttention (batch_first) on one tensor (self-attention) or two (queries,
    then keys = values), returning the output alone. It is called with need_weights=True:
    the explicit matrix products (torch/nn/functional.py multi_head_attention_forward,
    torch.bmm for Q·Kᵀ and A·V) that FlopCounterMode counts."""

    def __init__(self, attention: nn.MultiheadAttention):
        super().__init__()
        self.attention = attention

    def forward(self, x, kv=None):
        # Self-attention as a view of x: with query, key and value the same tensor an eval
        # module takes the fused fast path (torch/nn/modules/activation.py:1365,
        # torch._native_multi_head_attention), whose products FlopCounterMode does not
        # count. The values are the same; the packed in-projection's MACs too. Keys read from
        # a named output that is the current tensor itself are the same case.
        kv = x.view(x.shape) if kv is None or kv is x else kv
        return self.attention(x, kv, kv, need_weights=True)[0]


@builds("multiheadattention")
def multiheadattention(b: BuildCtx) -> nn.Module:
    """In the narrow copy a narrowed embedding (one feature) has one head."""
    embed = b.x[-1]
    heads = 1 if b.narrowed_last else b.a["heads"]
    kv = b.xs[1] if len(b.xs) > 1 else b.x
    if b.narrow:  # the features the (possibly narrowed) keys and values have
        kdim = vdim = kv[-1]
    else:
        kdim = embed if b.a["kdim"] is None else b.a["kdim"]
        vdim = embed if b.a["vdim"] is None else b.a["vdim"]
    layer = nn.MultiheadAttention(embed, heads, bias=b.a["bias"], kdim=kdim, vdim=vdim,
                                  add_bias_kv=b.a["add_bias_kv"], batch_first=True)
    return SequenceAttention(constant_weights(layer) if b.linear else layer)


class Attention(nn.Module):
    """General attention on [B, .., L, E] (keys and values from a second tensor
    [B, .., S, E_kv] for cross-attention), written in plain PyTorch as HF's LlamaAttention
    does: nn.Linear q/k/v/o, explicit torch.matmul for Q·Kᵀ and A·V (which FlopCounterMode
    counts as bmm; F.scaled_dot_product_attention on the CPU is not counted by it), key and
    value heads repeated for grouped-query attention (repeat_interleave: no products), the
    rotary rotation of q and k, a causal mask and a bias table [N, H] gathered into the
    scores, and dropout of the attention weights in training as nanoGPT's attn_dropout
    (element-wise: FlopCounterMode counts none of them)."""

    def __init__(self, embed, kv_embed, heads, kv_heads, head_dim, out, flags, causal,
                 rotary, table, scale, dropout=0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout) if dropout else None
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, head_dim
        self.q = nn.Linear(embed, heads * head_dim, bias=flags["q"])
        self.k = nn.Linear(kv_embed, kv_heads * head_dim, bias=flags["k"])
        self.v = nn.Linear(kv_embed, kv_heads * head_dim, bias=flags["v"])
        self.o = nn.Linear(heads * head_dim, out, bias=flags["o"])
        self.causal, self.rotary = causal, rotary
        self.scale = head_dim ** -0.5 if scale is None else scale
        self.table = nn.Parameter(torch.zeros(table, heads)) if table else None

    def _heads(self, t, n):  # [B, .., T, n·d] -> [B, .., n, T, d]
        return t.unflatten(-1, (n, self.head_dim)).transpose(-3, -2)

    def _rotate(self, t):
        """Rotary embedding (Su et al. 2021, as HF's rotate_half writes it): each half of
        a head rotated by position-dependent angles; element-wise only."""
        half = self.head_dim // 2
        pos = torch.arange(t.shape[-2], dtype=t.dtype, device=t.device)
        inv = 10000.0 ** (-torch.arange(half, dtype=t.dtype, device=t.device) / half)
        angles = pos[:, None] * inv[None, :]
        angles = torch.cat((angles, angles), dim=-1)
        first, second = t[..., :half], t[..., half:]
        return t * angles.cos() + torch.cat((-second, first), dim=-1) * angles.sin()

    def forward(self, x, kv=None):
        kv = x if kv is None else kv
        q = self._heads(self.q(x), self.heads)
        k = self._heads(self.k(kv), self.kv_heads)
        v = self._heads(self.v(kv), self.kv_heads)
        if self.rotary:
            q, k = self._rotate(q), self._rotate(k)
        group = self.heads // self.kv_heads
        if group > 1:
            k = k.repeat_interleave(group, dim=-3)
            v = v.repeat_interleave(group, dim=-3)
        scores = torch.matmul(q * self.scale, k.transpose(-2, -1))  # [B, .., H, L, S]
        length, keys = scores.shape[-2], scores.shape[-1]
        if self.table is not None:  # a fixed relative-position pattern into the table
            rel = torch.arange(length, device=x.device)[:, None] - \
                torch.arange(keys, device=x.device)[None, :]
            bias = self.table[rel.remainder(self.table.shape[0])]  # [L, S, H]
            scores = scores + bias.permute(2, 0, 1)
        if self.causal:
            later = torch.ones(length, keys, dtype=torch.bool, device=x.device).triu(1)
            scores = scores.masked_fill(later, float("-inf"))
        weights = scores.softmax(dim=-1)
        if self.dropout is not None:
            weights = self.dropout(weights)
        attended = torch.matmul(weights, v)  # [B, .., H, L, d]
        return self.o(attended.transpose(-3, -2).flatten(-2))


@builds("attention")
def attention(b: BuildCtx) -> nn.Module:
    """In the narrow copy a narrowed embedding (one feature) gives one output feature."""
    embed = b.x[-1]
    kv = b.xs[1] if len(b.xs) > 1 else b.x
    heads = b.a["heads"]
    kv_heads = heads if b.a["kv_heads"] is None else b.a["kv_heads"]
    head_dim = b.a["head_dim"]
    if head_dim is None:
        head_dim = max(1, (b.wide_xs[0][-1] if b.narrowed_last else embed) // heads)
    out = b.a["out"] if b.a["out"] is not None else embed
    if b.narrowed_last:
        out = 1
    flags = {k: b.a["bias"] if b.a[f"{k}_bias"] is None else b.a[f"{k}_bias"] for k in "qkvo"}
    layer = Attention(embed, kv[-1], heads, kv_heads, head_dim, out, flags, b.a["causal"],
                      b.a["rotary"], b.a["bias_table"], b.a["scale"], b.a.get("dropout", 0.0))
    return constant_weights(layer) if b.linear else layer


@exports("multiheadattention")
def export_multiheadattention(b: BuildCtx) -> Source:
    """``SequenceAttention``: nn.MultiheadAttention called so that FlopCounterMode sees its
    products (exported_modules.py); keys and values from ``kv`` when it is given."""
    embed = b.x[-1]
    return Source(call("SequenceAttention", embed, b.a["heads"], bias=(b.a["bias"], True),
                       kdim=(b.a["kdim"], None), vdim=(b.a["vdim"], None),
                       add_bias_kv=(b.a["add_bias_kv"], False)),
                  classes=("SequenceAttention",))


@exports("attention")
def export_attention(b: BuildCtx) -> Source:
    """``Attention`` (exported_modules.py) with the spec's arguments, by their names."""
    a = b.a
    kv_embed = b.xs[1][-1] if len(b.xs) > 1 else b.x[-1]
    options = {key: (a[key], None) for key in ("kv_heads", "head_dim", "out")}
    options["kv_embed"] = (kv_embed, b.x[-1])
    options["bias"] = (a["bias"], True)
    options.update({f"{k}_bias": (a[f"{k}_bias"], None) for k in "qkvo"})
    options.update(causal=(a["causal"], False), rotary=(a["rotary"], False),
                   bias_table=(a["bias_table"], 0),
                   scale=(None if a["scale"] is None else float(a["scale"]), None),
                   dropout=(float(a.get("dropout", 0.0)), 0.0))
    return Source(call("Attention", b.x[-1], a["heads"], **options), classes=("Attention",))
