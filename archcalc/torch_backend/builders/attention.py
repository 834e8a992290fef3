"""Builders for attention layers (mirrors archcalc/layers/attention.py)."""

from __future__ import annotations

from torch import nn

from ..registry import BuildCtx, builds
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
        # count. The values are the same; the packed in-projection's MACs too.
        kv = x.view(x.shape) if kv is None else kv
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
