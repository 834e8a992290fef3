"""archcalc import onnx: ONNX models built node by node with onnx.helper
(tests/onnx_graphs.py) imported as specs give exactly the params and MACs of the
hand-written specs in specs/ and examples/ (or of a derivation written beside the test),
and every layer's shape equals the one onnx's own shape inference gives its value; models
exported by torch.onnx from the test suite's plain-PyTorch networks give PyTorch's own
counts. Bad files and unmapped ops end in one located line and exit code 2.
"""

from __future__ import annotations

import builtins
import os
import subprocess
import sys
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
import sympy

from conftest import ROOT

onnx = pytest.importorskip("onnx")
sys.path.insert(0, str(ROOT / "tests"))

import numpy as np  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402

import onnx_graphs as G  # noqa: E402

from archcalc.analysis import analyse  # noqa: E402
from archcalc.onnx_backend.importer import import_onnx, read_layers, scope_of  # noqa: E402
from archcalc.spec.loader import load, load_string  # noqa: E402


def _save(model, tmp_path, name="model.onnx"):
    path = tmp_path / name
    onnx.save(model, str(path))
    return str(path)


def _imported(path, shape=None, free=()):
    text = import_onnx(path, shape, free)
    return text, analyse(load_string(text, "imported.yaml"))


def _shapes_agree(path, shape, got) -> int:
    """Every layer's output shape in the analysis equals onnx's inferred shape of the value
    it gives (the batch axis dropped); returns how many were compared."""
    _, graph, _, _, value_of = read_layers(path, shape)
    shapes = {r.name: tuple(r.output_shape) for r in got.layers[1:]}
    compared = 0
    for value, name in value_of.items():
        if name in shapes and value in graph.shapes:
            assert shapes[name] == tuple(graph.shapes[value][1:]), (value, name)
            compared += 1
    return compared


# (builder, the hand-written spec whose counts it must give)
ZOO = [
    (G.lenet5, "specs/lenet5.yaml"),
    (G.alexnet, "specs/alexnet.yaml"),
    (G.resnet18, "specs/resnet18.yaml"),
    (G.mobilenet_v1, "specs/mobilenet_v1.yaml"),
    (G.unet_skip, "examples/unet-skip.yaml"),
    (G.vit_block, "examples/vit-block.yaml"),
]


@pytest.mark.parametrize("build,spec", ZOO, ids=[z[0].__name__ for z in ZOO])
def test_import_counts_as_the_hand_written_spec(build, spec, tmp_path):
    path = _save(build(), tmp_path)
    text, got = _imported(path)
    want = analyse(load(str(ROOT / spec)))
    assert got.total.params == want.total.params
    assert got.total.macs == want.total.macs
    assert tuple(got.total.output_shape) == tuple(want.total.output_shape)
    assert _shapes_agree(path, None, got) >= 8


def test_mlp_with_gemm(tmp_path):
    """784 → 256 → 128 → 10 (Gemm with bias, transB = 1):
    params (784 + 1)·256 + (256 + 1)·128 + (128 + 1)·10 = 200,960 + 32,896 + 1,290 = 235,146;
    MACs 784·256 + 256·128 + 128·10 = 200,704 + 32,768 + 1,280 = 234,752."""
    path = _save(G.mlp(), tmp_path)
    text, got = _imported(path)
    assert (got.total.params, got.total.macs) == (235_146, 234_752)
    assert "  - linear: {name: fc1, out: 256}" in text
    assert "  - softmax: {name: softmax_" in text  # axis 1 of [N, 10]: the spec's dim 0
    assert _shapes_agree(path, None, got) == 6


def test_unet_resize_concat(tmp_path):
    """A U-Net level with Resize and Concat, input 3 x 32 x 32:
    enc 3→16 3x3 pad 1: params 3·16·9 + 16 = 448, MACs 32·32·16·27 = 442,368;
    mid 16→32 at 16 x 16: params 16·32·9 + 32 = 4,640, MACs 16·16·32·144 = 1,179,648;
    nearest ×2 to 32 x 32, concat 16 + 32 = 48 channels;
    dec 48→16: params 48·16·9 + 16 = 6,928, MACs 32·32·16·432 = 7,077,888;
    bilinear resize to 64 x 64 (align_corners), 2 x 2 average pool back to 32 x 32;
    head 16→2 1x1: params 16·2 + 2 = 34, MACs 32·32·2·16 = 32,768.
    Total params 12,050; MACs 8,732,672."""
    path = _save(G.unet_resize(), tmp_path)
    text, got = _imported(path)
    assert (got.total.params, got.total.macs) == (12_050, 8_732_672)
    assert "  - upsample: {name: up, scale: 2}" in text
    assert "  - concat: {name: cat, from: enc_relu, with: up}" in text
    assert "  - upsample: {name: up2, mode: bilinear, align_corners: true, size: 64}" in text
    assert _shapes_agree(path, None, got) == 12


def test_attention_as_primitives(tmp_path):
    """examples/vit-block.yaml's multi-head attention written out: Q, K, V and the output
    projection each MatMul + Add of the bias (one linear layer each: 4·(64² + 64) = 16,640
    params), Q·Kᵀ and A·V as matmul of two activations (4 heads · 16·16·16 = 16,384 MACs
    each: 2·L²·E), the 1/√d scale no layer."""
    path = _save(G.vit_block(), tmp_path)
    text, got = _imported(path)
    assert "  - matmul: {name: attn.matmul, from: attn.transpose_q, with: attn.transpose_k}" \
        in text
    assert "div" not in text and "add: {name: embed" not in text
    assert "  - linear: {name: attn.q, out: 64}" in text  # MatMul + Add: one linear, bias
    macs = {r.name: r.macs for r in got.layers[1:]}
    assert macs["attn.matmul"] == macs["attn.matmul_1"] == 4 * 16 * 16 * 16


def test_multihead_attention_as_torch_onnx_writes_it(tmp_path):
    """nn.MultiheadAttention(64, 4) on 16 tokens with the batch behind the tokens inside it
    (tests/onnx_graphs.py): one multiheadattention layer; params 4·64² + 4·64 = 16,640
    (in_proj [192, 64] and its bias, out_proj [64, 64] and its bias), MACs
    4·16·64² + 2·16²·64 = 262,144 + 32,768 = 294,912 (the q, k, v and output projections,
    Q·Kᵀ and A·V), the layer's own at [16, 64]."""
    path = _save(G.multihead_attention(), tmp_path)
    text, got = _imported(path)
    assert text.endswith("layers:\n  - multiheadattention: {name: attn, heads: 4}\n"), text
    assert (got.total.params, got.total.macs) == (16_640, 294_912)
    want = analyse(load_string("input: [16, 64]\nlayers:\n  - multiheadattention: {heads: 4}\n",
                               "mha.yaml"))
    assert (want.total.params, want.total.macs) == (16_640, 294_912)
    assert _shapes_agree(path, None, got) == 1


def test_depth_to_space_and_back_are_pixel_shuffles(tmp_path):
    """DepthToSpace (CRD, and the default DCR, whose channel order differs but not its
    shapes or counts) and SpaceToDepth are pixelshuffle and pixelunshuffle: the counts of
    the same network in PyTorch (nn.PixelShuffle, nn.PixelUnshuffle) and onnx's shapes."""
    torch = pytest.importorskip("torch")
    import torch_transformer_models as tt
    from torch import nn

    path = _save(G.sub_pixel(), tmp_path)
    text, got = _imported(path)
    for line in ["  - pixelshuffle: {name: shuffle, factor: 2}",
                 "  - pixelunshuffle: {name: unshuffle, factor: 2}",
                 "  - pixelshuffle: {name: again, factor: 2}"]:
        assert line in text, text
    make = lambda: nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.PixelShuffle(2),  # noqa
                                 nn.Conv2d(4, 8, 3, padding=1), nn.PixelUnshuffle(2),
                                 nn.PixelShuffle(2))
    params, out, macs = tt.measure(make, (3, 8, 8))
    assert (got.total.params, got.total.macs, tuple(got.total.output_shape)) == \
        (params, macs, out)
    assert _shapes_agree(path, None, got) == 5


def test_multihead_attention_with_a_mask_is_refused(cli, tmp_path):
    """An additive mask on the scores is no op of the layer: the Transpose that moves the
    batch is refused, naming the op that differs."""
    path = _save(G.multihead_attention(mask=True), tmp_path)
    _expect_error(cli, [path], f"{path}: node '/attn/Transpose' (Transpose): no archcalc "
                  "layer for Transpose with perm [1, 0, 2], which moves the batch axis",
                  "node '/attn/Add_1' (Add) is none of them")


def test_names_and_repeats_from_scopes(tmp_path):
    """torch.onnx's scopes: /layer1/layer1.0/conv1/Conv is layer1.0.conv1; each layerN.k
    is a block, identical consecutive ones one repeat."""
    assert scope_of("/layer1/layer1.0/conv1/Conv") == ("layer1.0.conv1", "Conv")
    assert scope_of("/layer1/layer1.0/Add") == ("layer1.0", "Add")
    assert scope_of("/blocks/blocks.0/mlp/mlp.0/Gemm") == ("blocks.0.mlp.0", "Gemm")
    assert scope_of("/Flatten") == ("", "Flatten")
    assert scope_of("conv1") == ("", "conv1")
    text, _ = _imported(_save(G.resnet18(), tmp_path))
    assert "  - conv2d: {name: conv1, out: 64, kernel: 7, stride: 2, padding: 3, bias: false}" \
        in text
    assert "  - repeat: 2\n    layers: [layer1]   # layer1.0 … layer1.1" in text
    assert "  - layer2: {name: layer2.0}\n  - layer2_2: {name: layer2.1}" in text
    assert "    - conv2d: {name: downsample.0, from: block_input, out: 128, kernel: 1, " \
           "stride: 2, bias: false}" in text
    assert "  - adaptiveavgpool2d: {name: avgpool, out: 1}" in text


def test_dynamic_input_and_free_sizes(tmp_path):
    """MobileNet v1 with H and W not fixed in the model: --input gives the sample; with
    H, W free the closed forms are specs/mobilenet_v1.yaml's in R once H = W = R."""
    path = _save(G.mobilenet_v1(dynamic=True), tmp_path)
    with pytest.raises(Exception, match="give one sample's shape with --input"):
        import_onnx(path)
    text, got = _imported(path, (3, 224, 224), free=("H", "W"))
    assert "input: [3, H, W]" in text
    want = analyse(load(str(ROOT / "specs/mobilenet_v1.yaml"), {"R": None}))
    R = [s for s in sympy.sympify(want.total.macs).free_symbols if s.name == "R"][0]
    macs = sympy.sympify(got.total.macs)
    macs = macs.subs({s: R for s in macs.free_symbols if s.name in ("H", "W")})
    assert sympy.simplify(macs - want.total.macs) == 0
    assert got.total.params == want.total.params


# ------------------------------------------------------------------------ op by op
def _one(shape, build, opset=17, dtype=TensorProto.FLOAT):
    net = G.Net(shape, dtype=dtype)
    return net.model(build(net, "input"), opset=opset)


def _w(net, name, shape):
    return net.weight(name, shape)


def _fixed(net, name, values):
    """A Constant node (not an initializer) holding values."""
    return net.op("Constant", [], name=name,
                  value=helper.make_tensor(name, TensorProto.FLOAT, [len(values)], values))


# (id, input shape with batch, build, opset, lines the spec must hold)
OPS = [
    ("same-upper", [1, 8, 16, 16], lambda n, x: n.op(
        "Conv", [x, _w(n, "w", [4, 8, 3, 3])], name="c", kernel_shape=[3, 3], strides=[2, 2],
        auto_pad="SAME_UPPER"), 17,
     ["conv2d: {name: c, out: 4, kernel: 3, stride: 2, padding: same, bias: false}"]),
    # SAME_LOWER at 16, stride 2, kernel 3: out 8, total pad (8-1)·2 + 3 - 16 = 1, at the start
    ("same-lower", [1, 8, 16, 16], lambda n, x: n.op(
        "Conv", [x, _w(n, "w", [4, 8, 3, 3])], name="/c/Conv", kernel_shape=[3, 3],
        strides=[2, 2], auto_pad="SAME_LOWER"), 17,
     ["zeropad: {name: c.zeropad, padding: [[1, 0], [1, 0]]}",
      "conv2d: {name: c, out: 4, kernel: 3, stride: 2, bias: false}"]),
    ("asymmetric-pads", [1, 8, 16, 16], lambda n, x: n.conv(
        x, 8, 4, 2, "c", pads=[0, 0, 1, 1]), 17,
     ["zeropad: {name: c.zeropad, padding: [[0, 1], [0, 1]]}",
      "conv2d: {name: c, out: 4, kernel: 2}"]),
    ("dilated-grouped", [1, 8, 16, 16], lambda n, x: n.conv(
        x, 8, 16, 3, "c", pad=2, group=4, dilation=2), 17,
     ["conv2d: {name: c, out: 16, kernel: 3, padding: 2, dilation: 2, groups: 4}"]),
    # (16 - 1)·2 - 2·1 + 3 + 1 = 32
    ("convtranspose", [1, 8, 16, 16], lambda n, x: n.op(
        "ConvTranspose", [x, _w(n, "w", [8, 4, 3, 3])], name="up", kernel_shape=[3, 3],
        strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1]), 17,
     ["convtranspose2d: {name: up, out: 4, kernel: 3, stride: 2, padding: 1, "
      "output_padding: 1, bias: false}"]),
    # output_shape 31: (16 - 1)·2 + 3 - 31 = 2 = 2·padding - output_padding: padding 1
    ("convtranspose-output-shape", [1, 8, 16, 16], lambda n, x: n.op(
        "ConvTranspose", [x, _w(n, "w", [8, 2, 3, 3]), _w(n, "b", [4])], name="up",
        kernel_shape=[3, 3], strides=[2, 2], group=2, output_shape=[31, 31]), 17,
     ["convtranspose2d: {name: up, out: 4, kernel: 3, stride: 2, padding: 1, groups: 2}"]),
    ("maxpool-ceil", [1, 8, 16, 16], lambda n, x: n.op(
        "MaxPool", [x], name="p", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
        ceil_mode=1), 17,
     ["maxpool2d: {name: p, kernel: 3, stride: 2, padding: 1, ceil_mode: true}"]),
    ("avgpool-exclude-pad", [1, 8, 16, 16], lambda n, x: n.op(
        "AveragePool", [x], name="p", kernel_shape=[3, 3], pads=[1, 1, 1, 1]), 17,
     ["avgpool2d: {name: p, kernel: 3, stride: 1, padding: 1, count_include_pad: false}"]),
    ("global-max", [1, 8, 16, 16], lambda n, x: n.op("GlobalMaxPool", [x], name="g"), 17,
     ["adaptivemaxpool2d: {name: g, out: 1}"]),
    ("reduce-mean-keepdims", [1, 8, 4, 4], lambda n, x: n.op(
        "ReduceMean", [x, n.const([2, 3])], name="m"), 18,
     ["adaptiveavgpool2d: {name: m, out: 1}"]),
    # ONNX's momentum is the running value's share: 0.99 is PyTorch's 0.01
    ("batchnorm", [1, 8, 4, 4], lambda n, x: n.op(
        "BatchNormalization", [x] + [_w(n, k, [8]) for k in "abcd"], name="bn",
        epsilon=1e-3, momentum=0.99), 17,
     ["batchnorm2d: {name: bn, eps: 0.001, momentum: 0.01}"]),
    ("instancenorm-affine", [1, 8, 4, 4], lambda n, x: n.op(
        "InstanceNormalization", [x, _w(n, "s", [8]), _w(n, "b", [8])], name="n"), 17,
     ["instancenorm2d: {name: n, affine: true}"]),
    ("instancenorm-fixed", [1, 8, 4, 4], lambda n, x: n.op(
        "InstanceNormalization", [x, _fixed(n, "s", [1.0] * 8), _fixed(n, "b", [0.0] * 8)],
        name="n"), 17, ["instancenorm2d: {name: n}"]),
    ("groupnorm", [1, 8, 4, 4], lambda n, x: n.op(
        "GroupNormalization", [x, _w(n, "s", [8]), _w(n, "b", [8])], name="n", num_groups=2),
     21, ["groupnorm: {name: n, groups: 2}"]),
    ("layernorm-two-axes", [1, 8, 4, 4], lambda n, x: n.op(
        "LayerNormalization", [x, _w(n, "s", [4, 4])], name="n", axis=2), 17,
     ["layernorm: {name: n, shape: [4, 4], bias: false}"]),
    ("lrn", [1, 8, 4, 4], lambda n, x: n.op(
        "LRN", [x], name="n", size=5, alpha=5e-4, beta=0.75, bias=2.0), 17,
     ["lrn: {name: n, size: 5, alpha: 0.0005, k: 2}"]),
    ("relu6", [1, 8], lambda n, x: n.op(
        "Clip", [x, n.const(0.0, np.float32), n.const(6.0, np.float32)], name="a"), 17,
     ["relu6: {name: a}"]),
    ("hardtanh", [1, 8], lambda n, x: n.op(
        "Clip", [x, n.const(0.0, np.float32), n.const(2.5, np.float32)], name="a"), 17,
     ["hardtanh: {name: a, min: 0, max: 2.5}"]),
    ("activations", [1, 8], lambda n, x: n.op("Elu", [n.op("HardSigmoid", [n.op(
        "LeakyRelu", [n.op("Gelu", [x], name="g", approximate="tanh")], name="l",
        alpha=0.2)], name="h")], name="e", alpha=0.5), 20,
     ["gelu: {name: g, approximate: tanh}", "leakyrelu: {name: l, slope: 0.2}",
      "hardsigmoid: {name: h}", "elu: {name: e, alpha: 0.5}"]),
    ("prelu", [1, 8, 4, 4], lambda n, x: n.op("PRelu", [x, _w(n, "s", [8, 1, 1])], name="a"),
     17, ["prelu: {name: a, num: 8}"]),
    ("learned-scale-and-shift", [1, 8, 4, 4], lambda n, x: n.op("Add", [n.op(
        "Mul", [x, _w(n, "g", [8, 1, 1])], name="s"), _w(n, "b", [1, 8, 1, 1])], name="b"),
     17, ["parameter: {name: s, shape: [8, 1, 1], op: mul}",
          "parameter: {name: b, shape: [8, 1, 1]}"]),
    ("scalar-scale-is-no-layer", [1, 8], lambda n, x: n.op("Relu", [n.op(
        "Div", [x, n.const(2.0, np.float32)], name="d")], name="r"), 17,
     ["  - relu: {name: r}"]),
    ("difference", [1, 8], lambda n, x: n.op("Sub", [x, n.op("Relu", [x], name="r")],
                                               name="s"), 17,
     ["add: {name: s, from: input, with: r}"]),
    ("pad", [1, 8, 4, 4], lambda n, x: n.op("Pad", [n.op(
        "Pad", [x, n.const([0, 2, 0, 0, 0, 3, 0, 0])], name="pc"),
        n.const([0, 0, 1, 2, 0, 0, 3, 4])], name="ps"), 17,
     ["padchannels: {name: pc, before: 2, after: 3}",
      "zeropad: {name: ps, padding: [[1, 3], [2, 4]]}"]),
    ("transpose-reshape", [1, 8, 4, 4], lambda n, x: n.op("Reshape", [n.op(
        "Transpose", [x], name="t", perm=[0, 2, 3, 1]), n.const([1, 16, -1])], name="r"), 17,
     ["permute: {name: t, dims: [1, 2, 0]}", "reshape: {name: r, shape: [16, -1]}"]),
    ("squeeze-unsqueeze", [1, 8, 1, 1], lambda n, x: n.op("Unsqueeze", [n.op(
        "Squeeze", [x, n.const([2, 3])], name="s"), n.const([1])], name="u"), 17,
     ["flatten: {name: s}", "reshape: {name: u, shape: [1, 8]}"]),
    ("split-concat", [1, 8, 4, 4], lambda n, x: n.op("Concat", n.op(
        "Split", [x, n.const([3, 5])], name="sp", outputs=2, axis=1)[::-1], name="c",
        axis=1), 17,
     ["slice: {name: slice, dim: 0, stop: 3}",
      "slice: {name: sp, from: input, dim: 0, start: 3, stop: 8}",
      "concat: {name: c, with: slice}"]),
    ("slice", [1, 8, 16, 16], lambda n, x: n.op(
        "Slice", [x, n.const([2]), n.const([-2]), n.const([3])], name="s"), 17,
     ["slice: {name: s, start: 2, stop: 14, dim: 2}"]),
    ("strided-slice", [1, 8, 16, 16], lambda n, x: n.op(
        "Slice", [x, n.const([0, 0]), n.const([16, 16]), n.const([2, 3]), n.const([2, 2])],
        name="s"), 17, ["maxpool2d: {name: s, kernel: 1, stride: 2}"]),
    ("gather-one-token", [1, 5, 32], lambda n, x: n.op(
        "Gather", [x, n.const(0)], name="g", axis=1), 17,
     ["slice: {name: slice, stop: 1, dim: 0}", "flatten: {name: g}"]),
    ("resize-scales", [1, 8, 4, 4], lambda n, x: n.op(
        "Resize", [x, "", n.const([1, 1, 2, 3], np.float32)], name="u"), 17,
     ["upsample: {name: u, scale: [2, 3]}"]),
    ("upsample-opset9", [1, 8, 4, 4], lambda n, x: n.op(
        "Upsample", [x, n.const([1, 1, 2, 2], np.float32)], name="u"), 9,
     ["upsample: {name: u, scale: 2}"]),
    ("softmax-opset11-axis1", [1, 8, 16], lambda n, x: n.op("Softmax", [x], name="s"), 11,
     ["softmax: {name: s}"]),
    ("softmax-opset13-last", [1, 8, 16], lambda n, x: n.op("Softmax", [x], name="s"), 13,
     ["softmax: {name: s, dim: 1}"]),
    ("passthrough", [1, 8], lambda n, x: n.op("Relu", [n.op("Cast", [n.op(
        "Identity", [x], name="i")], name="c", to=TensorProto.FLOAT)], name="r"), 17,
     ["  - relu: {name: r}"]),
    ("gemm-no-bias", [1, 8], lambda n, x: n.op(
        "Gemm", [x, _w(n, "w", [8, 5])], name="fc"), 17,
     ["linear: {name: fc, out: 5, bias: false}"]),
    ("matmul-add-is-linear", [1, 3, 8], lambda n, x: n.linear(x, 8, 5, "fc"), 17,
     ["  - linear: {name: fc, out: 5}"]),
    ("class-token", [1, 16, 32], lambda n, x: n.op(
        "Concat", [_w(n, "cls", [1, 1, 32]), x], name="cat", axis=1), 17,
     ["parameter: {name: cat, shape: [1, 32], op: concat}"]),
    # torch.onnx's GELU below opset 20: Div by √2, Erf, Add 1, Mul by x, Mul by 0.5
    ("gelu-as-erf", [1, 8], lambda n, x: n.op("Mul", [n.op("Mul", [x, n.op("Add", [n.op(
        "Erf", [n.op("Div", [x, n.const(1.4142135, np.float32)], name="/act/Div")],
        name="/act/Erf"), n.const(1.0, np.float32)], name="/act/Add")], name="/act/Mul"),
        n.const(0.5, np.float32)], name="/act/Mul_1"), 17, ["  - gelu: {name: act}\n"]),
    # the batch subscript b left out of every operand and of the output
    ("einsum", [1, 4, 16, 8], lambda n, x: n.op("Einsum", [x, n.op(
        "Transpose", [x], name="t", perm=[0, 1, 3, 2])], name="e", equation="bhid,bhdj->bhij"),
     17, ["einsum: {name: e, from: input, with: t, equation: \"hid,hdj->hij\"}"]),
    ("dropout", [1, 8], lambda n, x: n.op(
        "Dropout", [x, n.const(0.1, np.float32)], name="d"), 17, ["dropout: {name: d, p: 0.1}"]),
]


NOT_INFERRED = {"groupnorm"}  # onnx 1.23 infers no shape for GroupNormalization-21's output


@pytest.mark.parametrize("shape,build,opset,lines", [o[1:] for o in OPS],
                         ids=[o[0] for o in OPS])
def test_each_op(shape, build, opset, lines, tmp_path, request):
    path = _save(_one(shape, build, opset), tmp_path)
    text, got = _imported(path)
    for line in lines:
        assert line in text, text
    if request.node.callspec.id in NOT_INFERRED:
        return
    assert _shapes_agree(path, None, got) >= 1
    _, graph, _, output, _ = read_layers(path, None)
    assert tuple(got.total.output_shape) == graph.shapes[graph.output][1:]


def test_embedding_of_a_constant_table(tmp_path):
    """Gather of rows of a [100, 32] initializer by the input's token ids: an embedding,
    params 100·32 = 3,200."""
    model = _one([1, 12], lambda n, x: n.op("Gather", [_w(n, "table", [100, 32]), x],
                                            name="emb"), dtype=TensorProto.INT64)
    text, got = _imported(_save(model, tmp_path))
    assert "  - embedding: {name: emb, vocab: 100, dim: 32}" in text
    assert got.total.params == 3_200 and tuple(got.total.output_shape) == (12, 32)


# ------------------------------------------------------------------------ bad models
def _expect_error(cli, args, *fragments):
    code, out, err = cli("import", "onnx", *args)
    assert code == 2, err
    assert out == "" and err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err
    return err


UNMAPPED = [
    ("selu", lambda n, x: n.op("Selu", [x], name="/act/Selu"),
     "node '/act/Selu' (Selu): no archcalc layer for Selu"),
    ("lone-erf", lambda n, x: n.op("Erf", [x], name="/act/Erf"), "node '/act/Erf' (Erf)"),
    ("custom-domain", lambda n, x: n.nodes.append(helper.make_node(
        "FusedConv", [x], ["y"], name="fc", domain="com.example")) or "y",
     "node 'fc' (FusedConv): no archcalc layer for com.example.FusedConv"),
    ("batch-transpose", lambda n, x: n.op("Transpose", [x], name="t", perm=[1, 0, 2, 3]),
     "node 't' (Transpose): no archcalc layer for Transpose with perm [1, 0, 2, 3]"),
    ("batch-reshape", lambda n, x: n.op("Reshape", [x, n.const([8, -1])], name="r"),
     "node 'r' (Reshape): no archcalc layer for Reshape across the batch axis"),
    ("batch-squeeze", lambda n, x: n.op("Squeeze", [x, n.const([0])], name="s"),
     "node 's' (Squeeze): no archcalc layer for Squeeze of the batch axis"),
    ("batch-concat", lambda n, x: n.op("Concat", [x, x], name="c", axis=0),
     "node 'c' (Concat): no archcalc layer for Concat along the batch axis"),
]


@pytest.mark.parametrize("build,fragment", [u[1:] for u in UNMAPPED],
                         ids=[u[0] for u in UNMAPPED])
def test_unmapped_ops_are_named(build, fragment, cli, tmp_path):
    model = _one([1, 8, 4, 4], build)
    if build is UNMAPPED[2][1]:
        model.opset_import.append(helper.make_opsetid("com.example", 1))
    path = _save(model, tmp_path)
    _expect_error(cli, [path], f"{path}: ", fragment)


def test_bad_files_are_located(cli, tmp_path):
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\xff\xfe not a protobuf \x00\x01" * 10)
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    text = tmp_path / "spec.onnx"
    text.write_text("input: [3]\nlayers: [relu]\n", encoding="utf-8")
    small = _save(G.mlp(), tmp_path)
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(open(small, "rb").read()[:-1000])
    net = G.Net([1, 8, 4, 4])  # a weight of 3 input channels on an input of 8
    wrong = _save(net.model(net.conv("input", 3, 4, 3, "c")), tmp_path, "wrong.onnx")
    net = G.Net([1, 8, 4, 4])  # 128 elements as 7
    seven = _save(net.model(net.op("Reshape", ["input", net.const([1, 7])], name="r")),
                  tmp_path, "seven.onnx")
    net = G.Net([1, 8, 4, 4])  # [8, 4, 4] and [8, 2, 2] along the channels
    pooled = net.op("MaxPool", ["input"], kernel_shape=[2, 2], strides=[2, 2])
    mixed = _save(net.model(net.op("Concat", ["input", pooled], axis=1)), tmp_path, "cat.onnx")
    cases = [
        ([str(truncated)], "not an ONNX model"),
        ([wrong], "node '/c/Conv' (Conv): the weight [4, 3, 3, 3] times 1 group(s) gives "
                  "input channels is 3, but the input has 8"),
        ([seven], "node 'r' (Reshape): the number of elements of the output [1, 7] is 7, but "
                  "the input has 128"),
        ([mixed], "ONNX shape inference failed on an input of shape [1, 8, 4, 4]"),
        # three Gemm, two Relu and a Softmax
        ([small, "--limit", "max_nodes=3"], "the graph has 6 nodes; the limit is 3"),
        ([str(garbage)], "not an ONNX model"),
        ([str(empty)], "not an ONNX model (no graph with nodes in it)"),
        ([str(text)], "not an ONNX model"),
        ([str(tmp_path / "missing.onnx")], "no such file"),
        ([str(tmp_path)], "is a directory"),
        ([small, "--limit", "max_model_bytes=100"], "the limit is 100 (raise with --limit "
                                                    "max_model_bytes=N)"),
        ([small, "--input", "3,x"], "--input 3,x: expected positive whole numbers"),
        ([small, "--input", "785"], "--input 785 does not fit the model's input 'input' "
                                    "[1, 784]"),
        ([small, "--free", "H"], "--free H: the input's axes are C"),
    ]
    for args, fragment in cases:
        _expect_error(cli, args, fragment)


def test_two_inputs_are_refused(cli, tmp_path):
    net = G.Net([1, 8])
    y = net.op("Add", ["input", "other"], name="a")
    model = net.model(y)
    model.graph.input.append(helper.make_tensor_value_info("other", TensorProto.FLOAT, [1, 8]))
    _expect_error(cli, [_save(model, tmp_path)], "the model has 2 inputs (input, other); a "
                                                 "spec has one input")


def test_external_data_is_never_opened(tmp_path, monkeypatch):
    """Weights stored outside the file, even at paths outside the model's folder, are not
    opened: only their shapes count. A value the import needs from outside is refused."""
    model = G.alexnet()
    for t in model.graph.initializer:
        for entry in t.external_data:
            if entry.key == "location":
                entry.value = "../../../etc/passwd"
    path = _save(model, tmp_path)
    opened = []
    real_open = builtins.open

    def spy(file, *args, **kwargs):
        opened.append(os.path.abspath(str(file)))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", spy)
    text, got = _imported(path)
    monkeypatch.setattr(builtins, "open", real_open)
    assert got.total.params == 61_100_840  # specs/alexnet.yaml
    assert [p for p in opened if p.endswith(".onnx")] == [os.path.abspath(path)]
    assert not [p for p in opened if "passwd" in p or "weights-not-shipped" in p]

    net = G.Net([1, 8, 4, 4])
    shape = net.weight("target", [3], data=False)  # a reshape target stored outside
    model = net.model(net.op("Reshape", ["input", shape], name="r"))
    with pytest.raises(Exception, match="stored outside the model file"):
        import_onnx(_save(model, tmp_path, "ext.onnx"))


def test_runs_without_torch_and_names_the_extra_without_onnx(tmp_path):
    """The import needs onnx, not torch; without onnx, exit 2 names the extra."""
    path = _save(G.mlp(), tmp_path)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    run = "import sys; sys.modules[{!r}] = None; from archcalc.cli import main; sys.argv = " \
          "['archcalc', 'import', 'onnx', {!r}]; main()"
    done = subprocess.run([sys.executable, "-c", run.format("torch", path)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "  - linear: {name: fc1, out: 256}" in done.stdout
    done = subprocess.run([sys.executable, "-c", run.format("onnx", path)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr == "error: archcalc import onnx needs the onnx package: pip install " \
                          "'archcalc[onnx]'\n"


def test_cli_writes_a_spec_that_loads(cli, tmp_path):
    path = _save(G.resnet18(), tmp_path)
    out = tmp_path / "resnet18.yaml"
    code, stdout, err = cli("import", "onnx", path, "-o", str(out))
    assert code == 0 and stdout == "", err
    assert analyse(load(str(out))).total.params == 11_689_512  # specs/resnet18.yaml


# ------------------------------------------------------------------------ from torch.onnx
TORCH_CASES = [
    ("LeNet5", (1, 32, 32), {}, "specs/lenet5.yaml"),
    ("MobileNetV1", (3, 224, 224), {}, "specs/mobilenet_v1.yaml"),
    ("ResNetCifar", (3, 32, 32), {"n": 1}, None),  # option A: Pad of channels, x[:, :, ::2]
    ("DenseNetBCCifar", (3, 32, 32), {}, "specs/densenet-bc-100-12-cifar.yaml"),
]


@pytest.mark.parametrize("name,shape,kwargs,spec", TORCH_CASES, ids=[c[0] for c in TORCH_CASES])
def test_torch_onnx_export_round_trip(name, shape, kwargs, spec, tmp_path):
    """A plain-PyTorch network (tests/torch_reference_models.py) exported by torch.onnx's
    TorchScript exporter, batch norms kept (TrainingMode.PRESERVE, no constant folding, so
    that they are not folded into the convolutions), imported: PyTorch's own parameter
    count and FlopCounterMode's MACs, and the hand-written spec's."""
    torch = pytest.importorskip("torch")
    import torch_reference_models as ref

    make = lambda: getattr(ref, name)(**kwargs)  # noqa: E731
    path = str(tmp_path / f"{name}.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(make().eval(), (torch.zeros(1, *shape),), path, dynamo=False,
                          opset_version=17, training=torch.onnx.TrainingMode.PRESERVE,
                          do_constant_folding=False)
    text, got = _imported(path)
    params, _, out, macs = ref.measure(make, shape)
    assert (got.total.params, got.total.macs, tuple(got.total.output_shape)) == \
        (params, macs, out)
    if spec:
        want = analyse(load(str(ROOT / spec)))
        assert (got.total.params, got.total.macs) == (want.total.params, want.total.macs)


def test_the_tutorial_example(tmp_path):
    """docs/tutorial-import.md's examples/import/tiny_cnn.onnx counts what the torch import
    of the same network (examples/import/tiny_cnn.yaml) counts, in closed form; exported
    again with the tutorial's call, it imports to the same spec."""
    example = ROOT / "examples" / "import" / "tiny_cnn.onnx"
    text, got = _imported(str(example), None, ("H", "W"))
    want = analyse(load(str(ROOT / "examples" / "import" / "tiny_cnn.yaml")))
    assert sympy.simplify(sympy.sympify(got.total.macs) - want.total.macs) == 0
    assert got.total.params == want.total.params == 9_978
    torch = pytest.importorskip("torch")
    sys.path.insert(0, str(ROOT / "examples" / "import"))
    import tiny_cnn

    again = tmp_path / "tiny_cnn.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(tiny_cnn.TinyNet().eval(), (torch.zeros(1, 3, 32, 32),), str(again),
                          dynamo=False, opset_version=17,
                          training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    assert import_onnx(str(again), None, ("H", "W")) == text


def test_folded_batch_norms_count_the_folded_network(tmp_path):
    """torch.onnx's default export in eval mode folds each batch norm into the convolution
    before it (each gains a bias of C_out, the norm's 2·C go): TinyNet's five convolutions
    of 16 outputs, each with a batch norm, give 9,978 - 5·2·16 + 5·16 = 9,898 params."""
    torch = pytest.importorskip("torch")
    sys.path.insert(0, str(ROOT / "examples" / "import"))
    import tiny_cnn

    path = tmp_path / "folded.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(tiny_cnn.TinyNet().eval(), (torch.zeros(1, 3, 32, 32),), str(path),
                          dynamo=False, opset_version=17)
    text, got = _imported(str(path))
    assert "batchnorm" not in text
    assert got.total.params == 9_978 - 5 * 2 * 16 + 5 * 16


def _transformer():
    """A pre-norm transformer of two blocks on 16 tokens of 48 features, with the
    attention written out batch first (query, key and value projections, heads by view and
    transpose, Q·Kᵀ/√d, softmax, ·V, heads merged, output projection), a GELU MLP, a class
    token put first and read back by x[:, 0]."""
    import math

    import torch
    from torch import nn

    class Attention(nn.Module):
        def __init__(self, dim=64, heads=4):
            super().__init__()
            self.heads = heads
            self.q, self.k, self.v, self.out = (nn.Linear(dim, dim) for _ in range(4))

        def forward(self, x):
            b, n, e = x.shape
            d = e // self.heads
            q, k, v = (f(x).view(b, n, self.heads, d).transpose(1, 2)
                       for f in (self.q, self.k, self.v))
            a = (q @ k.transpose(-2, -1) / math.sqrt(d)).softmax(-1)
            return self.out((a @ v).transpose(1, 2).reshape(b, n, e))

    class Block(nn.Module):
        def __init__(self, dim=64):
            super().__init__()
            self.norm1, self.attn, self.norm2 = nn.LayerNorm(dim), Attention(dim), \
                nn.LayerNorm(dim)
            self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

        def forward(self, x):
            x = x + self.attn(self.norm1(x))
            return x + self.mlp(self.norm2(x))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Linear(48, 64)
            self.cls = nn.Parameter(torch.zeros(1, 1, 64))
            self.blocks = nn.Sequential(Block(), Block())
            self.head = nn.Linear(64, 10)

        def forward(self, x):
            x = self.embed(x)
            x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1)
            return self.head(self.blocks(x)[:, 0])

    return Net


def test_torch_onnx_transformer_round_trip(tmp_path):
    """torch.onnx at opset 17 writes the GELU as Erf and the view's sizes as Shape, Gather
    and Concat: the import folds them and counts what PyTorch counts (parameters() and
    FlopCounterMode's MACs); each block is one repeat."""
    torch = pytest.importorskip("torch")
    import torch_transformer_models as tt

    make = _transformer()
    path = str(tmp_path / "transformer.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(make().eval(), (torch.zeros(1, 16, 48),), path, dynamo=False,
                          opset_version=17)
    text, got = _imported(path)
    params, out, macs = tt.measure(make, (16, 48))
    assert (got.total.params, got.total.macs, tuple(got.total.output_shape)) == \
        (params, macs, out)
    assert "  - repeat: 2\n    layers: [blocks]   # blocks.0 … blocks.1" in text
    assert "    - gelu: {name: mlp.1}" in text
    assert "  - parameter: {name: concat, shape: [1, 64], op: concat}" in text


def _multihead(batch_first=True, need_weights=True, bias=True, mask=False, bias_kv=False,
               weights_used=False, keys="self", kdim=None, embed=48, heads=3, tokens=10,
               memory=7):
    """nn.MultiheadAttention(48, 3) on [B, 10, 48] (``embed``, ``heads``, ``tokens``); with batch_first=False the tokens put
    first before it and the batch first again after it, as a batch-first network calls it;
    ``mask``: a causal attn_mask buffer, ``bias_kv``: add_bias_kv, ``weights_used``: the
    attention weights added to the output; ``keys``: "self" (x, x, x), "computed" (x, m, m
    with m = Linear(48, kdim or 48) of the first 7 (``memory``) tokens: cross-attention),
    "input" (queries Linear(48, 48)(x), keys and values x), "two" (x, m, m + 1: keys other
    than values)."""
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = nn.MultiheadAttention(embed, heads, bias=bias, add_bias_kv=bias_kv,
                                              batch_first=batch_first, kdim=kdim, vdim=kdim)
            if keys != "self":
                self.mem = nn.Linear(embed, kdim or embed)
            self.register_buffer("mask", torch.triu(torch.ones(tokens, tokens,
                                                               dtype=torch.bool), 1)
                                 if mask else None)

        def forward(self, x):
            q = k = v = x
            if keys in ("computed", "two"):
                k = v = self.mem(x[:, :memory])
                v = k + 1 if keys == "two" else v
            elif keys == "input":
                q = self.mem(x)
            if not batch_first:  # one transpose of each tensor: torch tests `key is value`
                moved = {id(t): t.transpose(0, 1) for t in (q, k, v)}
                q, k, v = (moved[id(t)] for t in (q, k, v))
            y, w = self.attn(q, k, v, need_weights=need_weights or weights_used,
                             attn_mask=self.mask)
            if not batch_first:
                y = y.transpose(0, 1)
            return y + w.sum() if weights_used else y

    return Net


def _export(torch, make, shape, path, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(make().eval(), (torch.zeros(1, *shape),), path, dynamo=False,
                          opset_version=kwargs.pop("opset", 17), **kwargs)
    return path


# (batch_first, need_weights, bias, opset, torch.onnx's constant folding)
MULTIHEAD = [(True, True, True, 17, True), (True, False, True, 17, True),
             (False, True, True, 14, True), (False, False, True, 20, False),
             (True, True, False, 17, False)]


@pytest.mark.parametrize("batch_first,need_weights,bias,opset,folding", MULTIHEAD)
def test_torch_onnx_multihead_attention(batch_first, need_weights, bias, opset, folding,
                                        tmp_path):
    """nn.MultiheadAttention exported by torch.onnx (the batch behind the tokens in
    [L, B·H, d] layouts; need_weights=False: scaled_dot_product_attention's decomposition
    on [B, H, L, d], q and k each scaled by a computed √(1/√d)) imports to one
    multiheadattention layer: PyTorch's parameters() and FlopCounterMode's MACs, and the
    layer's own at [10, 48]."""
    torch = pytest.importorskip("torch")
    import torch_transformer_models as tt

    make = _multihead(batch_first, need_weights, bias)
    path = _export(torch, make, (10, 48), str(tmp_path / "mha.onnx"), opset=opset,
                   do_constant_folding=folding)
    text, got = _imported(path)
    params, out, macs = tt.measure(make, (10, 48))
    assert (got.total.params, got.total.macs, tuple(got.total.output_shape)) == \
        (params, macs, out)
    layer = "multiheadattention: {heads: 3" + ("}" if bias else ", bias: false}")
    assert layer.replace("{", "{name: attn, ") in text
    assert text.count("\n  - ") == 1, text
    want = analyse(load_string(f"input: [10, 48]\nlayers:\n  - {layer}\n", "mha.yaml"))
    assert (want.total.params, want.total.macs) == (params, macs)
    assert _shapes_agree(path, None, got) == 1


# (what differs from self-attention, _multihead's arguments, the layer's arguments)
CROSS_MULTIHEAD = [
    ("cross", dict(keys="computed"), "kv: mem"),
    ("cross-no-weights", dict(keys="computed", need_weights=False), "kv: mem"),
    ("cross-sequence-first", dict(keys="computed", batch_first=False), "kv: mem"),
    ("kdim", dict(keys="computed", kdim=32), "kdim: 32, vdim: 32, kv: mem"),
    ("kdim-no-bias", dict(keys="computed", kdim=32, bias=False, need_weights=False),
     "bias: false, kdim: 32, vdim: 32, kv: mem"),
    ("add-bias-kv", dict(bias_kv=True), "add_bias_kv: true"),
    ("add-bias-kv-no-weights", dict(bias_kv=True, need_weights=False), "add_bias_kv: true"),
    ("cross-add-bias-kv", dict(keys="computed", kdim=32, bias_kv=True),
     "kdim: 32, vdim: 32, add_bias_kv: true, kv: mem"),
    ("keys-are-the-input", dict(keys="input"), "kv: input"),
]


@pytest.mark.parametrize("kwargs,written", [r[1:] for r in CROSS_MULTIHEAD],
                         ids=[r[0] for r in CROSS_MULTIHEAD])
def test_torch_onnx_cross_attention_and_bias_kv(kwargs, written, tmp_path):
    """Cross-attention whose keys are its values (the queries projected by [E, E], the keys
    by [E, 2E], or with kdim = vdim = 32 by [32, E] twice) and add_bias_kv (bias_k and bias_v
    tiled and concatenated to the keys and values: S + 1 keys) import to one
    multiheadattention layer naming its keys' layer: PyTorch's parameters() and
    FlopCounterMode's MACs, and onnx's shapes."""
    torch = pytest.importorskip("torch")
    import torch_transformer_models as tt

    make = _multihead(**kwargs)
    path = _export(torch, make, (10, 48), str(tmp_path / "mha.onnx"))
    text, got = _imported(path)
    params, out, macs = tt.measure(make, (10, 48))
    assert (got.total.params, got.total.macs, tuple(got.total.output_shape)) == \
        (params, macs, out)
    bias = "" if kwargs.get("bias", True) else "bias: false, "
    written = written.replace("bias: false, ", "")
    assert f"multiheadattention: {{name: attn, " in text and f"heads: 3, {bias}{written}}}" \
        in text, text
    assert _shapes_agree(path, None, got) >= text.count("\n  - ")


@settings(max_examples=10, deadline=None)
@given(heads=st.integers(1, 3), head_dim=st.integers(1, 6), tokens=st.integers(1, 6),
       memory=st.integers(1, 6), keys=st.sampled_from(["self", "computed", "input"]),
       kdim=st.sampled_from([None, 5]), bias=st.booleans(), bias_kv=st.booleans(),
       need_weights=st.booleans(), batch_first=st.booleans())
def test_torch_onnx_multihead_attention_drawn(heads, head_dim, tokens, memory, keys, kdim,
                                              bias, bias_kv, need_weights, batch_first):
    """nn.MultiheadAttention at drawn sizes, keys and options, exported by torch.onnx,
    imports to counts equal to PyTorch's parameters() and FlopCounterMode's MACs."""
    torch = pytest.importorskip("torch")
    import tempfile

    import torch_transformer_models as tt

    kdim = kdim if keys == "computed" else None  # kdim: keys of other features than E
    make = _multihead(batch_first, need_weights, bias, bias_kv=bias_kv, keys=keys, kdim=kdim,
                      embed=heads * head_dim, heads=heads, tokens=tokens, memory=memory)
    shape = (tokens, heads * head_dim)
    with tempfile.TemporaryDirectory() as folder:
        path = _export(torch, make, shape, os.path.join(folder, "mha.onnx"))
        text, got = _imported(path)
    params, out, macs = tt.measure(make, shape)
    assert (got.total.params, got.total.macs, tuple(got.total.output_shape)) == \
        (params, macs, out), text
    assert text.count("multiheadattention:") == 1, text


def test_imported_cross_attention_passes_verify(tmp_path):
    """Cross-attention with kdim = vdim = 32 and add_bias_kv, imported from torch.onnx's
    file, is built by archcalc's own builders and measured in PyTorch: every shape, count
    and FLOP figure agrees."""
    torch = pytest.importorskip("torch")
    import archcalc

    make = _multihead(keys="computed", kdim=32, bias_kv=True)
    path = _export(torch, make, (10, 48), str(tmp_path / "mha.onnx"))
    spec = tmp_path / "mha.yaml"
    spec.write_text(import_onnx(path, None, ()), encoding="utf-8")
    result = archcalc.verify(str(spec), rf="off")
    assert result.ok and not result.mismatches and result.checked >= 6


REFUSED_MULTIHEAD = [
    ("attn-mask", dict(mask=True), "(Add) is none of them"),
    ("weights-used", dict(weights_used=True), "(ReduceMean) is none of them"),
    ("keys-not-values", dict(keys="two"), "also reads"),
]


@pytest.mark.parametrize("kwargs,fragment", [r[1:] for r in REFUSED_MULTIHEAD],
                         ids=[r[0] for r in REFUSED_MULTIHEAD])
def test_torch_onnx_multihead_attention_refused(kwargs, fragment, cli, tmp_path):
    """What the layer does not model (a mask, the attention weights read, keys other than
    the values) is refused at the Transpose that moves the batch, naming the op that
    differs."""
    torch = pytest.importorskip("torch")
    path = _export(torch, _multihead(**kwargs), (10, 48), str(tmp_path / "mha.onnx"))
    _expect_error(cli, [path], "node '/attn/Transpose", "(Transpose): no archcalc layer for "
                  "Transpose with perm [1, 0, 2], which moves the batch axis: it opens "
                  "nn.MultiheadAttention's ops", fragment)


EVERYDAY = [("FunctionalLeNet", (3, 32, 32)), ("GatedHalves", (3, 16, 16)),
            ("KeptMeans", (3, 16, 16)), ("PoolBySize", (3, 16, 16)),
            ("Activations", (3, 12, 12)), ("SqueezedMaxima", (3, 10, 10)),
            ("Stacked", (3, 8, 8)), ("ExpandedGate", (3, 8, 8)), ("Arithmetic", (3, 8, 8)),
            ("TextCNN", (12,))]


@pytest.mark.parametrize("name,shape", EVERYDAY, ids=[e[0] for e in EVERYDAY])
def test_torch_onnx_everyday_models(name, shape, tmp_path):
    """The modules written as tutorials write them (tests/torch_everyday_models.py:
    activations as functions and clamps (Clip), maxima over a dim (ReduceMax), stacks
    (Unsqueeze, Concat), a gate expanded before its product (Expand), differences,
    quotients and negation (Sub, Div, Neg), a text CNN's max over time), exported by
    torch.onnx, import to PyTorch's parameters(), FlopCounterMode's MACs and output shape."""
    torch = pytest.importorskip("torch")
    import torch_everyday_models as everyday
    import torch_transformer_models as tt

    make = getattr(everyday, name)
    dtype = torch.long if name == "TextCNN" else torch.float32
    path = str(tmp_path / f"{name}.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(make().eval(), (torch.zeros(1, *shape, dtype=dtype),), path,
                          dynamo=False, opset_version=17)
    _, got = _imported(path)
    params, out, macs = tt.measure(make, shape, dtype=dtype)
    assert (got.total.params, got.total.macs, tuple(got.total.output_shape)) == \
        (params, macs, out)


def test_an_expand_read_by_a_concat_is_refused(cli, tmp_path):
    """Expand broadcasts for element-wise ops only; read by a Concat its copies are
    values of their own, and the node is refused by name."""
    torch = pytest.importorskip("torch")
    import torch_everyday_models as everyday

    path = _export(torch, lambda: everyday.Unmappable("expand"), (3, 8, 8),
                   str(tmp_path / "expand.onnx"))
    _expect_error(cli, [path], "(Expand): no archcalc layer for Expand read by other than an "
                  "element-wise Add, Sub, Mul or Div")


def test_torch_onnx_vit_round_trip(tmp_path):
    """tests/torch_transformer_models.py's ViT in torchvision's layout (patch convolution,
    class token, position embedding, encoder blocks of nn.MultiheadAttention with
    batch_first and need_weights=False, LayerNorm, GELU MLP, the class token's head) at
    64 × 64, patches of 16, two blocks of 4 heads of 64 features: PyTorch's own count and
    specs/vit_b_16.yaml's at these sizes; each block one repeat."""
    torch = pytest.importorskip("torch")
    import torch_transformer_models as tt

    sizes = dict(image=64, patch=16, layers=2, heads=4, hidden=64, mlp=128)
    make = lambda: tt.VisionTransformer(**sizes)  # noqa: E731
    path = _export(torch, make, (3, 64, 64), str(tmp_path / "vit.onnx"))
    text, got = _imported(path)
    params, out, macs = tt.measure(make, (3, 64, 64))
    assert (got.total.params, got.total.macs, tuple(got.total.output_shape)) == \
        (params, macs, out)
    want = analyse(load(str(ROOT / "specs" / "vit_b_16.yaml"), sizes))
    assert (got.total.params, got.total.macs) == (want.total.params, want.total.macs)
    assert "    - multiheadattention: {name: self_attention, heads: 4}" in text
    assert "  - repeat: 2\n    layers: [layers]   # layers.0 … layers.1" in text
    assert _shapes_agree(path, None, got) >= 8
