"""The transformer specs (LLaMA-7B, Mistral-7B, t5-small) reproduce their published parameter counts exactly, and their MACs
equal the counts derived here by hand from the architecture (analysis only: no torch; verify
on the meta device builds them in tests/test_verify_zoo.py).

Per decoder layer of width D, H heads of D/H features, KV key/value heads, FFN width F, at
L tokens: the q and o projections 2·L·D² MACs, k and v 2·L·D·(D·KV/H), the gated MLP
(gate, up, down) 3·L·D·F, the two attention products 2·L²·D (in full; causal halves them
under --convention megatron, docs/conventions.md). Parameters: the same matrices and two
RMSNorm scales of D; the embedding and the untied lm_head V·D each, and a final RMSNorm D.

Below them, torchvision's attention networks in specs/ against the figures torchvision
publishes with each builder's weights (tests/published.py: ``num_params`` exactly, ``_ops`` GFLOPS to its
three decimals) and against hand-written PyTorch models (tests/torch_transformer_models.py:
parameters and MACs exactly); and a ViT encoder block, written from torchvision's
vision_transformer.py, against archcalc's analysis of the same block with
``multiheadattention``.
"""

from __future__ import annotations

import pytest

from archcalc import conventions
from conftest import SPECS
from helpers import analyse_file, analyse_text
from published import TORCHVISION_TRANSFORMERS, TRANSFORMERS


def decoder_counts(*, L, V, D, N, H, KV, F):
    """(params, MACs, MACs with the causal products halved) of a LLaMA-style decoder."""
    kv = D * KV // H
    layer_params = 2 * D * D + 2 * D * kv + 3 * D * F + 2 * D
    params = 2 * V * D + D + N * layer_params
    projections = L * (2 * D * D + 2 * D * kv + 3 * D * F)
    macs = N * (projections + 2 * L * L * D) + L * D * V
    return params, macs, macs - N * L * L * D


CONFIGS = {
    "llama-7b": dict(L=2048, V=32000, D=4096, N=32, H=32, KV=32, F=11008),
    "mistral-7b": dict(L=4096, V=32000, D=4096, N=32, H=32, KV=8, F=14336),
}


@pytest.mark.parametrize("model", sorted(CONFIGS))
def test_published_params_and_derived_macs(model):
    a = analyse_file(SPECS / f"{model}.yaml")
    params, macs, halved = decoder_counts(**CONFIGS[model])
    assert a.total.params == params == TRANSFORMERS[model]["num_params"], \
        TRANSFORMERS[model]["source"]
    assert a.total.macs == macs
    assert conventions.get("megatron").apply(a).total.macs == halved
    assert a.total.output_shape == (CONFIGS[model]["L"], CONFIGS[model]["V"])


@pytest.mark.parametrize("model", sorted(CONFIGS))
def test_header_states_the_figures(model):
    a = analyse_file(SPECS / f"{model}.yaml")
    text = (SPECS / f"{model}.yaml").read_text()
    header = " ".join(line.lstrip("#").strip() for line in text[: text.index("\nname:")]
                      .splitlines())
    halved = conventions.get("megatron").apply(a).total.macs
    for number in (a.total.params, a.total.macs, halved):
        assert f"{number:,}" in header
    assert TRANSFORMERS[model]["source"].split(" ")[1] in header  # the preset file


@pytest.mark.parametrize("model, sizes", [
    ("llama-7b", dict(L=64, V=1000, D=256, N=2, H=4, F=688)),
    ("mistral-7b", dict(L=96, V=512, D=384, N=3, H=12, KV=3, F=1024)),
])
def test_sizes_follow_set(model, sizes):
    a = analyse_file(SPECS / f"{model}.yaml", **sizes)
    params, macs, _ = decoder_counts(**{"KV": sizes.get("H"), **sizes})
    assert (a.total.params, a.total.macs) == (params, macs)


def t5_counts(*, L, T, V, D, H, DK, F, N, B):
    """(params, MACs, MACs with the decoder's causal products halved) of T5 with a tied
    lm_head: per encoder block 4·D·H·DK + 2·D·F + 2·D parameters, per decoder block the
    same with cross-attention's 4·D·H·DK + D more, B·H relative-bias entries in the first
    block of each stack, the shared embedding V·D and two final norms D."""
    inner = H * DK
    enc_block = 4 * D * inner + 2 * D * F + 2 * D
    dec_block = 8 * D * inner + 2 * D * F + 3 * D
    params = V * D + N * (enc_block + dec_block) + 2 * B * H + 2 * D
    enc_macs = L * (4 * D * inner + 2 * D * F) + 2 * L * L * inner
    dec_macs = T * (4 * D * inner + 2 * D * F) + 2 * T * T * inner \
        + 2 * T * D * inner + 2 * L * D * inner + 2 * T * L * inner  # cross-attention
    macs = N * (enc_macs + dec_macs) + T * D * V  # lm_head (tied: no parameters)
    return params, macs, macs - N * T * T * inner


T5_SMALL = dict(L=512, T=512, V=32128, D=512, H=8, DK=64, F=2048, N=6, B=32)


def test_t5_small_published_params_and_derived_macs():
    a = analyse_file(SPECS / "t5-small.yaml")
    params, macs, halved = t5_counts(**T5_SMALL)
    assert a.total.params == params == TRANSFORMERS["t5-small"]["num_params"], \
        TRANSFORMERS["t5-small"]["source"]
    assert a.total.macs == macs
    assert conventions.get("megatron").apply(a).total.macs == halved
    assert a.total.output_shape == (512, 32128)
    text = (SPECS / "t5-small.yaml").read_text()
    for number in (params, macs, halved):
        assert f"{number:,}" in text[: text.index("\nname:")]


def test_t5_decoder_length_and_sizes_follow_set():
    sizes = dict(T5_SMALL, L=40, T=12, V=300, D=64, H=4, DK=8, F=96, N=2, B=8)
    a = analyse_file(SPECS / "t5-small.yaml", **{k: v for k, v in sizes.items()})
    assert (a.total.params, a.total.macs) == t5_counts(**sizes)[:2]
    assert a.total.output_shape == (12, 300)


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
