"""archcalc import torch on transformers: plain-PyTorch GPT-2 (nanoGPT's layout,
tests/torch_gpt_models.py) and ViTs (torchvision's layout, tests/torch_transformer_models.py;
timm's, tests/torch_packed_attention.py) imported as specs give exactly the params and MACs
of specs/gpt2.yaml and specs/vit_b_16.yaml, and PyTorch's own count of the same module
(parameters(), FlopCounterMode); the imported specs pass verify; attention that is not
recognised whole is imported op by op with the same counts.
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

import torch_gpt_models as gpt  # noqa: E402
import torch_transformer_models as tv  # noqa: E402

import archcalc  # noqa: E402
from archcalc.analysis import analyse  # noqa: E402
from archcalc.spec.loader import load, load_string  # noqa: E402
from archcalc.torch_backend.importer import import_torch  # noqa: E402

# specs/gpt2.yaml's symbols at a small size (the model's keywords are the same names)
SMALL = dict(vocab=1000, n_ctx=64, n_layer=2, d_model=128, n_head=4)
L = 64


def _imported(target, shape, args=None, **kw):
    text = import_torch(target, shape, None if args is None else json.dumps(args), **kw)
    return text, analyse(load_string(text, "imported.yaml"))


def _gpt2_spec(**over):
    return analyse(load(str(ROOT / "specs" / "gpt2.yaml"), {**SMALL, "L": L, **over}))


@pytest.mark.parametrize("attention", ["sdpa", "explicit", "einsum"])
@pytest.mark.parametrize("bias", [True, False])
def test_gpt2_imports_to_the_spec_counts(attention, bias):
    args = dict(SMALL, attention=attention, bias=bias)
    text, got = _imported("torch_gpt_models:GPT", (L,), args, tokens=True)
    want = _gpt2_spec(bias=int(bias))
    assert got.total.params == want.total.params
    assert got.total.macs == want.total.macs
    assert f"attention: {{name: attn, heads: 4{', bias: false' if not bias else ''}, " \
           "causal: true}" in text
    params, macs = gpt.measure(lambda: gpt.GPT(**args), L)
    assert got.total.params == params  # the tied head counted once, as parameters() does
    if attention == "sdpa":
        # FlopCounterMode has no formula for the CPU kernel of scaled_dot_product_attention
        # (torch/utils/flop_counter.py registers only the efficient, flash and cudnn ones):
        # it leaves out Q·Kᵀ and A·V, L·L·d_model MACs each, in every layer.
        assert got.total.macs - macs == SMALL["n_layer"] * 2 * L * L * SMALL["d_model"]
    else:
        assert got.total.macs == macs  # explicit products: FlopCounterMode counts them


def test_gpt2_is_written_in_the_spec_vocabulary():
    text, _ = _imported("torch_gpt_models:GPT", (L,), SMALL, tokens=True)
    assert "input: [64]" in text
    assert "  - embedding: {name: transformer.wte, vocab: 1000, dim: 128}" in text
    # wpe(torch.arange(T)): the table's first T rows added
    assert "  - parameter: {name: transformer.wpe, shape: [64, 128], rows: prefix}" in text
    assert "  - repeat: 2\n    layers: [block]   # transformer.h.0 … transformer.h.1" in text
    assert "  - linear: {name: lm_head, out: 1000, tie: transformer.wte, bias: false}" in text
    for absorbed in ("c_attn", "split", "transpose", "scaled_dot_product", "view"):
        assert absorbed not in text


def test_gpt2_with_free_length_gives_the_spec_closed_form():
    """--free L: MACs 12·L·d² + 2·L²·d per layer and L·d·V for the head, as the spec's."""
    text, got = _imported("torch_gpt_models:GPT", (L,), SMALL, tokens=True, free=("L",))
    assert "symbols: {L: null}\ninput: [L]" in text
    want = _gpt2_spec(L=None)
    assert sympy.simplify(sympy.sympify(got.total.macs) - want.total.macs) == 0
    n, d, v = SMALL["n_layer"], SMALL["d_model"], SMALL["vocab"]
    Ls = [s for s in sympy.sympify(got.total.macs).free_symbols if s.name == "L"][0]
    assert sympy.expand(got.total.macs - (n * (12 * Ls * d * d + 2 * Ls * Ls * d) +
                                          Ls * d * v)) == 0


@pytest.mark.parametrize("free", [(), ("L",)])
def test_nanogpt_mask_buffer_cut_to_the_input_length(free):
    """nanoGPT's attention without flash masks with ``self.bias[:, :, :T, :T]``, its n_ctx ×
    n_ctx lower-triangular buffer cut at the traced length T: read at 32 of its 64
    positions it is causal, one attention layer, with the spec's counts (and, with L free,
    its closed form) and PyTorch's."""
    args = dict(SMALL, attention="sliced")
    text, got = _imported("torch_gpt_models:GPT", (32,), args, tokens=True, free=free)
    assert "attention: {name: attn, heads: 4, causal: true}" in text and "matmul" not in text
    want = _gpt2_spec(L=None if free else 32)
    assert got.total.params == want.total.params
    assert sympy.expand(sympy.sympify(got.total.macs) - want.total.macs) == 0
    if not free:
        assert (got.total.params, got.total.macs) == gpt.measure(lambda: gpt.GPT(**args), 32)


def test_grouped_query_attention_from_three_projections():
    """q_proj, k_proj, v_proj with 2 key/value heads of 4 (SDPA's enable_gqa): kv_heads."""
    args = dict(SMALL, attention="separate", kv_heads=2)
    text, got = _imported("torch_gpt_models:GPT", (L,), args, tokens=True)
    assert "attention: {name: attn, heads: 4, kv_heads: 2, causal: true}" in text
    params, macs = gpt.measure(lambda: gpt.GPT(**args), L)
    assert got.total.params == params
    # as above, less the SDPA products: per layer Q·Kᵀ and A·V of 4 heads of 32 features
    assert got.total.macs - macs == SMALL["n_layer"] * 2 * L * L * SMALL["d_model"]


TINY = dict(vocab=100, n_ctx=16, n_layer=2, d_model=32, n_head=4)
# FlopCounterMode leaves out the CPU SDPA's Q·Kᵀ and A·V (see above): L·L·d each per layer
SDPA_PRODUCTS = TINY["n_layer"] * 2 * 16 * 16 * TINY["d_model"]


@pytest.mark.parametrize("attention,window,recognised,left_out", [
    ("additive", False, True, 0),  # scores + a buffer of 0 and -inf
    ("additive", True, False, 0),
    ("sdpa_mask", False, True, SDPA_PRODUCTS),  # SDPA's attn_mask: True attends
    ("sdpa_mask", True, False, SDPA_PRODUCTS),  # matmul, softmax, matmul
])
def test_masks_from_buffers(attention, window, recognised, left_out):
    """A constant mask is causal exactly when it is lower-triangular: one attention layer
    with causal: true; a banded one is not, and the ops are imported one by one."""
    args = dict(TINY, attention=attention, window=window)
    text, got = _imported("torch_gpt_models:GPT", (16,), args, tokens=True)
    assert ("attention: {name: attn, heads: 4, causal: true}" in text) == recognised
    assert ("- matmul: " in text) == (not recognised)
    params, macs = gpt.measure(lambda: gpt.GPT(**args), 16)
    assert (got.total.params, got.total.macs - left_out) == (params, macs)


@pytest.mark.parametrize("rotary", [False, True, "cached"])
def test_llama_layout(rotary):
    """RMSNorm, q/k/v/o without bias and 2 key/value heads of 4, a SiLU-gated MLP (mul of
    two branches), an untied head, perhaps rotary embeddings of q and k (HF's
    apply_rotary_pos_emb: element-wise, no parameters, no MACs; "cached": the cos and sin
    tables buffers of 64 positions cut to the input's 32): parameters() exactly; MACs
    FlopCounterMode's plus the SDPA products it leaves out, 2·L²·d per layer."""
    text, got = _imported("torch_gpt_models:Llama", (32,), dict(rotary=rotary), tokens=True)
    assert "    - rmsnorm: {name: input_layernorm}" in text
    assert "    - attention: {name: self_attn, heads: 4, kv_heads: 2, bias: false, " \
           f"causal: true{', rotary: true' if rotary else ''}}}" in text
    assert "    - mul: {name: mul1, from: mlp.act_fn, with: mlp.up_proj}" in text
    params, macs = gpt.measure(lambda: gpt.Llama(rotary=rotary), 32)
    assert got.total.params == params
    assert got.total.macs - macs == 2 * 2 * 32 * 32 * 128


def test_llama_explicit_products_with_a_mask_made_in_forward():
    """Meta's form: torch.matmul, k.transpose(2, 3), / √d, + triu(full(-inf), 1), softmax
    in float32 cast back with type_as, k and v repeated to the query heads as HF's repeat_kv
    does (expand, reshape), rotary embeddings: one causal attention layer,
    FlopCounterMode's MACs."""
    args = dict(kv_heads=2, explicit=True, rotary=True)
    text, got = _imported("torch_gpt_models:Llama", (32,), args, tokens=True)
    assert "    - attention: {name: self_attn, heads: 4, kv_heads: 2, bias: false, " \
           "causal: true, rotary: true}" in text
    assert (got.total.params, got.total.macs) == gpt.measure(lambda: gpt.Llama(**args), 32)


@pytest.mark.parametrize("attention", ["explicit", "einsum"])
def test_attention_not_recognised_is_imported_op_by_op(attention, tmp_path):
    """A banded mask is not causal: the ops one by one (matmul or einsum, softmax, permute,
    reshape, identity for the scale and the mask) count what PyTorch counts, and verify
    (with L free: the head views are reshapes with -1)."""
    args = dict(TINY, attention=attention, window=True)
    text, got = _imported("torch_gpt_models:GPT", (16,), args, tokens=True)
    spec = tmp_path / "op_by_op.yaml"
    spec.write_text(import_torch("torch_gpt_models:GPT", (16,), json.dumps(args),
                                 tokens=True, free=("L",)), encoding="utf-8")
    result = archcalc.verify(str(spec), rf="off")
    assert result.ok and not result.mismatches and result.checked > 0
    assert "attention:" not in text
    product = "matmul" if attention == "explicit" else "einsum"
    assert f"- {product}: " in text and "- softmax: " in text and "- permute: " in text
    assert (got.total.params, got.total.macs) == gpt.measure(lambda: gpt.GPT(**args), 16)
    if attention == "explicit":
        assert "transpose: true" in text  # k.transpose(-2, -1) folded into the product


def test_vit_b_16_imports_to_the_spec_counts():
    """torchvision's layout at full size: 86,567,656 params and 17,563,828,224 MACs, the
    spec's (its header cites torchvision's published 86,567,656 and 17.564 GFLOPS)."""
    text, got = _imported("torch_transformer_models:VisionTransformer", (3, 224, 224),
                          [16, 12, 12, 768, 3072])
    want = analyse(load(str(ROOT / "specs" / "vit_b_16.yaml")))
    assert (got.total.params, got.total.macs) == (want.total.params, want.total.macs)
    assert got.total.params == 86_567_656 and got.total.macs == 17_563_828_224
    assert "multiheadattention: {name: self_attention, heads: 12}" in text
    assert "  - parameter: {name: class_token, shape: [1, 768], op: concat}" in text
    assert "  - parameter: {name: pos_embedding, shape: [197, 768]}" in text
    assert "  - repeat: 12\n    layers: [encoderblock]" in text
    # x[:, 0]: the class token's row, its axis dropped
    assert re.search(r"- slice: \{name: (getitem\w*), stop: 1\}\n"
                     r"  - flatten: \{name: \1_2, end: 1\}\n  - linear: \{name: head", text)


SMALL_VIT = dict(image=64, patch=16, layers=2, heads=4, hidden=64, mlp=128)


@pytest.mark.parametrize("fused", [True, False])
def test_timm_layout_vit_is_the_same_spec(fused):
    """timm's packed qkv (reshape to [B, N, 3, H, d], permute, unbind), SDPA or explicit:
    one attention layer, the counts of specs/vit_b_16.yaml at a small size."""
    text, got = _imported("torch_packed_attention:VisionTransformer", (3, 64, 64),
                          dict(image=64, patch=16, depth=2, num_heads=4, dim=64,
                               hidden=128, fused=fused))
    want = analyse(load(str(ROOT / "specs" / "vit_b_16.yaml"), SMALL_VIT))
    assert (got.total.params, got.total.macs) == (want.total.params, want.total.macs)
    assert "    - attention: {name: attn, heads: 4}" in text


def test_imported_transformers_pass_verify(tmp_path):
    """GPT-2 and a Llama-style decoder (grouped-query, rotary) with L free, and a small ViT,
    built by archcalc's own builders and measured in PyTorch (receptive fields off: tokens
    have none to measure)."""
    text = archcalc.import_torch("torch_gpt_models:GPT", (16,), tokens=True, free=("L",),
                                 args=dict(vocab=100, n_ctx=16, n_layer=2, d_model=32,
                                           n_head=4))
    spec = tmp_path / "gpt.yaml"
    spec.write_text(text, encoding="utf-8")
    result = archcalc.verify(str(spec), rf="off")
    assert result.ok and not result.mismatches and result.checked > 0
    text = archcalc.import_torch("torch_transformer_models:VisionTransformer", (3, 32, 32),
                                 args=dict(patch=8, layers=2, heads=2, hidden=16, mlp=32,
                                           image=32))
    spec = tmp_path / "vit.yaml"
    spec.write_text(text, encoding="utf-8")
    result = archcalc.verify(str(spec), rf="off")
    assert result.ok and not result.mismatches and result.checked > 0
    text = archcalc.import_torch("torch_gpt_models:Llama", (16,), tokens=True, free=("L",),
                                 args=dict(vocab=50, n_layer=1, d_model=32, n_head=4,
                                           kv_heads=2, hidden=48, rotary=True))
    spec = tmp_path / "llama.yaml"
    spec.write_text(text, encoding="utf-8")
    result = archcalc.verify(str(spec), rf="off")
    assert result.ok and not result.mismatches and result.checked > 0


def test_cross_attention_names_its_keys(tmp_path):
    model = tmp_path / "cross.py"
    model.write_text(
        "from torch import nn\n"
        "class Cross(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.memory = nn.Linear(16, 24)\n"
        "        self.mha = nn.MultiheadAttention(16, 2, kdim=24, vdim=24, batch_first=True)\n"
        "    def forward(self, x):\n"
        "        m = self.memory(x)\n"
        "        return self.mha(x, m, m)[0]\n", encoding="utf-8")
    text, got = _imported(f"{model}:Cross", (10, 16))
    assert "  - multiheadattention: {name: mha, from: input, heads: 2, kdim: 24, vdim: 24, " \
           "kv: memory}" in text
    sys.path.insert(0, str(tmp_path))
    import cross

    assert got.total.params == sum(p.numel() for p in cross.Cross().parameters())


def test_unmappable_transformer_ops_are_located(cli, tmp_path):
    bad = tmp_path / "bad_tf.py"
    bad.write_text(
        "import torch\nfrom torch import nn\n"
        "class Weighted(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.w = nn.Parameter(torch.zeros(8, 8))\n"
        "    def forward(self, x):\n        return x @ self.w\n"
        "class Masked(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.mha = nn.MultiheadAttention(8, 2, batch_first=True)\n"
        "    def forward(self, x):\n"
        "        mask = torch.ones(4, 4, dtype=torch.bool).tril(-1)\n"  # not causal
        "        return self.mha(x, x, x, attn_mask=mask)[0]\n"
        "class First(nn.Module):\n"
        "    def forward(self, x):\n        return x[0]\n"
        "class Twice(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.pos = nn.Parameter(torch.zeros(8))\n"
        "    def forward(self, x):\n        return (x + self.pos) + self.pos\n",
        encoding="utf-8")
    cases = [
        ("Weighted", "no archcalc layer for a product with a learned or constant tensor"),
        ("Masked", "no archcalc layer for nn.MultiheadAttention with an attn_mask other "
                   "than a causal one of self-attention without add_bias_kv at mha"),
        ("First", "no archcalc layer for indexing the batch axis"),
        # a second parameter layer of the same tensor would count it twice
        ("Twice", "no archcalc layer for the learned tensor pos read a second time"),
    ]
    for name, fragment in cases:
        code, out, err = cli("import", "torch", f"{bad}:{name}", "--input", "4,8")
        assert code == 2, (name, err)
        assert out == "" and err.startswith("error: ") and err.count("\n") == 1, err
        assert fragment in err, err


def test_cli_tokens(cli, tmp_path):
    out = tmp_path / "gpt.yaml"
    code, _, err = cli("import", "torch", "torch_gpt_models:GPT", "--input", "64",
                       "--tokens", "--free", "L", "-o", str(out))
    assert code == 0, err
    assert analyse(load(str(out), {"L": 64})).total.params == _gpt2_spec().total.params
    # without --tokens the input is floats, which an embedding refuses: a located error
    code, _, err = cli("import", "torch", "torch_gpt_models:GPT", "--input", "64")
    assert code == 2 and "its forward on an input of shape [64] raised" in err


TUTORIAL = ROOT / "docs" / "tutorial-import.md"


def test_the_tutorial_gpt_is_the_import_and_its_figures_hold():
    """docs/tutorial-import.md, Transformers: examples/import/tiny_gpt.yaml is what the
    import writes, its counts are specs/gpt2.yaml's at that size, the figures the text
    derives are the printed ones, and verify checks what the text says."""
    from doc_blocks import blocks

    cmd, imported = next((c, o) for c, o in blocks(TUTORIAL) if "tiny_gpt.py" in c)
    spec = ROOT / "examples" / "import" / "tiny_gpt.yaml"
    assert spec.read_text(encoding="utf-8") == imported
    got = analyse(load(str(spec)))
    want = analyse(load(str(ROOT / "specs" / "gpt2.yaml"),
                        dict(n_layer=2, d_model=64, n_head=4, n_ctx=64, vocab=512, L=None)))
    assert got.total.params == want.total.params == 136_960
    assert sympy.simplify(sympy.sympify(got.total.macs) - want.total.macs) == 0
    d = 64  # 12d² + 13d per block; 12d² per token per block, d·V for the head; 2·2·d per L²
    assert 12 * d * d + 13 * d == 49_984 and 2 * 12 * d * d + d * 512 == 131_072
    assert 2 * 2 * d == 256
    text = TUTORIAL.read_text(encoding="utf-8")
    assert "Total MACs: 131072*L + 256*L**2" in text and "49,984" in text
    result = archcalc.verify(str(spec), rf="off")
    assert result.ok and not result.mismatches and result.checked == 440
    assert "All 440 checks match" in text
