"""Spec items as users write them: switchable parts, names that are also type names."""

from __future__ import annotations

from helpers import analyse_text


def test_named_repeat_zero_is_left_out_and_its_name_stands_for_its_input():
    # A residual stage switched off with a symbol: `repeat: n` with n = 0 leaves the body
    # out; `add: {with: extra}` then adds the input to itself (3·8·8 = 192 elements).
    spec = ("symbols: {n: 0}\ninput: [3, 8, 8]\nlayers:\n"
            "  - repeat: n\n    name: extra\n    layers:\n      - conv2d: {out: 3, kernel: 1}\n"
            "  - add: {with: extra}\n")
    a = analyse_text(spec)
    assert [r.type for r in a.layers[1:]] == ["add"]
    assert a.total.params == 0
    assert a.total.output_shape == (3, 8, 8)
    # The same spec with n = 2 has the two 1x1 convs: 2 · (3·3 + 3) = 24 parameters.
    b = analyse_text(spec.replace("{n: 0}", "{n: 2}"))
    assert b.total.params == 24
    assert b.record("extra").params == 24


def test_a_layer_may_be_named_like_a_layer_type():
    # A classifier head named after what it is: 'linear' (10·4 + 4 = 44 params) and 'lrn'.
    a = analyse_text("input: [10]\nlayers:\n  - linear: {name: linear, out: 4}\n"
                     "  - relu: {name: lrn}\n  - add: {with: linear}\n")
    assert a.record("linear").params == 44
    assert a.record("lrn").type == "relu"
    assert a.total.output_shape == (4,)
