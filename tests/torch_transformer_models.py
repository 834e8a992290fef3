"""Hand-written PyTorch models of the attention networks in specs/ and of a ViT encoder block.

Written from the structure of torchvision's builders (torchvision/models/maxvit.py: MBConv,
RelativePositionalMultiHeadAttention, PartitionAttentionLayer, MaxVit;
torchvision/models/swin_transformer.py: ShiftedWindowAttention, SwinTransformerBlock,
PatchMerging, SwinTransformer;
torchvision/models/vision_transformer.py: MLPBlock, EncoderBlock) independently of archcalc
and of the specs, so that the zoo tests can compare archcalc's closed forms with what PyTorch
counts, exactly rather than to the three decimals torchvision publishes. Nothing here imports
archcalc.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def measure(make_model, input_shape, dtype=torch.float32) -> tuple[int, tuple, int]:
    """(parameters, output shape without batch, MACs) of one batch-1 forward pass in eval mode
    on the meta device: no memory, no arithmetic; FlopCounterMode counts 2 FLOPs per MAC."""
    with torch.device("meta"):
        model = make_model()
        x = torch.empty(1, *input_shape, dtype=dtype)
    params = sum(p.numel() for p in model.parameters())
    with FlopCounterMode(display=False) as counter:
        y = model.eval()(x)
    flops = counter.get_total_flops()
    assert flops % 2 == 0
    return params, tuple(y.shape[1:]), flops // 2


# ----------------------------------------------------------------------------- MaxViT-T
# torchvision maxvit_t: stem 64, block_channels 64, 128, 256, 512, block_layers 2, 2, 5, 2,
# head_dim 32, partition_size 7, expansion 4, squeeze ratio 0.25 of the output width, MLP
# ratio 4, GELU, BatchNorm2d(eps=1e-3, momentum=0.99) in the convolutions, LayerNorm in the
# attention layers, stochastic depth 0.2 spread linearly over the 11 layers.
class MaxVitMBConv(nn.Module):
    def __init__(self, cin, c, stride, p):
        super().__init__()
        mid, squeeze = 4 * c, c // 4
        if stride != 1 or cin != c:
            pool = [nn.AvgPool2d(3, stride, 1)] if stride == 2 else []
            self.shortcut = nn.Sequential(*pool, nn.Conv2d(cin, c, 1))
        else:
            self.shortcut = nn.Identity()

        def bn(n):
            return nn.BatchNorm2d(n, eps=1e-3, momentum=0.99)

        self.body = nn.Sequential(
            bn(cin),
            nn.Conv2d(cin, mid, 1, bias=False), bn(mid), nn.GELU(),
            nn.Conv2d(mid, mid, 3, stride, 1, groups=mid, bias=False), bn(mid), nn.GELU())
        self.gate = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(mid, squeeze, 1), nn.SiLU(),
                                  nn.Conv2d(squeeze, mid, 1), nn.Sigmoid())
        self.project = nn.Conv2d(mid, c, 1)
        self.p = p  # stochastic depth: the identity in eval mode

    def forward(self, x):
        y = self.body(x)
        return self.shortcut(x) + self.project(y * self.gate(y))


class RelativeAttention(nn.Module):
    """Self-attention within each group of tokens [B, G, T, C], T = size², with a learned
    bias per head and relative offset ((2·size − 1)² offsets), added to the scores."""

    def __init__(self, c, head_dim, size):
        super().__init__()
        self.heads, self.head_dim = c // head_dim, head_dim
        self.qkv = nn.Linear(c, 3 * c)
        self.out = nn.Linear(c, c)
        self.table = nn.Parameter(torch.zeros((2 * size - 1) ** 2, self.heads))
        ys, xs = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
        ys, xs = ys.flatten(), xs.flatten()
        offset = (ys[:, None] - ys[None, :] + size - 1) * (2 * size - 1) \
            + (xs[:, None] - xs[None, :] + size - 1)
        self.register_buffer("offset", offset, persistent=False)
        self.scale = c ** -0.5  # torchvision scales by the feature size, not the head size

    def forward(self, x):
        b, g, t, c = x.shape
        q, k, v = (z.reshape(b, g, t, self.heads, self.head_dim).transpose(2, 3)
                   for z in self.qkv(x).chunk(3, dim=-1))
        scores = torch.einsum("bghid,bghjd->bghij", q, k * self.scale)
        bias = self.table[self.offset.reshape(-1)].reshape(t, t, self.heads).permute(2, 0, 1)
        weights = torch.softmax(scores + bias, dim=-1)
        y = torch.einsum("bghij,bghjd->bghid", weights, v)
        return self.out(y.transpose(2, 3).reshape(b, g, t, c))


class PartitionAttention(nn.Module):
    """Window ("block") or grid attention on [B, C, H, W] with partition size P."""

    def __init__(self, c, size, grid, p):
        super().__init__()
        self.size, self.grid = size, grid
        self.attention = nn.Sequential(nn.LayerNorm(c), RelativeAttention(c, 32, size))
        self.mlp = nn.Sequential(nn.LayerNorm(c), nn.Linear(c, 4 * c), nn.GELU(),
                                 nn.Linear(4 * c, c))
        self.p = p

    def forward(self, x):
        b, c, h, w = x.shape
        s = self.size
        if self.grid:  # token (i, j) of window (a, b) sits at (i·H/s + a, j·W/s + b)
            t = x.reshape(b, c, s, h // s, s, w // s).permute(0, 3, 5, 2, 4, 1)
        else:  # token (i, j) of window (a, b) sits at (a·s + i, b·s + j)
            t = x.reshape(b, c, h // s, s, w // s, s).permute(0, 2, 4, 3, 5, 1)
        shape = t.shape
        t = t.reshape(b, -1, s * s, c)
        t = t + self.attention(t)
        t = t + self.mlp(t)
        t = t.reshape(shape)
        order = (0, 5, 3, 1, 4, 2) if self.grid else (0, 5, 1, 3, 2, 4)
        return t.permute(*order).reshape(b, c, h, w)


def maxvit_t():
    bn = nn.BatchNorm2d(64, eps=1e-3, momentum=0.99)
    layers = [nn.Conv2d(3, 64, 3, 2, 1, bias=False), bn, nn.GELU(), nn.Conv2d(64, 64, 3, 1, 1)]
    cin, index = 64, 0
    for c, n in zip((64, 128, 256, 512), (2, 2, 5, 2)):
        for i in range(n):
            p = 0.2 * index / 10
            layers += [MaxVitMBConv(cin if i == 0 else c, c, 2 if i == 0 else 1, p),
                       PartitionAttention(c, 7, False, p), PartitionAttention(c, 7, True, p)]
            index += 1
        cin = c
    head = [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.LayerNorm(512), nn.Linear(512, 512),
            nn.Tanh(), nn.Linear(512, 1000, bias=False)]
    return nn.Sequential(*layers, *head)


# ----------------------------------------------------------------------------- Swin-T
# torchvision swin_t: patch 4x4, embed_dim 96, depths 2, 2, 6, 2, heads 3, 6, 12, 24, window 7,
# maps padded at the bottom and right to whole windows (and cut back), shift 3 on odd
# blocks (none where the padded map is no larger than the window), MLP ratio 4,
# GELU, LayerNorm eps 1e-5, PatchMerging between stages, stochastic depth 0.2 (the identity
# in eval mode). The attention packs q, k, v in one Linear(C, 3C), as torchvision does.
class WindowAttention(nn.Module):
    """(Shifted) window self-attention on a channels-last map [B, H, W, C]."""

    def __init__(self, c, heads, window, shift):
        super().__init__()
        self.heads, self.window, self.shift = heads, window, shift
        self.qkv = nn.Linear(c, 3 * c)
        self.proj = nn.Linear(c, c)
        self.table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        ys, xs = torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")
        ys, xs = ys.flatten(), xs.flatten()
        offset = (ys[:, None] - ys[None, :] + window - 1) * (2 * window - 1) \
            + (xs[:, None] - xs[None, :] + window - 1)
        self.register_buffer("offset", offset, persistent=False)

    def windows(self, x):
        b, h, w, c = x.shape
        s = self.window
        x = x.reshape(b, h // s, s, w // s, s, c).permute(0, 1, 3, 2, 4, 5)
        return x.reshape(b * (h // s) * (w // s), s * s, c)

    def forward(self, x):
        b, height, width, c = x.shape
        s = self.window
        x = nn.functional.pad(x, (0, 0, 0, -width % s, 0, -height % s))  # whole windows
        h, w = x.shape[1:3]
        shift = self.shift if s < h else 0  # no shift where the window covers the map
        if shift:
            x = torch.roll(x, (-shift, -shift), (1, 2))
        t = self.windows(x)
        n, tokens, _ = t.shape
        q, k, v = self.qkv(t).reshape(n, tokens, 3, self.heads, c // self.heads) \
            .permute(2, 0, 3, 1, 4)
        scores = (q * (c // self.heads) ** -0.5) @ k.transpose(-2, -1)
        bias = self.table[self.offset.reshape(-1)].reshape(tokens, tokens, -1).permute(2, 0, 1)
        scores = scores + bias
        if shift:  # tokens from different regions of the rolled map may not attend
            region = x.new_zeros(1, h, w, 1)
            for i, rows in enumerate((slice(0, -s), slice(-s, -shift), slice(-shift, None))):
                for j, cols in enumerate((slice(0, -s), slice(-s, -shift), slice(-shift, None))):
                    region[:, rows, cols] = 3 * i + j
            region = self.windows(region).squeeze(-1)
            mask = (region[:, None, :] != region[:, :, None]).to(x.dtype) * -100.0
            scores = (scores.reshape(b, -1, self.heads, tokens, tokens) + mask[None, :, None]) \
                .reshape(n, self.heads, tokens, tokens)
        y = (scores.softmax(-1) @ v).transpose(1, 2).reshape(n, tokens, c)
        y = self.proj(y).reshape(b, h // s, w // s, s, s, c).permute(0, 1, 3, 2, 4, 5)
        y = y.reshape(b, h, w, c)
        y = torch.roll(y, (shift, shift), (1, 2)) if shift else y
        return y[:, :height, :width]


class SwinBlock(nn.Module):
    def __init__(self, c, heads, shift):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(c), nn.LayerNorm(c)
        self.attention = WindowAttention(c, heads, 7, shift)
        self.mlp = nn.Sequential(nn.Linear(c, 4 * c), nn.GELU(), nn.Dropout(0.0),
                                 nn.Linear(4 * c, c), nn.Dropout(0.0))

    def forward(self, x):
        x = x + self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchMerging(nn.Module):
    """The four 2x2 phases of [B, H, W, C] (padded to even sides) side by side:
    [B, ⌈H/2⌉, ⌈W/2⌉, 4C], LayerNorm(4C), Linear(4C, 2C) without bias."""

    def __init__(self, c):
        super().__init__()
        self.norm, self.reduction = nn.LayerNorm(4 * c), nn.Linear(4 * c, 2 * c, bias=False)

    def forward(self, x):
        x = nn.functional.pad(x, (0, 0, 0, x.shape[2] % 2, 0, x.shape[1] % 2))  # odd sides
        phases = [x[:, i::2, j::2] for j in (0, 1) for i in (0, 1)]
        return self.reduction(self.norm(torch.cat(phases, -1)))


class Permute(nn.Module):
    def __init__(self, *order):
        super().__init__()
        self.order = order

    def forward(self, x):
        return x.permute(*self.order)


def swin_t():
    layers = [nn.Conv2d(3, 96, 4, 4), Permute(0, 2, 3, 1), nn.LayerNorm(96)]
    for stage, (depth, heads) in enumerate(zip((2, 2, 6, 2), (3, 6, 12, 24))):
        c = 96 * 2 ** stage
        layers += [SwinBlock(c, heads, 0 if i % 2 == 0 else 3) for i in range(depth)]
        if stage < 3:
            layers.append(PatchMerging(c))
    head = [nn.LayerNorm(768), Permute(0, 3, 1, 2), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Linear(768, 1000)]
    return nn.Sequential(*layers, *head)


MODELS = {f.__name__: f for f in (maxvit_t, swin_t)}


# ----------------------------------------------------------------------------- ViT encoder block
class EncoderBlock(nn.Module):
    """torchvision's ViT EncoderBlock on [B, L, E]: x = input + dropout(attention(ln_1(input)))
    then x + mlp(ln_2(x)), LayerNorm eps 1e-6, MLP Linear(E, M), GELU, Dropout, Linear(M, E),
    Dropout; the attention is called as torchvision calls it, need_weights=False."""

    def __init__(self, heads, hidden, mlp, dropout=0.0):
        super().__init__()
        self.ln_1 = nn.LayerNorm(hidden, eps=1e-6)
        self.self_attention = nn.MultiheadAttention(hidden, heads, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.ln_2 = nn.LayerNorm(hidden, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(hidden, mlp), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(mlp, hidden), nn.Dropout(dropout))

    def forward(self, tokens):
        x = self.ln_1(tokens)
        x = self.dropout(self.self_attention(x, x, x, need_weights=False)[0]) + tokens
        return x + self.mlp(self.ln_2(x))


# ----------------------------------------------------------------------------- ViT
class VisionTransformer(nn.Module):
    """torchvision's VisionTransformer (vision_transformer.py) at 224 × 224: conv_proj
    Conv2d(3, E, p, stride p), reshape and permute to tokens, the class token [1, 1, E] put
    first (torch.cat along the tokens), pos_embedding [1, S, E] added, the encoder blocks,
    LayerNorm(E, eps 1e-6), the class token x[:, 0], heads.head Linear(E, 1000)."""

    def __init__(self, patch, layers, heads, hidden, mlp, image=224):
        super().__init__()
        self.conv_proj = nn.Conv2d(3, hidden, patch, stride=patch)
        seq = (image // patch) ** 2 + 1
        self.class_token = nn.Parameter(torch.zeros(1, 1, hidden))
        self.pos_embedding = nn.Parameter(torch.empty(1, seq, hidden).normal_(std=0.02))
        self.layers = nn.Sequential(*(EncoderBlock(heads, hidden, mlp) for _ in range(layers)))
        self.ln = nn.LayerNorm(hidden, eps=1e-6)
        self.head = nn.Linear(hidden, 1000)

    def forward(self, x):
        x = self.conv_proj(x)
        x = x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)
        x = torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = self.ln(self.layers(x + self.pos_embedding))
        return self.head(x[:, 0])


# torchvision's builders: patch_size, num_layers, num_heads, hidden_dim, mlp_dim
VITS = {"vit_b_16": lambda: VisionTransformer(16, 12, 12, 768, 3072),
        "vit_b_32": lambda: VisionTransformer(32, 12, 12, 768, 3072),
        "vit_l_16": lambda: VisionTransformer(16, 24, 16, 1024, 4096)}
