"""Bytes einsum and matmul keep for backward (archcalc/layers/product.py), against PyTorch's
saved-tensor hooks.

torch.einsum of two operands (aten/src/ATen/native/Linear.cpp: einsum, sumproduct_pair)
permutes its operands, sums away the axes only one of them has and reshapes each to a 3-D
operand of bmm, which keeps each for the other's gradient: the input's own storage when
those steps are views, else the copy (or the sum) — decided by the strides. torch.matmul
of operands with broadcast leading axes expands and reshapes them likewise. Closed form and
measurement must agree exactly, per layer and in total."""

from __future__ import annotations

import textwrap

import pytest

torch = pytest.importorskip("torch")

from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from archcalc.activations import saved  # noqa: E402
from archcalc.analysis import analyse  # noqa: E402
from archcalc.errors import SpecError  # noqa: E402
from archcalc.spec.loader import load_string  # noqa: E402
from saved_checks import assert_saved_exact as _assert_exact  # noqa: E402
from saved_checks import drawn as _valid  # noqa: E402

DTYPES = [(torch.float32, 4), (torch.float64, 8), (torch.bfloat16, 2), (torch.float16, 2)]


def _analysis(text: str):
    return analyse(load_string(textwrap.dedent(text)))






def test_einsum_by_hand():
    """Operands a [4, 5] and b [4, 5] (two linear layers' outputs), batch 2, float32.

    "ij,kj->ik" is verify's "xij,xkj->xik": lro = x, lo = i, sum = j, ro = k; a permuted to
    [x, i, j] is itself, reshaped to [2, 4, 5] a view: bmm keeps a's storage, 2·4·5 floats;
    b permuted to [x, j, k] is a transpose (strides 20, 1, 5), whose reshape to [2, 5, 4]
    is a view too: b's storage, 2·4·5. (40 + 40)·4 = 320 B.

    "ij,kl->ik" sums j away from a and l from b first (each axis only one operand has):
    bmm multiplies [2, 4, 1] by [2, 1, 4], new tensors of 2·4 floats each: (8 + 8)·4 = 64 B.
    """
    a = _analysis("""
        input: [4, 5]
        layers:
          - linear: {name: a, out: 5}
          - linear: {name: b, from: input, out: 5}
          - einsum: {from: a, equation: "ij,kj->ik", with: [b]}
          - einsum: {from: a, equation: "ij,kl->ik", with: [b]}
    """)
    s = saved(a, 4, 2)
    assert s.per_layer["einsum_1"] == 320
    assert s.per_layer["einsum_2"] == 64
    _assert_exact(a, 2)


@st.composite
def einsum_networks(draw):
    """Two operands from linear layers (or the network's input, which needs no gradient),
    reshaped to random shapes over shared labels: contractions, batch labels, labels only
    one operand has (summed first), diagonals, an output in any order or implicit, an
    ellipsis that broadcasts; then a layer that reads the result."""
    sizes = {c: draw(st.integers(1, 4)) for c in "ijkl"}
    left = draw(st.lists(st.sampled_from("ijkl"), min_size=1, max_size=3))
    right = draw(st.lists(st.sampled_from("ijkl"), min_size=1, max_size=3))
    assume(left.count(left[0]) < 3 and all(left.count(c) <= 2 for c in left))
    assume(all(right.count(c) <= 2 for c in right))
    ellipsis = draw(st.booleans())
    lead = [draw(st.sampled_from([1, 2])), draw(st.sampled_from([1, 2]))] if ellipsis \
        else [None, None]
    seen = list(dict.fromkeys(left + right))
    if draw(st.booleans()):  # implicit output: the labels seen once, in order
        out = None
    else:
        out = draw(st.permutations(seen)).copy()
        out = out[:draw(st.integers(1, len(out)))]
    shapes, ops = [], []
    for labels, extra in zip((left, right), lead):
        shape = [sizes[c] for c in labels]
        if extra is not None:
            shape = [extra] + shape
        shapes.append(shape)
        ops.append(("..." if extra is not None else "") + "".join(labels))
    assume(out or ellipsis or any((left + right).count(c) == 1 for c in seen))
    equation = ",".join(ops) + ("" if out is None else "->" + ("..." if ellipsis else "")
                                + "".join(out))
    size = [1] * 2
    for i, shape in enumerate(shapes):
        for n in shape:
            size[i] *= n
    first = draw(st.sampled_from(["input", "linear"]))
    layers = [f"linear: {{name: a0, out: {size[0]}}}" if first == "linear"
              else "identity: {name: a0}",
              f"reshape: {{name: a, shape: {shapes[0]}}}",
              f"linear: {{name: b0, from: input, out: {size[1]}}}",
              f"reshape: {{name: b, shape: {shapes[1]}}}",
              f"einsum: {{from: a, equation: \"{equation}\", with: [b]}}"]
    layers.append(draw(st.sampled_from(["relu", "flatten", "identity", "tanh"])))
    layers.append(f"linear: {{out: {draw(st.integers(1, 3))}}}")
    source = f"[{size[0]}]"
    return f"input: {source}\nlayers:\n" + "".join(f"  - {x}\n" for x in layers)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(einsum_networks(), st.integers(1, 3), st.sampled_from(DTYPES))
def test_random_einsum(text, batch, dtype):
    _assert_exact(_valid(text), batch, *dtype)


@st.composite
def matmul_networks(draw):
    """matmul of operands whose leading axes broadcast (a size-1 axis, a missing one), with
    the other operand transposed or not, either operand needing a gradient or not."""
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    h = draw(st.integers(1, 3))
    left = draw(st.sampled_from([[n, k], [h, n, k], [1, n, k], [2, h, n, k], [1, h, n, k]]))
    transpose = draw(st.booleans())
    tail = [m, k] if transpose else [k, m]
    right = draw(st.sampled_from([tail, [h, *tail], [1, *tail], [2, 1, *tail],
                                  [1, h, *tail]]))
    sizes = []
    for shape in (left, right):
        p = 1
        for x in shape:
            p *= x
        sizes.append(p)
    first = draw(st.sampled_from(["input", "linear"]))
    layers = [f"linear: {{name: a0, out: {sizes[0]}}}" if first == "linear"
              else "identity: {name: a0}",
              f"reshape: {{name: a, shape: {left}}}",
              f"linear: {{name: b0, from: input, out: {sizes[1]}}}",
              f"reshape: {{name: b, shape: {right}}}",
              f"matmul: {{from: a, with: b, transpose: {str(transpose).lower()}}}",
              "relu", "flatten", "linear: {out: 2}"]
    return f"input: [{sizes[0]}]\nlayers:\n" + "".join(f"  - {x}\n" for x in layers)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(matmul_networks(), st.integers(1, 3))
def test_random_broadcasting_matmul(text, batch):
    _assert_exact(_valid(text), batch)


def test_broadcasting_matmul_by_hand():
    """a [3, 4, 5] @ b [5, 2] at batch 2: verify's copy lifts b to [2, 1, 5, 2], matmul
    expands it to [2, 3, 5, 2] (stride 0 along the 3) and reshapes it to [6, 5, 2], a copy
    of 60 floats that bmm keeps for a's gradient; a's reshape to [6, 4, 5] is a view: bmm
    keeps a's storage, 2·60 floats: (120 + 60)·4 = 720 B. At batch 1 the broadcast axis is
    the one leading axis longer than 1: [3, 5, 2] with stride 0 is a view of b, 10 floats:
    (60 + 10)·4 = 280 B."""
    a = _analysis("""
        input: [6]
        layers:
          - linear: {out: 60}
          - reshape: {name: a, shape: [3, 4, 5]}
          - linear: {from: input, out: 10}
          - reshape: {name: b, shape: [5, 2]}
          - matmul: {from: a, with: b}
    """)
    assert saved(a, 4, 2).per_layer["matmul_1"] == 720
    assert saved(a, 4, 1).per_layer["matmul_1"] == 280
    _assert_exact(a, 2)
    _assert_exact(a, 1)


def test_a_linear_on_einsums_permuted_result_is_refused():
    """"ij,kj->ki": bmm's result is [x, i, k], permuted to [x, k, i]: not contiguous, and
    what a linear keeps of it (a copy, or a transposed fold) is not modelled."""
    a = _analysis("""
        input: [4, 5]
        layers:
          - linear: {name: a, out: 5}
          - linear: {name: b, from: input, out: 5}
          - einsum: {from: a, equation: "ij,kj->ki", with: [b]}
          - linear: {out: 3}
    """)
    with pytest.raises(SpecError, match="linear 'linear_1': what it keeps of 'einsum_1', a "
                                        "tensor in an order of its own"):
        saved(a, 4, 2)


@pytest.mark.parametrize("text", [
    """
    input: [4, 5]
    layers:
      - linear: {name: a, out: 5}
      - linear: {name: b, from: input, out: 5}
      - einsum: {from: a, equation: "ij,kj->ik", with: [b]}
      - reshape: {shape: [2, 2, 4]}
      - matmul: {with: b}
      - multiheadattention: {heads: 5, from: a, kv: b}
      - linear: {out: 2}
    """])
def test_a_free_batch_is_the_case_of_two_or_more(text):
    """With the batch a symbol, the strides are decided at a generic batch (more than 1):
    the closed form equals the numeric count at batch 2 and 3."""
    import sympy as sp

    a = _analysis(text)
    b = sp.Symbol("B", positive=True, integer=True)
    form = saved(a, 4, b)
    for n in (2, 3):
        assert form.total.subs(b, n) == saved(a, 4, n).total
    _assert_exact(a, 2)
