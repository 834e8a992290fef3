"""Bytes nn.MultiheadAttention and frozen attention layers keep for backward
(archcalc/layers/attention.py), against PyTorch's saved-tensor hooks.

The measurement (archcalc/torch_backend/saved.py) runs verify's copy of the network in
training mode: nn.MultiheadAttention(batch_first=True) called with need_weights=True, keys
and values one tensor (torch/nn/functional.py, multi_head_attention_forward, the explicit
bmm and softmax path). Closed form and measurement must agree exactly, per layer and in
total, in float32, float64, bfloat16 and float16."""

from __future__ import annotations

import textwrap

import pytest

torch = pytest.importorskip("torch")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from archcalc.activations import saved  # noqa: E402
from archcalc.analysis import analyse  # noqa: E402
from archcalc.errors import SpecError  # noqa: E402
from archcalc.spec.loader import load, load_string  # noqa: E402
from saved_checks import assert_saved_exact as _assert_exact  # noqa: E402
from saved_checks import drawn as _valid  # noqa: E402

from conftest import ROOT  # noqa: E402

DTYPES = [(torch.float32, 4), (torch.float64, 8), (torch.bfloat16, 2), (torch.float16, 2)]


def _analysis(text: str):
    return analyse(load_string(textwrap.dedent(text)))




SELF = """
    input: [5, 8]
    layers:
      - linear: {name: tokens, out: 12}
      - multiheadattention: {heads: 3}
      - linear: {out: 4}
"""


def test_hand_derivation():
    """L = 5 tokens, E = 12, 3 heads, float32.

    Batch 2: the linear keeps its input, 2·5·8·4 = 320 B. The attention keeps the
    in-projections' inputs, each a copy of the sequence-first transpose folded to
    [L·B, E] (query.transpose(1, 0) is not contiguous): 2 × 2·5·12; Q·scale 2·5·12; the
    packed K and V projection [2, S, B, E], 2·2·5·12; softmax's result B·H·L·S = 2·3·5·5;
    out_proj's input 2·5·12: (120 + 120 + 120 + 240 + 150 + 120)·4 = 3,480 B. Its output is
    the transpose of a [L, B, E] tensor, so the last linear keeps a copy, 2·5·12·4 = 480 B.
    Total 4,280.

    Batch 1: the transposes are contiguous, so both in-projections keep the first linear's
    output itself, 60 floats, once: (60 + 60 + 120 + 75 + 60)·4 = 1,500 B; the last linear
    keeps the (contiguous) output, 240 B. Total 160 + 1,500 + 240 = 1,900."""
    a = _analysis(SELF)
    two = saved(a, 4, 2)
    assert list(two.per_layer.values()) == [320, 3480, 480] and two.total == 4280
    one = saved(a, 4, 1)
    assert list(one.per_layer.values()) == [160, 1500, 240] and one.total == 1900
    _assert_exact(a, 2)
    _assert_exact(a, 1)


def test_options_by_hand():
    """Cross-attention on keys of other features (kdim ≠ E: three separate in-projections,
    K and V tensors of their own) with add_bias_kv (S + 1 keys); batch 2, L = S = 5, E = 12,
    kdim = 6, 3 heads: the inputs' copies 2·5·12 + 2 × 2·5·6; Q·scale 2·5·12; K and V
    2·6·12 each; softmax 2·3·5·6; out_proj's input 2·5·12:
    (120 + 120 + 120 + 144 + 144 + 180 + 120)·4 = 3,792 B. Frozen (trainable: false): no
    projection keeps its input: (120 + 144 + 144 + 180)·4 = 2,352 B."""
    text = """
        input: [5, 8]
        layers:
          - linear: {name: tokens, out: 12}
          - linear: {name: memory, out: 6}
          - multiheadattention: {from: tokens, heads: 3, kv: memory, kdim: 6, vdim: 6,
                                 add_bias_kv: true, bias: false{frozen}}
    """
    trained = saved(_analysis(text.replace("{frozen}", "")), 4, 2)
    assert trained.per_layer["multiheadattention_1"] == 3792
    frozen = saved(_analysis(text.replace("{frozen}", ", trainable: false")), 4, 2)
    assert frozen.per_layer["multiheadattention_1"] == 2352
    _assert_exact(_analysis(text.replace("{frozen}", "")), 2)
    _assert_exact(_analysis(text.replace("{frozen}", ", trainable: false")), 2)


@pytest.mark.parametrize("dtype, nbytes", DTYPES)
def test_dtypes(dtype, nbytes):
    """Every kept tensor takes the activation dtype (CPU): the total scales with it."""
    a = _analysis(SELF)
    assert _assert_exact(a, 2, dtype, nbytes).total == 4280 * nbytes // 4


@st.composite
def mha_networks(draw):
    """Token features, a memory of another length S and width, then one to three
    nn.MultiheadAttention layers (self or cross, heads, bias, add_bias_kv, kdim, frozen),
    each followed by layers that read its sequence-first output."""
    n, s = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    e, m = draw(st.sampled_from([4, 6, 12])), draw(st.sampled_from([4, 6, 12]))
    # the memory: S ≤ L keys from a slice, or 2·L from a concatenation
    keys = f"slice: {{stop: {s}}}" if s <= n else "concat: {with: [tokens]}"
    layers = [f"linear: {{name: tokens, out: {e}}}", keys, "relu",
              f"linear: {{name: memory, out: {m}}}"]
    after = ["relu", "gelu", "layernorm", "softmax: {dim: -1}", "dropout: {p: 0.3}",
             f"linear: {{out: {e}}}", "add: {with: [tokens]}", "mul: {with: [tokens]}",
             "identity", "slice: {stop: 2}", "tanh", "layerscale: {dim: -1}"]
    first = True
    for _ in range(draw(st.integers(1, 3))):
        heads = draw(st.sampled_from([h for h in (1, 2, 3, 4, 6) if e % h == 0]))
        args = [f"heads: {heads}"]
        if first or draw(st.booleans()):
            args.append("from: tokens")
        first = False
        if draw(st.booleans()):
            args += ["kv: memory", f"kdim: {m}", f"vdim: {m}"]
        for flag in ("add_bias_kv: true", "bias: false", "trainable: false"):
            if draw(st.booleans()):
                args.append(flag)
        layers.append("multiheadattention: {" + ", ".join(args) + "}")
        layers += draw(st.lists(st.sampled_from(after), max_size=3))
    layers.append("linear: {out: 2}")
    return f"input: [{n}, 3]\nlayers:\n" + "".join(f"  - {x}\n" for x in layers)




@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(mha_networks(), st.integers(1, 3), st.sampled_from(DTYPES))
def test_random_mha_networks(text, batch, dtype):
    _assert_exact(_valid(text), batch, *dtype)


@pytest.mark.parametrize("spec, sizes", [
    ("specs/vit_b_16.yaml", {"image": 32, "patch": 8, "layers": 2, "heads": 2, "hidden": 8,
                             "mlp": 12}),
    ("specs/bert-base.yaml", {"L": 6, "vocab": 40, "positions": 10, "layers": 2, "hidden": 8,
                              "heads": 2, "ffn": 12}),
    ("examples/vit-block.yaml", {}),
])
@pytest.mark.parametrize("batch", [1, 2])
def test_zoo_encoders_exact(spec, sizes, batch):
    """ViT's and BERT's encoder blocks at small sizes: the residual add takes the
    attention's sequence-first layout, and the class token's slice, flattened, is a view
    with gaps between its rows, which the head (pooler) keeps as it is."""
    _assert_exact(analyse(load(str(ROOT / spec), sizes)), batch)


def test_a_permuted_input_is_refused():
    a = _analysis("""
        input: [4, 6]
        layers:
          - linear: {out: 4}
          - permute: {dims: [1, 0]}
          - multiheadattention: {heads: 2}
    """)
    with pytest.raises(SpecError, match="multiheadattention 'multiheadattention_1': what its "
                                        "in-projection keeps of a sliced or permuted input"):
        saved(a, 4, 2)


def test_a_linear_on_a_permuted_attention_output_is_refused():
    a = _analysis("""
        input: [4, 6]
        layers:
          - multiheadattention: {heads: 2}
          - permute: {dims: [1, 0]}
          - linear: {out: 3}
    """)
    _assert_exact(a, 1)
    with pytest.raises(SpecError, match="linear 'linear_1': what it keeps of 'permute_1', "
                                        "a tensor in an order of its own"):
        saved(a, 4, 2)


# ---------------------------------------------------------------- frozen attention
@st.composite
def frozen_attention_networks(draw):
    """General attention layers, some frozen, on queries and keys that need a gradient or
    not (a frozen layer reading the network's input keeps nothing)."""
    n = draw(st.integers(1, 5))
    memory = "true" if draw(st.booleans()) else "false"
    layers = ["linear: {name: tokens, out: 8}",
              f"linear: {{name: memory, from: input, out: 6, trainable: {memory}}}"]
    options = ["causal: true", "rotary: true", "bias_table: 5", "dropout: 0.25",
               "kv_heads: 2", "bias: false"]
    for _ in range(draw(st.integers(1, 3))):
        args = ["heads: 4", "head_dim: 2"]
        args += [o for o in options if draw(st.booleans())]
        if draw(st.booleans()):
            args += ["from: tokens", "kv: memory"]
        if draw(st.booleans()):
            args.append("trainable: false")
        layers.append("attention: {" + ", ".join(args) + "}")
    layers.append("linear: {out: 2}")
    return f"input: [{n}, 3]\nlayers:\n" + "".join(f"  - {x}\n" for x in layers)


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(frozen_attention_networks(), st.integers(1, 3))
def test_random_frozen_attention(text, batch):
    _assert_exact(_valid(text), batch)


def test_frozen_attention_by_hand():
    """A frozen self-attention layer (4 heads of 2, L = 5, batch 2) on a tensor that needs a
    gradient: no projection keeps its input and the bias table no index; Q·scale and Kᵀ
    2·4·5·2 each, the causal mask 5·5 bool, softmax's result 2·4·5·5, V 2·4·5·2:
    (80 + 80 + 200 + 80)·4 + 25 = 1,785 B. On the network's input (no gradient) it keeps
    nothing."""
    text = """
        input: [5, 8]
        layers:
          - linear: {out: 8}
          - attention: {heads: 4, head_dim: 2, causal: true, bias_table: 5, trainable: false}
    """
    a = _analysis(text)
    assert saved(a, 4, 2).per_layer["attention_1"] == 1785
    _assert_exact(a, 2)
    b = _analysis(text.replace("  - linear: {out: 8}\n", ""))
    assert saved(b, 4, 2).total == 0
    _assert_exact(b, 2)
