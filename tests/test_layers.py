"""Every layer rule against values derived by hand or taken from the reference's test
vectors (docs/pytorch-semantics.md §7, ids S*, P*; each checked against
torch 2.13.0). The derivation stands next to each expected value."""

from __future__ import annotations

import pytest

from archcalc.errors import SpecError
from helpers import analyse_text


def one(layer: str, input_shape: str):
    """Analyse a one-layer network and return its record."""
    a = analyse_text(f"input: {input_shape}\nlayers:\n  - {layer}\n")
    return a.layers[1]


def rejects(layer: str, input_shape: str, *fragments: str):
    with pytest.raises(SpecError) as e:
        one(layer, input_shape)
    for fragment in fragments:
        assert fragment in str(e.value)
    return str(e.value)


# ------------------------------------------------------------------ convolutions
def test_conv2d_stride_padding_s1():
    r = one("conv2d: {out: 8, kernel: 3, stride: 2, padding: 1}", "[3, 224, 224]")
    assert r.output_shape == (8, 112, 112)  # S1: floor((224 + 2 - 3)/2) + 1 = 112
    assert r.params == 8 * 3 * 9 + 8  # Cout·Cin·k² + Cout = 224
    assert r.macs == 112 * 112 * 8 * 3 * 9  # ∏out · Cout · Cin · k² = 2,709,504


def test_conv2d_tuple_args_s2():
    r = one("conv2d: {out: 1, kernel: [3, 5], stride: [2, 3], padding: [1, 2]}", "[1, 10, 17]")
    assert r.output_shape == (1, 5, 6)  # S2: (10+2-3)//2+1 = 5, (17+4-5)//3+1 = 6


def test_conv3d_dilation_s3():
    r = one("conv3d: {out: 4, kernel: 3, stride: 2, padding: 1, dilation: [1, 2, 1]}",
            "[2, 9, 9, 9]")
    assert r.output_shape == (4, 5, 4, 5)  # S3: k_eff = (3, 5, 3)


def test_conv2d_dilated_s4():
    assert one("conv2d: {out: 1, kernel: 3, dilation: 2}", "[1, 7, 7]").output_shape == (1, 3, 3)


def test_conv1d_same_even_kernel_s5():
    r = one("conv1d: {out: 1, kernel: 4, padding: same}", "[1, 11]")
    assert r.output_shape == (1, 11)  # S5: T = 3 split (1, 2), extra on the right
    assert r.rf[0].start == -1  # the left pad is T//2 = 1


def test_conv_same_dilated_s7_s8():
    assert one("conv1d: {out: 1, kernel: 2, dilation: 3, padding: same}",
               "[1, 10]").output_shape == (1, 10)  # S7
    assert one("conv2d: {out: 1, kernel: 4, dilation: 2, padding: same}",
               "[1, 9, 9]").output_shape == (1, 9, 9)  # S8


def test_conv_same_strided_keras():
    # Keras Conv2D(8, 3, strides=2, 'same') on 7×7 gives 4×4 = ceil(7/2); 'valid' 3×3
    # (docs/pytorch-semantics.md §7, "also verified").
    assert one("conv2d: {out: 8, kernel: 3, stride: 2, padding: same}",
               "[1, 7, 7]").output_shape == (8, 4, 4)
    assert one("conv2d: {out: 8, kernel: 3, stride: 2, padding: valid}",
               "[1, 7, 7]").output_shape == (8, 3, 3)
    # TF SAME, n=224, k=7, s=2: out 112, pads (2, 3) — the left pad is 2.
    r = one("conv2d: {out: 8, kernel: 7, stride: 2, padding: same}", "[3, 224, 224]")
    assert r.output_shape == (8, 112, 112)
    assert r.rf[0].start == -2


def test_conv_kernel_larger_than_input_s12():
    rejects("conv2d: {out: 1, kernel: 5}", "[1, 4, 4]", "kernel span 5", "padded input 4")


def test_conv_groups_p1_s13():
    r = one("conv2d: {out: 64, kernel: [3, 5], groups: 4}", "[32, 9, 9]")
    assert r.params == 7_744  # P1: 64·(32/4)·15 + 64
    rejects("conv2d: {out: 6, kernel: 3, groups: 4}", "[4, 8, 8]",
            "groups 4 does not divide the output channels 6")  # S13


def test_conv_rejects_wrong_rank():
    rejects("conv2d: {out: 8, kernel: 3}", "[3, 32]", "expects a [C, H, W] input (rank 3)")


def test_convtranspose_s14_s15_p2():
    r = one("convtranspose2d: {out: 1, kernel: 3, stride: 2, padding: 1, output_padding: 1}",
            "[1, 5, 5]")
    assert r.output_shape == (1, 10, 10)  # S14: (5-1)·2 - 2 + 2 + 1 + 1
    r = one("convtranspose2d: {out: 4, kernel: 4, stride: 2, padding: 1}", "[4, 16, 16]")
    assert r.output_shape == (4, 32, 32)  # S15
    assert one("convtranspose2d: {out: 64, kernel: 4, groups: 4}",
               "[32, 5, 5]").params == 8_256  # P2: 32·(64/4)·16 + 64


def test_convtranspose_macs_use_input_size_f3():
    # F3: FlopCounterMode ConvTranspose2d(8,4,3,stride=2) on (2,8,5,5) = 28,800 FLOPs for a
    # batch of 2, so 7,200 MACs per sample = 5·5·8·4·9.
    assert one("convtranspose2d: {out: 4, kernel: 3, stride: 2}", "[8, 5, 5]").macs == 7_200


def test_convtranspose_output_padding_s16_s17():
    assert one("convtranspose1d: {out: 1, kernel: 3, dilation: 2, output_padding: 1}",
               "[1, 5]").output_shape == (1, 10)  # S16: op 1 < max(s=1, d=2)
    rejects("convtranspose1d: {out: 1, kernel: 3, stride: 2, output_padding: 2}", "[1, 5]",
            "output_padding 2 must be smaller than stride 2 or dilation 1")  # S17


def test_convtranspose_zero_output_rejected_s20():
    rejects("convtranspose1d: {out: 1, kernel: 2, stride: 4, padding: 1}", "[1, 1]",
            "not positive")  # S20: (1-1)·4 - 2 + 1 + 0 + 1 = 0


# ------------------------------------------------------------------ pooling
@pytest.mark.parametrize("layer, shape, expected", [
    ("maxpool2d: {kernel: 2}", "[1, 7, 7]", (1, 3, 3)),  # S23: stride defaults to kernel
    ("maxpool2d: {kernel: 2, ceil_mode: true}", "[1, 7, 7]", (1, 4, 4)),  # S24
    ("maxpool1d: {kernel: 2, stride: 3, padding: 1, ceil_mode: true}", "[1, 4]", (1, 2)),  # S25
    ("maxpool1d: {kernel: 1, stride: 3, ceil_mode: true}", "[1, 5]", (1, 2)),  # S26
    ("maxpool2d: {kernel: 1, stride: 2, ceil_mode: true}", "[1, 6, 7]", (1, 3, 4)),  # S27
    ("maxpool2d: {kernel: 3, stride: 2, padding: 1, ceil_mode: true}", "[1, 112, 112]",
     (1, 57, 57)),  # S28
    ("maxpool2d: {kernel: 3, stride: 2, padding: 1}", "[1, 112, 112]", (1, 56, 56)),  # S28
    ("maxpool2d: {kernel: 2, stride: 2, padding: 1}", "[1, 8, 8]", (1, 5, 5)),  # S30
    ("maxpool2d: {kernel: 3, stride: 1, padding: 1, dilation: 2}", "[1, 8, 8]", (1, 6, 6)),  # S32
    ("avgpool2d: {kernel: 3, padding: 1}", "[1, 2, 2]", (1, 1, 1)),  # S33
    ("avgpool1d: {kernel: 2, ceil_mode: true}", "[1, 5]", (1, 3)),  # S35
    ("maxpool2d: {kernel: 3, stride: 2, padding: same}", "[1, 8, 8]", (1, 4, 4)),  # Keras
])
def test_pool_sizes(layer, shape, expected):
    r = one(layer, shape)
    assert r.output_shape == expected
    assert r.params == 0 and r.macs == 0


def test_pool_padding_above_half_kernel_s29_s31():
    rejects("maxpool2d: {kernel: 3, padding: 2}", "[1, 8, 8]", "padding 2 is more than half")
    # S31: the raw-kernel check wins even with dilation (k_eff//2 = 2 would allow it).
    rejects("maxpool2d: {kernel: 3, stride: 1, padding: 2, dilation: 2}", "[1, 8, 8]",
            "more than half the kernel 3")


def test_avgpool3d_needs_input_at_least_kernel_s34():
    rejects("avgpool3d: {kernel: 3, padding: 1}", "[1, 2, 2, 2]", "avgpool3d needs")


def test_pool_output_too_small():
    rejects("maxpool2d: {kernel: 2}", "[1, 1, 1]", "is not positive")  # (1-2)//2+1 = 0


def test_adaptive_pool_s38_and_rf():
    r = one("adaptiveavgpool2d: {out: [null, 3]}", "[1, 7, 9]")
    assert r.output_shape == (1, 7, 3)  # S38: None keeps the size
    # 9 → 3 is three equal bins of 3: a pool with kernel = stride = 3; 7 → 7 is identity.
    assert [a.size for a in r.rf] == [1, 3]
    r = one("adaptivemaxpool2d: {out: 4}", "[2, 10, 10]")
    assert r.output_shape == (2, 4, 4)
    assert r.rf is None  # 10 → 4 overlapping bins: no single window


def test_global_pool():
    r = one("globalavgpool", "[64, 7, 7]")
    assert r.output_shape == (64,)


# ------------------------------------------------------------------ linear, norms, activations
def test_linear_on_any_leading_shape_f4():
    r = one("linear: {out: 10}", "[5, 16]")
    assert r.output_shape == (5, 10)
    assert r.params == 16 * 10 + 10
    assert r.macs == 5 * 16 * 10  # F4: 3,200 FLOPs for batch 2 → 800 MACs per sample


def test_batchnorm_p3_p4():
    r = one("batchnorm2d", "[64, 8, 8]")
    assert r.params == 128  # P3: γ and β
    assert r.buffers == 128  # running mean + var (num_batches_tracked not counted)


def test_layernorm_p5_p6():
    assert one("layernorm: {shape: [64, 7, 7]}", "[64, 7, 7]").params == 6_272  # P5
    assert one("layernorm: {bias: false}", "[10, 64]").params == 64  # P6
    rejects("layernorm: {shape: [7]}", "[64, 7, 8]", "does not match the end of the input")


def test_rmsnorm_one_scale_per_normalized_element():
    # nn.RMSNorm: one learned scale (weight) per element of normalized_shape, no bias
    assert one("rmsnorm: {shape: [64, 7, 7]}", "[64, 7, 7]").params == 64 * 7 * 7
    assert one("rmsnorm", "[10, 64]").params == 64  # default: the last axis
    assert one("rmsnorm: {affine: false}", "[10, 64]").params == 0
    r = one("rmsnorm", "[10, 64]")
    assert (r.macs, r.buffers, r.output_shape) == (0, 0, (10, 64))
    rejects("rmsnorm: {shape: [7]}", "[64, 7, 8]", "does not match the end of the input")


def test_groupnorm_instancenorm_p7():
    assert one("groupnorm: {groups: 8}", "[64, 4, 4]").params == 128  # P7
    assert one("instancenorm2d", "[64, 4, 4]").params == 0  # P7: affine=False by default
    r = one("instancenorm2d: {affine: true, track_running_stats: true}", "[64, 4, 4]")
    assert (r.params, r.buffers) == (128, 128)
    rejects("groupnorm: {groups: 5}", "[64, 4, 4]", "groups 5 does not divide the channels 64")


def test_lrn_prelu_p8():
    assert one("lrn: {size: 5}", "[16, 4, 4]").params == 0  # P8
    assert one("prelu", "[16, 4, 4]").params == 1  # P8: PReLU() = 1
    assert one("prelu: {num: 64}", "[64, 4, 4]").params == 64  # P8: PReLU(64) = 64
    rejects("prelu: {num: 3}", "[64, 4, 4]", "must be 1 or the channel count 64")


@pytest.mark.parametrize("act", ["relu", "relu6", "leakyrelu", "elu", "gelu", "silu",
                                 "sigmoid", "tanh", "softmax", "hardswish", "hardsigmoid",
                                 "identity", "dropout"])
def test_activations_keep_shape_no_params(act):
    r = one(act, "[8, 5, 5]")
    assert (r.output_shape, r.params, r.macs) == ((8, 5, 5), 0, 0)
    assert [a.size for a in r.rf] == [1, 1]  # element-wise: the field does not grow


# ------------------------------------------------------------------ tensor operations
def test_flatten_s46_and_reshape():
    assert one("flatten", "[3, 4, 5]").output_shape == (60,)  # no batch axis: everything
    assert one("flatten: {start: 1}", "[3, 4, 5]").output_shape == (3, 20)
    assert one("reshape: {shape: [-1, 5]}", "[3, 4, 5]").output_shape == (12, 5)
    rejects("reshape: {shape: [7, -1]}", "[3, 4, 5]", "cannot reshape")


def test_zeropad_and_crop():
    r = one("zeropad: {padding: [[1, 2], [0, 3]]}", "[3, 10, 10]")
    assert r.output_shape == (3, 13, 13)
    assert [a.start for a in r.rf] == [-1, 0]
    r = one("crop: {size: [4, 6]}", "[3, 10, 10]")
    assert r.output_shape == (3, 4, 6)
    assert [a.start for a in r.rf] == [3, 2]  # offsets (10-4)//2 = 3, (10-6)//2 = 2
    rejects("crop: {size: 12}", "[3, 10, 10]", "cannot crop 10 to the larger size 12")


def test_upsample_s39_s40_s41():
    # S39: 100 · 0.29 = 28.999999999999996 in double precision → 28 (exact arithmetic: 29).
    assert one("upsample: {scale: 0.29}", "[1, 100]").output_shape == (1, 28)
    assert one("upsample: {scale: 1.5}", "[1, 5, 5]").output_shape == (1, 7, 7)  # S40
    assert one("upsample: {size: [6, 15]}", "[1, 3, 5]").output_shape == (1, 6, 15)
    rejects("upsample: {scale: 0.2}", "[1, 3]", "output size 0")  # S41


def test_pixelshuffle_s42_s43_s44():
    assert one("pixelshuffle: {factor: 3}", "[18, 4, 5]").output_shape == (2, 12, 15)  # S42
    rejects("pixelshuffle: {factor: 3}", "[10, 4, 5]", "not divisible by factor² = 9")  # S43
    assert one("pixelunshuffle: {factor: 2}", "[3, 8, 6]").output_shape == (12, 4, 3)  # S44


def test_channel_ops():
    assert one("channelshuffle: {groups: 2}", "[8, 4, 4]").output_shape == (8, 4, 4)
    assert one("slice: {start: 2, stop: 6}", "[8, 4, 4]").output_shape == (4, 4, 4)
    assert one("permute: {dims: [1, 2, 0]}", "[8, 4, 5]").output_shape == (4, 5, 8)
    assert one("layerscale", "[96, 4, 4]").params == 96


# ------------------------------------------------------------------ merges
def test_add_concat_mul_shapes():
    a = analyse_text("""
        input: [8, 6, 6]
        layers:
          - conv2d: {name: a, out: 8, kernel: 1}
          - conv2d: {name: b, out: 4, kernel: 1, from: input}
          - concat: {with: [a]}
          - add: {with: input, from: a, name: s}
          - adaptiveavgpool2d: {out: 1, name: gate}
          - mul: {with: s}
        """)
    assert a.record("concat_1").output_shape == (12, 6, 6)
    assert a.record("s").output_shape == (8, 6, 6)
    assert a.total.output_shape == (8, 6, 6)  # [8,1,1] broadcast over [8,6,6]




def test_concat_mismatch():
    with pytest.raises(SpecError) as e:
        analyse_text("""
            input: [3, 8, 8]
            layers:
              - conv2d: {name: a, out: 4, kernel: 3}
              - concat: {with: [input]}
            """)
    assert "[4, 6, 6] and [3, 8, 8]" in str(e.value)


def test_add_mismatch_shows_both_shapes():
    with pytest.raises(SpecError) as e:
        analyse_text("""
            input: [3, 8, 8]
            layers:
              - conv2d: {out: 3, kernel: 3}
              - add: {with: input}
            """)
    assert "[3, 6, 6] and [3, 8, 8]" in str(e.value)
    assert str(e.value).startswith("test.yaml:5:")


def test_unknown_is_its_declared_shape_and_stated_params_with_no_macs():
    # what import --allow-unknown writes for an op it cannot map: the traced shape, the
    # parameters its module owns (nn.GRU(6, 5): 3·5·(6 + 5) + 2·3·5 = 195), MACs not counted
    r = one("unknown: {shape: [24, 5], op: GRU, params: 195}", "[4, 6, 6]")
    assert (r.output_shape, r.params, r.macs, r.buffers) == ((24, 5), 195, 0, 0)
    assert one("unknown: {shape: [7]}", "[3, 8, 8]").params == 0  # nothing stated
    rejects("unknown: {shape: [4, 0]}", "[3, 8, 8]", "must be positive sizes")
