"""torchvision's attention networks in specs/ against the figures torchvision publishes with
each builder's weights (tests/published.py: ``num_params`` exactly, ``_ops`` GFLOPS to its
three decimals) and against hand-written PyTorch models (tests/torch_transformer_models.py:
parameters and MACs exactly); and a ViT encoder block, written from torchvision's
vision_transformer.py, against archcalc's analysis of the same block with
``multiheadattention``."""

from __future__ import annotations

import pytest

from archcalc.errors import SpecError
from conftest import SPECS
from helpers import analyse_file, analyse_text
from published import TORCHVISION_TRANSFORMERS


@pytest.fixture(scope="module")
def analyses():
    return {name: analyse_file(SPECS / f"{name}.yaml") for name in TORCHVISION_TRANSFORMERS}


@pytest.mark.parametrize("name", sorted(TORCHVISION_TRANSFORMERS))
def test_published_num_params_and_gflops(name, analyses):
    published = TORCHVISION_TRANSFORMERS[name]
    total = analyses[name].total
    assert total.params == published["num_params"], published["source"]
    # "_ops": multiply-accumulates of conv, linear and the attention's matrix products
    # (torchvision's FlopCounterMode, one per MAC), rounded to three decimals.
    assert round(total.macs / 1e9, 3) == published["gflops"], published["source"]
    assert analyses[name].graph.input_shape == (3, 224, 224)  # the weights' eval crop
    assert total.output_shape == (1000,)


@pytest.mark.parametrize("name", sorted(TORCHVISION_TRANSFORMERS))
def test_header_cites_the_published_figures(name, analyses):
    figures = TORCHVISION_TRANSFORMERS[name]
    text = (SPECS / f"{name}.yaml").read_text()
    header = " ".join(line.lstrip("#").strip()
                      for line in text[: text.index("\nname:")].splitlines())
    weights = figures["source"].split(", ")[1]
    assert f"torchvision.models.{name} " in header
    assert weights.replace(".IMAGENET1K_V1", "") in header
    assert f"num_params {figures['num_params']:,};" in header
    assert f"_ops {figures['gflops']} GFLOPS" in header
    # the header's "archcalc:" line is archcalc's own result: it must stay true
    total = analyses[name].total
    assert f"archcalc: {total.params:,} params; {total.macs:,} MACs" in header


@pytest.mark.parametrize("name", sorted(TORCHVISION_TRANSFORMERS))
def test_matches_hand_written_torch_model(name, analyses):
    pytest.importorskip("torch")
    import torch_transformer_models as ref

    a = analyses[name]
    params, shape, macs = ref.measure(ref.MODELS[name], a.graph.input_shape)
    assert (a.total.params, a.total.output_shape, a.total.macs) == (params, shape, macs)


# ----------------------------------------------------------------------------- MaxViT-T
@pytest.mark.parametrize("res", [448, 672])
def test_maxvit_at_other_input_sizes_matches_torch(res):
    # torchvision's MaxVit takes any input_size whose stage sides 7 divides (ceil(res/4) ...
    # ceil(res/32)): the attention's share grows with the windows and grids.
    pytest.importorskip("torch")
    import torch_transformer_models as ref

    a = analyse_file(SPECS / "maxvit_t.yaml", res=res)
    params, shape, macs = ref.measure(ref.maxvit_t, (3, res, res))
    assert (a.total.params, a.total.output_shape, a.total.macs) == (params, shape, macs)
    assert a.record("blocks.3.1").output_shape == (512, res // 32, res // 32)


def test_maxvit_rejects_an_input_the_partitions_do_not_divide():
    # 256: stage 1 is 64 x 64, which torchvision's _make_block_input_shapes check refuses too
    with pytest.raises(SpecError, match="height 64 is not divisible by the window height 7"):
        analyse_file(SPECS / "maxvit_t.yaml", res=256)


# Derived by hand from torchvision/models/maxvit.py for one stage-3 layer (C = 256 on a
# 14 x 14 map; 256/32 = 8 heads; partition 7: 4 windows, or a 2 x 2 grid, of 49 tokens).
C, HW, HEADS, TOKENS = 256, 14, 8, 49
L = HW * HW  # tokens of all windows together
ATTENTION_PARAMS = (2 * C                      # LayerNorm
                    + C * 3 * C + 3 * C          # to_qkv Linear(C, 3C)
                    + C * C + C                  # merge Linear(C, C)
                    + (2 * 7 - 1) ** 2 * HEADS)  # relative_position_bias_table [169, heads]
MLP_PARAMS = 2 * C + C * 4 * C + 4 * C + 4 * C * C + C  # LayerNorm, Linear(C, 4C), Linear(4C, C)
ATTENTION_MACS = L * C * 3 * C + L * C * C + 2 * L * TOKENS * C  # qkv, merge, Q·Kᵀ and A·V
MLP_MACS = 2 * L * C * 4 * C


@pytest.mark.parametrize("which", ["window_attention", "grid_attention"])
def test_maxvit_partition_attention_layer(which, analyses):
    record = analyses["maxvit_t"].record(f"blocks.2.1.{which}")
    assert record.params == ATTENTION_PARAMS + MLP_PARAMS == 265_032 + 526_080
    assert record.macs == ATTENTION_MACS + MLP_MACS == 56_297_472 + 102_760_448
    assert record.output_shape == (HW, HW, C)  # channels-last between the two attentions


def test_maxvit_mbconv_layer(analyses):
    a = analyses["maxvit_t"]
    # Stride 1: pre-norm BN(C), 1x1 C -> 4C (no bias) + BN, depthwise 3x3 (no bias) + BN,
    # SE 4C -> C/4 -> 4C (1x1 convs with bias), 1x1 4C -> C with bias; identity shortcut.
    mid, squeeze = 4 * C, C // 4
    params = (2 * C + C * mid + 2 * mid + 9 * mid + 2 * mid
              + mid * squeeze + squeeze + squeeze * mid + mid + mid * C + C)
    macs = L * C * mid + L * 9 * mid + mid * squeeze + squeeze * mid + L * mid * C
    assert (a.record("blocks.2.1.MBconv").params, a.record("blocks.2.1.MBconv").macs) \
        == (params, macs)
    # Stride 2 (first layer of stage 3, 128 -> 256 from 28 x 28): the shortcut adds an
    # avgpool and a 1x1 conv 128 -> 256 with bias at 14 x 14.
    first = a.record("blocks.2.0.MBconv")
    cin = 128
    params = (2 * cin + cin * mid + 2 * mid + 9 * mid + 2 * mid
              + mid * squeeze + squeeze + squeeze * mid + mid + mid * C + C + cin * C + C)
    macs = (28 * 28 * cin * mid + L * 9 * mid + mid * squeeze + squeeze * mid + L * mid * C
            + L * cin * C)
    assert (first.params, first.macs) == (params, macs)
    assert first.output_shape == (C, HW, HW)


def test_maxvit_stages_and_classifier(analyses):
    a = analyses["maxvit_t"]
    for stage, (channels, size) in enumerate([(64, 56), (128, 28), (256, 14), (512, 7)]):
        assert a.record(f"blocks.{stage}.0").output_shape == (channels, size, size)
    # LayerNorm(512), Linear(512, 512), Linear(512, 1000, bias=False)
    head = 2 * 512 + 512 * 512 + 512 + 512 * 1000
    assert a.record("classifier.3").params + a.record("classifier.5").params + 2 * 512 == head
    assert a.record("classifier.5").params == 512_000


# ----------------------------------------------------------------------------- Swin-T
# Derived by hand from torchvision/models/swin_transformer.py for a stage-3 block (C = 384 on
# a 14 x 14 map, 12 heads, window 7: 4 windows of 49 tokens).
SC, SIDE, SHEADS = 384, 14, 12
SL = SIDE * SIDE
SWIN_PARAMS = (2 * SC                       # norm1
               + SC * 3 * SC + 3 * SC        # qkv Linear(C, 3C)
               + SC * SC + SC                # proj Linear(C, C)
               + (2 * 7 - 1) ** 2 * SHEADS   # relative_position_bias_table [169, heads]
               + 2 * SC                      # norm2
               + SC * 4 * SC + 4 * SC + 4 * SC * SC + SC)  # MLP Linear(C, 4C), Linear(4C, C)
SWIN_MACS = (SL * SC * 3 * SC + SL * SC * SC  # qkv, proj
             + 2 * SL * 49 * SC               # Q·Kᵀ and A·V: per window 49·49 per feature
             + 2 * SL * SC * 4 * SC)          # MLP


@pytest.mark.parametrize("block", ["stage3.0", "stage3.1"])
def test_swin_block(block, analyses):
    # A shifted block (stage3.1) costs what an unshifted one does: the roll, the mask and
    # the bias table's gather and add count nothing.
    record = analyses["swin_t"].record(block)
    assert record.params == SWIN_PARAMS == 1_776_492  # 12·C² + 13·C + 169·heads
    assert record.macs == SWIN_MACS == 354_192_384
    assert record.output_shape == (SIDE, SIDE, SC)


def _rolled(a) -> list:
    return sorted({n.name.rsplit(".", 1)[0] for n in a.graph.nodes if n.type == "roll"})


def test_swin_shifts_where_torchvision_does(analyses):
    # shift 3 on odd blocks, except stage 4 at 224, whose 7 x 7 map is no larger than the
    # window; at 256 stage 4's 8 x 8 map is padded to 14 x 14, and it shifts.
    odd = ["stage1.1", "stage2.1", "stage3.1", "stage3.3", "stage3.5"]
    assert _rolled(analyses["swin_t"]) == odd
    assert _rolled(analyse_file(SPECS / "swin_t.yaml", res=256)) == [*odd, "stage4.1"]


@pytest.mark.parametrize("res", [160, 200, 256])
def test_swin_other_resolutions_match_hand_written_torch_model(res):
    # 200: sides 50, 25, 13, 7: windows padded to 56, 28, 14 and odd sides padded for
    # PatchMerging; 256: sides 64, 32, 16, 8, each padded to whole windows.
    pytest.importorskip("torch")
    import torch_transformer_models as ref

    a = analyse_file(SPECS / "swin_t.yaml", res=res)
    params, shape, macs = ref.measure(ref.MODELS["swin_t"], (3, res, res))
    assert (a.total.params, a.total.output_shape, a.total.macs) == (params, shape, macs)


def test_swin_padded_window_attention_counts_the_padded_map():
    # res 200, stage 1: a 50 x 50 map padded to 56 x 56 = 64 windows of 49 tokens; the qkv,
    # proj and products run on all 56² tokens (torchvision pads before them), C = 96.
    a = analyse_file(SPECS / "swin_t.yaml", res=200)
    attention = a.record("stage1.0.attention_1")
    assert attention.output_shape == (64, 49, 96)
    assert attention.macs == 56 * 56 * 96 * 4 * 96 + 2 * 56 * 56 * 49 * 96
    assert a.record("stage1.0").output_shape == (50, 50, 96)


def test_swin_patch_merging_and_stages(analyses):
    a = analyses["swin_t"]
    # PatchMerging(C): LayerNorm(4C) + Linear(4C, 2C, bias=False) on the (H/2)·(W/2) map
    for name, c, side in (("merge1", 96, 56), ("merge2", 192, 28), ("merge3", 384, 14)):
        record = a.record(name)
        assert record.params == 8 * c + 8 * c * c
        assert record.macs == (side // 2) ** 2 * 4 * c * 2 * c
        assert record.output_shape == (side // 2, side // 2, 2 * c)
    # patch embedding: Conv2d(3, 96, 4, stride 4) at 56 x 56
    assert a.record("patch_embed").macs == 56 * 56 * 96 * 3 * 4 * 4
    assert a.record("head").params == 768 * 1000 + 1000


# ----------------------------------------------------------------------------- ViT block
VIT_BLOCK = """
name: vit-encoder-block
input: [{length}, {hidden}]
layers:
  - branches:            # x = input + dropout(self_attention(ln_1(input)))
      - [layernorm: {{eps: 0.000001}}, multiheadattention: {{heads: {heads}}}, dropout: {{p: 0.0}}]
      - [identity]
    merge: add
  - branches:            # x + mlp(ln_2(x)); MLPBlock: Linear, GELU, Dropout, Linear, Dropout
      - [layernorm: {{eps: 0.000001}}, linear: {{out: {mlp}}}, gelu, dropout: {{p: 0.0}},
         linear: {{out: {hidden}}}, dropout: {{p: 0.0}}]
      - [identity]
    merge: add
"""


@pytest.mark.parametrize("length, hidden, heads, mlp", [
    (197, 768, 12, 3072),    # vit_b_16 at 224: 14² patches + the class token
    (50, 768, 12, 3072),     # vit_b_32 at 224: 7² + 1
    (197, 1024, 16, 4096),   # vit_l_16
    (5, 6, 3, 10),           # small and odd
])
def test_vit_encoder_block_matches_torch(length, hidden, heads, mlp):
    pytest.importorskip("torch")
    import torch_transformer_models as ref

    a = analyse_text(VIT_BLOCK.format(length=length, hidden=hidden, heads=heads, mlp=mlp))
    params, shape, macs = ref.measure(
        lambda: ref.EncoderBlock(heads, hidden, mlp), (length, hidden))
    assert (a.total.params, a.total.output_shape, a.total.macs) == (params, shape, macs)
    # By hand: 2 LayerNorms, in_proj 3E² + 3E and out_proj E² + E, MLP EM + M + ME + E;
    # MACs 4·L·E² (projections), 2·L²·E (Q·Kᵀ, A·V), 2·L·E·M (MLP).
    e, m = hidden, mlp
    assert params == 4 * e + 4 * e * e + 4 * e + 2 * e * m + m + e
    assert macs == 4 * length * e * e + 2 * length * length * e + 2 * length * e * m


def test_vit_b_16_encoder_block_figures():
    # 12 of these blocks are most of vit_b_16's 86,567,656 parameters (torchvision
    # ViT_B_16_Weights.IMAGENET1K_V1): 12 · 7,087,872 = 85,054,464.
    a = analyse_text(VIT_BLOCK.format(length=197, hidden=768, heads=12, mlp=3072))
    assert a.total.params == 7_087_872
    assert a.total.macs == 1_453_954_560
