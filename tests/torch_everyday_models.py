"""Small PyTorch modules written the way course notebooks and tutorials write them: a
functional LeNet with x.view(x.size(0), -1) and F.log_softmax, torch.chunk and torch.split,
a squeeze-excitation gate indexed with None, means with and without keepdim, a mean over a
sequence's tokens, a head called twice; activations as functions, methods, in-place
methods and clamps, instance norms and padding modules, squeezes and maxima over a dim,
and what of those has no layer. Nothing here imports archcalc."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class FunctionalLeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(3, 8, 3), nn.Conv2d(8, 16, 3)
        self.fc = nn.Linear(16 * 6 * 6, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(x.size(0), -1)
        return F.log_softmax(self.fc(x), dim=1)


class GatedHalves(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, padding=1)
        self.squeeze, self.excite = nn.Linear(8, 2), nn.Linear(2, 8)
        self.up = nn.ConvTranspose2d(8, 4, 2, stride=2)

    def forward(self, x):
        a, b = torch.chunk(self.conv(x), 2, dim=1)
        s = F.adaptive_avg_pool2d(a, 1).flatten(1)
        s = torch.sigmoid(self.excite(F.relu(self.squeeze(s))))
        y = torch.cat([a * s[:, :, None, None], b], 1)
        y, _ = torch.split(y, [8, 8], dim=1)
        return self.up(y)


class KeptMeans(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.gate = nn.Conv2d(3, 8, 3), nn.Conv2d(8, 8, 1)

    def forward(self, x):
        x = self.conv(x)
        w = torch.sigmoid(self.gate(x.mean((2, 3), keepdim=True)))
        v = torch.mean(x, dim=(-1, -2)).unsqueeze(-1).unsqueeze(-1)
        return (x * w * v).softmax(dim=1).log_softmax(1)


class TokenPooling(nn.Module):
    def __init__(self, vocab=100, dim=32, classes=4):
        super().__init__()
        self.embed, self.head = nn.Embedding(vocab, dim), nn.Linear(2 * dim, classes)

    def forward(self, ids):
        h = self.embed(ids)
        return self.head(torch.cat([h.mean(dim=1), torch.amax(h, 1)], -1))


class SharedHead(TokenPooling):
    """One head applied to two poolings: its parameters are counted once by parameters()."""

    def __init__(self):
        super().__init__()
        self.head = nn.Linear(32, 4)

    def forward(self, ids):
        h = self.embed(ids)
        return self.head(h.mean(dim=1)) + self.head(torch.amax(h, 1))


class MeanKeepingTokens(nn.Module):
    """A mean over the tokens that keeps their axis: no layer archcalc has."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 8)

    def forward(self, ids):
        return self.embed(ids).mean(1, keepdim=True)


class EncoderClassifier(nn.Module):
    """nn.TransformerEncoder of two post-norm nn.TransformerEncoderLayer, mean-pooled."""

    def __init__(self, vocab=100, dim=32, heads=4, ffn=64, layers=2, classes=5,
                 batch_first=True):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        layer = nn.TransformerEncoderLayer(dim, heads, ffn, batch_first=batch_first)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(dim, classes)

    def forward(self, ids):
        return self.head(self.encoder(self.embed(ids)).mean(dim=1))


class PreNormEncoder(nn.Module):
    """Pre-norm GELU layers with the stack's final LayerNorm."""

    def __init__(self, vocab=100, dim=32, heads=4, ffn=64, layers=2):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        layer = nn.TransformerEncoderLayer(dim, heads, ffn, batch_first=True, norm_first=True,
                                           activation="gelu")
        self.encoder = nn.TransformerEncoder(layer, layers, norm=nn.LayerNorm(dim),
                                             enable_nested_tensor=False)

    def forward(self, ids):
        return self.encoder(self.embed(ids))


class Seq2Seq(nn.Module):
    """nn.Transformer: encoder and decoder stacks, the decoder's cross-attention reading the
    encoder's output, on the same embedded ids."""

    def __init__(self, vocab=100, dim=32, heads=4, ffn=64, layers=2):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.transformer = nn.Transformer(dim, heads, layers, layers, ffn, batch_first=True)

    def forward(self, ids):
        x = self.embed(ids)
        return self.transformer(x, x)


class SequenceFirstEncoder(EncoderClassifier):
    """batch_first=False: the layers read [L, B, E], the batch behind the tokens."""

    def __init__(self):
        super().__init__(batch_first=False)

    def forward(self, ids):
        return self.encoder(self.embed(ids).transpose(0, 1)).transpose(0, 1)


class PoolBySize(nn.Module):
    """Older CIFAR code's global pool, F.avg_pool2d(x, x.size()[2:]), and nn.Unflatten."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.fc = nn.Linear(8, 16)
        self.unflatten = nn.Unflatten(1, (4, 4))

    def forward(self, x):
        x = self.conv(x)
        x = F.avg_pool2d(x, x.size()[2:])
        return self.unflatten(self.fc(x.view(-1, 8)))


class PoolByHalfSize(nn.Module):
    """A kernel computed from the input's sizes that is not the whole map."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)

    def forward(self, x):
        y = self.conv(x)
        return F.max_pool2d(y, (y.size(2) // 2, y.size(3) // 2))


class Activations(nn.Module):
    """Activations as modules, functions, methods, in-place methods and clamps."""

    def __init__(self):
        super().__init__()
        self.conv, self.prelu = nn.Conv2d(3, 6, 3), nn.PReLU(6)
        self.elu, self.hardtanh = nn.ELU(0.5), nn.Hardtanh(-2.0, 2.0)

    def forward(self, x):
        x = F.leaky_relu(self.conv(x), 0.2)
        x = self.hardtanh(self.elu(F.elu(x)))
        x = F.hardtanh(x, -1.5, 2.5).clamp(0, 6)
        x = torch.clamp(x, min=0).clip(-0.5, 0.5)
        x = self.prelu(F.softplus(x))
        return x.relu_().sigmoid_()


class NormsAndPads(nn.Module):
    """Padding modules, instance norms, dropout2d, pixel (un)shuffles, x.add and x.mul_."""

    def __init__(self):
        super().__init__()
        self.pad = nn.ZeroPad2d((1, 2, 0, 1))
        self.conv = nn.Conv2d(3, 8, 3)
        self.norm = nn.InstanceNorm2d(8, affine=True)
        self.fill = nn.ConstantPad2d(1, 0.0)
        self.unshuffle = nn.PixelUnshuffle(2)
        self.seq = nn.InstanceNorm1d(8)

    def forward(self, x):
        x = F.dropout2d(self.norm(self.conv(self.pad(x))), 0.1, self.training)
        y = self.unshuffle(F.pixel_shuffle(self.fill(x), 2))
        y = y.add(y.sigmoid()).mul_(y)
        return self.seq(y.flatten(2))


class SqueezedMaxima(nn.Module):
    """squeeze(-1) and torch.squeeze(x, 2) after a pool; max over the positions by
    x.max(dim)[0] and torch.max(x, dim).values."""

    def __init__(self):
        super().__init__()
        self.conv, self.fc = nn.Conv2d(3, 8, 3), nn.Linear(8, 5)

    def forward(self, x):
        x = self.conv(x)
        pooled = torch.squeeze(F.adaptive_avg_pool2d(x, 1).squeeze(-1), 2)
        flat = x.flatten(2)
        top = flat.max(dim=2)[0] + torch.max(flat, -1).values
        return self.fc(pooled + top)


class TextCNN(nn.Module):
    """Kim's sentence classifier (arXiv:1408.5882) at a small size: embedding, one
    convolution per window size over the tokens, each maximum over time as
    F.max_pool1d(c, c.size(2)).squeeze(2), concatenated, dropout, a linear head."""

    def __init__(self, vocab=200, dim=16, maps=8, windows=(3, 4, 5), classes=2):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.convs = nn.ModuleList([nn.Conv1d(dim, maps, k) for k in windows])
        self.fc = nn.Linear(maps * len(windows), classes)

    def forward(self, ids):
        x = self.embed(ids).permute(0, 2, 1)
        x = [F.relu(conv(x)) for conv in self.convs]
        x = [F.max_pool1d(c, c.size(2)).squeeze(2) for c in x]
        return self.fc(F.dropout(torch.cat(x, 1), 0.5, self.training))


class Stacked(nn.Module):
    """Two branches stacked on a new axis after the channels and on a last one, flattened."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Conv2d(3, 4, 3), nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(2 * 2 * 4 * 6 * 6, 3)

    def forward(self, x):
        a, b = self.a(x), self.b(x)
        by_branch = torch.stack([a, b], dim=1).flatten(1)
        return self.fc(torch.cat([by_branch, torch.stack((b, a), -1).flatten(1)], 1))


class ExpandedGate(nn.Module):
    """A squeeze-excitation gate expanded to the map before the product (expand_as), and
    a detached copy of the map added."""

    def __init__(self):
        super().__init__()
        self.conv, self.gate = nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 1)

    def forward(self, x):
        x = self.conv(x)
        g = torch.sigmoid(self.gate(F.adaptive_avg_pool2d(x, 1)))
        return x * g.expand_as(x) + x.detach()


class InPlaceResidual(nn.Module):
    """In-place calls made for their effect, their results not kept: out.add_(shortcut),
    an nn.ReLU(inplace=True) and F.relu_ on the sum; later code reads `out`."""

    def __init__(self):
        super().__init__()
        self.conv, self.down = nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(3, 4, 1)
        self.act, self.fc = nn.ReLU(inplace=True), nn.Linear(4, 2)

    def forward(self, x):
        out = self.conv(x)
        out.add_(self.down(x))
        self.act(out)
        F.relu_(out)
        return self.fc(out.mean((2, 3)))


class CausalSelfAttention(nn.Module):
    """A next-token model on nn.MultiheadAttention with a causal attn_mask made in the
    forward: a bool torch.triu of ones (True masks), or ``float_mask``
    nn.Transformer.generate_square_subsequent_mask (−inf added); ``causal=False``: a mask
    that is not causal (tril, the diagonal kept: the later tokens only)."""

    def __init__(self, vocab=60, dim=32, heads=4, float_mask=False, causal=True):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.attn = nn.MultiheadAttention(dim, heads, dropout=0.1, batch_first=True)
        self.head = nn.Linear(dim, vocab)
        self.float_mask, self.causal = float_mask, causal

    def forward(self, ids):
        x, n = self.embed(ids), ids.size(1)
        if self.float_mask:
            mask = nn.Transformer.generate_square_subsequent_mask(n, device=ids.device)
        else:
            ones = torch.ones(n, n, dtype=torch.bool, device=ids.device)
            mask = torch.triu(ones, 1) if self.causal else torch.tril(ones)
        y, _ = self.attn(x, x, x, attn_mask=mask, need_weights=False)
        return self.head(y)


def causal_float_mask():
    return CausalSelfAttention(float_mask=True)


class CausalEncoder(nn.Module):
    """GPT-like: nn.TransformerEncoder under a causal mask (is_causal=True), a head."""

    def __init__(self, vocab=60, dim=32, heads=4, ffn=64, layers=2):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        layer = nn.TransformerEncoderLayer(dim, heads, ffn, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers)
        self.head = nn.Linear(dim, vocab)

    def forward(self, ids):
        n = ids.size(1)
        mask = nn.Transformer.generate_square_subsequent_mask(n, device=ids.device)
        return self.head(self.encoder(self.embed(ids), mask=mask, is_causal=True))


class Arithmetic(nn.Module):
    """Differences and quotients of two tensors, numbers added and subtracted, negation,
    sums and products of a tensor with itself."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        x = self.conv(x)
        y = x - F.relu(x)
        z = -(y / torch.sigmoid(x)) + 1
        w = 1 - z.sub(x).div(x.sigmoid())
        return torch.sub(w, torch.div(w, x)) * 0.5 + (x + x) * x.mul(x)


class Unmappable(nn.Module):
    """One op chosen by name that has no layer, for the refusal tests."""

    def __init__(self, op: str):
        super().__init__()
        self.op, self.conv = op, nn.Conv2d(3, 4, 3)

    def forward(self, x):
        x = self.conv(x)
        if self.op == "squeeze":
            return torch.squeeze(F.adaptive_avg_pool2d(x, 1))
        if self.op == "argmax":
            return x.flatten(2).max(dim=2)[1].float()
        if self.op == "min":
            return torch.min(x.flatten(2), dim=2).values
        if self.op == "T":
            return x.flatten(1).T
        if self.op == "clamp_max":
            return x.clamp(max=1.0)
        if self.op == "expand":
            return torch.cat([x, F.adaptive_avg_pool2d(x, 1).expand(-1, -1, 6, 6)], 1)
        if self.op == "mean_all":
            return x.mean()
        return torch.squeeze(x, 0)
