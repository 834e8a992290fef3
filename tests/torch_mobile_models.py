"""Hand-written PyTorch models of torchvision's mobile and modern CNNs.

Written from the structure of torchvision's builders (torchvision/models/*.py: layer order,
widths, strides, squeeze widths, where the shortcuts are) independently of archcalc and of
the specs, so that tests/test_zoo_mobile.py can compare archcalc's closed forms with what
PyTorch counts, exactly rather than to the three decimals torchvision publishes. Nothing here
imports archcalc.
"""

from __future__ import annotations

import torch
from torch import nn


def measure(make_model, input_shape) -> tuple[int, tuple, int]:
    """(parameters, output shape without batch, MACs) of one batch-1 forward pass on the meta
    device: no memory, no arithmetic; FlopCounterMode counts 2 FLOPs per MAC."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        model = make_model()
        x = torch.empty(1, *input_shape)
    params = sum(p.numel() for p in model.parameters())
    with FlopCounterMode(display=False) as counter:
        y = model.eval()(x)
    return params, tuple(y.shape[1:]), counter.get_total_flops() // 2


# ----------------------------------------------------------------------------- pieces
def conv_bn(cin, cout, k=1, s=1, g=1, act=None):
    """Conv2dNormActivation: padding (k−1)//2, no bias, BatchNorm, then ``act`` if any."""
    layers = [nn.Conv2d(cin, cout, k, s, (k - 1) // 2, groups=g, bias=False), nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers, *([act()] if act else []))


class SqueezeExcitation(nn.Module):
    def __init__(self, c, squeeze, act=nn.ReLU, gate=nn.Sigmoid):
        super().__init__()
        self.scale = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(c, squeeze, 1), act(),
                                   nn.Conv2d(squeeze, c, 1), gate())

    def forward(self, x):
        return self.scale(x) * x


class Residual(nn.Module):
    """x + f(x); with ``proj``, proj(x) + f(x); then ``after``."""

    def __init__(self, f, proj=None, after=None):
        super().__init__()
        self.f, self.proj, self.after = f, proj or nn.Identity(), after or nn.Identity()

    def forward(self, x):
        return self.after(self.proj(x) + self.f(x))


def classifier(*layers):
    return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), *layers)


# ----------------------------------------------------------------------------- MobileNetV2
def divisible(v, divisor=8):
    """torchvision's _make_divisible (torchvision/models/_utils.py), in floating point as
    torchvision runs it: the nearest multiple of ``divisor`` (at least ``divisor``), one
    more multiple when that falls below 90 % of ``v``."""
    rounded = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * v else rounded


def mobilenet_v2(width_mult=1.0):
    """torchvision's MobileNetV2 at ``width_mult``: every width _make_divisible(c · w, 8),
    the last one _make_divisible(1280 · max(1.0, w), 8); a block's shortcut wherever its
    stride is 1 and its input and output widths are equal."""
    def block(cin, c, s, t):
        hidden = int(round(cin * t))
        f = nn.Sequential(*([conv_bn(cin, hidden, act=nn.ReLU6)] if t != 1 else []),
                          conv_bn(hidden, hidden, 3, s, hidden, nn.ReLU6), conv_bn(hidden, c))
        return Residual(f) if s == 1 and cin == c else f

    cin = divisible(32 * width_mult)
    layers = [conv_bn(3, cin, 3, 2, act=nn.ReLU6)]
    for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                       (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]:
        for i in range(n):
            layers.append(block(cin, divisible(c * width_mult), s if i == 0 else 1, t))
            cin = divisible(c * width_mult)
    last = divisible(1280 * max(1.0, width_mult))
    layers.append(conv_bn(cin, last, act=nn.ReLU6))
    return nn.Sequential(*layers, classifier(nn.Dropout(0.2), nn.Linear(last, 1000)))


# ----------------------------------------------------------------------------- MobileNetV3
# (input, kernel, expanded, out, squeeze width or 0, hard-swish, stride); the squeeze width
# is _make_divisible(expanded // 4, 8).
V3_LARGE = [
    (16, 3, 16, 16, 0, 0, 1), (16, 3, 64, 24, 0, 0, 2), (24, 3, 72, 24, 0, 0, 1),
    (24, 5, 72, 40, 24, 0, 2), (40, 5, 120, 40, 32, 0, 1), (40, 5, 120, 40, 32, 0, 1),
    (40, 3, 240, 80, 0, 1, 2), (80, 3, 200, 80, 0, 1, 1), (80, 3, 184, 80, 0, 1, 1),
    (80, 3, 184, 80, 0, 1, 1), (80, 3, 480, 112, 120, 1, 1), (112, 3, 672, 112, 168, 1, 1),
    (112, 5, 672, 160, 168, 1, 2), (160, 5, 960, 160, 240, 1, 1), (160, 5, 960, 160, 240, 1, 1),
]
V3_SMALL = [
    (16, 3, 16, 16, 8, 0, 2), (16, 3, 72, 24, 0, 0, 2), (24, 3, 88, 24, 0, 0, 1),
    (24, 5, 96, 40, 24, 1, 2), (40, 5, 240, 40, 64, 1, 1), (40, 5, 240, 40, 64, 1, 1),
    (40, 5, 120, 48, 32, 1, 1), (48, 5, 144, 48, 40, 1, 1), (48, 5, 288, 96, 72, 1, 2),
    (96, 5, 576, 96, 144, 1, 1), (96, 5, 576, 96, 144, 1, 1),
]


def mobilenet_v3(rows, last_channel):
    layers = [conv_bn(3, 16, 3, 2, act=nn.Hardswish)]
    for cin, k, e, c, sq, hs, s in rows:
        act = nn.Hardswish if hs else nn.ReLU
        f = nn.Sequential(
            *([conv_bn(cin, e, act=act)] if e != cin else []), conv_bn(e, e, k, s, e, act),
            *([SqueezeExcitation(e, sq, gate=nn.Hardsigmoid)] if sq else []), conv_bn(e, c))
        layers.append(Residual(f) if s == 1 and cin == c else f)
    c_last = rows[-1][3]
    layers.append(conv_bn(c_last, 6 * c_last, act=nn.Hardswish))
    return nn.Sequential(*layers, classifier(
        nn.Linear(6 * c_last, last_channel), nn.Hardswish(), nn.Dropout(0.2),
        nn.Linear(last_channel, 1000)))


def mobilenet_v3_large():
    return mobilenet_v3(V3_LARGE, 1280)


def mobilenet_v3_small():
    return mobilenet_v3(V3_SMALL, 1024)


# ----------------------------------------------------------------------------- ShuffleNetV2
class ShuffleUnit(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        c = cout // 2
        self.stride = stride
        if stride > 1:
            self.branch1 = nn.Sequential(
                nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False), nn.BatchNorm2d(cin),
                nn.Conv2d(cin, c, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU())
        self.branch2 = nn.Sequential(
            nn.Conv2d(cin if stride > 1 else c, c, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
            nn.Conv2d(c, c, 3, stride, 1, groups=c, bias=False), nn.BatchNorm2d(c),
            nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU())
        self.shuffle = nn.ChannelShuffle(2)

    def forward(self, x):
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            return self.shuffle(torch.cat((x1, self.branch2(x2)), dim=1))
        return self.shuffle(torch.cat((self.branch1(x), self.branch2(x)), dim=1))


def shufflenet_v2_x1_0():
    layers = [nn.Conv2d(3, 24, 3, 2, 1, bias=False), nn.BatchNorm2d(24), nn.ReLU(),
              nn.MaxPool2d(3, 2, 1)]
    cin = 24
    for repeats, c in [(4, 116), (8, 232), (4, 464)]:
        layers += [ShuffleUnit(cin, c, 2)] + [ShuffleUnit(c, c, 1) for _ in range(repeats - 1)]
        cin = c
    layers += [nn.Conv2d(464, 1024, 1, bias=False), nn.BatchNorm2d(1024), nn.ReLU()]
    return nn.Sequential(*layers, classifier(nn.Linear(1024, 1000)))


# ----------------------------------------------------------------------------- MNASNet 1.0
def mnasnet1_0():
    def block(cin, c, k, s, t):
        mid = cin * t
        f = nn.Sequential(
            nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(),
            nn.Conv2d(mid, mid, k, s, k // 2, groups=mid, bias=False), nn.BatchNorm2d(mid),
            nn.ReLU(), nn.Conv2d(mid, c, 1, bias=False), nn.BatchNorm2d(c))
        return Residual(f) if s == 1 and cin == c else f

    layers = [nn.Conv2d(3, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
              nn.Conv2d(32, 32, 3, 1, 1, groups=32, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
              nn.Conv2d(32, 16, 1, bias=False), nn.BatchNorm2d(16)]
    for cin, c, k, s, t, n in [(16, 24, 3, 2, 3, 3), (24, 40, 5, 2, 3, 3), (40, 80, 5, 2, 6, 3),
                               (80, 96, 3, 1, 6, 2), (96, 192, 5, 2, 6, 4),
                               (192, 320, 3, 1, 6, 1)]:
        layers += [block(cin, c, k, s, t)] + [block(c, c, k, 1, t) for _ in range(n - 1)]
    layers += [nn.Conv2d(320, 1280, 1, bias=False), nn.BatchNorm2d(1280), nn.ReLU()]
    return nn.Sequential(*layers, classifier(nn.Dropout(0.2), nn.Linear(1280, 1000)))


# ----------------------------------------------------------------------------- EfficientNet-B0
def efficientnet_b0():
    def block(cin, c, k, s, t):
        e = cin * t
        f = nn.Sequential(
            *([conv_bn(cin, e, act=nn.SiLU)] if t != 1 else []), conv_bn(e, e, k, s, e, nn.SiLU),
            SqueezeExcitation(e, max(1, cin // 4), act=nn.SiLU), conv_bn(e, c))
        return Residual(f) if s == 1 and cin == c else f

    layers, cin = [conv_bn(3, 32, 3, 2, act=nn.SiLU)], 32
    for t, k, s, c, n in [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
                          (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]:
        for i in range(n):
            layers.append(block(cin, c, k, s if i == 0 else 1, t))
            cin = c
    layers.append(conv_bn(320, 1280, act=nn.SiLU))
    return nn.Sequential(*layers, classifier(nn.Dropout(0.2), nn.Linear(1280, 1000)))


# ----------------------------------------------------------------------------- RegNet
def regnet(depths, widths, group_width, se_ratio=None):
    def block(cin, c, s):
        f = [conv_bn(cin, c, act=nn.ReLU), conv_bn(c, c, 3, s, c // group_width, nn.ReLU)]
        if se_ratio:
            f.append(SqueezeExcitation(c, int(round(se_ratio * cin))))
        f.append(conv_bn(c, c))
        proj = conv_bn(cin, c, 1, s) if cin != c or s != 1 else None
        return Residual(nn.Sequential(*f), proj, nn.ReLU())

    layers, cin = [conv_bn(3, 32, 3, 2, act=nn.ReLU)], 32
    for depth, c in zip(depths, widths):
        for i in range(depth):
            layers.append(block(cin, c, 2 if i == 0 else 1))
            cin = c
    return nn.Sequential(*layers, classifier(nn.Linear(cin, 1000)))


def regnet_y_400mf():
    return regnet([1, 3, 6, 6], [48, 104, 208, 440], 8, se_ratio=0.25)


def regnet_x_400mf():
    return regnet([1, 2, 7, 12], [32, 64, 160, 400], 16)


# ----------------------------------------------------------------------------- ConvNeXt-T
class LayerNorm2d(nn.LayerNorm):
    def forward(self, x):
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class CNBlock(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(dim, dim, 7, padding=3, groups=dim), _Permute(0, 2, 3, 1),
            nn.LayerNorm(dim, eps=1e-6), nn.Linear(dim, 4 * dim), nn.GELU(),
            nn.Linear(4 * dim, dim), _Permute(0, 3, 1, 2))
        self.layer_scale = nn.Parameter(torch.ones(dim, 1, 1) * 1e-6)

    def forward(self, x):
        return x + self.layer_scale * self.block(x)


class _Permute(nn.Module):
    def __init__(self, *dims):
        super().__init__()
        self.dims = dims

    def forward(self, x):
        return x.permute(*self.dims)


def convnext_tiny():
    layers = [nn.Conv2d(3, 96, 4, 4), LayerNorm2d(96, eps=1e-6)]
    for dim, out, n in [(96, 192, 3), (192, 384, 3), (384, 768, 9), (768, None, 3)]:
        layers += [CNBlock(dim) for _ in range(n)]
        if out:
            layers += [LayerNorm2d(dim, eps=1e-6), nn.Conv2d(dim, out, 2, 2)]
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), LayerNorm2d(768, eps=1e-6),
                         nn.Flatten(), nn.Linear(768, 1000))


MODELS = {f.__name__: f for f in (
    mobilenet_v2, mobilenet_v3_large, mobilenet_v3_small, shufflenet_v2_x1_0, mnasnet1_0,
    efficientnet_b0, regnet_y_400mf, regnet_x_400mf, convnext_tiny)}
