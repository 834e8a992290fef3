"""A network built from a plan of steps (JSON-like lists), for the hypothesis tests of
``archcalc import torch`` (tests/test_import_drawn.py): each step is one of the ways people
write the same thing in PyTorch (a module, a function, a tensor method, an in-place call, a
clamp) on a [B, C, H, W] map, and the head ends on class scores. The forward is plain Python
over the plan, so torch.fx unrolls it. Nothing here imports archcalc."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = ["nn.ReLU", "F.relu", "x.relu", "x.relu_", "clamp_min", "clamp_0_6",
               "hardtanh", "F.leaky_relu", "nn.ELU", "F.elu", "torch.sigmoid", "torch.tanh",
               "nn.GELU", "F.silu", "F.softplus", "nn.PReLU"]
RESIDUALS = ["x + y", "x - y", "torch.add", "x.add", "x.add_", "x * y", "x / sigmoid(y)"]
HEADS = ["flatten", "mean", "squeeze", "max", "pool_by_size"]


class Drawn(nn.Module):
    """``plan``: steps [kind, *arguments]; ``shape``: one sample's [C, H, W]; ``head``: how
    the map becomes a vector before the last Linear to ``classes``."""

    def __init__(self, plan, shape=(3, 16, 16), head="flatten", classes=5):
        super().__init__()
        self.plan, self.head_kind = [list(step) for step in plan], head
        self.layers = nn.ModuleDict()
        c, h, w = shape
        for i, (kind, *args) in enumerate(self.plan):
            c, h, w = self._build(str(i), kind, args, c, h, w)
        features = c * h * w if head == "flatten" else c
        self.fc = nn.Linear(features, classes)

    def _build(self, key, kind, args, c, h, w):
        add = self.layers.__setitem__
        if kind == "conv":
            out, k, stride, pad = args
            add(key, nn.Conv2d(c, out, k, stride, pad))
            return out, (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
        if kind == "bn":
            add(key, nn.BatchNorm2d(c))
        elif kind == "act":
            made = {"nn.ReLU": nn.ReLU, "nn.ELU": lambda: nn.ELU(0.5), "nn.GELU": nn.GELU,
                    "nn.PReLU": lambda: nn.PReLU(c)}.get(args[0])
            if made is not None:
                add(key, made())
        elif kind == "pool":
            kind_, k = args
            if kind_ == "nn.MaxPool2d":
                add(key, nn.MaxPool2d(k))
            elif kind_ == "nn.AvgPool2d":
                add(key, nn.AvgPool2d(k))
            return c, h // k, w // k
        elif kind == "residual":
            add(key, nn.Conv2d(c, c, 3, padding=1))
        elif kind == "gate":
            add(key, nn.Conv2d(c, c, 1))
        elif kind == "branch":
            add(key, nn.Conv2d(c, args[1] if args[0] == "cat" else c, 1))
            return c + args[1] if args[0] == "cat" else 2 * c, h, w
        elif kind == "pad":
            if args[0] == "nn.ZeroPad2d":
                add(key, nn.ZeroPad2d(args[1]))
            return c, h + 2 * args[1], w + 2 * args[1]
        elif kind == "norm":
            add(key, nn.InstanceNorm2d(c, affine=True) if args[0] == "instance" else
                nn.GroupNorm(args[1], c))
        return c, h, w

    def forward(self, x):
        for i, (kind, *args) in enumerate(self.plan):
            x = self._step(self.layers[str(i)] if str(i) in self.layers else None, kind,
                           args, x)
        return self.fc(self._head(x))

    @staticmethod
    def _activation(form, m, x):
        if m is not None:
            return m(x)
        if form == "F.relu":
            return F.relu(x)
        if form == "x.relu":
            return x.relu()
        if form == "x.relu_":
            x.relu_()  # its result not kept: x itself is changed
            return x
        if form == "clamp_min":
            return x.clamp(min=0)
        if form == "clamp_0_6":
            return torch.clamp(x, 0, 6)
        if form == "hardtanh":
            return F.hardtanh(x, -2.0, 2.0)
        if form == "F.leaky_relu":
            return F.leaky_relu(x, 0.1)
        if form == "F.elu":
            return F.elu(x)
        if form == "torch.sigmoid":
            return torch.sigmoid(x)
        if form == "torch.tanh":
            return torch.tanh(x)
        if form == "F.silu":
            return F.silu(x)
        return F.softplus(x)

    def _step(self, m, kind, args, x):
        if kind in ("conv", "bn", "norm"):
            return m(x)
        if kind == "act":
            return self._activation(args[0], m, x)
        if kind == "pool":
            if m is not None:
                return m(x)
            k = args[1]
            return F.max_pool2d(x, k) if args[0] == "F.max_pool2d" else F.avg_pool2d(x, k, k)
        if kind == "residual":
            return self._residual(args[0], x, m(x))
        if kind == "gate":
            g = torch.sigmoid(m(F.adaptive_avg_pool2d(x, 1)))
            return x * g.expand_as(x) if args[0] == "expand_as" else x * g
        if kind == "branch":
            y = m(x)
            if args[0] == "cat":
                return torch.cat([x, y], 1)
            return torch.stack([x, y], dim=1).flatten(1, 2)
        if kind == "scale":
            return {"x * 0.5": lambda: x * 0.5, "x / 2": lambda: x / 2,
                    "x + 1": lambda: x + 1, "-x": lambda: -x}[args[0]]()
        if kind == "pad":
            return m(x) if m is not None else F.pad(x, [args[1]] * 4)
        if kind == "dropout":
            return F.dropout2d(x, 0.2, self.training) if args[0] == "F.dropout2d" else \
                F.dropout(x, 0.3, self.training)
        raise ValueError(f"no step {kind!r}")

    @staticmethod
    def _residual(form, x, y):
        if form == "x + y":
            return x + y
        if form == "x - y":
            return x - y
        if form == "torch.add":
            return torch.add(x, y)
        if form == "x.add":
            return x.add(y)
        if form == "x.add_":
            out = y
            out.add_(x)  # in place, its result not kept
            return out
        if form == "x * y":
            return x * y
        return x / torch.sigmoid(y)

    def _head(self, x):
        if self.head_kind == "flatten":
            return x.view(x.size(0), -1)
        if self.head_kind == "mean":
            return x.mean((2, 3))
        if self.head_kind == "squeeze":
            return F.adaptive_avg_pool2d(x, 1).squeeze(-1).squeeze(-1)
        if self.head_kind == "max":
            return x.flatten(2).max(dim=2)[0]
        return F.avg_pool2d(x, x.size()[2:]).flatten(1)
