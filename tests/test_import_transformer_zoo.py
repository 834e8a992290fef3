"""archcalc import torch round-trips the zoo's transformers: the plain-PyTorch definitions
of the tests (tests/torch_gpt_models.py: the Llama layout; tests/torch_transformer_models.py:
torchvision's ViTs) imported as specs give the params and MACs of the hand-written specs
(specs/llama-7b.yaml and specs/mistral-7b.yaml at small sizes with --set, and with L free the
same closed form; specs/vit_b_32.yaml and specs/vit_l_16.yaml at full size; tests/
torch_encoder_models.py: HF's BERT and T5 layouts, specs/bert-base.yaml and
specs/t5-small.yaml at small sizes, with L free and at full size) and PyTorch's own count of
the same module (parameters(), FlopCounterMode); RMS norm as HF writes it out is one rmsnorm
layer.
"""

from __future__ import annotations

import json
import re
import sys

import pytest
import sympy

from conftest import ROOT

torch = pytest.importorskip("torch")

sys.path.insert(0, str(ROOT / "tests"))

import torch_encoder_models as enc  # noqa: E402
import torch_gpt_models as gpt  # noqa: E402
import torch_transformer_models as tv  # noqa: E402

import archcalc  # noqa: E402
from archcalc.analysis import analyse  # noqa: E402
from archcalc.spec.loader import load, load_string  # noqa: E402
from archcalc.torch_backend.importer import import_torch  # noqa: E402


def _imported(target, shape, args, **kw):
    text = import_torch(target, shape, json.dumps(args), **kw)
    return text, analyse(load_string(text, "imported.yaml"))


# ------------------------------------------------------------------ LLaMA-7B, Mistral-7B
# The Llama class's keywords for the specs' symbols: V vocab, N n_layer, D d_model, H n_head,
# KV kv_heads (LLaMA-7B has none: every head its own keys and values), F hidden (the MLP's).
DECODERS = {
    "llama-7b": dict(V=100, N=2, D=64, H=4, F=96),
    "mistral-7b": dict(V=100, N=2, D=64, H=4, KV=2, F=96),
}
LENGTH = 32


def _llama_args(sizes, explicit):
    return dict(vocab=sizes["V"], n_layer=sizes["N"], d_model=sizes["D"], n_head=sizes["H"],
                kv_heads=sizes.get("KV", sizes["H"]), hidden=sizes["F"], rotary=True,
                explicit=explicit)


@pytest.mark.parametrize("explicit", [False, True])
@pytest.mark.parametrize("spec", sorted(DECODERS))
def test_llama_layout_imports_to_the_spec_counts(spec, explicit):
    """The Llama class at the spec's sizes (rotary embeddings; SDPA, or Meta's explicit
    products with a mask made in the forward): the spec's params and MACs, parameters()
    exactly, and FlopCounterMode's MACs plus, with SDPA, the products it leaves out on a CPU
    (Q·Kᵀ and A·V, L·L·D each per layer: see tests/test_import_transformers.py).
    Mistral's sliding window changes no count at L ≤ 4096 (its spec's header)."""
    sizes = DECODERS[spec]
    args = _llama_args(sizes, explicit)
    text, got = _imported("torch_gpt_models:Llama", (LENGTH,), args, tokens=True)
    want = analyse(load(str(ROOT / "specs" / f"{spec}.yaml"), {**sizes, "L": LENGTH}))
    assert (got.total.params, got.total.macs) == (want.total.params, want.total.macs)
    kv = f"kv_heads: {sizes['KV']}, " if "KV" in sizes else ""
    assert f"attention: {{name: self_attn, heads: 4, {kv}bias: false, causal: true, " \
           "rotary: true}" in text
    params, macs = gpt.measure(lambda: gpt.Llama(**args), LENGTH)
    left_out = 0 if explicit else sizes["N"] * 2 * LENGTH * LENGTH * sizes["D"]
    assert (got.total.params, got.total.macs - left_out) == (params, macs)


@pytest.mark.parametrize("spec", sorted(DECODERS))
def test_llama_layout_with_free_length_gives_the_spec_closed_form(spec):
    """--free L: the spec's MACs in L. Per layer the projections L·D·(2D + 2·D·KV/H), the
    products 2·L²·D, the MLP 3·L·D·F; the head L·D·V."""
    sizes = DECODERS[spec]
    text, got = _imported("torch_gpt_models:Llama", (LENGTH,), _llama_args(sizes, False),
                          tokens=True, free=("L",))
    assert "symbols: {L: null}\ninput: [L]" in text
    want = analyse(load(str(ROOT / "specs" / f"{spec}.yaml"), {**sizes, "L": None}))
    assert got.total.params == want.total.params
    assert sympy.expand(sympy.sympify(got.total.macs) - want.total.macs) == 0
    n, d, h, f, v = (sizes[k] for k in "NDHFV")
    kv = sizes.get("KV", h)
    Ls = [s for s in sympy.sympify(got.total.macs).free_symbols if s.name == "L"][0]
    per_layer = Ls * d * (2 * d + 2 * d * kv // h) + 2 * Ls * Ls * d + 3 * Ls * d * f
    assert sympy.expand(got.total.macs - (n * per_layer + Ls * d * v)) == 0


# ------------------------------------------------------------------ ViT-B/32, ViT-L/16
@pytest.mark.parametrize("name", ["vit_b_32", "vit_l_16"])
def test_torchvision_vits_import_to_the_spec_counts(name):
    """torchvision's layout (tests/torch_transformer_models.py VITS) at full size: the
    spec's params and MACs (its header cites torchvision's published figures), which are
    PyTorch's own count of the same module on the meta device."""
    patch, layers, heads, hidden, mlp = {"vit_b_32": (32, 12, 12, 768, 3072),
                                         "vit_l_16": (16, 24, 16, 1024, 4096)}[name]
    text, got = _imported("torch_transformer_models:VisionTransformer", (3, 224, 224),
                          [patch, layers, heads, hidden, mlp])
    want = analyse(load(str(ROOT / "specs" / f"{name}.yaml")))
    assert (got.total.params, got.total.macs) == (want.total.params, want.total.macs)
    params, _, macs = tv.measure(tv.VITS[name], (3, 224, 224))
    assert (got.total.params, got.total.macs) == (params, macs)
    assert f"multiheadattention: {{name: self_attention, heads: {heads}}}" in text
    assert f"  - repeat: {layers}\n    layers: [encoderblock]" in text
    assert f"  - parameter: {{name: pos_embedding, shape: [{(224 // patch) ** 2 + 1}, " \
           f"{hidden}]}}" in text


# ------------------------------------------------------------------ BERT-base
# tests/torch_encoder_models.py: HF BertModel's layout; specs/bert-base.yaml's symbols are
# its keywords. The spec counts the pooler and the token-type table (its header).
BERT_SMALL = dict(vocab=100, positions=64, types=2, layers=2, hidden=64, heads=4, ffn=128)


def _bert_spec(**sizes):
    return analyse(load(str(ROOT / "specs" / "bert-base.yaml"), sizes))


def test_bert_definition_has_the_spec_parameters():
    """At bert-base-uncased's sizes, on the meta device: parameters() is the spec's count,
    109,482,240 (the figure its header cites)."""
    with torch.device("meta"):
        model = enc.BertModel()
    params = sum(p.numel() for p in model.parameters())
    assert params == _bert_spec().total.params == 109_482_240


@pytest.mark.parametrize("mask", [False, True])
def test_bert_imports_to_the_spec_counts(mask):
    """The token types (a buffer of zeros cut to the input's length) an embedding of the
    input as the spec writes it, the positions (the buffer arange(P)[None] cut so) a
    parameter with rows: prefix, the pooler on the first token: the spec's params and MACs
    at L = 32 and, with L free, its closed form; parameters() and FlopCounterMode (the
    products are torch.matmul: counted). BertModel's default mask, zeros added to the
    scores, is a constant the attention reads: the counts are the same either way. The
    import follows the first result, the sequence output, as BertModel returns it first."""
    args = dict(BERT_SMALL, mask=mask)
    text, got = _imported("torch_encoder_models:BertModel", (32,), args, tokens=True)
    want = _bert_spec(**BERT_SMALL, L=32)
    assert (got.total.params, got.total.macs) == (want.total.params, want.total.macs)
    assert (got.total.params, got.total.macs) == \
        gpt.measure(lambda: enc.BertModel(**args), 32)
    assert "  - embedding: {name: embeddings.token_type_embeddings, from: input, vocab: 2, " \
           "dim: 64}" in text
    assert "  - parameter: {name: embeddings.position_embeddings, shape: [64, 64], " \
           "rows: prefix}" in text
    assert "  - linear: {name: pooler.dense, out: 64}\n  - tanh: " in text
    assert "  - identity: {name: output, from: encoder.layer}" in text
    assert got.total.output_shape == (32, 64) and want.total.output_shape == (64,)
    if not mask:
        assert "    - attention: {name: attention, heads: 4, dropout: 0.1}" in text
    text, got = _imported("torch_encoder_models:BertModel", (32,), args, tokens=True,
                          free=("L",))
    free = _bert_spec(**BERT_SMALL, L=None)
    assert got.total.params == free.total.params
    assert sympy.expand(sympy.sympify(got.total.macs) - free.total.macs) == 0


def test_bert_base_imports_at_full_size(tmp_path):
    """bert-base-uncased's sizes at the spec's L = 128: its params and MACs; the imported
    spec with L free passes verify at small sizes."""
    _, got = _imported("torch_encoder_models:BertModel", (128,), dict(mask=False),
                       tokens=True)
    want = _bert_spec()
    assert (got.total.params, got.total.macs) == (want.total.params, want.total.macs)
    spec = tmp_path / "bert.yaml"
    spec.write_text(import_torch("torch_encoder_models:BertModel", (16,),
                                 json.dumps(BERT_SMALL), tokens=True, free=("L",)),
                    encoding="utf-8")
    result = archcalc.verify(str(spec), rf="off")
    assert result.ok and not result.mismatches and result.checked > 0


def test_constant_ids_of_another_shape_are_refused(cli, tmp_path):
    """A table read at one constant id broadcast to every token: neither the input's
    shape (an embedding of the input would read a row per token) nor the positions of
    the tokens (rows: prefix would read 6 rows of the table's 2): a located error."""
    model = tmp_path / "one_type.py"
    model.write_text(
        "import torch\nfrom torch import nn\n"
        "class OneType(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.words, self.types = nn.Embedding(10, 8), nn.Embedding(2, 8)\n"
        "    def forward(self, ids):\n"
        "        return self.words(ids) + self.types(torch.zeros(1, 1, dtype=torch.long))\n",
        encoding="utf-8")
    code, out, err = cli("import", "torch", f"{model}:OneType", "--input", "6", "--tokens")
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert "no archcalc layer for the learned tensor types cut to 1 of its rows, broadcast to " \
           "the input's 6" in err


# ------------------------------------------------------------------ T5-small
def test_t5_definition_has_the_spec_counts():
    """tests/torch_encoder_models.py's T5 (HF T5ForConditionalGeneration's layout: the
    relative position bias, the tied head) at t5-small's sizes on L = 512 encoder and
    decoder tokens, on the meta device: parameters() and FlopCounterMode's MACs (the
    attention products are torch.matmul: counted) are specs/t5-small.yaml's, 60,506,624
    parameters (the figure its header cites)."""
    params, _, macs = tv.measure(enc.T5ForConditionalGeneration, (512,), dtype=torch.long)
    want = analyse(load(str(ROOT / "specs" / "t5-small.yaml")))
    assert (params, macs) == (want.total.params, want.total.macs)
    assert params == 60_506_624


# specs/t5-small.yaml's symbols as T5ForConditionalGeneration's keywords: V vocab, D d_model,
# DK d_kv (H·DK ≠ D here: head_dim is written), F d_ff, N num_layers, H num_heads; B, the
# buckets, is T5Attention's default 32. One input: the decoder reads the encoder's L ids
# (T = L, as the spec's header says).
T5_SMALL = dict(V=100, D=32, DK=12, F=64, N=3, H=4)
T5_LENGTH = 16


def _t5_args(sizes):
    return dict(vocab=sizes["V"], d_model=sizes["D"], d_kv=sizes["DK"], d_ff=sizes["F"],
                num_layers=sizes["N"], num_heads=sizes["H"])


def _t5_spec(**sizes):
    return analyse(load(str(ROOT / "specs" / "t5-small.yaml"), sizes))


def test_t5_imports_to_the_spec_counts():
    """The relative position bias (an nn.Embedding(32, H) read at buckets computed from the
    sizes alone, permuted to [1, H, L, L] and added to the unscaled scores) is the first
    block's bias_table, and every later block, which adds the same tensor, has none; the
    decoder's (1 - mask) * min is causal: true, the cross-attention's zeros no bias, its
    keys and values the encoder's output; the decoder's read of shared is an identity of
    the encoder's, lm_head tied to it: the spec's params and MACs at the same sizes, and
    parameters() and FlopCounterMode's."""
    args = _t5_args(T5_SMALL)
    text, got = _imported("torch_encoder_models:T5ForConditionalGeneration", (T5_LENGTH,),
                          args, tokens=True)
    want = _t5_spec(**T5_SMALL, L=T5_LENGTH, T=T5_LENGTH)
    assert (got.total.params, got.total.macs) == (want.total.params, want.total.macs)
    assert (got.total.params, got.total.macs) == \
        gpt.measure(lambda: enc.T5ForConditionalGeneration(**args), T5_LENGTH)
    attention = "attention: {name: layer.0.SelfAttention, heads: 4, head_dim: 12, bias: false"
    assert f"{attention}, bias_table: bias_table, scale: 1.0, dropout: 0.1}}" in text
    assert f"{attention}, causal: true, bias_table: bias_table, scale: 1.0, dropout: 0.1}}" \
        in text
    assert "attention: {name: layer.1.EncDecAttention, heads: 4, head_dim: 12, bias: false, " \
           "kv: encoder.dropout_2, scale: 1.0, dropout: 0.1}" in text
    for stack in ("encoder", "decoder"):
        assert re.search(rf"  - (t5block\w*): {{name: {stack}.block.0, bias_table: 32}}\n"
                         rf"  - repeat: 2\n    layers: \[\1: {{bias_table: 0}}\]", text)
    assert "  - identity: {name: shared_2, from: shared}" in text
    assert "  - linear: {name: lm_head, out: 100, tie: shared, bias: false}" in text


def test_t5_with_free_length_gives_the_spec_closed_form(tmp_path):
    """--free L: the spec's closed form with T = L (the bias table and the buckets hold no
    size: nothing the trace fixed); the imported spec passes verify."""
    args = _t5_args(T5_SMALL)
    text, got = _imported("torch_encoder_models:T5ForConditionalGeneration", (T5_LENGTH,),
                          args, tokens=True, free=("L",))
    assert "symbols: {L: null}\ninput: [L]" in text
    want = _t5_spec(**T5_SMALL, L=None, T=None)
    macs = sympy.sympify(want.total.macs)
    length = {s.name: s for s in macs.free_symbols}
    assert set(length) == {"L", "T"}
    assert got.total.params == want.total.params
    assert sympy.expand(sympy.sympify(got.total.macs) -
                        macs.subs(length["T"], length["L"])) == 0
    spec = tmp_path / "t5.yaml"
    spec.write_text(text, encoding="utf-8")
    result = archcalc.verify(str(spec), rf="off")
    assert result.ok and not result.mismatches and result.checked > 0


def test_t5_small_imports_at_full_size():
    """t5-small's sizes on L = T = 32: the spec's 60,506,624 parameters and its MACs, and
    PyTorch's own count of the same module on the meta device."""
    _, got = _imported("torch_encoder_models:T5ForConditionalGeneration", (32,), {},
                       tokens=True)
    want = _t5_spec(L=32, T=32)
    assert (got.total.params, got.total.macs) == (want.total.params, want.total.macs)
    assert got.total.params == 60_506_624
    params, _, macs = tv.measure(enc.T5ForConditionalGeneration, (32,), dtype=torch.long)
    assert (got.total.params, got.total.macs) == (params, macs)


def test_a_bias_table_of_other_heads_is_refused(cli, tmp_path):
    """A relative-position bias of one column broadcast to 4 heads (bias_table counts a
    column per head) is refused at the add, with the table named; an embedding read a
    second time at other ids (its table counted twice) is refused at that read."""
    model = tmp_path / "biases.py"
    model.write_text(
        "import torch\nfrom torch import nn\n"
        "class OneHeadBias(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.embed = nn.Embedding(10, 16)\n"
        "        self.q, self.k, self.v, self.o = (nn.Linear(16, 16, bias=False)\n"
        "                                          for _ in range(4))\n"
        "        self.rel = nn.Embedding(8, 1)\n"
        "    def forward(self, ids):\n"
        "        x = self.embed(ids)\n"
        "        b, t = x.size(0), x.size(1)\n"
        "        q, k, v = (m(x).view(b, -1, 4, 4).transpose(1, 2)\n"
        "                   for m in (self.q, self.k, self.v))\n"
        "        pos = torch.arange(t)\n"
        "        bucket = torch.clamp(pos[None, :] - pos[:, None], 0, 7)\n"
        "        scores = torch.matmul(q, k.transpose(3, 2))\n"
        "        scores = scores + self.rel(bucket).permute([2, 0, 1]).unsqueeze(0)\n"
        "        w = torch.softmax(scores, dim=-1)\n"
        "        return self.o(torch.matmul(w, v).transpose(1, 2).reshape(b, t, 16))\n"
        "class TwoReads(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.embed = nn.Embedding(10, 16)\n"
        "    def forward(self, ids):\n"
        "        return torch.cat([self.embed(ids), self.embed(ids[:, :2])], dim=1)\n",
        encoding="utf-8")
    code, out, err = cli("import", "torch", f"{model}:OneHeadBias", "--input", "6", "--tokens")
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert "no archcalc layer for the relative-position bias table rel [8, 1] added to the " \
           "scores of 4 heads (a bias_table holds one column per head) at the network " \
           "(fx node add)" in err
    code, out, err = cli("import", "torch", f"{model}:TwoReads", "--input", "6", "--tokens")
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert "no archcalc layer for the embedding embed read a second time, with other ids " \
           "than its first read at embed (fx node embed_1)" in err


@pytest.mark.parametrize("norm, affine", [("llama", True), ("t5", True), ("unscaled", False)])
def test_rms_norm_written_out_is_rmsnorm(norm, affine):
    """HF's LlamaRMSNorm and T5LayerNorm (and one without a weight) are one rmsnorm layer:
    32 parameters with the weight, none without; the Linears' 16·32 + 32 + 32·4 + 4."""
    text = import_torch("torch_encoder_models:NormedMLP", (8, 16), json.dumps({"norm": norm}))
    line = next(line for line in text.splitlines() if "rmsnorm" in line)
    assert line == "  - rmsnorm: {name: norm}" if affine else line.endswith(", affine: false}")
    assert "pow" not in text and "rsqrt" not in text
    got = analyse(load_string(text, "normed.yaml"))
    model = enc.NormedMLP(norm)
    assert got.total.params == sum(p.numel() for p in model.parameters()) == \
        16 * 32 + 32 + 32 * 4 + 4 + (32 if affine else 0)


def test_a_norm_that_is_not_rms_is_not_rmsnorm():
    """x · rsqrt(mean(x³) + eps) is no RMS norm: its pow is no layer archcalc has."""
    with pytest.raises(archcalc.SpecError, match="pow"):
        import_torch("torch_encoder_models:NormedMLP", (8, 16), json.dumps({"norm": "cube"}))
