"""Small ONNX models built with onnx.helper, node by node, for tests/test_import_onnx.py.

Each builder writes a network of specs/ or examples/ (or one whose counts the test
derives) as an exporter would: weights as initializers, sizes as int64 constants, node
names in torch.onnx's scope form (``/layer1/layer1.0/conv1/Conv``) where a hierarchy is
meant. Weights larger than a few thousand elements are stored as external data that
names a file which does not exist: archcalc reads only their shapes, so a model of
AlexNet's 61 M parameters stays a few kilobytes and the test shows that external data is
never opened. Nothing here imports archcalc.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SMALL = 4096  # weights up to this many elements carry their data in the file


class Net:
    """A graph under construction: ``x = net.op("Relu", [x])``."""

    def __init__(self, shape, name="net", dtype=TensorProto.FLOAT):
        self.shape, self.name, self.dtype = list(shape), name, dtype  # batch axis first
        self.nodes, self.inits, self.n = [], [], 0
        self.input = "input"

    def weight(self, name, shape, data=True) -> str:
        n = int(np.prod(shape)) if shape else 1
        if data and n <= SMALL:
            self.inits.append(numpy_helper.from_array(np.zeros(shape, np.float32), name))
        else:
            t = onnx.TensorProto(name=name, data_type=TensorProto.FLOAT, dims=list(shape))
            t.data_location = TensorProto.EXTERNAL
            for key, value in (("location", "weights-not-shipped.bin"), ("offset", "0"),
                               ("length", str(4 * n))):
                entry = t.external_data.add()
                entry.key, entry.value = key, value
            self.inits.append(t)
        return name

    def const(self, values, dtype=np.int64, name=None) -> str:
        self.n += 1
        name = name or f"const_{self.n}"
        self.inits.append(numpy_helper.from_array(np.array(values, dtype=dtype), name))
        return name

    def op(self, op_type, inputs, name=None, outputs=1, **attrs):
        self.n += 1
        name = name or f"{op_type}_{self.n}"
        outs = [f"{name}:out{i}" for i in range(outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, name=name, **attrs))
        return outs[0] if outputs == 1 else outs

    # ------------------------------------------------------------ layers as exporters write them
    def conv(self, x, cin, cout, k, name, stride=1, pad=0, group=1, bias=True, dilation=1,
             **attrs):
        w = self.weight(f"{name}.weight", [cout, cin // group, k, k])
        ins = [x, w] + ([self.weight(f"{name}.bias", [cout])] if bias else [])
        if "auto_pad" not in attrs:
            attrs["pads"] = attrs.pop("pads", [pad] * 4)
        return self.op("Conv", ins, name=torch_name(name, "Conv"), kernel_shape=[k, k],
                       strides=[stride] * 2, group=group, dilations=[dilation] * 2, **attrs)

    def bn(self, x, c, name):
        ws = [self.weight(f"{name}.{p}", [c]) for p in ("weight", "bias", "running_mean",
                                                        "running_var")]
        return self.op("BatchNormalization", [x, *ws], name=torch_name(name, "BatchNormalization"),
                       epsilon=1e-5, momentum=0.9)

    def gemm(self, x, fin, fout, name, bias=True):
        ins = [x, self.weight(f"{name}.weight", [fout, fin])]
        if bias:
            ins.append(self.weight(f"{name}.bias", [fout]))
        return self.op("Gemm", ins, name=torch_name(name, "Gemm"), transB=1)

    def linear(self, x, fin, fout, name, bias=True):
        """nn.Linear on a tensor of rank > 2, as torch.onnx writes it: MatMul by the
        transposed weight [in, out], then Add of the bias."""
        y = self.op("MatMul", [x, self.weight(f"{name}.weight.T", [fin, fout])],
                    name=torch_name(name, "MatMul"))
        if bias:
            y = self.op("Add", [self.weight(f"{name}.bias", [fout]), y],
                        name=torch_name(name, "Add"))
        return y

    def relu(self, x, name):
        return self.op("Relu", [x], name=torch_name(name, "Relu"))

    def model(self, out, opset=17, input_shape=None) -> onnx.ModelProto:
        inp = helper.make_tensor_value_info(self.input, self.dtype,
                                            input_shape or self.shape)
        outp = helper.make_tensor_value_info(out, TensorProto.FLOAT, None)
        graph = helper.make_graph(self.nodes, self.name, [inp], [outp],
                                  initializer=self.inits)
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def torch_name(path: str, op: str) -> str:
    """torch.onnx's node name for an op of the module at ``path``: ``layer1.0.conv1`` →
    ``/layer1/layer1.0/conv1/Conv`` (a numbered child written with its container's path)."""
    if not path:
        return f"/{op}"
    parts, scopes = path.split("."), []
    for i, p in enumerate(parts):
        scopes.append(".".join(parts[:i + 1]) if p.isdigit() else p)
    return "/" + "/".join(scopes) + f"/{op}"


# ------------------------------------------------------------------------ the networks
LENET_C3 = ([(f, 3) for f in range(6)] + [(f, 4) for f in range(6)])  # (first, n) of 12 maps
LENET_PAIRS = ((0, 3), (1, 4), (5, 8))  # maps 12-14: S2 maps a, a+1 and b, b+1 (of 12)


def lenet5() -> onnx.ModelProto:
    """specs/lenet5.yaml: LeNet-5 as published (Table I's partial C3 as slices of the S2
    maps taken twice over, a 1 x 1 depthwise convolution for each trainable subsampling,
    the 84 → 10 output as a bias-free MatMul)."""
    net = Net([1, 1, 32, 32], "lenet5")
    x = net.op("Tanh", [net.conv("input", 1, 6, 5, "c1")])
    x = net.op("AveragePool", [x], kernel_shape=[2, 2], strides=[2, 2])
    x = net.op("Tanh", [net.conv(x, 6, 6, 1, "s2", group=6)])
    twice = net.op("Concat", [x, x], axis=1)

    def part(first, n):
        return net.op("Slice", [twice, net.const([first]), net.const([first + n]),
                                net.const([1])])

    maps = [net.conv(part(f, n), n, 1, 5, f"c3.map{i}") for i, (f, n) in enumerate(LENET_C3)]
    for i, (a, b) in enumerate(LENET_PAIRS):
        pair = net.op("Concat", [part(a, 2), part(b, 2)], axis=1)
        maps.append(net.conv(pair, 4, 1, 5, f"c3.map{12 + i}"))
    maps.append(net.conv(part(0, 6), 6, 1, 5, "c3.map15"))
    x = net.op("Tanh", [net.op("Concat", maps, axis=1)])
    x = net.op("AveragePool", [x], kernel_shape=[2, 2], strides=[2, 2])
    x = net.op("Tanh", [net.conv(x, 16, 16, 1, "s4", group=16)])
    x = net.op("Tanh", [net.conv(x, 16, 120, 5, "c5")])
    x = net.op("Flatten", [x], axis=1)
    x = net.op("Tanh", [net.gemm(x, 120, 84, "f6")])
    x = net.op("MatMul", [x, net.weight("output.weight.T", [84, 10])], name="/output/MatMul")
    return net.model(x)


def alexnet() -> onnx.ModelProto:
    """specs/alexnet.yaml (torchvision's AlexNet; its adaptive pool is an identity at 224,
    which torch.onnx leaves out)."""
    net = Net([1, 3, 224, 224], "alexnet")
    x = "input"
    for i, (cin, cout, k, s, p, pool) in enumerate(
            ((3, 64, 11, 4, 2, True), (64, 192, 5, 1, 2, True), (192, 384, 3, 1, 1, False),
             (384, 256, 3, 1, 1, False), (256, 256, 3, 1, 1, True))):
        x = net.relu(net.conv(x, cin, cout, k, f"features.{3 * i}", stride=s, pad=p),
                     f"features.{3 * i + 1}")
        if pool:
            x = net.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2])
    x = net.op("Flatten", [x], axis=1)
    x = net.op("Dropout", [x, net.const(0.5, np.float32)])
    x = net.relu(net.gemm(x, 256 * 36, 4096, "classifier.1"), "classifier.2")
    x = net.op("Dropout", [x, net.const(0.5, np.float32)])
    x = net.relu(net.gemm(x, 4096, 4096, "classifier.4"), "classifier.5")
    return net.model(net.gemm(x, 4096, 1000, "classifier.6"))


def _basic(net, x, cin, c, stride, path):
    y = net.relu(net.bn(net.conv(x, cin, c, 3, f"{path}.conv1", stride=stride, pad=1,
                                 bias=False), c, f"{path}.bn1"), f"{path}.relu")
    y = net.bn(net.conv(y, c, c, 3, f"{path}.conv2", pad=1, bias=False), c, f"{path}.bn2")
    if stride != 1 or cin != c:
        x = net.bn(net.conv(x, cin, c, 1, f"{path}.downsample.0", stride=stride, bias=False),
                   c, f"{path}.downsample.1")
    y = net.op("Add", [y, x], name=torch_name(path, "Add"))
    return net.relu(y, f"{path}.relu_1")


def resnet18() -> onnx.ModelProto:
    """specs/resnet18.yaml (torchvision's resnet18: BasicBlock, layers [2, 2, 2, 2])."""
    net = Net([1, 3, 224, 224], "resnet18")
    x = net.relu(net.bn(net.conv("input", 3, 64, 7, "conv1", stride=2, pad=3, bias=False), 64,
                        "bn1"), "relu")
    x = net.op("MaxPool", [x], name="/maxpool/MaxPool", kernel_shape=[3, 3], strides=[2, 2],
               pads=[1, 1, 1, 1])
    cin = 64
    for stage, c in enumerate((64, 128, 256, 512), start=1):
        for b in range(2):
            x = _basic(net, x, cin, c, 2 if b == 0 and stage > 1 else 1, f"layer{stage}.{b}")
            cin = c
    x = net.op("GlobalAveragePool", [x], name="/avgpool/GlobalAveragePool")
    x = net.op("Flatten", [x], name="/Flatten", axis=1)
    return net.model(net.gemm(x, 512, 1000, "fc"))


MOBILENET_V1 = ((32, 64, 1), (64, 128, 2), (128, 128, 1), (128, 256, 2), (256, 256, 1),
                (256, 512, 2)) + ((512, 512, 1),) * 5 + ((512, 1024, 2), (1024, 1024, 1))


def mobilenet_v1(dynamic=False) -> onnx.ModelProto:
    """specs/mobilenet_v1.yaml: depthwise-separable blocks (3 x 3 depthwise, BN, ReLU;
    1 x 1 pointwise, BN, ReLU); ``dynamic``: the input's H and W not fixed in the model."""
    net = Net([1, 3, 224, 224], "mobilenet_v1")
    x = net.relu(net.bn(net.conv("input", 3, 32, 3, "conv1.0", stride=2, pad=1, bias=False),
                        32, "conv1.1"), "conv1.2")
    for i, (cin, c, s) in enumerate(MOBILENET_V1):
        p = f"blocks.{i}"
        x = net.relu(net.bn(net.conv(x, cin, cin, 3, f"{p}.dw", stride=s, pad=1, group=cin,
                                     bias=False), cin, f"{p}.dw_bn"), f"{p}.dw_relu")
        x = net.relu(net.bn(net.conv(x, cin, c, 1, f"{p}.pw", bias=False), c, f"{p}.pw_bn"),
                     f"{p}.pw_relu")
    x = net.op("ReduceMean", [x], keepdims=0, axes=[2, 3], name="/ReduceMean")
    model = net.model(net.gemm(x, 1024, 1000, "fc"), opset=17,
                      input_shape=["N", 3, "H", "W"] if dynamic else None)
    return model


def mlp() -> onnx.ModelProto:
    """784 → 256 → 128 → 10 with Gemm, ReLU and a Softmax (counts derived in the test)."""
    net = Net([1, 784], "mlp")
    x = net.relu(net.gemm("input", 784, 256, "fc1"), "act1")
    x = net.relu(net.gemm(x, 256, 128, "fc2"), "act2")
    return net.model(net.op("Softmax", [net.gemm(x, 128, 10, "fc3")], axis=1))


def unet_resize() -> onnx.ModelProto:
    """A U-Net level with Resize and Concat (counts derived in the test): encoder conv,
    pool, a deeper conv, nearest upsampling by scales, the skip concatenated, a conv, a
    bilinear Resize to a given size and back down, a 1 x 1 head."""
    net = Net([1, 3, 32, 32], "unet_resize")
    skip = net.relu(net.conv("input", 3, 16, 3, "enc", pad=1), "enc_relu")
    x = net.op("MaxPool", [skip], kernel_shape=[2, 2], strides=[2, 2])
    x = net.relu(net.conv(x, 16, 32, 3, "mid", pad=1), "mid_relu")
    x = net.op("Resize", [x, "", net.const([1, 1, 2, 2], np.float32)], mode="nearest",
               name="/up/Resize")
    x = net.op("Concat", [skip, x], axis=1, name="/cat/Concat")
    x = net.relu(net.conv(x, 48, 16, 3, "dec", pad=1), "dec_relu")
    x = net.op("Resize", [x, "", "", net.const([1, 16, 64, 64])], mode="linear",
               coordinate_transformation_mode="align_corners", name="/up2/Resize")
    x = net.op("AveragePool", [x], kernel_shape=[2, 2], strides=[2, 2])
    return net.model(net.conv(x, 16, 2, 1, "head"))


def sub_pixel() -> onnx.ModelProto:
    """Sub-pixel layers (ESPCN's upsampling): a conv to 16 channels, DepthToSpace by 2 in
    PyTorch's CRD order, a conv, SpaceToDepth by 2, DepthToSpace by 2 in ONNX's default
    DCR order: nn.PixelShuffle and nn.PixelUnshuffle's shapes and counts."""
    net = Net([1, 3, 8, 8], "sub_pixel")
    x = net.conv("input", 3, 16, 3, "conv1", pad=1)
    x = net.op("DepthToSpace", [x], blocksize=2, mode="CRD", name="/shuffle/DepthToSpace")
    x = net.conv(x, 4, 8, 3, "conv2", pad=1)
    x = net.op("SpaceToDepth", [x], blocksize=2, name="/unshuffle/SpaceToDepth")
    return net.model(net.op("DepthToSpace", [x], blocksize=2, name="/again/DepthToSpace"))


def unet_skip() -> onnx.ModelProto:
    """examples/unet-skip.yaml: one U-Net level, the skip centre-cropped (a Slice of both
    spatial axes) to the transposed convolution's output and concatenated first."""
    net = Net([1, 1, 572, 572], "unet_skip")
    x = net.relu(net.conv("input", 1, 64, 3, "enc.0"), "enc.1")
    enc1 = net.relu(net.conv(x, 64, 64, 3, "enc.2"), "enc.3")  # 568
    x = net.op("MaxPool", [enc1], kernel_shape=[2, 2], strides=[2, 2])  # 284
    x = net.relu(net.conv(x, 64, 128, 3, "mid.0"), "mid.1")
    x = net.relu(net.conv(x, 128, 128, 3, "mid.2"), "mid.3")  # 280
    up = net.op("ConvTranspose", [x, net.weight("up1.weight", [128, 64, 2, 2]),
                                  net.weight("up1.bias", [64])], name="/up1/ConvTranspose",
                kernel_shape=[2, 2], strides=[2, 2])  # 560
    crop = net.op("Slice", [enc1, net.const([4, 4]), net.const([564, 564]), net.const([2, 3])],
                  name="/crop/Slice")
    x = net.op("Concat", [crop, up], axis=1)
    x = net.relu(net.conv(x, 128, 64, 3, "dec.0"), "dec.1")
    return net.model(net.conv(x, 64, 2, 1, "head"))


def vit_block() -> onnx.ModelProto:
    """examples/vit-block.yaml as primitives: embedding, LayerNormalization, 4-head
    self-attention written out (Q, K, V projections, heads by Reshape and Transpose,
    Q·Kᵀ, the 1/√d scale, Softmax, ·V, heads merged, the output projection), the residual
    and a head."""
    L, E, H = 16, 64, 4
    d = E // H
    net = Net([1, L, 48], "vit_block")
    embed = net.linear("input", 48, E, "embed")
    x = net.op("LayerNormalization", [embed, net.weight("norm.weight", [E]),
                                      net.weight("norm.bias", [E])], axis=-1, epsilon=1e-5,
               name="/norm/LayerNormalization")

    def heads(t, perm, name):
        t = net.op("Reshape", [t, net.const([1, L, H, d])], name=f"/attn/Reshape_{name}")
        return net.op("Transpose", [t], perm=perm, name=f"/attn/Transpose_{name}")

    q = heads(net.linear(x, E, E, "attn.q"), [0, 2, 1, 3], "q")
    k = heads(net.linear(x, E, E, "attn.k"), [0, 2, 3, 1], "k")
    v = heads(net.linear(x, E, E, "attn.v"), [0, 2, 1, 3], "v")
    a = net.op("MatMul", [q, k], name="/attn/MatMul")
    a = net.op("Div", [a, net.const(float(np.sqrt(d)), np.float32)], name="/attn/Div")
    a = net.op("Softmax", [a], axis=-1, name="/attn/Softmax")
    o = net.op("MatMul", [a, v], name="/attn/MatMul_1")
    o = net.op("Transpose", [o], perm=[0, 2, 1, 3], name="/attn/Transpose")
    o = net.op("Reshape", [o, net.const([1, L, E])], name="/attn/Reshape")
    o = net.linear(o, E, E, "attn.out")
    x = net.op("Add", [o, embed], name="/Add")
    return net.model(net.linear(x, E, 10, "head"))


def multihead_attention(mask=False) -> onnx.ModelProto:
    """nn.MultiheadAttention(64, 4, batch_first=True) on 16 tokens as torch.onnx (opset 17,
    need_weights left True) writes it: the batch put behind the tokens ([L, B, E]), the
    in-projection MatMul by in_proj_weightᵀ [E, 3E] and the Add of in_proj_bias, q, k and
    v split by Reshape to [L, B, 3, E], Unsqueeze, Transpose and Squeeze to [3, L, B, E]
    and Gather, each viewed as [L, B·H, d] and transposed ([B·H, L, d]; kᵀ [B·H, d, L]), q
    scaled by 1/√d, Q·Kᵀ, Softmax, ·V, the heads merged to [L·B, E], out_proj as Gemm,
    viewed as [L, B, E] and the batch put first again; ``mask``: an additive mask [L, L]
    on the scores before the softmax (``attn_mask``)."""
    L, E, H = 16, 64, 4
    d = E // H
    net = Net([1, L, E], "multihead_attention")
    x = net.op("Transpose", ["input"], perm=[1, 0, 2], name="/attn/Transpose")
    x = net.op("MatMul", [x, net.weight("in_proj_weight.T", [E, 3 * E])], name="/attn/MatMul")
    x = net.op("Add", [net.weight("attn.in_proj_bias", [3 * E]), x], name="/attn/Add")
    x = net.op("Reshape", [x, net.const([L, 1, 3, E])], name="/attn/Reshape")
    x = net.op("Unsqueeze", [x, net.const([0])], name="/attn/Unsqueeze")
    x = net.op("Transpose", [x], perm=[3, 1, 2, 0, 4], name="/attn/Transpose_1")
    x = net.op("Squeeze", [x, net.const([3])], name="/attn/Squeeze")
    q, k, v = (net.op("Reshape", [net.op("Gather", [x, net.const(i)], axis=0,
                                         name=f"/attn/Gather_{i}"), net.const([L, H, d])],
                      name=f"/attn/Reshape_{i}") for i in range(3))
    q = net.op("Transpose", [q], perm=[1, 0, 2], name="/attn/Transpose_q")
    v = net.op("Transpose", [v], perm=[1, 0, 2], name="/attn/Transpose_v")
    q = net.op("Mul", [q, net.const(float(1 / np.sqrt(d)), np.float32)], name="/attn/Mul")
    k = net.op("Transpose", [k], perm=[1, 2, 0], name="/attn/Transpose_k")
    a = net.op("MatMul", [q, k], name="/attn/MatMul_1")
    if mask:
        a = net.op("Add", [a, net.const(np.zeros((L, L)), np.float32)], name="/attn/Add_1")
    a = net.op("Softmax", [a], axis=-1, name="/attn/Softmax")
    o = net.op("MatMul", [a, v], name="/attn/MatMul_2")
    o = net.op("Transpose", [o], perm=[1, 0, 2], name="/attn/Transpose_o")
    o = net.op("Reshape", [o, net.const([L, E])], name="/attn/Reshape_o")
    o = net.gemm(o, E, E, "attn.out_proj")
    o = net.op("Reshape", [o, net.const([L, 1, E])], name="/attn/Reshape_out")
    return net.model(net.op("Transpose", [o], perm=[1, 0, 2], name="/attn/Transpose_out"))
