"""Every file in examples/ loads and gives the numbers in its comments.

``ARCHCALC_EXAMPLES=DIR`` runs the same checks on another copy of the examples."""

from __future__ import annotations

from pathlib import Path

import pytest
import sympy as sp

from conftest import EXAMPLES, ROOT
from helpers import analyse_file, sym


def example(name: str) -> Path:
    """The example ``name`` in the copy under test; an outside copy may predate an example."""
    path = EXAMPLES / name
    if not path.exists() and EXAMPLES != (ROOT / "examples").resolve():
        pytest.skip(f"{EXAMPLES} has no {name}")
    return path


def test_vgg16_published_counts():
    # Comment: "Published: 138,357,544 parameters; 15.47 G multiply-accumulates at 224x224"
    # (Simonyan & Zisserman 2014, configuration D; torchvision vgg16 num_params).
    a = analyse_file(example("vgg16.yaml"))
    assert a.total.params == 138_357_544
    assert round(a.total.macs / 1e9, 2) == 15.47
    assert a.total.macs == 15_470_264_320  # torchvision's _ops 15.47 GFLOPS, exact sum of layers
    assert a.total.output_shape == (1000,)
    # RF at the last pool: 212 (Araujo, Norris & Sim, Distill 2019, Table of RFs).
    assert [x.size for x in a.record("stage5").rf] == [212, 212]


def test_dilated_closed_form():
    # Comment: output 1 x (M - D*F + D) x (N - D*F + D); receptive field D*(F-1) + 1.
    M, N, F, D = sym("M", "N", "F", "D")
    a = analyse_file(example("dilated.yaml"))
    c, h, w = a.record("dilated").output_shape
    assert c == 1
    assert sp.simplify(h - (M - D * F + D)) == 0
    assert sp.simplify(w - (N - D * F + D)) == 0
    for axis in a.record("dilated").rf:
        assert sp.simplify(axis.size - (D * (F - 1) + 1)) == 0
    # params: one F x F kernel + bias = F**2 + 1 (§2: Cout·Cin·∏k + Cout).
    assert sp.simplify(a.total.params - (F**2 + 1)) == 0


def test_dense_block_growth():
    # Comment: after the block k0 + 6*k channels; the third layer receives k0 + 2*k.
    k0, k = sym("k0", "k")
    a = analyse_file(example("dense-block.yaml"))
    assert sp.simplify(a.total.output_shape[0] - (k0 + 6 * k)) == 0
    third = a.record("block1.dense_layer_3")
    first_bn = next(r for r in a.layers if r.name.startswith("block1.dense_layer_3.")
                    and r.type == "batchnorm2d")
    # The third dense layer's first BN sees its input: k0 + 2*k channels (2C params).
    assert sp.simplify(first_bn.params - 2 * (k0 + 2 * k)) == 0
    assert sp.simplify(third.output_shape[0] - (k0 + 3 * k)) == 0
    assert a.total.output_shape[1:] == (56, 56)


def test_inception_3a():
    # Comment: GoogLeNet inception (3a) on 28x28x192 gives 256 x 28 x 28 (64+128+32+32).
    a = analyse_file(example("inception.yaml"))
    assert a.total.output_shape == (256, 28, 28)
    # Weights 192·64 + 192·96 + 96·9·128 + 192·16 + 16·25·32 + 192·32
    #       = 12,288 + 18,432 + 110,592 + 3,072 + 12,800 + 6,144 = 163,328; biases 368.
    assert a.total.params == 163_328 + (64 + 96 + 128 + 16 + 32 + 32)


def test_resnet_stage():
    # layer1 + layer2 of torchvision resnet18: layer1 = 2·(2·64·64·9 + 2·128) = 147,968;
    # layer2 = 128·64·9 + 128·128·9 + 64·128 + 3·256 (BN) + 128·128·9·2 + 2·256 = 525,568.
    a = analyse_file(example("resnet-stage.yaml"))
    assert a.record("layer1").params == 147_968
    assert a.record("layer2.0").params + a.record("layer2.1").params == 525_568
    assert a.total.output_shape == (128, 28, 28)
    # BatchNorm running mean and variance: 2·C per BN; 4 BN of 64, 5 BN of 128.
    assert a.total.buffers == 4 * 128 + 5 * 256


def test_unet_skip_level():
    # 572 -3x3-> 570 -3x3-> 568 (enc1) -pool-> 284 -> 282 -> 280 -up x2-> 560;
    # enc1 cropped 568 -> 560, concat 64+64 = 128 channels, 3x3 -> 558, 1x1 head -> 2 classes.
    a = analyse_file(example("unet-skip.yaml"))
    assert a.record("enc1").output_shape == (64, 568, 568)
    assert a.record("up1").output_shape == (64, 560, 560)
    assert a.record("enc1_crop").output_shape == (64, 560, 560)
    assert a.total.output_shape == (2, 558, 558)


def test_every_example_is_covered():
    covered = {"vgg16", "dilated", "dense-block", "inception", "resnet-stage", "unet-skip",
               "vit-block"}
    assert {p.stem for p in EXAMPLES.glob("*.yaml")} <= covered


def test_vit_block_attention():
    # Comment: attention params 4*E^2 + 4*E and MACs 4*L*E^2 + 2*L^2*E with E = 64, L = 16;
    # totals 20,554 parameters and 354,304 multiply-accumulates.
    e, length, features = 64, 16, 48
    a = analyse_file(example("vit-block.yaml"))
    attention = a.record("attention")
    assert attention.params == 4 * e**2 + 4 * e == 16_640
    assert attention.macs == 4 * length * e**2 + 2 * length**2 * e == 294_912
    # embed (48 + 1)·64, layer norm 2·64, attention, head (64 + 1)·10
    assert a.total.params == (features + 1) * e + 2 * e + 16_640 + (e + 1) * 10 == 20_554
    # embed L·48·64, attention, head L·64·10
    assert a.total.macs == length * features * e + 294_912 + length * e * 10 == 354_304
    assert a.total.output_shape == (length, 10)
