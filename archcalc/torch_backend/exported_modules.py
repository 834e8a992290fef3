"""The classes an exported file defines for the layer types torch.nn has no module for.

``archcalc export pytorch`` copies the source of the classes a network uses into the file
(``inspect.getsource``), so that the file needs torch alone, never archcalc. Each class
computes what the type's builder in ``builders/`` computes (tests/test_export.py runs both
on the same weights); it is written again here, in the words a reader of the file needs,
because a builder also serves verify's receptive-field copies. They may use only the names
the file imports: ``torch``, ``nn`` and ``F``.
"""

from __future__ import annotations

import torch
from torch import nn


class Attention(nn.Module):
    """Multi-head attention on [B, .., L, E], keys and values from x or from a second
    tensor kv [B, .., S, kv_embed] (cross-attention): nn.Linear projections q, k, v, o;
    kv_heads < heads shares each key/value head among heads/kv_heads query heads
    (grouped-query, 1: multi-query); optional rotary embedding of q and k, a causal mask
    and a learned relative-position bias table [bias_table, heads] added to the scores.
    The two products q·kᵀ and weights·v are explicit torch.matmul calls."""

    def __init__(self, embed, heads, kv_heads=None, head_dim=None, out=None, kv_embed=None,
                 bias=True, q_bias=None, k_bias=None, v_bias=None, o_bias=None,
                 causal=False, rotary=False, bias_table=0, scale=None, dropout=0.0):
        super().__init__()
        self.heads = heads
        self.kv_heads = heads if kv_heads is None else kv_heads
        self.head_dim = embed // heads if head_dim is None else head_dim
        out = embed if out is None else out
        kv_embed = embed if kv_embed is None else kv_embed
        inner, kv_inner = self.heads * self.head_dim, self.kv_heads * self.head_dim
        self.q = nn.Linear(embed, inner, bias=bias if q_bias is None else q_bias)
        self.k = nn.Linear(kv_embed, kv_inner, bias=bias if k_bias is None else k_bias)
        self.v = nn.Linear(kv_embed, kv_inner, bias=bias if v_bias is None else v_bias)
        self.o = nn.Linear(inner, out, bias=bias if o_bias is None else o_bias)
        self.causal, self.rotary = causal, rotary
        self.scale = self.head_dim ** -0.5 if scale is None else scale
        self.table = nn.Parameter(torch.zeros(bias_table, heads)) if bias_table else None
        self.dropout = nn.Dropout(dropout) if dropout else None

    def split_heads(self, t, n):
        """[B, .., T, n·head_dim] → [B, .., n, T, head_dim]."""
        return t.unflatten(-1, (n, self.head_dim)).transpose(-3, -2)

    def rotate(self, t):
        """Rotary embedding (Su et al. 2021, in rotate_half form): the two halves of each
        head rotated by angles position · 10000^(−i/half)."""
        half = self.head_dim // 2
        position = torch.arange(t.shape[-2], dtype=t.dtype, device=t.device)
        frequency = 10000.0 ** (-torch.arange(half, dtype=t.dtype, device=t.device) / half)
        angles = position[:, None] * frequency[None, :]
        angles = torch.cat((angles, angles), dim=-1)
        first, second = t[..., :half], t[..., half:]
        return t * angles.cos() + torch.cat((-second, first), dim=-1) * angles.sin()

    def forward(self, x, kv=None):
        kv = x if kv is None else kv
        q = self.split_heads(self.q(x), self.heads)
        k = self.split_heads(self.k(kv), self.kv_heads)
        v = self.split_heads(self.v(kv), self.kv_heads)
        if self.rotary:
            q, k = self.rotate(q), self.rotate(k)
        group = self.heads // self.kv_heads
        if group > 1:
            k = k.repeat_interleave(group, dim=-3)
            v = v.repeat_interleave(group, dim=-3)
        scores = torch.matmul(q * self.scale, k.transpose(-2, -1))  # [B, .., heads, L, S]
        length, keys = scores.shape[-2], scores.shape[-1]
        if self.table is not None:  # row (i − j) mod bias_table for query i and key j
            offset = torch.arange(length, device=x.device)[:, None] - \
                torch.arange(keys, device=x.device)[None, :]
            bias = self.table[offset.remainder(self.table.shape[0])]  # [L, S, heads]
            scores = scores + bias.permute(2, 0, 1)
        if self.causal:
            later = torch.ones(length, keys, dtype=torch.bool, device=x.device).triu(1)
            scores = scores.masked_fill(later, float("-inf"))
        weights = scores.softmax(dim=-1)
        if self.dropout is not None:
            weights = self.dropout(weights)
        attended = torch.matmul(weights, v)  # [B, .., heads, L, head_dim]
        return self.o(attended.transpose(-3, -2).flatten(-2))


class SequenceAttention(nn.MultiheadAttention):
    """nn.MultiheadAttention (batch_first) on one sequence x [B, L, E] (self-attention) or
    on queries x and a second sequence kv (keys = values), returning the output alone.

    Keys and values are passed as a view of x, and need_weights=True: with query, key and
    value the same tensor an eval module under torch.no_grad takes the fused kernel
    (torch._native_multi_head_attention), and without the weights the product goes through
    F.scaled_dot_product_attention; FlopCounterMode counts neither. The values are the same;
    the explicit products (bmm) of this path are the ones it counts."""

    def __init__(self, embed, heads, **options):
        super().__init__(embed, heads, batch_first=True, **options)

    def forward(self, x, kv=None):
        kv = x.view(x.shape) if kv is None or kv is x else kv
        return super().forward(x, kv, kv, need_weights=True)[0]


class StochasticDepth(nn.Module):
    """torchvision.ops.StochasticDepth: the identity in evaluation; in training each sample
    ('row') or the whole batch ('batch') is kept with probability 1 − p and scaled by
    1/(1 − p)."""

    def __init__(self, p, mode="row"):
        super().__init__()
        self.p, self.mode = p, mode

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        size = [x.shape[0]] + [1] * (x.dim() - 1) if self.mode == "row" else [1] * x.dim()
        noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(1.0 - self.p)
        return x * noise.div_(1.0 - self.p)


CLASSES = {cls.__name__: cls for cls in (Attention, SequenceAttention, StochasticDepth)}
