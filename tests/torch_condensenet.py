"""The deployed (condensed) CondenseNet in plain PyTorch.

Written from the authors' code (ShichenLiu/CondenseNet: models/condensenet_converted.py,
layers.py; Huang, Liu, van der Maaten & Weinberger, CVPR 2018) with its module names:
``features.init_conv``, ``features.denseblock_i.denselayer_j.conv_1`` (a CondenseConv: an
index selection of the input's channels, BN, ReLU, a G-group 1x1 convolution and the
ShuffleLayer) and ``.conv_2`` (BN, ReLU, a G-group 3x3 convolution), transitions that are a
2x2 average pool alone, ``norm_last``, ``relu_last``, ``pool_last`` and a CondenseLinear
classifier (an index selection of half the features, then a Linear). The converted model has
as many selected channels as input channels, the case G = C of every published CondenseNet.

The ``index`` buffers are learned in training and copied in when a trained model is
converted; here they hold i mod C (entry i picks channel i mod C of C), as
specs/condensenet-*.yaml and archcalc's builders assume: any valid selection of the same
length counts the same. Nothing here imports archcalc.
"""

from __future__ import annotations

import torch
from torch import nn

from torch_transformer_models import measure  # noqa: F401  (the tests' count of a module)

CIFAR = dict(stages=(14, 14, 14), growth=(8, 16, 32), init_stride=1, pool_size=8,
             num_classes=10)
IMAGENET = dict(stages=(4, 6, 8, 10, 8), growth=(8, 16, 32, 64, 128), init_stride=2,
                pool_size=7, num_classes=1000)


def _selection(count: int, channels: int) -> torch.Tensor:
    """A deterministic index of ``count`` entries into ``channels``: i mod channels."""
    return torch.arange(count) % channels


def ShuffleLayer(x, groups: int):
    """Channels viewed as [groups, C/groups], the two axes swapped, flattened back."""
    batchsize, num_channels, height, width = x.size()
    channels_per_group = num_channels // groups
    x = x.view(batchsize, groups, channels_per_group, height, width)
    x = torch.transpose(x, 1, 2).contiguous()
    return x.view(batchsize, -1, height, width)


class CondenseConv(nn.Module):
    """The condensed learned group convolution: the selected channels (``index``), BN,
    ReLU, a G-group convolution, the channel shuffle."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, groups=1):
        super().__init__()
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.norm = nn.BatchNorm2d(in_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=kernel_size,
                              stride=stride, padding=padding, groups=groups, bias=False)
        self.register_buffer("index", _selection(in_channels, in_channels))

    def forward(self, x):
        x = torch.index_select(x, 1, self.index)
        x = self.norm(x)
        x = self.relu(x)
        x = self.conv(x)
        return ShuffleLayer(x, self.groups)


class CondenseLinear(nn.Module):
    """The condensed classifier: ``drop_rate`` of the features dropped, the rest selected
    by ``index`` and read by a Linear."""

    def __init__(self, in_features, out_features, drop_rate=0.5):
        super().__init__()
        self.in_features = int(in_features * drop_rate)
        self.out_features = out_features
        self.linear = nn.Linear(self.in_features, out_features)
        self.register_buffer("index", _selection(self.in_features, in_features))

    def forward(self, x):
        x = torch.index_select(x, 1, self.index)
        return self.linear(x)


class Conv(nn.Sequential):
    """BN, ReLU, convolution without bias."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, groups=1):
        super().__init__()
        self.add_module("norm", nn.BatchNorm2d(in_channels))
        self.add_module("relu", nn.ReLU(inplace=True))
        self.add_module("conv", nn.Conv2d(in_channels, out_channels, kernel_size=kernel_size,
                                          stride=stride, padding=padding, bias=False,
                                          groups=groups))


class _DenseLayer(nn.Module):
    """CondenseConv 1x1 to bottleneck·k, Conv 3x3 to k, concatenated after the input."""

    def __init__(self, in_channels, growth_rate, bottleneck, group_1x1, group_3x3):
        super().__init__()
        self.conv_1 = CondenseConv(in_channels, bottleneck * growth_rate, kernel_size=1,
                                   groups=group_1x1)
        self.conv_2 = Conv(bottleneck * growth_rate, growth_rate, kernel_size=3, padding=1,
                           groups=group_3x3)

    def forward(self, x):
        x_ = x
        x = self.conv_1(x)
        x = self.conv_2(x)
        return torch.cat([x_, x], 1)


class _DenseBlock(nn.Sequential):
    def __init__(self, num_layers, in_channels, growth_rate, **layer):
        super().__init__()
        for i in range(num_layers):
            self.add_module(f"denselayer_{i + 1}",
                            _DenseLayer(in_channels + i * growth_rate, growth_rate, **layer))


class _Transition(nn.Module):
    """A 2x2 average pool, no convolution."""

    def __init__(self):
        super().__init__()
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)

    def forward(self, x):
        return self.pool(x)


class CondenseNet(nn.Module):
    """The converted network: init conv (2·growth[0] filters), dense blocks with
    transitions between them, BN-ReLU-pool, the condensed classifier."""

    def __init__(self, stages, growth, init_stride, pool_size, num_classes, bottleneck=4,
                 group_1x1=4, group_3x3=4):
        super().__init__()
        layer = dict(bottleneck=bottleneck, group_1x1=group_1x1, group_3x3=group_3x3)
        self.features = nn.Sequential()
        num_features = 2 * growth[0]
        self.features.add_module("init_conv", nn.Conv2d(3, num_features, kernel_size=3,
                                                        stride=init_stride, padding=1,
                                                        bias=False))
        for i, (n, k) in enumerate(zip(stages, growth)):
            self.features.add_module(f"denseblock_{i + 1}",
                                     _DenseBlock(n, num_features, k, **layer))
            num_features += n * k
            if i < len(stages) - 1:
                self.features.add_module(f"transition_{i + 1}", _Transition())
        self.features.add_module("norm_last", nn.BatchNorm2d(num_features))
        self.features.add_module("relu_last", nn.ReLU(inplace=True))
        self.features.add_module("pool_last", nn.AvgPool2d(pool_size))
        self.classifier = CondenseLinear(num_features, num_classes, 0.5)

    def forward(self, x):
        features = self.features(x)
        out = features.view(features.size(0), -1)
        return self.classifier(out)


def condensenet86_cifar():
    """CondenseNet-86 for CIFAR-10 (main.py --stages 14-14-14 --growth 8-16-32, G = C = 4)."""
    return CondenseNet(**CIFAR)


def condensenet74_imagenet(groups: int = 4):
    """CondenseNet-74 for ImageNet (--stages 4-6-8-10-8 --growth 8-16-32-64-128), G = C =
    ``groups`` (4 or 8 in Table 5)."""
    return CondenseNet(**IMAGENET, group_1x1=groups, group_3x3=groups)
