"""specs/gpt2.yaml: one spec for every GPT-2, exact against the published parameter counts,
nanoGPT's sizing notebook, and a closed form derived here by hand.

Per block of width d (HF GPT2Block / nanoGPT Block): ln_1 and ln_2 2d each (d without
bias), the fused qkv projection 3d² + 3d, its output projection d² + d, the MLP 4d² + 4d and
4d² + d: 12d² + 13d with biases, 12d² + 2d without. The network adds the token table V·d, the
position table n_ctx·d, a final norm 2d (d) and a head tied to the token table (nothing).
MACs at L tokens: L·12d² per block for the projections, 2·L²·d for Q·Kᵀ and A·V, and the
head L·d·V."""

from __future__ import annotations

import pytest
import sympy as sp

from conftest import SPECS
from helpers import analyse_file
from published import GPT2_SIZES, NANOGPT, TRANSFORMERS

SPEC = SPECS / "gpt2.yaml"
SIZES = ("n_layer", "d_model", "n_head", "n_ctx", "vocab")


def derived_params(n_layer, d, n_ctx, vocab, bias=True):
    block = 12 * d * d + (13 * d if bias else 2 * d)
    return vocab * d + n_ctx * d + n_layer * block + (2 * d if bias else d)


def derived_macs(n_layer, d, L, vocab):
    return n_layer * (12 * L * d * d + 2 * L * L * d) + L * d * vocab


def test_gpt2_small_is_the_published_count():
    a = analyse_file(SPEC)
    assert a.total.params == TRANSFORMERS["gpt2"]["num_params"] == \
        derived_params(12, 768, 1024, 50257), TRANSFORMERS["gpt2"]["source"]
    assert a.record("lm_head").params == 0  # tied to wte, counted there
    assert a.total.output_shape == (1024, 50257)


@pytest.mark.parametrize("preset", sorted(GPT2_SIZES))
def test_the_larger_gpt2s_by_set(preset):
    (n_layer, d, n_head), published = GPT2_SIZES[preset]
    a = analyse_file(SPEC, n_layer=n_layer, d_model=d, n_head=n_head)
    assert a.total.params == published == derived_params(n_layer, d, 1024, 50257)


def test_nanogpt_without_biases():
    a = analyse_file(SPEC, bias=0)
    assert a.total.params == NANOGPT["params"]
    assert a.total.flops == NANOGPT["forward_flops"]
    # its per-part FLOPs of one block, against the block's layers here
    parts = NANOGPT["block_flops"]
    attn = a.record("h.block_1.attn").flops
    assert attn == parts["attention/kqv"] + parts["attention/scores"] + \
        parts["attention/reduce"] + parts["attention/proj"]
    mlp = a.record("h.block_1.c_fc").flops + a.record("h.block_1.c_proj").flops
    assert mlp == parts["mlp/ffw1"] + parts["mlp/ffw2"]
    assert a.record("lm_head").flops == NANOGPT["dense_flops"]


def test_fully_symbolic_is_the_derived_polynomial():
    a = analyse_file(SPEC, **{name: None for name in SIZES})
    n_layer, d, n_head, n_ctx, vocab = (a.graph.symbols[name] for name in SIZES)
    assert sp.expand(a.total.params - derived_params(n_layer, d, n_ctx, vocab)) == 0
    assert sp.expand(a.total.macs - derived_macs(n_layer, d, n_ctx, vocab)) == 0
    assert a.record("h").times == n_layer
    texts = {str(c) for c, _, _ in a.conditions}
    assert any("n_head" in t and "d_model" in t for t in texts)  # d_model % n_head == 0


def test_the_sequence_length_shows_its_square():
    a = analyse_file(SPEC, L=None)
    L = a.graph.symbols["L"]
    assert sp.expand(a.total.macs - derived_macs(12, 768, L, 50257)) == 0
    assert sp.Poly(a.total.macs, L).degree() == 2
    # the position table's rows: L ≤ n_ctx is a stated condition
    assert any(sp.simplify(c.subs(L, 1025)) == sp.false for c, _, _ in a.conditions)


def test_megatron_halves_the_causal_products():
    from archcalc import conventions

    a = conventions.get("megatron").apply(analyse_file(SPEC))
    L, d = 1024, 768
    assert a.total.macs == derived_macs(12, d, L, 50257) - 12 * L * L * d


def test_header_cites_the_sources():
    header = SPEC.read_text().split("\nname:")[0]
    assert "gpt2_presets.py" in header and "transformer_sizing.ipynb" in header
    for figure in ("124,439,808", "354,823,168", "774,030,080", "1,557,611,200",
                   "124,337,664", "291,648,307,200"):
        assert figure in header
