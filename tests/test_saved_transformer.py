"""Bytes a transformer keeps for backward with dropout: attention's dropout of its weights,
GPT-2's residual and embedding dropouts, measured against PyTorch on a CPU, and the
per-layer figure of Korthikanti et al. 2022 on a GPU at 16 bits, an explained difference."""

from __future__ import annotations

import textwrap

import pytest
import sympy

torch = pytest.importorskip("torch")

from archcalc.activations import saved  # noqa: E402
from archcalc.analysis import analyse  # noqa: E402
from archcalc.spec.loader import load, load_string  # noqa: E402
from archcalc.torch_backend.saved import measure_saved  # noqa: E402

from conftest import ROOT  # noqa: E402


def _assert_measured(a, batch: int, dtype, nbytes: int):
    expected = saved(a, nbytes, batch)
    measured = measure_saved(a.graph, batch, dtype=dtype)
    assert expected.per_layer == {n.name: measured.per_node.get(n.id, 0)
                                  for n in a.graph.nodes[1:]}
    assert expected.total == measured.total


@pytest.mark.parametrize("p", [0.0, 0.25, 1.0])
@pytest.mark.parametrize("dtype, nbytes", [(torch.float32, 4), (torch.bfloat16, 2)])
def test_attention_dropout_measured(p, dtype, nbytes):
    """Softmax's result, dropout's noise (a CPU's composite input · noise keeps it, one
    element per weight; p = 1 a zero scalar) and the dropped weights A·V keeps; p = 0 no
    dropout at all."""
    text = f"""
        input: [6, 8]
        layers:
          - attention: {{heads: 2, causal: true, dropout: {p}}}
          - attention: {{heads: 4, kv_heads: 2, head_dim: 4, dropout: {p}, rotary: true}}
        """
    _assert_measured(analyse(load_string(textwrap.dedent(text))), 2, dtype, nbytes)


def test_attention_dropout_adds_two_weight_tensors():
    """By hand: at p > 0 on a GPU the bool mask (1 byte) and the dropped weights (the
    activation dtype) add B·H·L·S·(1 + bytes) to what p = 0 keeps; on a CPU the noise takes
    the activation dtype too. Counts are unchanged (dropout is no multiply-accumulate)."""
    def spec(p):
        return analyse(load_string(f"input: [5, 8]\nlayers: [attention: {{heads: 2, "
                                   f"dropout: {p}}}]\n"))
    without, with_ = spec(0), spec(0.1)
    assert with_.total.macs == without.total.macs
    weights = 3 * 2 * 5 * 5  # B·H·L·S at batch 3
    assert saved(with_, 2, 3, "cuda").total - saved(without, 2, 3, "cuda").total == \
        weights * (1 + 2)
    assert saved(with_, 4, 3).total - saved(without, 4, 3).total == weights * (4 + 4)


SMALL_GPT2 = {"n_layer": 2, "d_model": 32, "n_head": 4, "n_ctx": 16, "vocab": 50}
DROPOUTS = {"attn_pdrop": 0.1, "resid_pdrop": 0.1, "embd_pdrop": 0.1}


@pytest.mark.parametrize("batch", [1, 2])
def test_gpt2_with_dropout_measured(batch):
    """specs/gpt2.yaml with GPT-2's released dropouts (0.1 each) at a small size (float32:
    the measurement's network reads token ids and computes in its parameters' dtype)."""
    a = analyse(load(str(ROOT / "specs/gpt2.yaml"), {**SMALL_GPT2, **DROPOUTS}))
    _assert_measured(a, batch, torch.float32, 4)


def test_gpt2_dropouts_default_to_none():
    """With the default probabilities the spec has no dropout layer and keeps what it kept
    without them."""
    a = analyse(load(str(ROOT / "specs/gpt2.yaml"), SMALL_GPT2))
    assert not any(n.type == "dropout" for n in a.graph.nodes)
    assert all(n.args.get("dropout") == 0 for n in a.graph.nodes if n.type == "attention")


@pytest.mark.parametrize("s, h, a", [(32, 64, 4), (16, 96, 3), (24, 48, 6)])
def test_korthikanti_per_layer_activations(s, h, a):
    """Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer
    Models", Section 4.1, Eq. (1): without recomputation a transformer layer keeps
    s·b·h·(34 + 5·a·s/h) bytes at 16 bits, dropout masks 1 byte: attention 11sbh + 5as²b
    (QKV input 2sbh, Q and K 4sbh, softmax 2as²b, its dropout mask as²b, the dropped weights
    2as²b and V 2sbh, the output projection's input 2sbh, its dropout mask sbh), MLP 19sbh
    (2sbh + GELU's input 8sbh + the second linear's input 8sbh + mask sbh), the two layer
    norms' inputs 4sbh. GPT-2 as specified, float16 on a GPU (bool dropout masks), keeps
    exactly that per block plus what the paper leaves out:
    - the causal mask [s, s] bool that each attention layer builds (masked_fill keeps it):
      s² bytes, the same for every sample (the paper's fused kernel builds none);
    - each layer norm's mean and rstd per row, float32 on a GPU
      (aten/src/ATen/native/cuda/layer_norm_kernel.cu, layer_norm_cuda): 2 norms · 2 · s·b
      rows · 4 bytes = 16·s·b."""
    b = sympy.Symbol("b", positive=True, integer=True)
    spec = {**SMALL_GPT2, "d_model": h, "n_head": a, "n_ctx": s, **DROPOUTS}
    kept = saved(analyse(load(str(ROOT / "specs/gpt2.yaml"), spec)), 2, b, "cuda")
    for block in ("h.block_1.", "h.block_2."):
        per_block = sum(v for k, v in kept.per_layer.items() if k.startswith(block))
        korthikanti = s * b * h * (34 + sympy.Rational(5 * a * s, h))
        causal_mask = s * s
        norm_stats = 2 * 2 * s * b * 4
        assert sympy.expand(per_block - (korthikanti + causal_mask + norm_stats)) == 0


@pytest.mark.parametrize("nbytes, stat_bytes", [(2, 4), (4, 4), (8, 8)])
def test_layer_norm_statistics_on_a_gpu(nbytes, stat_bytes):
    """layer_norm_cuda (aten/src/ATen/native/cuda/layer_norm_kernel.cu) allocates mean and
    rstd in at::toAccumulateType(input, is_cuda=true): float32 for float16, bfloat16 and
    float32, float64 for float64; on a CPU they take the activation dtype (measured in
    tests/test_activations.py). A [7, 10] input at batch 3: 21 rows, two statistics each."""
    a = analyse(load_string("input: [7, 10]\nlayers: [layernorm]\n"))
    rows = 3 * 7
    inputs = 3 * 7 * 10 * nbytes
    assert saved(a, nbytes, 3, "cuda").total == inputs + 2 * rows * stat_bytes
    assert saved(a, nbytes, 3, "cpu").total == inputs + 2 * rows * nbytes
