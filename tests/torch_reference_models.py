"""Hand-written PyTorch models of the classic and paper networks in specs/.

Each model is written from its paper (or, for Xception, Keras's applications source)
independently of archcalc, so that tests/test_zoo_papers.py can compare archcalc's closed
forms with what PyTorch counts. Nothing here imports archcalc.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from torch_zoo_models import Bottleneck, ResNet


def measure(make_model, input_shape) -> tuple[int, int, tuple, int]:
    """(parameters, BatchNorm running-statistics elements, output shape without batch, MACs)
    of one batch-1 forward pass on the meta device: no memory for weights, no arithmetic,
    and FlopCounterMode still counts (2 FLOPs per MAC)."""
    with torch.device("meta"):
        model = make_model()
        x = torch.empty(1, *input_shape)
    params = sum(p.numel() for p in model.parameters())
    running = sum(b.numel() for name, b in model.named_buffers()
                  if name.endswith(("running_mean", "running_var")))
    with FlopCounterMode(display=False) as counter:
        y = model.eval()(x)
    if isinstance(y, tuple):  # main output first, then side outputs (auxiliary classifiers)
        y = y[0]
    flops = counter.get_total_flops()
    assert flops % 2 == 0
    return params, running, tuple(y.shape[1:]), flops // 2


# ----------------------------------------------------------------------------- LeNet-5
# LeCun et al. 1998, Table I: the S2 maps each C3 map is connected to.
LENET_C3_TABLE = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (0, 4, 5), (0, 1, 5),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (0, 3, 4, 5), (0, 1, 4, 5), (0, 1, 2, 5),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5), (0, 1, 2, 3, 4, 5),
)


class TrainableSubsampling(nn.Module):
    """LeNet's S layers: sum of 2x2, times a trainable coefficient, plus a bias, per map."""

    def __init__(self, maps: int):
        super().__init__()
        self.scale = nn.Conv2d(maps, maps, 1, groups=maps)  # coefficient and bias per map

    def forward(self, x):
        return torch.tanh(self.scale(F.avg_pool2d(x, 2)))


class PartialC3(nn.Module):
    """C3: one 5x5 convolution per output map over its own subset of S2 maps."""

    def __init__(self, table=LENET_C3_TABLE):
        super().__init__()
        self.table = table
        self.maps = nn.ModuleList(nn.Conv2d(len(inputs), 1, 5) for inputs in table)

    def forward(self, x):
        return torch.cat([conv(x[:, list(inputs)]) for conv, inputs in
                          zip(self.maps, self.table)], dim=1)


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 5)
        self.s2 = TrainableSubsampling(6)
        self.c3 = PartialC3()
        self.s4 = TrainableSubsampling(16)
        self.c5 = nn.Conv2d(16, 120, 5)
        self.f6 = nn.Linear(120, 84)
        self.rbf_centres = nn.Linear(84, 10, bias=False)  # 840 fixed centres, as a linear map

    def forward(self, x):
        x = self.s2(torch.tanh(self.c1(x)))
        x = self.s4(torch.tanh(self.c3(x)))
        x = torch.tanh(self.c5(x)).flatten(1)
        return self.rbf_centres(torch.tanh(self.f6(x)))


# ----------------------------------------------------------------------------- AlexNet
class AlexNetPaper(nn.Module):
    """Krizhevsky et al. 2012 on one GPU: every kernel sees all maps of the layer below."""

    def __init__(self, classes: int = 1000):
        super().__init__()
        lrn = dict(size=5, alpha=5e-4, beta=0.75, k=2.0)
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(), nn.LocalResponseNorm(**lrn),
            nn.MaxPool2d(3, 2),
            nn.Conv2d(96, 256, 5, padding=2), nn.ReLU(), nn.LocalResponseNorm(**lrn),
            nn.MaxPool2d(3, 2),
            nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 384, 3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(3, 2),
        )
        self.classifier = nn.Sequential(
            nn.Dropout(0.5), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(),
            nn.Dropout(0.5), nn.Linear(4096, 4096), nn.ReLU(),
            nn.Linear(4096, classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


# ----------------------------------------------------------------------------- ResNet-50
# torchvision.models.resnet50 rewritten module for module (torchvision/models/resnet.py:
# Bottleneck with expansion 4 and the stride on its 3x3 convolution, "ResNet v1.5";
# _make_layer's 1x1 projection shortcut where the stride or the width changes; layers
# [3, 4, 6, 3]), with the same module names (conv1, layer1.0.downsample.0, fc), because
# torchvision's wheel cannot load its C++ ops in the test environment. Its parameters are
# torchvision's published 25,557,032 (ResNet50_Weights.IMAGENET1K_V1, tests/published.py).
# The blocks and the builder are torch_zoo_models' (the whole ResNet family).
class ResNet50(ResNet):
    def __init__(self, layers=(3, 4, 6, 3), classes: int = 1000):
        super().__init__(Bottleneck, layers, classes=classes)


# ----------------------------------------------------------------------------- ResNet CIFAR
class OptionABlock(nn.Module):
    """He et al. 2015 basic block; where it subsamples, the shortcut is x[:, :, ::2, ::2]
    with zero channels appended on both sides (option A: no parameters)."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.stride, self.extra = stride, cout - cin

    def shortcut(self, x):
        if self.stride == 1 and self.extra == 0:
            return x
        x = x[:, :, ::self.stride, ::self.stride]
        half = self.extra // 2
        return F.pad(x, (0, 0, 0, 0, half, self.extra - half))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


class ResNetCifar(nn.Module):
    """6n + 2 layers: conv 16, three stages of n blocks (16, 32, 64), pool, fc 10."""

    def __init__(self, n: int = 18, classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        blocks, cin = [], 16
        for cout, stride in ((16, 1), (32, 2), (64, 2)):
            for i in range(n):
                blocks.append(OptionABlock(cin, cout, stride if i == 0 else 1))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = self.blocks(F.relu(self.bn1(self.conv1(x))))
        return self.fc(x.mean((2, 3)))


class PreActBottleneck(nn.Module):
    """He et al. 2016 full pre-activation unit; a projection shortcut (1x1, on the unit's
    first BN-ReLU output) where the width changes, as in the authors' resnet-pre-act.lua."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        mid = cout // 4
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, mid, 1, stride, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, mid, 3, 1, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(mid, cout, 1, bias=False)
        self.project = nn.Conv2d(cin, cout, 1, stride, bias=False) if cin != cout else None

    def forward(self, x):
        pre = F.relu(self.bn1(x))
        y = self.conv1(pre)
        y = self.conv2(F.relu(self.bn2(y)))
        y = self.conv3(F.relu(self.bn3(y)))
        return y + (x if self.project is None else self.project(pre))


class PreActResNetCifar(nn.Module):
    """9n + 2 layers: conv 16, stages of n units (64, 128, 256), BN-ReLU, pool, fc 10."""

    def __init__(self, n: int = 18, classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        units, cin = [], 16
        for cout, stride in ((64, 1), (128, 2), (256, 2)):
            for i in range(n):
                units.append(PreActBottleneck(cin, cout, stride if i == 0 else 1))
                cin = cout
        self.units = nn.Sequential(*units)
        self.bn = nn.BatchNorm2d(256)
        self.fc = nn.Linear(256, classes)

    def forward(self, x):
        x = F.relu(self.bn(self.units(self.conv1(x))))
        return self.fc(F.avg_pool2d(x, 8).flatten(1))


# ----------------------------------------------------------------------------- DenseNet-BC
class DenseLayerBC(nn.Module):
    """BN-ReLU-conv1x1 (4k), BN-ReLU-conv3x3 (k); the output is the input with k maps added."""

    def __init__(self, cin: int, k: int):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(cin), nn.Conv2d(cin, 4 * k, 1, bias=False)
        self.bn2, self.conv2 = nn.BatchNorm2d(4 * k), nn.Conv2d(4 * k, k, 3, 1, 1, bias=False)

    def forward(self, x):
        y = self.conv1(F.relu(self.bn1(x)))
        return torch.cat([x, self.conv2(F.relu(self.bn2(y)))], dim=1)


class DenseNetBCCifar(nn.Module):
    """Huang et al. 2017: depth 6n + 4, growth k, compression 0.5, three blocks."""

    def __init__(self, n: int = 16, k: int = 12, classes: int = 10):
        super().__init__()
        layers, c = [nn.Conv2d(3, 2 * k, 3, 1, 1, bias=False)], 2 * k
        for block in range(3):
            for _ in range(n):
                layers.append(DenseLayerBC(c, k))
                c += k
            if block < 2:
                layers += [nn.BatchNorm2d(c), nn.ReLU(), nn.Conv2d(c, c // 2, 1, bias=False),
                           nn.AvgPool2d(2)]
                c //= 2
        layers += [nn.BatchNorm2d(c), nn.ReLU(), nn.AvgPool2d(8), nn.Flatten(),
                   nn.Linear(c, classes)]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


# ----------------------------------------------------------------------------- MobileNet v1
MOBILENET_V1_TABLE1 = (  # (output channels, stride) of each depthwise separable layer
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1),
)


def _conv_bn_relu(cin, cout, kernel, stride, groups=1):
    return [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout), nn.ReLU()]


class MobileNetV1(nn.Module):
    """Howard et al. 2017, Table 1 (the last depthwise layer with stride 1)."""

    def __init__(self, classes: int = 1000):
        super().__init__()
        layers, cin = _conv_bn_relu(3, 32, 3, 2), 32
        for cout, stride in MOBILENET_V1_TABLE1:
            layers += _conv_bn_relu(cin, cin, 3, stride, groups=cin)
            layers += _conv_bn_relu(cin, cout, 1, 1)
            cin = cout
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(1024, classes)

    def forward(self, x):
        return self.fc(self.features(x).mean((2, 3)))


# ----------------------------------------------------------------------------- GoogLeNet
GOOGLENET_TABLE1 = {  # #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj
    "3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64), "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128), "5b": (384, 192, 384, 48, 128, 128),
}


class InceptionV1(nn.Module):
    """Szegedy et al. 2014 Fig. 2(b): four branches, ReLU after every convolution, no BN."""

    def __init__(self, cin, c1, c3r, c3, c5r, c5, pp):
        super().__init__()
        self.b1 = nn.Conv2d(cin, c1, 1)
        self.b3 = nn.ModuleList([nn.Conv2d(cin, c3r, 1), nn.Conv2d(c3r, c3, 3, padding=1)])
        self.b5 = nn.ModuleList([nn.Conv2d(cin, c5r, 1), nn.Conv2d(c5r, c5, 5, padding=2)])
        self.proj = nn.Conv2d(cin, pp, 1)
        self.width = c1 + c3 + c5 + pp

    def forward(self, x):
        y3 = F.relu(self.b3[1](F.relu(self.b3[0](x))))
        y5 = F.relu(self.b5[1](F.relu(self.b5[0](x))))
        yp = F.relu(self.proj(F.max_pool2d(x, 3, 1, 1)))
        return torch.cat([F.relu(self.b1(x)), y3, y5, yp], dim=1)


class AuxiliaryClassifier(nn.Module):
    """Section 5: avg pool 5x5/3, conv 1x1 128, fc 1024, dropout 0.7, fc 1000."""

    def __init__(self, cin, classes=1000):
        super().__init__()
        self.conv = nn.Conv2d(cin, 128, 1)
        self.fc1, self.fc2 = nn.Linear(128 * 4 * 4, 1024), nn.Linear(1024, classes)

    def forward(self, x):
        x = F.relu(self.conv(F.avg_pool2d(x, 5, 3))).flatten(1)
        return self.fc2(F.dropout(F.relu(self.fc1(x)), 0.7, self.training))


class GoogLeNetPaper(nn.Module):
    """Table 1 of Szegedy et al. 2014, ceil-mode pools, LRN as in Fig. 3; the auxiliary
    classifiers only when ``aux`` (forward then returns the main and both auxiliary logits)."""

    def __init__(self, aux: bool = False, classes: int = 1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3)
        self.conv2_reduce = nn.Conv2d(64, 64, 1)
        self.conv2 = nn.Conv2d(64, 192, 3, padding=1)
        self.lrn = nn.LocalResponseNorm(5, 1e-4, 0.75)
        cin, self.modules_ = 192, nn.ModuleDict()
        for name, widths in GOOGLENET_TABLE1.items():
            self.modules_[name] = InceptionV1(cin, *widths)
            cin = self.modules_[name].width
        self.aux = nn.ModuleList([AuxiliaryClassifier(512), AuxiliaryClassifier(528)]) \
            if aux else None
        self.fc = nn.Linear(1024, classes)

    def forward(self, x):
        pool = lambda t: F.max_pool2d(t, 3, 2, ceil_mode=True)  # noqa: E731
        x = self.lrn(pool(F.relu(self.conv1(x))))
        x = pool(self.lrn(F.relu(self.conv2(F.relu(self.conv2_reduce(x))))))
        side = []
        for name, module in self.modules_.items():
            if name in ("4a", "5a"):
                x = pool(x)
            x = module(x)
            if self.aux is not None and name in ("4a", "4d"):
                side.append(self.aux[len(side)](x))
        x = F.dropout(F.avg_pool2d(x, 7, 1).flatten(1), 0.4, self.training)
        logits = self.fc(x)
        return (logits, *side) if side else logits


# ----------------------------------------------------------------------------- U-Net
def _double_conv(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3), nn.ReLU(), nn.Conv2d(cout, cout, 3), nn.ReLU())


def _centre_crop(x, like):
    dh, dw = (x.shape[2] - like.shape[2]) // 2, (x.shape[3] - like.shape[3]) // 2
    return x[:, :, dh:dh + like.shape[2], dw:dw + like.shape[3]]


class UNet(nn.Module):
    """Ronneberger et al. 2015 Fig. 1: valid 3x3 convolutions, crop-and-concatenate skips."""

    def __init__(self, cin: int = 1, classes: int = 2, widths=(64, 128, 256, 512, 1024)):
        super().__init__()
        self.down = nn.ModuleList()
        for w in widths:
            self.down.append(_double_conv(cin, w))
            cin = w
        self.up, self.dec = nn.ModuleList(), nn.ModuleList()
        for w in reversed(widths[:-1]):
            self.up.append(nn.ConvTranspose2d(cin, w, 2, stride=2))
            self.dec.append(_double_conv(2 * w, w))
            cin = w
        self.head = nn.Conv2d(cin, classes, 1)

    def forward(self, x):
        skips = []
        for i, level in enumerate(self.down):
            x = level(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        x = F.dropout(skips.pop(), 0.5, self.training)
        for up, dec in zip(self.up, self.dec):
            u = up(x)
            x = dec(torch.cat([_centre_crop(skips.pop(), u), u], dim=1))
        return self.head(x)


# ----------------------------------------------------------------------------- NiN
class NiNImageNet(nn.Module):
    """Lin et al.'s released ImageNet model: four mlpconv blocks, ceil-mode pools, global
    average pooling over the 1000 class maps."""

    BLOCKS = ((96, 11, 4, 0, 96), (256, 5, 1, 2, 256), (384, 3, 1, 1, 384),
              (1024, 3, 1, 1, 1000))

    def __init__(self):
        super().__init__()
        self.blocks, cin = nn.ModuleList(), 3
        for c, k, s, p, out in self.BLOCKS:
            self.blocks.append(nn.Sequential(
                nn.Conv2d(cin, c, k, s, p), nn.ReLU(), nn.Conv2d(c, c, 1), nn.ReLU(),
                nn.Conv2d(c, out, 1), nn.ReLU()))
            cin = out

    def forward(self, x):
        for i, block in enumerate(self.blocks):
            if i:
                x = F.max_pool2d(x, 3, 2, ceil_mode=True)
            if i == 3:
                x = F.dropout(x, 0.5, self.training)
            x = block(x)
        return F.avg_pool2d(x, 6, 1).flatten(1)


# ----------------------------------------------------------------------------- Xception
def keras_same_max_pool(x, kernel: int = 3, stride: int = 2):
    """Keras MaxPooling2D(padding='same'): out = ceil(n / s); the padding that needs is split
    with the extra pixel at the bottom/right, padded with -inf."""
    pads = []
    for n in (x.shape[3], x.shape[2]):  # F.pad lists the last axis first
        total = max((-(-n // stride) - 1) * stride + kernel - n, 0)
        pads += [total // 2, total - total // 2]
    return F.max_pool2d(F.pad(x, pads, value=float("-inf")), kernel, stride)


class SeparableBN(nn.Sequential):
    """Keras SeparableConv2D(c, 3, padding='same', use_bias=False) + BatchNormalization."""

    def __init__(self, cin: int, cout: int):
        super().__init__(nn.Conv2d(cin, cin, 3, 1, 1, groups=cin, bias=False),
                         nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))


class XceptionDown(nn.Module):
    """Entry/exit block: [ReLU] sep c1, ReLU, sep c2, max pool 3x3/2; + conv1x1/2-BN."""

    def __init__(self, cin, c1, c2, relu_first=True):
        super().__init__()
        self.relu_first = relu_first
        self.sep1, self.sep2 = SeparableBN(cin, c1), SeparableBN(c1, c2)
        self.shortcut = nn.Sequential(nn.Conv2d(cin, c2, 1, 2, bias=False), nn.BatchNorm2d(c2))

    def forward(self, x):
        y = F.relu(x) if self.relu_first else x
        y = keras_same_max_pool(self.sep2(F.relu(self.sep1(y))))
        return y + self.shortcut(x)


class XceptionMiddle(nn.Module):
    def __init__(self, c: int = 728):
        super().__init__()
        self.seps = nn.ModuleList(SeparableBN(c, c) for _ in range(3))

    def forward(self, x):
        y = x
        for sep in self.seps:
            y = sep(F.relu(y))
        return y + x


class XceptionKeras(nn.Module):
    """keras.applications.Xception, layer for layer, channels first."""

    def __init__(self, classes: int = 1000):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, 32, 3, 2, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
            nn.Conv2d(32, 64, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU())
        self.entry = nn.Sequential(XceptionDown(64, 128, 128, relu_first=False),
                                   XceptionDown(128, 256, 256), XceptionDown(256, 728, 728))
        self.middle = nn.Sequential(*(XceptionMiddle() for _ in range(8)))
        self.exit = XceptionDown(728, 728, 1024)
        self.sep14 = nn.ModuleList([SeparableBN(1024, 1536), SeparableBN(1536, 2048)])
        self.predictions = nn.Linear(2048, classes)

    def forward(self, x):
        x = self.exit(self.middle(self.entry(self.stem(x))))
        for sep in self.sep14:
            x = F.relu(sep(x))
        return self.predictions(x.mean((2, 3)))


# ----------------------------------------------------------------------------- import's cases
class SizeChecked(nn.Module):
    """A network whose forward first checks its input's size in Python, as many user models
    do: torch.fx cannot trace a comparison of a traced size (torch.export can)."""

    def __init__(self, net: nn.Module, least: int = 8):
        super().__init__()
        self.net, self.least = net, least

    def forward(self, x):
        if x.shape[-1] < self.least:
            raise ValueError(f"input narrower than {self.least}")
        return self.net(x)


def size_checked(name: str, **kwargs) -> nn.Module:
    """``name`` (a model of this file or of torch_mobile_models) behind a size check."""
    import torch_mobile_models

    make = globals().get(name) or getattr(torch_mobile_models, name)
    return SizeChecked(make(**kwargs))


class PoolsWhenLarge(nn.Module):
    """Pools once more when the map is wider than 100: a branch on a size, so the network
    depends on the input size in a way torch.fx cannot trace."""

    def __init__(self, classes: int = 10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16),
                                  nn.ReLU())
        self.blocks = nn.ModuleList([OptionABlock(16, 16, 1), OptionABlock(16, 32, 2)])
        self.fc = nn.Linear(32, classes)

    def forward(self, x):
        x = self.stem(x)
        if x.shape[-1] > 100:
            x = F.max_pool2d(x, 2)
        for block in self.blocks:
            x = block(x)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class FunctionalOwn(nn.Module):
    """Each layer the functional form on its own parameters, as a subclass of a PyTorch
    module that calls F.* itself writes it (torch.fx traces into such a forward): a strided
    convolution, batch, group and layer norms, a linear classifier."""

    def __init__(self, cin: int = 3, c: int = 8, width: int = 4, classes: int = 5):
        super().__init__()
        self.conv_w = nn.Parameter(torch.randn(c, cin // 1, 3, 3))
        self.conv_b = nn.Parameter(torch.zeros(c))
        self.bn_w, self.bn_b = nn.Parameter(torch.ones(c)), nn.Parameter(torch.zeros(c))
        self.register_buffer("bn_mean", torch.zeros(c))
        self.register_buffer("bn_var", torch.ones(c))
        self.gn_w, self.gn_b = nn.Parameter(torch.ones(c)), nn.Parameter(torch.zeros(c))
        self.ln_w = nn.Parameter(torch.ones(width))  # over the last axis, no bias
        self.fc_w = nn.Parameter(torch.randn(classes, c))
        self.fc_b = nn.Parameter(torch.zeros(classes))

    def forward(self, x):
        x = F.conv2d(x, self.conv_w, self.conv_b, 2, 1)
        x = F.batch_norm(x, self.bn_mean, self.bn_var, self.bn_w, self.bn_b, False, 0.1, 1e-3)
        x = F.group_norm(F.relu(x), 2, self.gn_w, self.gn_b)
        x = F.layer_norm(x, (x.shape[-1],), self.ln_w, None, 1e-6)
        return F.linear(x.mean((2, 3)), self.fc_w, self.fc_b)


class RecurrentHead(nn.Module):
    """A convolution, then a recurrent layer over the rows (archcalc has no recurrent layer
    type: import --allow-unknown writes it as unknown), then a classifier."""

    def __init__(self, kind: str = "GRU", hidden: int = 5, layers: int = 1,
                 bidirectional: bool = False, height: int = 6, width: int = 6):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.rnn = getattr(nn, kind)(4 * width, hidden, layers, batch_first=True,
                                     bidirectional=bidirectional)
        self.fc = nn.Linear(height * hidden * (2 if bidirectional else 1), 2)

    def forward(self, x):
        x = self.conv(x)  # [B, 4, H, W]
        rows = x.permute(0, 2, 1, 3).flatten(2)  # [B, H, 4·W]
        y, _ = self.rnn(rows)  # [B, H, hidden · directions]
        return self.fc(y.flatten(1))
