"""The transformer specs (LLaMA-7B, Mistral-7B, t5-small) reproduce their published parameter counts exactly, and their MACs
equal the counts derived here by hand from the architecture (analysis only: no torch; verify
on the meta device builds them in tests/test_verify_zoo.py).

Per decoder layer of width D, H heads of D/H features, KV key/value heads, FFN width F, at
L tokens: the q and o projections 2·L·D² MACs, k and v 2·L·D·(D·KV/H), the gated MLP
(gate, up, down) 3·L·D·F, the two attention products 2·L²·D (in full; causal halves them
under --convention megatron, docs/conventions.md). Parameters: the same matrices and two
RMSNorm scales of D; the embedding and the untied lm_head V·D each, and a final RMSNorm D.
"""

from __future__ import annotations

import pytest

from archcalc import conventions
from conftest import SPECS
from helpers import analyse_file
from published import TRANSFORMERS


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
