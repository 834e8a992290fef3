"""The layer types of mobile and modern CNNs: squeeze-and-excitation (``mul`` with
broadcasting), channel split (``slice``) and ``channelshuffle``, ``layerscale``,
``stochasticdepth``, ``layernorm2d``, channels-last ``layernorm`` with ``permute``, the
hard/smooth activations and ``globalavgpool``.

Each expected value is derived by hand in a comment; where PyTorch has the module, the same
layer built from ``torch.nn`` is measured too (parameters, output shape, and multiply-
accumulates from ``FlopCounterMode``, which counts 2 FLOPs per MAC)."""

from __future__ import annotations

import pytest

from archcalc.analysis import AxisRF
from archcalc.errors import SpecError
from archcalc.layers import REGISTRY
from archcalc.layers.base import Ctx, LayerError
from helpers import analyse_text, sym

torch = pytest.importorskip("torch")
nn = torch.nn


def measure(module, input_shape):
    """(parameters, output shape without batch, MACs) of one batch-1 forward pass."""
    from torch.utils.flop_counter import FlopCounterMode

    params = sum(p.numel() for p in module.parameters())
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        y = module.eval()(torch.randn(1, *input_shape))
    return params, tuple(y.shape[1:]), counter.get_total_flops() // 2


def spec(input_shape, *layers: str, symbols: str = ""):
    body = "\n".join(f"  - {line}" for line in layers)
    head = f"symbols: {symbols}\n" if symbols else ""
    return analyse_text(f"{head}input: {input_shape}\nlayers:\n{body}\n")


def fails(input_shape, layer: str, *fragments: str):
    with pytest.raises(SpecError) as info:
        spec(input_shape, layer)
    for fragment in fragments:
        assert fragment in str(info.value)


# ------------------------------------------------------------ squeeze-and-excitation (mul)
SE_SPEC = """
input: [16, 10, 10]
layers:
  - branches:
      - [identity]
      - [adaptiveavgpool2d: {out: 1}, conv2d: {out: 4, kernel: 1}, relu,
         conv2d: {out: 16, kernel: 1}, hardsigmoid]
    merge: mul
"""


class TorchvisionStyleSE(nn.Module):
    """torchvision.ops.SqueezeExcitation's structure: x · σ(fc2(δ(fc1(avgpool(x)))))."""

    def __init__(self, c: int, squeeze: int):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1, self.fc2 = nn.Conv2d(c, squeeze, 1), nn.Conv2d(squeeze, c, 1)
        self.activation, self.scale_activation = nn.ReLU(), nn.Hardsigmoid()

    def forward(self, x):
        s = self.fc2(self.activation(self.fc1(self.avgpool(x))))
        return self.scale_activation(s) * x


def test_squeeze_excitation_counts_and_torch():
    a = analyse_text(SE_SPEC)
    # fc1: 16·4 weights + 4 biases = 68; fc2: 4·16 + 16 = 80; 68 + 80 = 148
    assert a.total.params == 148
    # both 1x1 convs run on a 1x1 map: 16·4 + 4·16 = 128 MACs; the gate multiply is free
    assert a.total.macs == 128
    assert a.total.output_shape == (16, 10, 10)
    assert measure(TorchvisionStyleSE(16, 4), (16, 10, 10)) == (148, (16, 10, 10), 128)


def test_squeeze_excitation_field_is_the_whole_map():
    a = analyse_text(SE_SPEC)
    # The gate averages all 10 positions of each axis, so every output unit depends on the
    # whole 10 x 10 input: size 1 + (10 − 1)·1 = 10, the same for every unit (jump 0).
    assert a.total.rf == (AxisRF(10, 0, 0), AxisRF(10, 0, 0))


def test_squeeze_excitation_symbolic():
    C, H = sym("C", "H")
    a = analyse_text(SE_SPEC.replace("input: [16, 10, 10]", "symbols: {C: null, H: null}\n"
                                     "input: [C, H, H]").replace("out: 16,", "out: C,"))
    assert a.total.output_shape == (C, H, H)
    assert a.total.params == (C * 4 + 4) + (4 * C + C)  # 9C + 4
    assert a.total.rf == (AxisRF(H, 0, 0), AxisRF(H, 0, 0))


def _merge_shape(kind, *shapes):
    return REGISTRY[kind].fn(Ctx(kind, list(shapes), {"with": ()}, None)).shape


@pytest.mark.parametrize("a_shape, b_shape", [
    ((16, 10, 10), (16, 1, 1)),   # SE gate
    ((16, 10, 10), (1, 10, 10)),  # spatial attention map
    ((16, 10, 10), (10,)),        # trailing axes align, as in PyTorch
    ((1, 5), (7, 1)),             # both stretch
    ((3, 4), (3, 4)),
])
@pytest.mark.parametrize("kind", ["mul", "add"])
def test_broadcasting_matches_torch(kind, a_shape, b_shape):
    assert _merge_shape(kind, a_shape, b_shape) == tuple(torch.broadcast_shapes(a_shape, b_shape))


def test_broadcasting_mismatch_is_an_error():
    with pytest.raises(LayerError, match="cannot broadcast"):
        _merge_shape("mul", (16, 10, 10), (8, 1, 1))
    with pytest.raises(RuntimeError):  # PyTorch refuses the same pair
        torch.broadcast_shapes((16, 10, 10), (8, 1, 1))


def test_mul_with_a_named_gate():
    a = analyse_text("""
        input: [6, 5, 5]
        layers:
          - conv2d: {out: 6, kernel: 5, name: gate}   # [6, 1, 1]
          - sigmoid
          - mul: {with: [input]}
        """)
    assert a.total.output_shape == (6, 5, 5)
    assert a.total.params == 6 * 6 * 25 + 6  # 906


# ------------------------------------------------------------ slice (channel split)
@pytest.mark.parametrize("args, index", [
    ("{start: 0, stop: 4}", (slice(None), slice(0, 4))),      # ShuffleNet's first half
    ("{start: 4}", (slice(None), slice(4, None))),            # and second half
    ("{start: -3}", (slice(None), slice(-3, None))),          # negative: from the end
    ("{start: 2, stop: -1}", (slice(None), slice(2, -1))),
    ("{start: 1, stop: 5, dim: 2}", (slice(None),) * 3 + (slice(1, 5),)),
    ("{start: -2, dim: -1}", (slice(None),) * 3 + (slice(-2, None),)),
])
def test_slice_matches_torch_indexing(args, index):
    a = spec("[8, 6, 6]", f"slice: {args}")
    assert a.total.output_shape == tuple(torch.zeros(1, 8, 6, 6)[index].shape[1:])
    assert a.total.params == 0 and a.total.macs == 0


def test_slice_receptive_field():
    # channel slice: each position keeps its own 1-pixel field
    assert spec("[8, 6, 6]", "slice: {start: 4}").total.rf == (AxisRF(1, 1, 0),) * 2
    # width slice 1:5: output column 0 is input column 1 (start 1, size 1)
    assert spec("[8, 6, 6]", "slice: {start: 1, stop: 5, dim: 2}").total.rf == (
        AxisRF(1, 1, 0), AxisRF(1, 1, 1))


def test_slice_errors():
    fails("[8, 6, 6]", "slice: {stop: 9}", "stop 9 is past the end of axis 0 (size 8)")
    fails("[8, 6, 6]", "slice: {start: 5, stop: 3}", "start 5 is not before stop 3",
          "nothing is kept")
    fails("[8, 6, 6]", "slice: {start: -9}", "start -9 is before the start")
    fails("[8, 6, 6]", "slice: {start: 1, dim: 3}", "dim 3 is out of range")


def test_slice_symbolic_split():
    C, H = sym("C", "H")
    a = spec("[C, H, H]", "slice: {start: 0, stop: 4}", symbols="{C: null, H: null}")
    assert a.total.output_shape == (4, H, H)
    assert a.conditions  # 4 ≤ C is a condition on the symbol, not an error


# ------------------------------------------------------------ channel shuffle
def test_channelshuffle_matches_torch():
    a = spec("[12, 5, 5]", "channelshuffle: {groups: 3}")
    assert a.total.output_shape == (12, 5, 5) and a.total.params == 0
    assert measure(nn.ChannelShuffle(3), (12, 5, 5)) == (0, (12, 5, 5), 0)


def test_channelshuffle_groups_must_divide():
    fails("[5, 6, 6]", "channelshuffle: {groups: 3}", "groups 3 does not divide the channels 5")
    with pytest.raises(RuntimeError):  # PyTorch refuses it too
        nn.ChannelShuffle(3)(torch.zeros(1, 5, 6, 6))


SHUFFLE_UNIT = """
input: [116, 28, 28]
layers:
  - branches:
      - [slice: {start: 0, stop: 58}]
      - [slice: {start: 58},
         conv2d: {out: 58, kernel: 1, bias: false}, batchnorm2d, relu,
         conv2d: {out: 58, kernel: 3, padding: 1, groups: 58, bias: false}, batchnorm2d,
         conv2d: {out: 58, kernel: 1, bias: false}, batchnorm2d, relu]
    merge: concat
  - channelshuffle: {groups: 2}
"""


class ShuffleUnit(nn.Module):
    """ShuffleNet V2's stride-1 unit: split, transform one half, concatenate, shuffle."""

    def __init__(self, c: int):
        super().__init__()
        self.branch2 = nn.Sequential(
            nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False), nn.BatchNorm2d(c),
            nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU())
        self.shuffle = nn.ChannelShuffle(2)

    def forward(self, x):
        x1, x2 = x.chunk(2, dim=1)
        return self.shuffle(torch.cat((x1, self.branch2(x2)), dim=1))


def test_shufflenet_unit_against_torch():
    a = analyse_text(SHUFFLE_UNIT)
    # two 1x1 convs 58·58 = 3,364 each, depthwise 58·9 = 522, three BNs 2·58 = 116 each:
    # 2·3,364 + 522 + 3·116 = 7,598
    assert a.total.params == 7_598
    # 28·28 = 784 positions · (3,364 + 522 + 3,364) = 784 · 7,250 = 5,684,000
    assert a.total.macs == 5_684_000
    assert a.total.buffers == 3 * 2 * 58  # running mean and variance of three BNs
    assert measure(ShuffleUnit(58), (116, 28, 28)) == (7_598, (116, 28, 28), 5_684_000)


# ------------------------------------------------------------ layer scale
def test_layerscale_channels_first():
    # ConvNeXt's γ: torch.ones(dim, 1, 1) · 1e-6, one parameter per channel
    assert spec("[96, 7, 7]", "layerscale").total.params == 96
    gamma = nn.Parameter(torch.ones(96, 1, 1) * 1e-6)
    assert gamma.numel() == 96
    assert tuple((gamma * torch.zeros(1, 96, 7, 7)).shape[1:]) == (96, 7, 7)


def test_layerscale_last_axis():
    # CaiT's γ scales the D features of each of N tokens: D parameters, not N
    a = spec("[197, 384]", "layerscale: {dim: -1, init: 0.1}")
    assert a.total.params == 384 and a.total.output_shape == (197, 384)
    fails("[197, 384]", "layerscale: {dim: 2}", "dim 2 is out of range for a rank-2 input")


def test_layerscale_built_in_torch_both_ways(cli, tmp_path):
    # archcalc verify builds γ along the chosen axis: [24] after the linear, [24, 1] after
    # the permute; 24 parameters each, as the closed form says
    path = tmp_path / "layerscale.yaml"
    path.write_text("input: [16, 12]\nlayers:\n  - linear: {out: 24}\n"
                    "  - layerscale: {dim: -1}\n  - permute: {dims: [1, 0]}\n  - layerscale\n")
    code, out, _ = cli("verify", path, "--device", "cpu")
    assert code == 0 and "All 16 checks match" in out


# ------------------------------------------------------------ stochastic depth
def test_stochasticdepth_is_free_and_keeps_the_shape():
    a = spec("[24, 56, 56]", "stochasticdepth: {p: 0.2, mode: row}")
    assert a.total.output_shape == (24, 56, 56)
    assert (a.total.params, a.total.buffers, a.total.macs) == (0, 0, 0)
    assert a.total.rf == (AxisRF(1, 1, 0),) * 2


def test_stochasticdepth_arguments_are_checked():
    fails("[24, 8, 8]", "stochasticdepth: {p: 1.5}", "probability p = 1.5 is not between 0 and 1")
    fails("[24, 8, 8]", "stochasticdepth: {mode: col}", "one of row, batch")
    fails("[24, 8, 8]", "dropout: {p: -0.1}", "is not between 0 and 1")
    with pytest.raises(ValueError):  # PyTorch rejects such a probability too
        nn.Dropout(p=-0.1)


def test_residual_with_stochastic_depth():
    a = analyse_text("""
        input: [24, 8, 8]
        layers:
          - branches:
              - [conv2d: {out: 24, kernel: 3, padding: 1, bias: false}, stochasticdepth: {p: 0.1}]
              - [identity]
            merge: add
        """)
    assert a.total.params == 24 * 24 * 9  # 5,184: only the conv
    assert a.total.macs == 8 * 8 * 24 * 24 * 9  # 331,776


# ------------------------------------------------------------ LayerNorm over channels
class LayerNorm2d(nn.LayerNorm):
    """torchvision's ConvNeXt LayerNorm2d: nn.LayerNorm(C) applied at each position."""

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x = nn.functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


def test_layernorm2d_matches_torch():
    a = spec("[96, 56, 56]", "layernorm2d")
    # γ and β per channel: 2·96 = 192, no running statistics
    assert (a.total.params, a.total.buffers, a.total.macs) == (192, 0, 0)
    assert measure(LayerNorm2d(96, eps=1e-6), (96, 56, 56)) == (192, (96, 56, 56), 0)
    assert spec("[96, 56, 56]", "layernorm2d: {affine: false}").total.params == 0
    fails("[96]", "layernorm2d", "expects a [C, *spatial] input")


# ------------------------------------------------------------ channels-last LayerNorm, permute
@pytest.mark.parametrize("args, module, params", [
    ("{}", lambda: nn.LayerNorm(6), 12),                            # last axis: 2·6
    ("{shape: [5, 6]}", lambda: nn.LayerNorm([5, 6]), 60),          # 2·5·6
    ("{shape: [5, 6], bias: false}", lambda: nn.LayerNorm([5, 6], bias=False), 30),
    ("{affine: false}", lambda: nn.LayerNorm(6, elementwise_affine=False), 0),
])
def test_layernorm_matches_torch(args, module, params):
    a = spec("[4, 5, 6]", f"layernorm: {args}")
    assert a.total.params == params
    assert measure(module(), (4, 5, 6)) == (params, (4, 5, 6), 0)


def test_layernorm_shape_must_end_the_input():
    fails("[4, 5, 6]", "layernorm: {shape: [4, 5]}", "does not match the end of the input")


def test_permute_shape_and_field():
    a = spec("[6, 9, 11]", "conv2d: {out: 6, kernel: 3, stride: 2}", "permute: {dims: [1, 2, 0]}")
    assert a.total.output_shape == tuple(torch.zeros(1, 6, 4, 5).permute(0, 2, 3, 1).shape[1:])
    # the 3x3 stride-2 conv's field (3, jump 2) travels with the H and W axes
    assert a.total.rf == (AxisRF(3, 2, 0), AxisRF(3, 2, 0))
    fails("[6, 9, 11]", "permute: {dims: [0, 0, 1]}", "is not a permutation")


def test_linear_on_channels_last():
    a = spec("[7, 7, 8]", "linear: {out: 32}")
    # 8·32 weights + 32 biases = 288; 7·7 positions · 8 · 32 = 12,544 MACs
    assert (a.total.params, a.total.macs, a.total.output_shape) == (288, 12_544, (7, 7, 32))
    assert measure(nn.Linear(8, 32), (7, 7, 8)) == (288, (7, 7, 32), 12_544)


CNBLOCK = """
input: [8, 7, 7]
layers:
  - branches:
      - - conv2d: {out: 8, kernel: 7, padding: 3, groups: 8}
        - permute: {dims: [1, 2, 0]}
        - layernorm: {eps: 0.000001}
        - linear: {out: 32}
        - gelu
        - linear: {out: 8}
        - permute: {dims: [2, 0, 1]}
        - layerscale
        - stochasticdepth: {p: 0.1}
      - [identity]
    merge: add
"""


class CNBlock(nn.Module):
    """torchvision's ConvNeXt block: x + γ · Block(x), the block run channels-last."""

    def __init__(self, dim: int):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.fc1, self.fc2 = nn.Linear(dim, 4 * dim), nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(torch.ones(dim, 1, 1) * 1e-6)

    def forward(self, x):
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.fc2(nn.functional.gelu(self.fc1(self.norm(y)))).permute(0, 3, 1, 2)
        return x + self.gamma * y


def test_convnext_block_against_torch():
    a = analyse_text(CNBLOCK)
    # depthwise 8·49 + 8 = 400; LayerNorm 2·8 = 16; fc1 8·32 + 32 = 288; fc2 32·8 + 8 = 264;
    # γ 8: 400 + 16 + 288 + 264 + 8 = 976
    assert a.total.params == 976
    # depthwise 7·7·8·49 = 19,208; fc1 and fc2 49·8·32 = 12,544 each: 44,296
    assert a.total.macs == 44_296
    assert measure(CNBlock(8), (8, 7, 7)) == (976, (8, 7, 7), 44_296)
    # 7x7 conv with padding 3: size 7, start −3; the channels-last part is position-wise
    assert a.total.rf == (AxisRF(7, 1, -3), AxisRF(7, 1, -3))


# ------------------------------------------------------------ activations and global pooling
@pytest.mark.parametrize("layer, module", [
    ("hardswish", nn.Hardswish), ("hardsigmoid", nn.Hardsigmoid), ("silu", nn.SiLU),
    ("relu6", nn.ReLU6), ("gelu", nn.GELU), ("sigmoid", nn.Sigmoid),
])
def test_activations_match_torch(layer, module):
    a = spec("[5, 4, 4]", layer)
    assert (a.total.params, a.total.macs, a.total.output_shape) == (0, 0, (5, 4, 4))
    assert measure(module(), (5, 4, 4)) == (0, (5, 4, 4), 0)
    assert a.total.rf == (AxisRF(1, 1, 0),) * 2  # element-wise: the field is unchanged


def test_globalavgpool_is_torch_mean():
    a = spec("[1024, 7, 7]", "globalavgpool")
    # ShuffleNet V2's x.mean([2, 3]): [1024, 7, 7] -> [1024]
    assert a.total.output_shape == tuple(torch.zeros(1, 1024, 7, 7).mean([2, 3]).shape[1:])
    assert a.total.params == 0 and a.total.macs == 0
    fails("[1024]", "globalavgpool", "needs spatial axes")


# ------------------------------------------------------------ multi-head attention
def measure_attention(module, x_shape, kv_shape=None):
    """(parameters, output shape, MACs) of nn.MultiheadAttention (batch_first) called with
    need_weights=True on distinct query and key/value tensors."""
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.randn(1, *x_shape)
    kv = torch.randn(1, *(kv_shape or x_shape))
    params = sum(p.numel() for p in module.parameters())
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        y = module.eval()(x, kv, kv, need_weights=True)[0]
    return params, tuple(y.shape[1:]), counter.get_total_flops() // 2


def test_multiheadattention_self_closed_form():
    e, heads, length = 512, 8, 10
    a = spec(f"[{length}, {e}]", f"multiheadattention: {{heads: {heads}}}")
    r = a.layers[1]
    # in_proj_weight 3E·E + in_proj_bias 3E + out_proj E·E + E = 4E² + 4E
    assert r.params == 4 * e * e + 4 * e == 1_050_624
    # Q, K, V projections 3·L·E·E, Q·Kᵀ and A·V L·L·E each, out_proj L·E·E
    assert r.macs == 3 * length * e * e + 2 * length * length * e + length * e * e
    assert r.output_shape == (length, e)
    assert a.total.rf is None  # every output mixes every position
    mha = nn.MultiheadAttention(e, heads, batch_first=True)
    assert measure_attention(mha, (length, e)) == (r.params, r.output_shape, r.macs)


def test_multiheadattention_cross_with_bias_kv_closed_form():
    e, heads, length, s, kdim = 48, 6, 7, 5, 20
    # keys and values: the first S positions of the input, projected to kdim features
    a = spec(f"[{length}, {e}]", f"slice: {{stop: {s}}}", f"linear: {{name: memory, out: {kdim}}}",
             f"multiheadattention: {{from: input, heads: {heads}, kv: memory, kdim: {kdim}, "
             f"vdim: {kdim}, add_bias_kv: true, bias: false}}")
    r = a.layers[3]
    assert r.output_shape == (length, e)
    # q/k/v_proj_weight E·E + E·kdim + E·vdim, out_proj E·E (no bias), bias_k, bias_v 2E
    assert r.params == e * e + 2 * e * kdim + e * e + 2 * e
    # projections L·E·E + 2·S·kdim·E; bias_k adds one key: Q·Kᵀ and A·V L·(S+1)·E each
    assert r.macs == length * e * e + 2 * s * kdim * e + 2 * length * (s + 1) * e \
        + length * e * e
    mha = nn.MultiheadAttention(e, heads, bias=False, kdim=kdim, vdim=kdim, add_bias_kv=True,
                                batch_first=True)
    assert measure_attention(mha, (length, e), (s, kdim)) == (r.params, (length, e), r.macs)


def test_multiheadattention_symbolic_requires_heads_to_divide():
    L, E = sym("L", "E")
    a = spec("[L, E]", "multiheadattention: {heads: 4}", symbols="{L: null, E: null}")
    assert a.total.params == 4 * E**2 + 4 * E
    assert a.total.macs == 4 * L * E**2 + 2 * L**2 * E
    assert any("not divisible by heads = 4" in message for _, message, _ in a.conditions)


def test_multiheadattention_rejects():
    fails("[10, 30]", "multiheadattention: {heads: 4}", "E = 30 is not divisible by heads = 4")
    fails("[3, 10, 30]", "multiheadattention: {heads: 3}", "expects a sequence [L, E]")
    fails("[10, 30]", "multiheadattention: {heads: 3, kdim: 12}",
          "the input (self-attention) has 30 features, not kdim = 12")


def test_attention_llama_layer_closed_form():
    """One LLaMA-7B attention layer (D = 4096, 32 heads of 128, no bias, causal, rotary) at
    L = 2048: 4·D² parameters; projections 4·L·D², Q·Kᵀ and A·V L²·D each."""
    d, length = 4096, 2048
    a = spec(f"[{length}, {d}]", "attention: {heads: 32, causal: true, rotary: true, "
             "bias: false}")
    r = a.layers[1]
    assert r.params == 4 * d * d == 67_108_864
    assert r.macs == 4 * length * d * d + 2 * length * length * d == 171_798_691_840
    assert r.output_shape == (length, d) and a.total.rf is None


def test_attention_grouped_query_and_biases():
    """Mistral's grouping (32 heads, 8 key/value heads of 128) on D = 4096, with every bias:
    q and o D² + D each, k and v D·1024 + 1024 each."""
    d, length = 4096, 16
    r = spec(f"[{length}, {d}]", "attention: {heads: 32, kv_heads: 8}").layers[1]
    assert r.params == 2 * (d * d + d) + 2 * (d * 1024 + 1024) == 41_953_280
    assert r.macs == 2 * length * d * d + 2 * length * d * 1024 + 2 * length * length * d


def test_attention_windows_cross_and_table():
    """Leading axes multiply the MACs (Swin's windows [nW, T, C]); a bias table adds N·H
    parameters and no MACs; cross-attention reads S keys of E_kv features."""
    r = spec("[4, 49, 96]", "attention: {heads: 3, bias_table: 169}").layers[1]
    assert r.params == 4 * (96 * 96 + 96) + 169 * 3  # Swin-T stage 1: (2·7 − 1)² rows
    assert r.macs == 4 * (4 * 49 * 96 * 96 + 2 * 49 * 49 * 96)
    a = spec("[5, 32]", "slice: {stop: 3}", "linear: {name: memory, out: 10}",
             "attention: {from: input, heads: 2, head_dim: 8, kv: memory, out: 6, "
             "bias: false, o_bias: true}")
    r = a.layers[3]
    assert r.output_shape == (5, 6)
    # q 32·16, k and v 10·16 each, o 16·6 + 6
    assert r.params == 32 * 16 + 2 * 10 * 16 + 16 * 6 + 6
    assert r.macs == 5 * 32 * 16 + 2 * 3 * 10 * 16 + 2 * 5 * 3 * 16 + 5 * 16 * 6


def test_attention_rejects():
    fails("[10, 32]", "attention: {heads: 8, kv_heads: 3}",
          "heads = 8 is not a multiple of kv_heads = 3")
    fails("[10, 30]", "attention: {heads: 4}", "E = 30 is not divisible by heads = 4")
    fails("[10, 16]", "attention: {heads: 2, head_dim: 5, rotary: true}",
          "rotary embeddings need an even head_dim, got 5")


# ------------------------------------------------------------ embeddings
def measure_lookup(module, ids_shape, vocab):
    """(parameters, output shape without batch, MACs) of a batch-1 pass on random ids."""
    from torch.utils.flop_counter import FlopCounterMode

    params = sum(p.numel() for p in module.parameters())
    ids = torch.randint(0, vocab, (1, *ids_shape))
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        y = module.eval()(ids)
    return params, tuple(y.shape[1:]), counter.get_total_flops() // 2


def test_embedding_closed_form():
    # GPT-2's token table (Radford et al. 2019; nanoGPT model.py: wte = nn.Embedding(50257,
    # 768)): V·D = 50257·768 = 38,597,376 parameters; a lookup multiplies nothing.
    a = spec("[12]", "embedding: {vocab: 50257, dim: 768}")
    r = a.layers[1]
    assert r.params == 50257 * 768 == 38_597_376
    assert r.macs == 0 and r.output_shape == (12, 768)
    assert a.total.rf is None  # ids have no receptive field
    assert measure_lookup(nn.Embedding(50257, 768), (12,), 50257) == (r.params, (12, 768), 0)


def test_embedding_any_id_shape_and_padding_row():
    r = spec("[3, 5]", "embedding: {vocab: 10, dim: 4, padding_idx: 0}").layers[1]
    # the padding row is zeroed, still a parameter (sparse.py: _fill_padding_idx_with_zero)
    assert (r.params, r.output_shape) == (40, (3, 5, 4))
    assert measure_lookup(nn.Embedding(10, 4, padding_idx=0), (3, 5), 10) == (40, (3, 5, 4), 0)


def test_embedding_symbolic_length_and_vocab():
    L, V = sym("L", "V")
    a = spec("[L]", "embedding: {vocab: V, dim: 8, padding_idx: 3}",
             symbols="{L: null, V: null}")
    assert a.layers[1].output_shape == (L, 8)
    assert a.total.params == 8 * V
    assert any("padding_idx = 3 is not below vocab = V" in m for _, m, _ in a.conditions)


def test_embedding_rejects():
    fails("[4]", "embedding: {vocab: 10, dim: 3, padding_idx: 10}",
          "padding_idx = 10 is not below vocab = 10")
    fails("[4]", "embedding: {vocab: 10, dim: 3, padding_idx: -11}",
          "padding_idx = -11 is below -vocab (vocab = 10)")


def test_parameter_class_token_and_positions_closed_form():
    # torchvision VisionTransformer (vision_transformer.py): class_token [1, 1, D] put first
    # with torch.cat([batch_class_token, x], dim=1), then pos_embedding [1, S, D] added.
    a = spec("[196, 768]", "parameter: {shape: [1, 768], op: concat}",
             "parameter: {shape: [197, 768], op: add}")
    cls, pos = a.layers[1], a.layers[2]
    assert (cls.output_shape, cls.params, cls.macs) == ((197, 768), 768, 0)
    assert (pos.output_shape, pos.params, pos.macs) == ((197, 768), 197 * 768, 0)


def test_parameter_prefix_rows_symbolic_length():
    # GPT-2's wpe = nn.Embedding(1024, 768) read at arange(L) (nanoGPT model.py, GPT.forward):
    # the whole table is parameters, L ≤ 1024 a condition.
    L = sym("L")
    a = spec("[L, 768]", "parameter: {shape: [1024, 768], op: add, rows: prefix}",
             symbols="{L: null}")
    assert a.total.params == 1024 * 768 and a.layers[1].output_shape == (L, 768)
    assert any("more than the 1024 rows" in m for _, m, _ in a.conditions)


def test_parameter_rejects():
    fails("[5, 8]", "parameter: {shape: [4, 8], op: add, rows: prefix}",
          "the input has 5 entries along axis 0, more than the 4 rows of the table [4, 8]")
    fails("[5, 8]", "parameter: {shape: [1, 7], op: concat}", "axis 1 differs (7 and 8)")
    fails("[5, 8]", "parameter: {shape: [8], op: concat}", "needs a learned tensor of the "
          "input's rank 2")
    fails("[5, 8]", "parameter: {shape: [2, 5, 8]}", "has more axes than its input")
    fails("[5, 8]", "parameter: {shape: [3, 8], op: mul}", "axis 0 has sizes 3 and 5")


# ------------------------------------------------------------ tied weights
class TiedLM(nn.Module):
    """A token table and an output layer sharing it, as nanoGPT's GPT ties lm_head to wte
    (model.py: self.transformer.wte.weight = self.lm_head.weight)."""

    def __init__(self, vocab, dim, bias):
        super().__init__()
        self.wte = nn.Embedding(vocab, dim)
        self.norm = nn.LayerNorm(dim)
        self.lm_head = nn.Linear(dim, vocab, bias=bias)
        self.lm_head.weight = self.wte.weight

    def forward(self, ids):
        return self.lm_head(self.norm(self.wte(ids)))


@pytest.mark.parametrize("bias", [False, True])
def test_tied_linear_counts_its_weight_once(bias):
    vocab, dim, length = 120, 24, 9
    a = spec(f"[{length}]", f"embedding: {{name: wte, vocab: {vocab}, dim: {dim}}}", "layernorm",
             f"linear: {{out: {vocab}, bias: {str(bias).lower()}, tie: wte}}")
    head = a.layers[3]
    assert head.params == (vocab if bias else 0)  # the weight is wte's
    assert head.macs == length * dim * vocab  # the product is computed all the same
    model = TiedLM(vocab, dim, bias)
    # parameters() yields the shared Parameter once: V·D + 2D (+ V)
    assert a.total.params == sum(p.numel() for p in model.parameters()) \
        == vocab * dim + 2 * dim + (vocab if bias else 0)
    assert measure_lookup(model, (length,), vocab) == (a.total.params, (length, vocab),
                                                        a.total.macs)


def test_tie_symbolic_shapes_are_conditions():
    a = spec("[L]", "embedding: {name: wte, vocab: V, dim: D}", "linear: {out: W, tie: wte}",
             symbols="{L: null, V: null, D: null, W: null}")
    V, D, W = sym("V", "D", "W")
    assert a.total.params == V * D + W
    assert any("the weight of embedding 'wte' is [V, D], not this layer's [out, in] = [W, D]"
               in m for _, m, _ in a.conditions)


def test_tie_rejects():
    fails("[6, 8]", "linear: {out: 4, tie: input}", "tie: 'input' (input) is not an embedding")
    with pytest.raises(SpecError, match=r"tie: 'conv' \(conv1d\) is not an embedding or linear"):
        spec("[6, 8]", "conv1d: {name: conv, out: 6, kernel: 1}", "linear: {out: 6, tie: conv}")
    with pytest.raises(SpecError, match=r"tie: the weight of embedding 'wte' is \[10, 4\], "
                                        r"not this layer's \[out, in\] = \[9, 4\]"):
        spec("[6]", "embedding: {name: wte, vocab: 10, dim: 4}", "linear: {out: 9, tie: wte}")
