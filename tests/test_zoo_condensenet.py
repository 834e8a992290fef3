"""CondenseNet (Huang, Liu, van der Maaten & Weinberger, "CondenseNet: An Efficient DenseNet
using Learned Group Convolutions", CVPR 2018) in specs/: archcalc's exact counts of the
deployed (condensed) networks, and the figures the paper and the authors' README publish.

The published FLOPs are the authors' own count (ShichenLiu/CondenseNet, utils.py
measure_layer), not archcalc's multiply-accumulates: per Conv2d the multiply-adds (the learned
group convolution's divided by the condense factor C), per ReLU one operation per output
element, per AvgPool2d one per pooled input (output elements · k²), per Linear its weights
plus its bias; BatchNorm counts nothing. Their params are parameters() of the same layers.
``utils_count`` below recomputes that count from the architecture alone (main.py's stages,
growth, bottleneck 4, groups and condense factor; models/condensenet_converted.py's layers),
and ``from_archcalc`` turns archcalc's per-layer records into it: archcalc's MACs plus the
ReLU outputs, the pooled inputs and the classifier's bias. The gap between each published
figure and archcalc's MACs is exactly those terms.
"""

from __future__ import annotations

import pytest

from conftest import SPECS
from helpers import analyse_file, analyse_text


def utils_count(stages, growth, g, c, size, init_stride, pool, classes):
    """(ops, params) as utils.py measure_model counts the deployed CondenseNet: the init
    conv; per dense layer BN-ReLU-learned group conv 1x1 (4k outputs, C_in·4k/C weights) and
    BN-ReLU-conv 3x3 (k outputs, G groups); per transition a 2x2 average pool; BN, ReLU, a
    pool over the last map; the condensed classifier on half the features."""
    s, ch = size // init_stride, 2 * growth[0]
    ops, params = 3 * ch * 9 * s * s, 3 * ch * 9
    for i, (n, k) in enumerate(zip(stages, growth)):
        for _ in range(n):
            ops += ch * s * s + ch * 4 * k * s * s // c       # ReLU, learned group conv
            params += 2 * ch + ch * 4 * k // c                 # its BN, its weights
            ops += 4 * k * s * s + 4 * k * k * 9 * s * s // g  # ReLU, 3x3 group conv
            params += 2 * 4 * k + 4 * k * k * 9 // g
            ch += k
        if i < len(stages) - 1:
            s //= 2
            ops += ch * s * s * 4                              # 2x2 average pool
    ops += ch * s * s + ch * s * s                             # final ReLU, average pool
    params += 2 * ch
    ops += ch // 2 * classes + classes                         # CondenseLinear's Linear
    params += ch // 2 * classes + classes
    return ops, params


def from_archcalc(a) -> int:
    """utils.py's ops from archcalc's records: MACs + ReLU outputs + pooled inputs + the
    classifier's bias."""
    nodes = {n.id: n for n in a.graph.nodes}
    ops = a.total.macs
    for r in a.layers[1:]:
        numel = 1
        for d in r.output_shape:
            numel *= d
        if r.type == "relu":
            ops += numel
        elif r.type == "avgpool2d":
            k = nodes[r.id].args["kernel"]
            ops += numel * k * k
        elif r.type == "linear":
            ops += r.output_shape[0]
    return ops


CIFAR = dict(stages=[14, 14, 14], growth=[8, 16, 32], size=32, init_stride=1, pool=8,
             classes=10)
IMAGENET = dict(stages=[4, 6, 8, 10, 8], growth=[8, 16, 32, 64, 128], size=224,
                init_stride=2, pool=7, classes=1000)


def test_condensenet_86_cifar():
    # README.md (CIFAR table) and paper Table 1: CondenseNet-86 65.8M FLOPs, 0.52M params.
    # The training network's full classifier (nn.Linear on all 800 features) would add
    # 4,000 to both, which rounds to the same figures: the CIFAR table cannot tell the two
    # apart, the ImageNet one can (test_imagenet_exact_counts).
    a = analyse_file(SPECS / "condensenet-86-cifar.yaml")
    ops, params = utils_count(g=4, c=4, **CIFAR)
    assert (ops, params) == (65_812_394, 516_202)
    assert a.total.params == params
    assert from_archcalc(a) == ops
    assert round(ops / 1e6, 1) == 65.8 and round(params / 1e6, 2) == 0.52
    # archcalc's MACs leave out the 3,434,506 ReLU, pooling and bias operations.
    assert a.total.macs == 62_377_888 == ops - 3_434_506
    assert a.total.output_shape == (10,)
    assert a.record("block3").output_shape == (800, 8, 8)


@pytest.mark.parametrize("gc, published_ops, published_params", [(4, 529, 4.8), (8, 274, 2.9)])
def test_condensenet_imagenet_table5(gc, published_ops, published_params):
    # README.md (ImageNet table) and paper Table 5: CondenseNet-74 with C = G = 4: 529M
    # FLOPs, 4.8M params; C = G = 8: 274M, 2.9M.
    a = analyse_file(SPECS / "condensenet-imagenet.yaml", G=gc, C=gc)
    ops, params = utils_count(g=gc, c=gc, **IMAGENET)
    assert a.total.params == params
    assert from_archcalc(a) == ops
    assert round(ops / 1e6) == published_ops
    assert round(params / 1e6, 1) == published_params
    assert a.record("block5").output_shape == (2064, 7, 7)


def test_imagenet_exact_counts():
    # Derived by utils_count: G = C = 4: 529,328,264 ops, 4,773,944 params; G = C = 8:
    # 274,233,480 ops, 2,935,416 params. The uncondensed classifier (nn.Linear on all 2,064
    # features) would add 1,032,000 to both: 5.8M params, not Table 5's 4.8M.
    assert utils_count(g=4, c=4, **IMAGENET) == (529_328_264, 4_773_944)
    assert utils_count(g=8, c=8, **IMAGENET) == (274_233_480, 2_935_416)


def test_learnedgroupconv_test_and_train():
    # Cin = 64, Cout = 32, G = 4, C = 4 on 8x8: condensed, each output reads 64/4 = 16
    # channels: 32·16 = 512 weights, 512·64 = 32,768 MACs, an index of 64·4/4 = 64 entries;
    # training: the dense 1x1 convolution, 32·64 = 2,048 weights and a mask of as many.
    spec = """
        input: [64, 8, 8]
        layers:
          - learnedgroupconv: {{name: l, out: 32, groups: 4, condense_factor: 4{extra}}}
    """
    a = analyse_text(spec.format(extra=""))
    r = a.record("l")
    assert (r.params, r.macs, r.buffers, r.output_shape) == (512, 32_768, 64, (32, 8, 8))
    a = analyse_text(spec.format(extra=", phase: train"))
    r = a.record("l")
    assert (r.params, r.macs, r.buffers) == (2_048, 131_072, 2_048)
    # G = 2, C = 8, a 3x3 kernel with padding 1: 32·(64/8)·9 = 2,304 weights, an index of
    # 64·2/8 = 16 channels.
    a = analyse_text(spec.replace("groups: 4, condense_factor: 4",
                                  "groups: 2, condense_factor: 8, kernel: 3, padding: 1")
                     .format(extra=""))
    r = a.record("l")
    assert (r.params, r.macs, r.buffers) == (2_304, 2_304 * 64, 16)


def test_indexchannels():
    # torch.index_select on the channels: [count, H, W], no parameters, the index a buffer.
    a = analyse_text("""
        input: [6, 5, 5]
        layers: [indexchannels: {name: i, count: 10}]
    """)
    r = a.record("i")
    assert (r.output_shape, r.params, r.macs, r.buffers) == ((10, 5, 5), 0, 0, 10)
