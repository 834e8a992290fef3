"""The transformer specs reproduce their published parameter counts exactly, and their MACs
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
