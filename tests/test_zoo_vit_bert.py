"""The transformer specs in specs/ (torchvision's ViTs, BERT): archcalc's exact counts against
a derivation from each model's configuration, against the same network written here with
torch.nn modules (on the meta device: nothing allocated), and against the published figures
(tests/published.py)."""

from __future__ import annotations

import pytest

from archcalc.errors import SpecError
from conftest import SPECS
from helpers import analyse_file
from published import BERT, TORCHVISION_VIT

BERT_SPEC = SPECS / "bert-base.yaml"


# ---------------------------------------------------------------- derivations
def vit_counts(patch, layers, hidden, mlp, image=224, classes=1000):
    """VisionTransformer (torchvision/models/vision_transformer.py) counted by hand.
    Params: conv_proj 3·p²·D + D, class_token D, pos_embedding S·D (S = (224/p)² + 1),
    per block ln_1, ln_2 2D each, attention 4D² + 4D, MLP D·M + M + M·D + D; ln 2D; head
    D·1000 + 1000. MACs: conv (224/p)²·D·3·p²; per block the projections 4·S·D², Q·Kᵀ and
    A·V S²·D each, the MLP 2·S·D·M; the head D·1000."""
    n = (image // patch) ** 2
    s = n + 1
    block = 4 * hidden + (4 * hidden**2 + 4 * hidden) + (2 * hidden * mlp + mlp + hidden)
    params = (3 * patch**2 * hidden + hidden) + hidden + s * hidden + layers * block \
        + 2 * hidden + (hidden * classes + classes)
    macs = n * hidden * 3 * patch**2 + layers * (4 * s * hidden**2 + 2 * s * s * hidden
                                                 + 2 * s * hidden * mlp) + hidden * classes
    return params, macs


VIT_CONFIGS = {"vit_b_16": (16, 12, 768, 3072), "vit_b_32": (32, 12, 768, 3072),
               "vit_l_16": (16, 24, 1024, 4096)}  # the builders' patch, layers, hidden, mlp


@pytest.mark.parametrize("name", sorted(TORCHVISION_VIT))
def test_vit_counts_follow_the_derivation_and_the_published_figures(name):
    a = analyse_file(SPECS / f"{name}.yaml")
    params, macs = vit_counts(*VIT_CONFIGS[name])
    assert (a.total.params, a.total.macs) == (params, macs)
    published = TORCHVISION_VIT[name]  # source: published["source"]
    assert params == published["num_params"]
    assert round(macs / 1e9, 3) == published["gflops"]


def bert_params(vocab=30522, positions=512, types=2, layers=12, hidden=768, ffn=3072,
                heads=12):
    """BertModel (transformers, models/bert/modeling_bert.py) counted by hand (the heads
    split H and add no parameters): embeddings (V + P + T)·H + LayerNorm 2H; per layer
    query, key, value, output dense 4(H² + H), two LayerNorms 4H, intermediate H·F + F,
    output F·H + H; pooler H² + H."""
    per_layer = 4 * (hidden**2 + hidden) + 4 * hidden + (hidden * ffn + ffn) + \
        (ffn * hidden + hidden)
    return (vocab + positions + types) * hidden + 2 * hidden + layers * per_layer + \
        hidden**2 + hidden


@pytest.mark.parametrize("model", sorted(BERT))
def test_bert_params_follow_the_derivation_and_the_published_figure(model):
    published = BERT[model]  # source: published["source"]
    a = analyse_file(BERT_SPEC, **published["set"])
    assert a.total.params == bert_params(**published["set"]) == published["num_params"]
    assert a.total.output_shape == (published["set"].get("hidden", 768),)


def test_bert_macs_follow_the_derivation():
    """Per layer at L tokens: projections 4·L·H², Q·Kᵀ and A·V L²·H each, FFN 2·L·H·F; the
    pooler H² (the embeddings are lookups and additions: no MACs)."""
    length, hidden, ffn, layers = 128, 768, 3072, 12
    a = analyse_file(BERT_SPEC)
    per_layer = 4 * length * hidden**2 + 2 * length**2 * hidden + 2 * length * hidden * ffn
    assert a.total.macs == layers * per_layer + hidden**2
    assert analyse_file(BERT_SPEC, L=512).total.params == a.total.params  # L only moves MACs


def test_bert_sequence_is_at_most_the_position_table():
    analyse_file(BERT_SPEC, L=512)
    with pytest.raises(SpecError, match="more than the 512 rows of the table"):
        analyse_file(BERT_SPEC, L=513)


# ---------------------------------------------------------------- the same network in torch
def bert_like(vocab, positions, types, layers, hidden, heads, ffn):
    """BertModel's parameters written with torch.nn on the meta device (nothing allocated):
    nn.TransformerEncoderLayer (post-norm: self_attn = nn.MultiheadAttention(H, A), whose
    in_proj and out_proj are BERT's query, key, value and output dense; linear1, linear2 its
    intermediate and output; norm1, norm2 its two LayerNorms) has exactly a BertLayer's.
    Torch is imported here, so that the analysis tests above run without it."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    with torch.device("meta"):
        return nn.ModuleList([
            nn.Embedding(vocab, hidden, padding_idx=0), nn.Embedding(positions, hidden),
            nn.Embedding(types, hidden), nn.LayerNorm(hidden, eps=1e-12),
            *(nn.TransformerEncoderLayer(hidden, heads, ffn, activation="gelu",
                                         layer_norm_eps=1e-12, batch_first=True)
              for _ in range(layers)),
            nn.Linear(hidden, hidden)])  # the pooler


@pytest.mark.parametrize("model", sorted(BERT))
def test_bert_params_equal_torch_modules(model):
    config = {"vocab": 30522, "positions": 512, "types": 2, "layers": 12, "hidden": 768,
              "heads": 12, "ffn": 3072, **BERT[model]["set"]}
    module = bert_like(**config)
    assert sum(p.numel() for p in module.parameters()) == \
        analyse_file(BERT_SPEC, **BERT[model]["set"]).total.params


@pytest.mark.parametrize("name", sorted(TORCHVISION_VIT))
def test_vit_matches_hand_written_torch_model(name):
    """Parameters, output shape and FlopCounterMode's MACs of torchvision's VisionTransformer
    written with torch.nn (tests/torch_transformer_models.py), on the meta device."""
    pytest.importorskip("torch")
    import torch_transformer_models as ref

    a = analyse_file(SPECS / f"{name}.yaml")
    params, shape, macs = ref.measure(ref.VITS[name], a.graph.input_shape)
    assert (a.total.params, a.total.output_shape, a.total.macs) == (params, shape, macs)


def test_specs_cite_their_published_figures():
    text = BERT_SPEC.read_text()
    for figures in BERT.values():
        assert f"{figures['num_params']:,}" in text
    for name, figures in TORCHVISION_VIT.items():
        header = (SPECS / f"{name}.yaml").read_text()
        assert f"num_params {figures['num_params']:,}" in header
