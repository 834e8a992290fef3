"""torchvision's mobile and modern CNNs in specs/: archcalc's closed forms against the figures
torchvision publishes with each builder's weights (tests/published.py: ``num_params`` exactly,
``_ops`` GFLOPS to its three decimals), against hand-written PyTorch models of the same
builders (tests/torch_mobile_models.py: parameters and MACs exactly), and MobileNetV2 against
Keras's table under ``--convention keras``."""

from __future__ import annotations

import json

import pytest

from archcalc.analysis import AxisRF
from archcalc.conventions import KERAS
from conftest import SPECS
from helpers import analyse_file
from published import KERAS_MOBILE, TORCHVISION_MOBILE


@pytest.fixture(scope="module")
def analyses():
    return {name: analyse_file(SPECS / f"{name}.yaml") for name in TORCHVISION_MOBILE}


@pytest.mark.parametrize("name", sorted(TORCHVISION_MOBILE))
def test_parameters_match_torchvision(name, analyses):
    published = TORCHVISION_MOBILE[name]  # source: published[name]["source"]
    assert analyses[name].total.params == published["num_params"], published["source"]


@pytest.mark.parametrize("name", sorted(TORCHVISION_MOBILE))
def test_gflops_match_torchvision(name, analyses):
    # torchvision's "_ops" is GFLOPS in the sense of multiply-accumulates (conv + linear, bias
    # excluded), rounded to three decimals: archcalc's MACs / 1e9, rounded the same way.
    published = TORCHVISION_MOBILE[name]
    assert round(analyses[name].total.macs / 1e9, 3) == published["gflops"], published["source"]


@pytest.mark.parametrize("name", sorted(TORCHVISION_MOBILE))
def test_matches_hand_written_torch_model(name, analyses):
    pytest.importorskip("torch")
    import torch_mobile_models as ref

    a = analyses[name]
    params, shape, macs = ref.measure(ref.MODELS[name], a.graph.input_shape)
    assert (a.total.params, a.total.output_shape, a.total.macs) == (params, shape, macs)


@pytest.mark.parametrize("name", sorted(TORCHVISION_MOBILE))
def test_classifier_input_and_output(name, analyses):
    a = analyses[name]
    assert a.graph.input_shape == (3, 224, 224)  # every weights meta here evaluates at 224
    assert a.total.output_shape == (1000,)


def test_mobilenet_v2_keras_convention(analyses):
    # Keras's applications table: MobileNetV2 3,538,984 parameters, which counts the
    # BatchNormalization moving mean and variance; torchvision's 3,504,872 does not.
    total = analyses["mobilenet_v2"].total
    assert total.params == 3_504_872
    # 52 BatchNorms (stem, 17 blocks with 2 or 3 each, head) over 17,056 channels in all:
    # 2 · 17,056 = 34,112 running statistics
    assert total.buffers == 34_112
    assert KERAS.params(total.params, total.buffers) == KERAS_MOBILE["mobilenet_v2"]["params"]


def test_mobilenet_v2_keras_convention_cli(cli):
    code, out, _ = cli("params", SPECS / "mobilenet_v2.yaml", "--convention", "keras",
                       "--format", "json")
    assert code == 0
    total = json.loads(out)["total"]
    assert total["params"] == 3_538_984  # Keras's table (tests/published.py)
    assert total["trainable_params"] == 3_504_872
    assert total["non_trainable"] == 34_112


def test_mobilenet_v2_batchnorm_channels(analyses):
    # The 34,112 above, derived layer by layer: stem 32; block 1 (t = 1): 32 + 16;
    # each t = 6 block with input c_in and output c: 6·c_in + 6·c_in + c.
    blocks = [(16, 24), (24, 24), (24, 32), (32, 32), (32, 32), (32, 64), (64, 64), (64, 64),
              (64, 64), (64, 96), (96, 96), (96, 96), (96, 160), (160, 160), (160, 160),
              (160, 320)]
    channels = 32 + (32 + 16) + sum(12 * cin + c for cin, c in blocks) + 1280
    assert channels == 17_056
    assert analyses["mobilenet_v2"].total.buffers == 2 * channels


def test_mobilenet_v2_receptive_field(analyses):
    # Stride-2 3x3 layers: the stem and the first depthwise conv of stages 2, 3, 4 and 6;
    # every other 3x3 is stride 1. Jumps 1, 2, 4, 8, 16, 32; each 3x3 adds 2·jump:
    # stem 3; stage1 +2·2 = 7; stage2 +2·2 +2·4 = 19; stage3 +2·4 +2·2·8 = 59;
    # stage4 +2·8 +3·2·16 = 171; stage5 +3·2·16 = 267; stage6 +2·16 +2·2·32 = 427;
    # stage7 +2·32 = 491. The 1x1 head adds nothing.
    rf = analyses["mobilenet_v2"].record("head").rf
    assert rf == (AxisRF(491, 32, -245), AxisRF(491, 32, -245))


@pytest.mark.parametrize("name, where", [
    ("mobilenet_v3_large", "b4"), ("mobilenet_v3_small", "b1"),
    ("efficientnet_b0", "stage1"), ("regnet_y_400mf", "block1"),
])
def test_after_squeeze_excitation_every_unit_sees_the_whole_input(name, where, analyses):
    a = analyses[name]
    for axis in a.record(where).rf:
        assert axis.jump == 0  # the same field for every unit
        assert axis.start <= 0 and axis.start + axis.size >= 224  # covering all 224 pixels


def test_mobilenet_v2_width_multiplier():
    """torchvision's MobileNetV2(width_mult=0.5) (torchvision/models/mobilenetv2.py): each
    width is _make_divisible(c · 0.5, 8), the last _make_divisible(1280 · max(1.0, 0.5), 8).
    By hand: 32 → 16; 16 → 8; 24 → 12 → 16 (≥ 0.9·12); 32 → 16; 64 → 32; 96 → 48;
    160 → 80; 320 → 160; 1280 stays 1280."""
    a = analyse_file(SPECS / "mobilenet_v2.yaml", w=0.5)
    widths = {name: a.record(name).output_shape[0] for name in (
        "stem", "stage1", "stage2.0", "stage3.0", "stage4.0", "stage5.0", "stage6.0",
        "stage7", "head")}
    assert widths == {"stem": 16, "stage1": 8, "stage2.0": 16, "stage3.0": 16,
                      "stage4.0": 32, "stage5.0": 48, "stage6.0": 80, "stage7": 160,
                      "head": 1280}
    # the expansion of stage2.0 is round(8 · 6) = 48 channels
    assert a.record("stage2.0.conv_bn_relu6_1").output_shape[0] == 48
