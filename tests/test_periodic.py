"""Exact closed forms for a free input size: Keras 'same' padding written in the remainder of
a stride (archcalc/layers/window.py), and what a form's period proves
(archcalc/periodic.py): inequalities on one size decided, the bounds of a merge's fields.

Every expected value is the plain rule evaluated at each size: TF/Keras 'same' (out =
⌈n/s⌉, total pad max((out − 1)·s + k − n, 0), ⌊total/2⌋ before; docs/pytorch-semantics.md
§1.2 and TensorFlow's "SAME" padding documentation, tensorflow.org/api_docs/python/tf/nn
#notes_on_padding_2), or a brute-force check over the sizes.
"""

from __future__ import annotations

import random

import pytest
import sympy as sp

from archcalc import dims, periodic
from archcalc.layers.window import keras_same_pads
from helpers import analyse_text, sym

H = sym("H")


def _keras(n: int, k: int, s: int) -> tuple:
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def _nested(e) -> bool:
    rounding = (sp.floor, sp.ceiling)
    return any(isinstance(a, rounding) and any(isinstance(b, rounding)
                                               for b in sp.preorder_traversal(a) if b is not a)
               for a in sp.preorder_traversal(e))


@pytest.mark.parametrize("s", [1, 2, 3, 4])
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 7])
def test_keras_same_pads_in_closed_form_are_keras_rule(k, s):
    """On a free size, and on a size that is itself a floor (after a strided layer), the
    pads equal Keras's at every n; stride 2 and 1 give a + b·r, r = s·⌈n/s⌉ − n, with no
    floor inside another and no Max."""
    for n in (H, sp.floor((H - 3) / 2) - 1):
        left, right = keras_same_pads(n, k, s)
        for h in range(5, 90):
            m = int(n.xreplace({H: h}))
            got = tuple(int(sp.sympify(v).xreplace({H: h})) for v in (left, right))
            assert got == _keras(m, k, s), (k, s, h)
        if s <= 2:
            for v in (left, right):
                assert not _nested(sp.sympify(v)) and not sp.sympify(v).has(sp.Max), (k, s, v)


def test_stride_two_pad_is_the_remainder():
    """k = 3, s = 2 (Xception's pools): total = r + 1, so left = r = 2·⌈H/2⌉ − H (1 for odd
    H, 0 for even) and right = 1; k = 1, s = 2 (its shortcuts): no pad at all."""
    assert keras_same_pads(H, 3, 2) == (2 * sp.floor(H / 2 + sp.Rational(1, 2)) - H, 1)
    assert keras_same_pads(H, 1, 2) == (0, 0)


def test_decide_is_exact_on_one_size():
    """Inequalities on one size decided from their period agree with every size 1 … 600;
    one that depends on the size is undecided."""
    cases = {
        sp.Le(16 * sp.floor(H / 16 - sp.Rational(19, 4)) - 104, H - 4): True,  # U-Net crop
        sp.Ge(sp.floor(H / 2) - H, 0): False,
        sp.Gt(2 * sp.floor(H / 2 + sp.Rational(1, 2)) - H, -1): True,  # parity r ≥ 0
        sp.Ge(H - 3, 0): None,
        sp.Ge(sp.floor(H / 4) - sp.floor(H / 8) * 2, 1): None,  # 0 or 1 by H mod 8
    }
    for cond, truth in cases.items():
        assert periodic.decide(cond) is truth, cond
        if truth is not None:
            assert all(bool(cond.xreplace({H: h})) is truth for h in range(1, 601)), cond


def test_only_sizes_are_decided():
    """A real symbol (a width multiplier) is not a size: its values are not the integers
    the period's points stand for, so nothing is decided about it."""
    w = sp.Symbol("w", real=True, positive=True)
    assert periodic.decide(sp.Ge(32 * w, 1)) is None
    assert not periodic.never_negative(32 * w - 1)
    assert periodic.decide(sp.Ge(32 * sp.floor(H / 32), 1)) is None  # 0 below 32
    assert periodic.decide(sp.Ge(32 * sp.floor(H / 32) + 32, H)) is True


def test_decide_agrees_with_brute_force_on_random_forms():
    """Random sums of floors of rational multiples of H: whatever decide proves holds (or
    fails) at every size 1 … 400, computed with Python's integer floor division."""
    rng = random.Random(7)
    decided = 0
    for _ in range(300):
        a, c = rng.randint(-3, 3), rng.randint(-20, 20)
        terms = [(rng.randint(-4, 4), rng.randint(-9, 9), rng.choice((2, 3, 4, 8, 16)))
                 for _ in range(rng.randint(1, 3))]
        f = a * H + c + sum(m * sp.floor((H + o) / b) for m, o, b in terms)
        cond = sp.Ge(f, 0)
        truth = periodic.decide(cond)
        if truth is not None and cond not in (sp.true, sp.false):
            decided += 1
            for h in range(1, 401):
                plain = a * h + c + sum(m * ((h + o) // b) for m, o, b in terms)
                assert (plain >= 0) is truth, (cond, h)
    assert decided > 20  # the check can fail


def test_least_of_starts_that_differ_by_a_parity():
    """Xception's entry blocks: the residual branch starts 2j + j·r before the shortcut
    (two 3×3 'same' convolutions, then a 3×3/2 pool whose left pad is r ∈ {0, 1}); the
    difference repeats every 2 pixels and is ≥ 0, so the residual start is the least."""
    r = 2 * sp.floor(H / 2 + sp.Rational(1, 2)) - H
    shortcut = -3 * sp.floor(H / 2) + 5
    residual = shortcut - 2 * 4 - 4 * r
    assert periodic.least([shortcut, residual]) == residual
    assert periodic.greatest([shortcut, residual]) == shortcut
    assert sp.Min(shortcut, residual).has(sp.Min)  # what sympy alone leaves


UNORDERED = """
symbols: {H: null}
input: [1, H, 8]
layers:
  - branches:
      - [conv2d: {out: 1, kernel: 3, stride: 2, padding: same},
         conv2d: {out: 1, kernel: 3, stride: 2, padding: same}]
      - [conv2d: {out: 1, kernel: 4, stride: 2, padding: same},
         conv2d: {out: 1, kernel: 2, stride: 2, padding: same}]
    merge: add
"""


def test_unordered_starts_keep_their_min():
    """Two branches whose starts are ordered differently at different sizes: the first
    starts at −r₁ − 2·r₂ (r₁ = H mod 2, r₂ = ⌈H/2⌉ mod 2: −3, −2, −1, 0 at H = 1, 2, 3,
    4), the second at −1 (left pads 1, then 0). Neither bounds the other (−3 < −1 at H = 1,
    0 > −1 at H = 4), so the union's start is their Min: exact, not shortened; at
    H = 1 … 64 it is the numeric analysis's."""
    a = analyse_text(UNORDERED)
    start = a.layers[-1].rf[0].start
    assert start.has(sp.Min), start
    for h in range(1, 65):
        n = analyse_text(UNORDERED.replace("symbols: {H: null}\ninput: [1, H, 8]",
                                           f"input: [1, {h}, 8]"))
        want, got = n.layers[-1].rf[0], a.layers[-1].rf[0]
        size = got.size.xreplace({H: h}) if dims.is_symbolic(got.size) else got.size
        assert (int(got.start.xreplace({H: h})), int(size)) == (want.start, want.size), h
