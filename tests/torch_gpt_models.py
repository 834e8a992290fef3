"""Hand-written PyTorch decoder-only transformers for the import tests.

GPT laid out as nanoGPT's model.py writes it (karpathy/nanoGPT: GPT, Block,
CausalSelfAttention, MLP; transformer.wte, wpe, drop, h, ln_f; lm_head tied to wte): token
and position embeddings (the positions read at ``torch.arange(T)``), pre-norm blocks of
LayerNorm, causal self-attention with one fused ``c_attn`` Linear(C, 3C) split into q, k, v
and ``F.scaled_dot_product_attention(is_causal=True)``, LayerNorm, MLP C → 4C → C with
GELU, a final LayerNorm and the head on every position. ``attention="explicit"`` is
nanoGPT's other path (no flash): ``q @ k.transpose(-2, -1) * (1 / sqrt(d))``, a
``masked_fill`` with the lower-triangular buffer ``bias`` whole (for T = n_ctx), softmax,
``@ v``; ``attention="sliced"`` is that path as nanoGPT writes it, the buffer cut to the
input's length: ``self.bias[:, :, :T, :T]``.
``attention="additive"`` adds a buffer of 0 and -inf to the scores instead;
``attention="sdpa_mask"`` passes SDPA the buffer as a boolean ``attn_mask``.
``attention="einsum"`` chunks the qkv projection and writes both products with
``torch.einsum``. ``window=True`` makes the mask of any of these banded (each token sees
itself and the one before): not causal. ``attention="separate"`` has q_proj, k_proj,
v_proj Linears (HF LlamaAttention's layout) with ``kv_heads`` key/value heads
(grouped-query attention, SDPA's ``enable_gqa``). ``Llama`` below is a Llama-style
decoder. Written independently of archcalc (nothing here imports it).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class CausalSelfAttention(nn.Module):
    def __init__(self, d_model, n_head, n_ctx, bias=True, attention="sdpa", kv_heads=None,
                 window=False):
        super().__init__()
        self.n_head, self.d_model, self.attention = n_head, d_model, attention
        self.kv_heads = kv_heads or n_head
        d = d_model // n_head
        if attention == "separate":
            self.q_proj = nn.Linear(d_model, n_head * d, bias=bias)
            self.k_proj = nn.Linear(d_model, self.kv_heads * d, bias=bias)
            self.v_proj = nn.Linear(d_model, self.kv_heads * d, bias=bias)
        else:
            self.c_attn = nn.Linear(d_model, 3 * d_model, bias=bias)
        self.c_proj = nn.Linear(d_model, d_model, bias=bias)
        self.resid_dropout = nn.Dropout(0.0)
        mask = torch.ones(n_ctx, n_ctx).tril()
        if window:  # each token sees itself and the one before: not causal
            mask = mask - torch.ones(n_ctx, n_ctx).tril(-2)
        if attention in ("explicit", "einsum", "sdpa_mask", "sliced"):
            self.register_buffer("bias", mask.view(1, 1, n_ctx, n_ctx))
        if attention == "additive":  # 0 where a token may attend, -inf where not
            self.register_buffer("bias", torch.zeros(n_ctx, n_ctx).masked_fill(mask == 0,
                                                                              float("-inf")))

    def forward(self, x):
        B, T, C = x.size()
        d = C // self.n_head
        if self.attention == "separate":
            q = self.q_proj(x).view(B, T, self.n_head, d).transpose(1, 2)
            k = self.k_proj(x).view(B, T, self.kv_heads, d).transpose(1, 2)
            v = self.v_proj(x).view(B, T, self.kv_heads, d).transpose(1, 2)
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                               enable_gqa=self.kv_heads != self.n_head)
        elif self.attention == "einsum":
            q, k, v = self.c_attn(x).chunk(3, dim=-1)
            q, k, v = (z.view(B, T, self.n_head, d).transpose(1, 2) for z in [q, k, v])
            att = torch.einsum("bhid,bhjd->bhij", q, k) / math.sqrt(d)
            att = att.masked_fill(self.bias == 0, float("-inf")).softmax(dim=-1)
            y = torch.einsum("bhij,bhjd->bhid", att, v)
        else:
            q, k, v = self.c_attn(x).split(self.d_model, dim=2)
            k = k.view(B, T, self.n_head, d).transpose(1, 2)
            q = q.view(B, T, self.n_head, d).transpose(1, 2)
            v = v.view(B, T, self.n_head, d).transpose(1, 2)
            if self.attention == "explicit":
                att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
                att = att.masked_fill(self.bias == 0, float("-inf"))  # T = n_ctx
                att = F.softmax(att, dim=-1)
                y = att @ v
            elif self.attention == "sliced":  # nanoGPT without flash: n_ctx's mask cut to T
                att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
                att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
                att = F.softmax(att, dim=-1)
                y = att @ v
            elif self.attention == "additive":
                att = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(d) + self.bias
                y = torch.matmul(att.softmax(dim=-1), v)
            elif self.attention == "sdpa_mask":  # a boolean mask: True where it attends
                y = F.scaled_dot_product_attention(q, k, v, attn_mask=self.bias > 0)
            else:
                y = F.scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=0.0,
                                                   is_causal=True)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, d_model, bias=True):
        super().__init__()
        self.c_fc = nn.Linear(d_model, 4 * d_model, bias=bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * d_model, d_model, bias=bias)
        self.dropout = nn.Dropout(0.0)

    def forward(self, x):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, d_model, n_head, n_ctx, bias=True, **kw):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d_model, bias=bias)
        self.attn = CausalSelfAttention(d_model, n_head, n_ctx, bias, **kw)
        self.ln_2 = nn.LayerNorm(d_model, bias=bias)
        self.mlp = MLP(d_model, bias)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, vocab=1000, n_ctx=64, n_layer=2, d_model=128, n_head=4, bias=True,
                 **kw):
        super().__init__()
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(vocab, d_model),
            wpe=nn.Embedding(n_ctx, d_model),
            drop=nn.Dropout(0.0),
            h=nn.ModuleList([Block(d_model, n_head, n_ctx, bias, **kw)
                             for _ in range(n_layer)]),
            ln_f=nn.LayerNorm(d_model, bias=bias)))
        self.lm_head = nn.Linear(d_model, vocab, bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # tied, as nanoGPT ties them

    def forward(self, idx):
        b, t = idx.size()
        pos = torch.arange(0, t, dtype=torch.long, device=idx.device)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        for block in self.transformer.h:
            x = block(x)
        return self.lm_head(self.transformer.ln_f(x))


def measure(make_model, length: int) -> tuple:
    """(parameters, MACs) of one forward pass on ``length`` token ids, batch 1, in eval
    mode: parameters() (shared weights once) and FlopCounterMode's FLOPs ÷ 2."""
    from torch.utils.flop_counter import FlopCounterMode

    model = make_model().eval()
    params = sum(p.numel() for p in model.parameters())
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, length, dtype=torch.long))
    return params, counter.get_total_flops() // 2


# ----------------------------------------------------------------------------- Llama layout
# HF transformers' LlamaModel / LlamaForCausalLM names (models/llama/modeling_llama.py):
# embed_tokens, layers of input_layernorm (RMSNorm), self_attn (q_proj, k_proj, v_proj,
# o_proj without bias, grouped-query heads), post_attention_layernorm, mlp (gate_proj,
# up_proj, down_proj: down(silu(gate(x)) * up(x))), norm, an untied lm_head; ``explicit``:
# the products written out as Meta's llama/model.py does (a -inf mask made with torch.full
# and triu, softmax in float32), the kv heads repeated as HF's repeat_kv does. Without the
# rotary position embedding (element-wise, which the import does not recognise yet).
class LlamaAttention(nn.Module):
    def __init__(self, d_model, n_head, kv_heads, explicit=False, rotary=False):
        super().__init__()
        self.n_head, self.kv_heads, self.d = n_head, kv_heads, d_model // n_head
        self.explicit, self.rotary = explicit, rotary
        inv_freq = 1.0 / (10000 ** (torch.arange(0, self.d, 2).float() / self.d))
        self.register_buffer("inv_freq", inv_freq, persistent=False)
        if rotary == "cached":  # HF's earlier LlamaRotaryEmbedding: tables of 64 positions
            freqs = torch.outer(torch.arange(64).float(), inv_freq)
            emb = torch.cat((freqs, freqs), dim=-1)
            self.register_buffer("cos_cached", emb.cos(), persistent=False)
            self.register_buffer("sin_cached", emb.sin(), persistent=False)
        self.q_proj = nn.Linear(d_model, n_head * self.d, bias=False)
        self.k_proj = nn.Linear(d_model, kv_heads * self.d, bias=False)
        self.v_proj = nn.Linear(d_model, kv_heads * self.d, bias=False)
        self.o_proj = nn.Linear(n_head * self.d, d_model, bias=False)

    def forward(self, x):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, -1, self.d).transpose(1, 2)
        k = self.k_proj(x).view(b, t, -1, self.d).transpose(1, 2)
        v = self.v_proj(x).view(b, t, -1, self.d).transpose(1, 2)
        if self.rotary == "cached":  # the tables cut to the input's length
            cos, sin = self.cos_cached[:t], self.sin_cached[:t]
        elif self.rotary:  # HF's LlamaRotaryEmbedding and apply_rotary_pos_emb
            freqs = torch.outer(torch.arange(t, device=x.device).float(), self.inv_freq)
            emb = torch.cat((freqs, freqs), dim=-1)
            cos, sin = emb.cos(), emb.sin()
        if self.rotary:
            q = q * cos + _rotate_half(q) * sin
            k = k * cos + _rotate_half(k) * sin
        if self.explicit:  # Meta's original llama/model.py: a -inf mask made in forward
            n = self.n_head // self.kv_heads  # HF's repeat_kv: each kv head n times
            k = k[:, :, None, :, :].expand(b, self.kv_heads, n, t, self.d) \
                .reshape(b, self.n_head, t, self.d)
            v = v[:, :, None, :, :].expand(b, self.kv_heads, n, t, self.d) \
                .reshape(b, self.n_head, t, self.d)
            scores = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.d)
            mask = torch.full((t, t), float("-inf"), device=x.device).triu(1)
            scores = F.softmax((scores + mask).float(), dim=-1).type_as(q)
            y = torch.matmul(scores, v)
        else:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
        return self.o_proj(y.transpose(1, 2).reshape(b, t, -1))


def _rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class LlamaMLP(nn.Module):
    def __init__(self, d_model, hidden):
        super().__init__()
        self.gate_proj = nn.Linear(d_model, hidden, bias=False)
        self.up_proj = nn.Linear(d_model, hidden, bias=False)
        self.down_proj = nn.Linear(hidden, d_model, bias=False)
        self.act_fn = nn.SiLU()

    def forward(self, x):
        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))


class LlamaLayer(nn.Module):
    def __init__(self, d_model, n_head, kv_heads, hidden, explicit=False, rotary=False):
        super().__init__()
        self.input_layernorm = nn.RMSNorm(d_model, eps=1e-6)
        self.self_attn = LlamaAttention(d_model, n_head, kv_heads, explicit, rotary)
        self.post_attention_layernorm = nn.RMSNorm(d_model, eps=1e-6)
        self.mlp = LlamaMLP(d_model, hidden)

    def forward(self, x):
        x = x + self.self_attn(self.input_layernorm(x))
        return x + self.mlp(self.post_attention_layernorm(x))


class Llama(nn.Module):
    def __init__(self, vocab=1000, n_layer=2, d_model=128, n_head=4, kv_heads=2, hidden=344,
                 explicit=False, rotary=False):
        super().__init__()
        self.embed_tokens = nn.Embedding(vocab, d_model)
        self.layers = nn.ModuleList([LlamaLayer(d_model, n_head, kv_heads, hidden, explicit,
                                                rotary)
                                     for _ in range(n_layer)])
        self.norm = nn.RMSNorm(d_model, eps=1e-6)
        self.lm_head = nn.Linear(d_model, vocab, bias=False)

    def forward(self, ids):
        x = self.embed_tokens(ids)
        for layer in self.layers:
            x = layer(x)
        return self.lm_head(self.norm(x))
