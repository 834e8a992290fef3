"""The torchvision classic CNN and vision transformer specs reproduce torchvision's
published figures exactly.

Each spec in specs/ named after its torchvision builder must give the builder's weights-meta
``num_params`` exactly and its ``_ops`` GFLOPS (multiply-accumulates of conv + linear layers,
and of attention's two matrix products in the vision transformers, bias excluded) to the
published three decimals. The figures and their sources are in ``published.TORCHVISION`` and
``published.TORCHVISION_VIT``. Analysis only: no torch.
"""

from __future__ import annotations

import pytest

from conftest import SPECS
from helpers import analyse_file
from published import TORCHVISION, TORCHVISION_VIT

MODELS = {**TORCHVISION, **TORCHVISION_VIT}

# inception_v3's published num_params counts the AuxLogits head, which its _ops does not:
# the spec switches the head with the symbol ``aux`` (see the spec's header).
PARAMS_OVERRIDES = {"inception_v3": {"aux": 1}}


@pytest.mark.parametrize("model", sorted(MODELS))
def test_published_num_params_and_gflops(model):
    figures = MODELS[model]
    spec = SPECS / f"{model}.yaml"
    counted = analyse_file(spec, **PARAMS_OVERRIDES.get(model, {}))
    assert counted.total.params == figures["num_params"], figures["source"]
    assert round(analyse_file(spec).total.macs / 1e9, 3) == figures["gflops"], figures["source"]
    assert counted.total.output_shape == (1000,)


@pytest.mark.parametrize("model", sorted(MODELS))
def test_header_cites_the_published_figures(model):
    figures = MODELS[model]
    text = (SPECS / f"{model}.yaml").read_text()
    comment = text[: text.index("\nname:")]
    header = " ".join(line.lstrip("#").strip() for line in comment.splitlines())
    weights = figures["source"].split(", ")[1]
    assert f"torchvision.models.{model} " in header
    assert weights.replace(".IMAGENET1K_V1", "") in header
    assert f"num_params {figures['num_params']:,};" in header
    assert f"_ops {figures['gflops']} GFLOPS" in header


# The feature map whose receptive field each header records.
LAST_FEATURE_MAP = {"alexnet": "pool5", "googlenet": "inception5b", "inception_v3": "Mixed_7c",
                    "squeezenet1_0": "fire9", "squeezenet1_1": "fire9",
                    # the patch embedding: the tokens after it have no receptive field
                    "vit_b_16": "conv_proj", "vit_b_32": "conv_proj", "vit_l_16": "conv_proj"}


def _last_feature_map(model: str) -> str:
    if model in LAST_FEATURE_MAP:
        return LAST_FEATURE_MAP[model]
    return "stage5" if model.startswith("vgg") else "norm5" if model.startswith("densenet") \
        else "layer4"


@pytest.mark.parametrize("model", sorted(MODELS))
def test_header_records_what_archcalc_computes(model):
    # The header's "archcalc:" line and receptive field are archcalc's own results; they must
    # stay true when the spec or a layer rule changes.
    text = (SPECS / f"{model}.yaml").read_text()
    header = " ".join(line.lstrip("#").strip()
                      for line in text[: text.index("\nname:")].splitlines())
    a = analyse_file(SPECS / f"{model}.yaml")
    assert f"archcalc: {a.total.params:,} params; {a.total.macs:,} MACs" in header
    last = _last_feature_map(model)
    rf = a.record(last).rf
    assert rf[0] == rf[1]
    assert (f"feature map ({last}" in header
            and f"{rf[0].size}x{rf[0].size} input pixels (jump {rf[0].jump}, start {rf[0].start};"
            in header)


def test_inception_v3_aux_head_explains_both_published_figures():
    # AuxLogits: conv 768·128 + BN 2·128, conv 128·768·5·5 + BN 2·768, fc 768·1000 + 1000
    #          = 98,304 + 256 + 2,457,600 + 1,536 + 768,000 + 1,000 = 3,326,696.
    without = analyse_file(SPECS / "inception_v3.yaml")
    with_aux = analyse_file(SPECS / "inception_v3.yaml", aux=1)
    assert with_aux.record("AuxLogits").params == 3_326_696
    assert without.record("AuxLogits") is None
    assert without.total.params == 27_161_264 - 3_326_696 == 23_834_568
    # _ops 5.713 (torchvision Inception_V3_Weights.IMAGENET1K_V1) is the network without it.
    assert round(without.total.macs / 1e9, 3) == 5.713
    assert round(with_aux.total.macs / 1e9, 3) != 5.713
    assert without.record("Mixed_7c").output_shape == (2048, 8, 8)  # torchvision's comment


def test_googlenet_aux_heads_are_excluded_by_default():
    # aux1 on inception4a (512 channels): conv 512·128 + BN 2·128 + fc 2048·1024 + 1024
    #   + fc 1024·1000 + 1000 = 65,536 + 256 + 2,098,176 + 1,025,000 = 3,188,968;
    # aux2 on inception4d (528 channels): 67,584 + 256 + 2,098,176 + 1,025,000 = 3,191,016.
    plain = analyse_file(SPECS / "googlenet.yaml")
    with_aux = analyse_file(SPECS / "googlenet.yaml", aux=1)
    assert with_aux.record("aux1").params == 3_188_968
    assert with_aux.record("aux2").params == 3_191_016
    assert with_aux.total.params == plain.total.params + 3_188_968 + 3_191_016 == 13_004_888
    # torchvision's comments: 1024 x 7 x 7 after inception5b.
    assert plain.record("inception5b").output_shape == (1024, 7, 7)


def test_resnet_v1_5_stride_placement_costs_what_the_header_says():
    # v1.5 runs the first 1x1 of layer2-4's first block at the stage's input size, not its
    # output size: (56² - 28²)·256·128 = (28² - 14²)·512·256 = (14² - 7²)·1024·512
    # = 77,070,336 more MACs in each of the three stages, with the same weights.
    text = (SPECS / "resnet50.yaml").read_text()
    v15 = """          - [conv2d: {out: w, kernel: 1, bias: false}, batchnorm2d, relu,
             conv2d: {out: w, kernel: 3, stride: s, padding: 1, groups: g, bias: false},"""
    v1 = """          - [conv2d: {out: w, kernel: 1, stride: s, bias: false}, batchnorm2d, relu,
             conv2d: {out: w, kernel: 3, padding: 1, groups: g, bias: false},"""
    assert text.count(v15) == 1
    from archcalc.analysis import analyse
    from archcalc.spec.loader import load_string

    paper = analyse(load_string(text.replace(v15, v1), "resnet50-v1.yaml", {}))
    torchvision = analyse_file(SPECS / "resnet50.yaml")
    assert torchvision.total.macs - paper.total.macs == 3 * 77_070_336
    assert paper.total.params == torchvision.total.params
    assert paper.total.macs == 3_857_973_248  # He et al. 2015, Table 1: 3.8 x 10^9


def test_distill_receptive_fields():
    # Araujo, Norris & Sim, "Computing Receptive Fields of Convolutional Neural Networks",
    # Distill 2019: AlexNet 195 and VGG16 212 at the last pooling layer.
    alexnet = analyse_file(SPECS / "alexnet.yaml")
    vgg16 = analyse_file(SPECS / "vgg16.yaml")
    assert [axis.size for axis in alexnet.record("pool5").rf] == [195, 195]
    assert [axis.size for axis in vgg16.record("stage5").rf] == [212, 212]
    assert [axis.jump for axis in vgg16.record("stage5").rf] == [32, 32]
