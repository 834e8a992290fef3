"""Small ``nn.Module``s for the layer types PyTorch has no module for (or not in this form).

Every module takes batched tensors: axis 0 is the batch, axis 1 the channels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def tf_same_pads(n: int, k_eff: int, s: int) -> tuple:
    """TensorFlow's 'SAME' padding (TF "Notes on padding"), written independently of the
    closed form: total T = max(k_eff − s, 0) if n % s == 0 else max(k_eff − n % s, 0);
    the extra pixel goes to the end."""
    total = max(k_eff - s, 0) if n % s == 0 else max(k_eff - n % s, 0)
    return total // 2, total - total // 2


def flat_pads(pairs) -> list:
    """(before, after) per spatial axis, first axis first, as F.pad wants them (last first)."""
    out: list = []
    for before, after in reversed(list(pairs)):
        out += [before, after]
    return out


class Pad(nn.Module):
    """Explicit padding: ``pairs`` (before, after) per spatial axis."""

    def __init__(self, pairs, mode: str = "constant", value: float = 0.0):
        super().__init__()
        self.pads, self.mode, self.value = flat_pads(pairs), mode, value

    def forward(self, x):
        if self.mode == "constant":
            return F.pad(x, self.pads, value=self.value)
        return F.pad(x, self.pads, mode=self.mode)


class KerasAvgPool(nn.Module):
    """Keras average pooling with 'same' padding: padded positions are left out of the
    divisor (docs/pytorch-semantics.md §1.11: avg of the padded input over avg of padded ones)."""

    def __init__(self, nd: int, pairs, kernel, stride):
        super().__init__()
        self.pads, self.kernel, self.stride = flat_pads(pairs), kernel, stride
        self.pool = getattr(F, f"avg_pool{nd}d")

    def forward(self, x):
        total = self.pool(F.pad(x, self.pads), self.kernel, self.stride)
        count = self.pool(F.pad(torch.ones_like(x), self.pads), self.kernel, self.stride)
        return total / count


class WindowSum(nn.Module):
    """The linear stand-in of a pool: a depthwise convolution with constant positive weights
    over the same windows (kernel, stride, dilation, left padding) and the same number of
    outputs ``target`` as the real pool (ceil mode may add a window on the right)."""

    def __init__(self, nd: int, channels: int, kernel, stride, dilation, left, target):
        super().__init__()
        self.nd, self.channels = nd, channels
        self.kernel, self.stride, self.dilation = tuple(kernel), tuple(stride), tuple(dilation)
        self.left, self.target = tuple(left), tuple(target)
        self.conv = getattr(F, f"conv{nd}d")

    def forward(self, x):
        pairs = []
        for n, k, s, d, left, out in zip(x.shape[2:], self.kernel, self.stride, self.dilation,
                                         self.left, self.target):
            need = (out - 1) * s + d * (k - 1) + 1  # padded length the real pool reads
            pairs.append((left, max(need - n - left, 0)))
        x = F.pad(x, flat_pads(pairs))
        numel = 1
        for k in self.kernel:
            numel *= k
        w = torch.full((self.channels, 1, *self.kernel), 1.0 / numel, dtype=x.dtype,
                       device=x.device)
        y = self.conv(x, w, stride=self.stride, dilation=self.dilation, groups=self.channels)
        for axis, out in enumerate(self.target):
            y = y.narrow(axis + 2, 0, out)
        return y


class GlobalPool(nn.Module):
    """[N, C, *spatial] → [N, C] by mean or max over every spatial axis."""

    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind

    def forward(self, x):
        axes = tuple(range(2, x.dim()))
        return x.mean(dim=axes) if self.kind == "avg" else x.amax(dim=axes)


class LayerNorm2d(nn.Module):
    """LayerNorm over the channels at each position of [N, C, *spatial] (ConvNeXt)."""

    def __init__(self, channels: int, eps: float, affine: bool):
        super().__init__()
        self.norm = nn.LayerNorm(channels, eps=eps, elementwise_affine=affine)

    def forward(self, x):
        return self.norm(x.movedim(1, -1)).movedim(-1, 1)


class LayerScale(nn.Module):
    """x · γ with one learned γ per index of axis ``dim`` (no batch axis): [C, 1, 1] for
    ConvNeXt (dim 0), [D] for CaiT's tokens (dim −1)."""

    def __init__(self, shape: tuple, init: float, dim: int = 0):
        super().__init__()
        dim %= len(shape)
        size = tuple(n if i == dim else 1 for i, n in enumerate(shape))
        self.gamma = nn.Parameter(torch.full(size, init))

    def forward(self, x):
        return x * self.gamma


class Lambda(nn.Module):
    """A parameter-free tensor operation (flatten, reshape, permute, slice, crop, …)."""

    def __init__(self, fn, what: str):
        super().__init__()
        self.fn, self.what = fn, what

    def forward(self, *xs):
        return self.fn(*xs)

    def extra_repr(self) -> str:
        return self.what


class Merge(nn.Module):
    """Add, multiply, average (with broadcasting) or concatenate the inputs.

    Inputs of lower rank are aligned on their trailing axes, as without a batch axis."""

    def __init__(self, kind: str, dim: int = 1):
        super().__init__()
        self.kind, self.dim = kind, dim

    def forward(self, *xs):
        if self.kind == "concat":
            return torch.cat(xs, dim=self.dim)
        rank = max(x.dim() for x in xs)
        xs = [x.reshape(x.shape[0], *(1,) * (rank - x.dim()), *x.shape[1:]) for x in xs]
        out = xs[0]
        for x in xs[1:]:
            out = out * x if self.kind == "mul" else out + x
        return out / len(xs) if self.kind == "mean" else out


class StochasticDepth(nn.Module):
    """torchvision.ops.StochasticDepth: the identity in evaluation; in training each sample
    ('row') or the whole batch ('batch') is kept with probability 1 − p and scaled by
    1/(1 − p), as ``input * noise`` (what autograd then keeps: the noise)."""

    def __init__(self, p: float, mode: str):
        super().__init__()
        self.p, self.mode = p, mode

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        size = [x.shape[0]] + [1] * (x.dim() - 1) if self.mode == "row" else [1] * x.dim()
        noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(1.0 - self.p)
        return x * noise.div_(1.0 - self.p)


class IndexChannels(nn.Module):
    """torch.index_select on the channel axis with a fixed index, kept as a buffer as
    CondenseNet's condensed layers keep theirs."""

    def __init__(self, index):
        super().__init__()
        self.register_buffer("index", index)

    def forward(self, x):
        return torch.index_select(x, 1, self.index)


class Unknown(nn.Module):
    """An ``unknown`` layer as built: its declared output shape, every element the mean of
    the main input (so that it reads all of it), and its stated number of parameters; no
    multiply-accumulates, as archcalc counts it."""

    def __init__(self, shape, params: int):
        super().__init__()
        self.shape = tuple(int(d) for d in shape)
        self.weight = nn.Parameter(torch.zeros(params)) if params else None

    def forward(self, *xs):
        x = xs[0]
        mean = x.flatten(1).mean(1)
        return mean.view(-1, *(1,) * len(self.shape)).expand(x.shape[0], *self.shape)

    def extra_repr(self) -> str:
        return f"shape={list(self.shape)}"
