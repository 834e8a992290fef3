"""The classic and paper networks in specs/: archcalc's exact counts against hand-written
PyTorch models (tests/torch_reference_models.py), and against the figures their papers
publish, at the precision the papers give them."""

from __future__ import annotations

import json

import pytest

from archcalc.errors import SpecError
from conftest import SPECS
from helpers import analyse_file, analyse_text, sym

# (spec file, symbol overrides) -> (reference model in torch_reference_models, its arguments)
TORCH_REFERENCES = {
    ("lenet5.yaml", ()): ("LeNet5", {}),
    ("alexnet-paper.yaml", ()): ("AlexNetPaper", {}),
    ("resnet110-cifar.yaml", ()): ("ResNetCifar", {"n": 18}),
    ("preact-resnet164-cifar.yaml", ()): ("PreActResNetCifar", {"n": 18}),
    ("densenet-bc-100-12-cifar.yaml", ()): ("DenseNetBCCifar", {"n": 16, "k": 12}),
    ("mobilenet_v1.yaml", ()): ("MobileNetV1", {}),
    ("googlenet-paper.yaml", ()): ("GoogLeNetPaper", {}),
    ("googlenet-paper.yaml", (("aux", 1),)): ("GoogLeNetPaper", {"aux": True}),
    ("unet.yaml", ()): ("UNet", {}),
    ("nin.yaml", ()): ("NiNImageNet", {}),
    ("xception.yaml", ()): ("XceptionKeras", {}),
}


@pytest.fixture(scope="module")
def analyses():
    return {spec: analyse_file(SPECS / spec) for spec, overrides in TORCH_REFERENCES
            if not overrides}


@pytest.mark.parametrize("spec, overrides", sorted(TORCH_REFERENCES),
                         ids=lambda v: str(v) if isinstance(v, str) else
                         ",".join(f"{k}={x}" for k, x in v) or "default")
def test_matches_hand_written_torch_model(spec, overrides):
    pytest.importorskip("torch")
    import torch_reference_models as ref

    a = analyse_file(SPECS / spec, **dict(overrides))
    cls_name, kwargs = TORCH_REFERENCES[spec, overrides]
    params, running, shape, macs = ref.measure(lambda: getattr(ref, cls_name)(**kwargs),
                                               a.graph.input_shape)
    assert a.total.params == params
    assert a.total.buffers == running
    assert a.total.output_shape == shape
    assert a.total.macs == macs


def _rf(a, name):
    return [axis.size for axis in a.record(name).rf]


# ----------------------------------------------------------------------------- LeNet-5
def test_lenet5_published_layer_counts(analyses):
    # LeCun et al. 1998, Section II.B: trainable parameters C1 156, S2 12, C3 1,516, S4 32,
    # C5 48,120, F6 10,164, "about 60,000" in all (the RBF output's 840 centres are fixed).
    a = analyses["lenet5.yaml"]
    published = {"c1": 156, "s2": 12, "c3": 1516, "s4": 32, "c5": 48120, "f6": 10164}
    for name, count in published.items():
        assert a.record(name).params == count, name
    assert sum(published.values()) == 60_000
    assert a.total.params == 60_000 + 84 * 10
    # Connections = multiply-accumulates + one bias per output unit:
    # C1 (25 + 1)·6·28·28 = 122,304; C3 1,516·10·10 = 151,600 (both published).
    for name, connections in {"c1": 122_304, "c3": 151_600}.items():
        r = a.record(name)
        assert r.macs + r.output_shape[0] * r.output_shape[1] * r.output_shape[2] == connections
    assert a.record("c5").output_shape == (120, 1, 1)
    assert _rf(a, "c5") == [32, 32]  # each C5 unit sees the whole 32 x 32 input


# LeCun et al. 1998, Table I: the S2 maps each C3 map takes as input.
LENET_TABLE_I = (
    {0, 1, 2}, {1, 2, 3}, {2, 3, 4}, {3, 4, 5}, {0, 4, 5}, {0, 1, 5},
    {0, 1, 2, 3}, {1, 2, 3, 4}, {2, 3, 4, 5}, {0, 3, 4, 5}, {0, 1, 4, 5}, {0, 1, 2, 5},
    {0, 1, 3, 4}, {1, 2, 4, 5}, {0, 2, 3, 5}, {0, 1, 2, 3, 4, 5},
)


def test_lenet5_c3_follows_table_i(analyses):
    # Each C3 map slices channels of the S2 maps repeated twice (12 channels): channel i of
    # that tensor is S2 map i mod 6. The maps a spec's slices select must be Table I's.
    a = analyses["lenet5.yaml"]
    seen = {}
    for node in a.graph.nodes:
        if node.type == "slice":
            m = int(node.name.split(".")[1].removeprefix("map"))
            seen.setdefault(m, []).extend(
                i % 6 for i in range(node.args["start"], node.args["stop"]))
    assert sorted(seen) == list(range(16))
    for m, inputs in seen.items():
        assert len(inputs) == len(set(inputs)) and set(inputs) == LENET_TABLE_I[m], m


# ----------------------------------------------------------------------------- AlexNet
def test_alexnet_paper_single_tower(analyses):
    a = analyses["alexnet-paper.yaml"]
    # Fig. 2's map sizes: 55, 27, 13, 13, 13; 256 x 6 x 6 into fc6.
    assert a.record("conv1").output_shape == (96, 55, 55)
    assert a.record("conv2").output_shape == (256, 27, 27)
    assert a.record("conv5").output_shape == (256, 13, 13)
    assert a.record("pool5").output_shape == (256, 6, 6)
    # (11²·3 + 1)·96 + (5²·96 + 1)·256 + (9·256 + 1)·384 + (9·384 + 1)·384 + (9·384 + 1)·256
    # + (9216 + 1)·4096 + (4096 + 1)·4096 + (4096 + 1)·1000 = 62,378,344
    assert a.total.params == 62_378_344
    # Section 1: "60 million parameters", to the nearest ten million.
    assert round(a.total.params, -7) == 60_000_000
    assert _rf(a, "pool5") == [195, 195]  # 11 → 19 → 51 → 67 → 99 → 131 → 163 → 195


# ----------------------------------------------------------------------------- ResNet CIFAR
def test_padchannels_rule():
    a = analyse_text("""
        input: [16, 8, 8]
        layers:
          - padchannels: {name: p, before: 3, after: 5}
    """)
    assert a.total.output_shape == (3 + 16 + 5, 8, 8)  # F.pad(x, (0, 0, 0, 0, 3, 5))
    assert a.total.params == 0 and a.total.macs == 0
    assert _rf(a, "p") == [1, 1]
    # Symbolic widths: C → C + 8 (the option-A shortcut of a block doubling C = 16 to 32).
    a = analyse_text("""
        symbols: {C: null}
        input: [C, 8, 8]
        layers: [padchannels: {before: 4, after: 4}]
    """)
    assert a.total.output_shape == (sym("C") + 8, 8, 8)
    with pytest.raises(SpecError, match="before"):
        analyse_text("""
            input: [16, 8, 8]
            layers: [padchannels: {before: -1}]
        """)


def test_padchannels_matches_torch_pad():
    torch = pytest.importorskip("torch")
    y = torch.nn.functional.pad(torch.ones(1, 16, 8, 8), (0, 0, 0, 0, 3, 5))
    a = analyse_text("""
        input: [16, 8, 8]
        layers: [padchannels: {before: 3, after: 5}]
    """)
    assert a.total.output_shape == tuple(y.shape[1:])
    assert y[0, :3].abs().sum() == 0 and y[0, 19:].abs().sum() == 0


@pytest.mark.parametrize("n, published", [(3, 0.27), (5, 0.46), (7, 0.66), (9, 0.85)])
def test_resnet_cifar_table6_small(n, published):
    # He et al. 2015, Table 6: ResNet-20/32/44/56 (6n + 2 layers) 0.27M/0.46M/0.66M/0.85M.
    a = analyse_file(SPECS / "resnet110-cifar.yaml", n=n)
    assert round(a.total.params / 1e6, 2) == published


def test_resnet110_cifar_published(analyses):
    a = analyses["resnet110-cifar.yaml"]
    # He et al. 2015, Table 6: ResNet-110 1.7M parameters.
    assert round(a.total.params / 1e6, 1) == 1.7
    assert a.total.params == 1_727_962  # = sum(p.numel()) of ResNetCifar(18), checked above
    # Option A adds no parameters: the 2 subsampling blocks cost exactly what their convs do.
    # (3·3·16·32 + 3·3·32·32) + 2·(2·32) = 13,952
    assert a.record("stage2.0").params == 13_952
    assert _rf(a, "stage3") == [501, 501]
    # ResNet-1202 (n = 200): 19.4M in Table 6.
    assert round(analyse_file(SPECS / "resnet110-cifar.yaml", n=200).total.params / 1e6, 1) == 19.4


def _bn_params(a):
    return sum(r.params for r in a.layers if r.type.startswith("batchnorm"))


def test_preact_resnet_published(analyses):
    # He et al. 2016 (Identity Mappings), Table 4: ResNet-164 1.7M, ResNet-1001 10.2M.
    a = analyses["preact-resnet164-cifar.yaml"]
    assert round(a.total.params / 1e6, 1) == 1.7
    assert _rf(a, "final_relu") == [255, 255]  # 3 + 36 + 72 + 144 over the three stages
    deep = analyse_file(SPECS / "preact-resnet164-cifar.yaml", n=111)
    assert deep.total.params == 10_327_706
    # The table's 10.2M leaves out BatchNorm's γ, β: per stage of width c after input width
    # c_in, 2·((c/4 + c/4)·111 + c·110 + c_in); stages (64, 16), (128, 64), (256, 128), and
    # 2·256 at the end: 2·(10,608 + 21,248 + 42,496) + 512 = 149,216.
    assert _bn_params(deep) == 149_216
    assert round((deep.total.params - _bn_params(deep)) / 1e6, 1) == 10.2


# ----------------------------------------------------------------------------- DenseNet-BC
def test_densenet_bc_published(analyses):
    # Huang et al. 2017, Table 2: DenseNet-BC (L = 100, k = 12) 0.8M parameters.
    a = analyses["densenet-bc-100-12-cifar.yaml"]
    assert round(a.total.params / 1e6, 1) == 0.8
    # Widths: 2k = 24 + 16·12 = 216 → 108 + 192 = 300 → 150 + 192 = 342.
    assert a.record("block1").output_shape == (216, 32, 32)
    assert a.record("transition1").output_shape == (108, 16, 16)
    assert a.record("transition2").output_shape == (150, 8, 8)
    assert a.record("final_relu").output_shape == (342, 8, 8)
    assert _rf(a, "final_relu") == [230, 230]  # 3 + 32 + 1 + 64 + 2 + 128


@pytest.mark.parametrize("n, k, published", [(41, 24, 15.3), (31, 40, 25.6)])
def test_densenet_bc_larger_table2(n, k, published):
    # Table 2: DenseNet-BC (L = 250, k = 24) 15.3M; (L = 190, k = 40) 25.6M; L = 6n + 4.
    a = analyse_file(SPECS / "densenet-bc-100-12-cifar.yaml", n=n, k=k)
    assert round(a.total.params / 1e6, 1) == published


# ----------------------------------------------------------------------------- MobileNet v1
def test_mobilenet_v1_table8(analyses):
    # Howard et al. 2017, Table 8: 1.0 MobileNet-224, 569 million mult-adds, 4.2 million
    # parameters.
    a = analyses["mobilenet_v1.yaml"]
    assert round(a.total.macs / 1e6) == 569
    assert round(a.total.params / 1e6, 1) == 4.2
    assert _rf(a, "sep13") == [315, 315]


@pytest.mark.parametrize("resolution, published", [(192, 418), (128, 186)])
def test_mobilenet_v1_table7_resolution(resolution, published):
    # Table 7: 1.0 MobileNet-192 418M, -128 186M mult-adds; 4.2M parameters at every size.
    a = analyse_file(SPECS / "mobilenet_v1.yaml", R=resolution)
    assert round(a.total.macs / 1e6) == published
    assert round(a.total.params / 1e6, 1) == 4.2


def test_mobilenet_v1_table7_160_is_truncated():
    # Table 7 gives 290M for 1.0 MobileNet-160. Every map is 160/224 of its size at 224, so
    # conv MACs scale by (5/7)²: (568,740,352 − 1,024,000)·25/49 + 1,024,000 = 290,675,200,
    # 290.68M: the table truncates this entry (it rounds 568.74M up to 569M).
    a = analyse_file(SPECS / "mobilenet_v1.yaml", R=160)
    assert a.total.macs == (568_740_352 - 1_024_000) * 25 // 49 + 1_024_000 == 290_675_200


def test_mobilenet_v1_table2_shares(analyses):
    # Table 2, resource per layer type (% of mult-adds, % of parameters):
    # Conv 1x1 94.86 / 74.59, Conv DW 3x3 3.06 / 1.06, Conv 3x3 1.19 / 0.02, FC 0.18 / 24.33.
    # The parameter shares are of the weights alone (no biases, no BatchNorm γ, β).
    a = analyses["mobilenet_v1.yaml"]
    macs, weights = {}, {}
    for node, r in zip(a.graph.nodes[1:], a.layers[1:]):
        if r.type == "conv2d":
            kind = ("1x1" if node.args["kernel"] == 1 else
                    "dw" if node.args["groups"] != 1 else "3x3")
            w = r.params
        elif r.type == "linear":
            kind, w = "fc", r.params - r.output_shape[0]
        else:
            continue
        macs[kind] = macs.get(kind, 0) + r.macs
        weights[kind] = weights.get(kind, 0) + w
    share = {k: (round(100 * macs[k] / sum(macs.values()), 2),
                 round(100 * weights[k] / sum(weights.values()), 2)) for k in macs}
    assert share["1x1"] == (94.86, 74.59)
    assert share["dw"] == (3.06, 1.06)
    assert share["fc"] == (0.18, 24.33)
    # Conv 3x3: 10,838,016 of 568,740,352 = 1.91% of mult-adds, printed "1.19" (digits
    # transposed: the shares must sum to 100, and 100 − 94.86 − 3.06 − 0.18 = 1.90).
    assert share["3x3"] == (1.91, 0.02)


# ----------------------------------------------------------------------------- GoogLeNet
# Table 1 of Szegedy et al. 2014: "ops" (millions of multiply-adds) per row.
GOOGLENET_OPS = {"conv2": 360, "inception3a": 128, "inception3b": 304, "inception4a": 73,
                 "inception4b": 88, "inception4c": 100, "inception4d": 119,
                 "inception4e": 170, "inception5b": 71, "fc": 1}


def _weights(a, name):
    """Parameters of a record without the biases (Table 1 counts weights only)."""
    r = a.record(name)
    members = [x for x in a.layers if x.name == name or x.name.startswith(name + ".")]
    return r.params - sum(x.output_shape[0] for x in members if x.type in ("conv2d", "linear"))


def test_googlenet_table1(analyses):
    a = analyses["googlenet-paper.yaml"]
    for name, published in GOOGLENET_OPS.items():
        macs = a.record(name).macs + (a.record("conv2_reduce").macs if name == "conv2" else 0)
        # the table rounds most rows and truncates some (4a: 73.61M is "73M")
        assert published in (round(macs / 1e6), int(macs / 1e6)), name
    # The rows whose params match: conv stage 112K, 3a 159K, linear 1000K (K = 1024).
    # conv stage 64·64 + 64·192·9 = 114,688 = 112·1024; 3a 163,328 = 159.5 K; fc 1,024,000.
    assert _weights(a, "conv2_reduce") + _weights(a, "conv2") == 112 * 1024
    assert int(_weights(a, "inception3a") / 1024) == 159
    assert _weights(a, "fc") / 1024 == 1000
    # Two rows disagree with the table's own widths (see the spec's header): the first
    # convolution 7·7·3·64 = 9,408 weights, 118,013,952 MACs (table: 2.7K, 34M) and 5a
    # 1,042,432 weights · 49 positions = 51,079,168 MACs (table: 54M).
    assert (_weights(a, "conv1"), a.record("conv1").macs) == (9_408, 118_013_952)
    assert a.record("inception5a").macs == 51_079_168
    # Output sizes of Table 1 (ceil-mode pools): 56, 28, 14, 7.
    assert a.record("pool1").output_shape == (64, 56, 56)
    assert a.record("inception3b").output_shape == (480, 28, 28)
    assert a.record("inception4e").output_shape == (832, 14, 14)
    assert a.record("inception5b").output_shape == (1024, 7, 7)
    assert _rf(a, "inception5b") == [715, 715]


def test_googlenet_auxiliary_classifiers():
    # Section 5: two auxiliary heads (conv 1x1 128, fc 1024, fc 1000) on 4a (512 maps) and
    # 4d (528): (512·128 + 128) + (2048·1024 + 1024) + (1024·1000 + 1000) = 3,188,840 and
    # (528·128 + 128) + 2,098,176 + 1,025,000 = 3,190,888.
    with_aux = analyse_file(SPECS / "googlenet-paper.yaml", aux=1)
    assert with_aux.record("aux1").params == 3_188_840
    assert with_aux.record("aux2").params == 3_190_888
    assert with_aux.total.params == 6_998_552 + 3_188_840 + 3_190_888


# ----------------------------------------------------------------------------- U-Net
def test_unet_fig1(analyses):
    a = analyses["unet.yaml"]
    # Fig. 1: 572 x 572 input tile, 388 x 388 output with 2 classes; the bottom is 28 x 28.
    assert a.total.output_shape == (2, 388, 388)
    assert a.record("enc5").output_shape == (1024, 28, 28)
    for name, size in {"dec4.copy": 56, "dec3.copy": 104, "dec2.copy": 200,
                       "dec1.copy": 392}.items():
        assert a.record(name).output_shape[1:] == (size, size), name
    # "In total the network has 23 convolutional layers."
    assert sum(r.type in ("conv2d", "convtranspose2d") for r in a.layers) == 23
    # The commonly quoted ~31M (the paper gives no count): 31,030,658 with biases.
    assert round(a.total.params / 1e6) == 31
    assert _rf(a, "enc5") == [140, 140]  # 5 → 6 → 14 → 16 → 32 → 36 → 68 → 76 → 140


# ----------------------------------------------------------------------------- NiN
def test_nin_imagenet(analyses):
    # The released ImageNet model (crop 224): maps 54 → 27 → 13 → 6 with Caffe's ceil-mode
    # pools, 1000 class maps averaged over 6 x 6.
    a = analyses["nin.yaml"]
    assert a.record("block1").output_shape == (96, 54, 54)
    assert a.record("pool1").output_shape == (96, 27, 27)  # floor mode would give 26
    assert a.record("pool3").output_shape == (384, 6, 6)
    assert a.total.output_shape == (1000,)
    # No fully connected layer: (11²·3 + 1)·96 + 2·(96 + 1)·96 + (25·96 + 1)·256
    # + 2·(256 + 1)·256 + (9·256 + 1)·384 + 2·(384 + 1)·384 + (9·384 + 1)·1024
    # + (1024 + 1)·1024 + (1024 + 1)·1000 = 7,595,176
    assert a.total.params == 7_595_176
    assert _rf(a, "block4") == [195, 195]


# ----------------------------------------------------------------------------- Xception
def test_xception_keras_table(analyses, cli):
    # Keras applications table: Xception 22,910,480 parameters; model.summary(): trainable
    # 22,855,952, non-trainable 54,528 (BatchNorm moving mean and variance).
    a = analyses["xception.yaml"]
    assert (a.total.params, a.total.buffers) == (22_855_952, 54_528)
    code, out, _ = cli("params", SPECS / "xception.yaml", "--convention", "keras",
                       "--format", "json")
    assert code == 0
    total = json.loads(out)["total"]
    assert (total["params"], total["trainable_params"], total["non_trainable"]) == \
        (22_910_480, 22_855_952, 54_528)
    # 'same' sizes: 299 → 149 → 147 (unpadded stem) → 74 → 37 → 19 → 10.
    assert [a.record(n).output_shape[1] for n in ("block2", "block3", "block4", "block13")] \
        == [74, 37, 19, 10]
    assert _rf(a, "block14_act") == [1083, 1083]
