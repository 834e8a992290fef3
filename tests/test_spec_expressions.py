"""Spec expressions beyond arithmetic: the functions round, int, abs and make_divisible,
real-valued symbols, indexed repeats, padding 'full', tensor block parameters and
upsample's ``like`` (docs/spec-format.md)."""

from __future__ import annotations

import pytest
import sympy as sp

from archcalc import expr
from archcalc.errors import SpecError, Unbound
from archcalc.spec.loader import SymbolError
from helpers import analyse_text


def ev(text: str, **env):
    return expr.evaluate_text(text, env)


# ------------------------------------------------------------------ make_divisible
@pytest.mark.parametrize("text, expected", [
    # torchvision/models/_utils.py _make_divisible, worked by hand:
    ("make_divisible(32*0.75, 8)", 24),   # int(24 + 4) // 8 * 8 = 24
    ("make_divisible(32*1.4, 8)", 48),    # int(44.8 + 4) = 48 → 48 (MobileNetV2 at 1.4)
    ("make_divisible(11.2, 8)", 16),      # 8, below 0.9·11.2 = 10.08: + 8
    ("make_divisible(5.6, 8)", 8),        # int(9.6) // 8 * 8 = 8 ≥ min_value 8
    ("make_divisible(3, 8, 1)", 9),       # max(1, 0) = 1 < 2.7: + 8
    ("make_divisible(20, 8)", 24),        # int(24) // 8 * 8 = 24 (halves go up)
    ("make_divisible(19.9, 8)", 24),      # int(23.9) = 23 → 16, below 0.9·19.9 = 17.91: + 8
])
def test_make_divisible_follows_torchvision(text, expected):
    assert ev(text) == expected
    assert isinstance(ev(text), int)


def test_make_divisible_arguments():
    with pytest.raises(SpecError, match=r"make_divisible\(v, divisor\[, min_value\]\) takes 2 "
                       r"or 3 arguments, got 1"):
        ev("make_divisible(24)")
    with pytest.raises(SpecError, match="takes 2 or 3 arguments, got 4"):
        ev("make_divisible(24, 8, 8, 8)")
    with pytest.raises(SpecError, match="divisor must be a positive whole number, got 0"):
        ev("make_divisible(24, 0)")
    with pytest.raises(SpecError, match="min_value must be a whole number"):
        ev("make_divisible(24, 8, 1.5)")


def test_make_divisible_of_a_free_symbol_is_refused():
    c = sp.Symbol("c", integer=True, positive=True)
    with pytest.raises(SpecError, match="make_divisible.. needs numbers, but v is 2.c"):
        ev("make_divisible(2*c, 8)", c=c)


# ------------------------------------------------------------------ round, int, abs
def test_round_is_half_to_even():
    # Python's round: banker's rounding (the Python docs, built-in round())
    assert [ev(f"round({x})") for x in ("2.5", "3.5", "-2.5", "0.5", "2.6", "5/2", "7/2")] \
        == [2, 4, -2, 0, 3, 2, 4]


def test_int_truncates_toward_zero_and_abs():
    assert [ev("int(2.7)"), ev("int(-2.7)"), ev("int(7/2)")] == [2, -2, 3]
    assert [ev("abs(-3)"), ev("abs(3 - 5/2)")] == [3, 0.5]


def test_functions_of_free_symbols_stay_closed_forms():
    c = sp.Symbol("c", integer=True, positive=True)
    w = sp.Symbol("w", real=True, positive=True)
    assert ev("floor(16*w)", w=w) == sp.floor(16 * w)
    assert ev("ceil(w)", w=w) == sp.ceiling(w)
    assert ev("int(16*w)", w=w) == sp.floor(16 * w)  # not negative: int is the floor
    assert ev("abs(c - 3)", c=c) == sp.Abs(c - 3)
    assert ev("max(8, c)", c=c) == sp.Max(8, c)
    with pytest.raises(SpecError, match=r"round\(\) needs a number"):
        ev("round(c/3)", c=c)
    with pytest.raises(SpecError, match=r"int\(\) needs a number or a closed form that is "
                       "not negative"):
        ev("int(3 - c)", c=c)


def test_unknown_function_suggests_and_arity_is_checked():
    with pytest.raises(SpecError, match="unknown function 'rnd'.*did you mean 'round'"):
        ev("rnd(2)")
    with pytest.raises(SpecError, match=r"abs\(\) takes exactly one argument, got 2"):
        ev("abs(1, 2)")


# ------------------------------------------------------------------ real-valued symbols
WIDTH = """
symbols:
  w: {real: true, default: 1.0}
input: [3, 32, 32]
layers:
  - conv2d: {out: "make_divisible(32*w, 8)", kernel: 3, padding: 1, bias: false}
  - conv2d: {out: "round(24*w)", kernel: 1, bias: false}
"""


def test_real_symbol_default_and_set():
    a = analyse_text(WIDTH)
    assert a.total.params == 3 * 9 * 32 + 32 * 24
    # w = 0.75: make_divisible(24.0, 8) = 24, round(18.0) = 18
    b = analyse_text(WIDTH, w=0.75)
    assert b.total.params == 3 * 9 * 24 + 24 * 18
    # w = 0.5625: make_divisible(18.0, 8): int(22.0) // 8 * 8 = 16, below 0.9·18 = 16.2,
    # so 24; round(13.5) = 14 (half to even)
    c = analyse_text(WIDTH, w=0.5625)
    assert c.total.params == 3 * 9 * 24 + 24 * 14
    # w = 0.4375: make_divisible(14.0, 8) = int(18.0) // 8 * 8 = 16; round(10.5) = 10
    d = analyse_text(WIDTH, w=0.4375)
    assert d.total.params == 3 * 9 * 16 + 16 * 10


def test_real_symbol_size_must_be_made_whole():
    text = WIDTH.replace('"round(24*w)"', "24*w")
    with pytest.raises(SpecError, match=r"'out' must be a whole number, got 24.0 \(w is "
                       "real-valued: make a whole number with round"):
        analyse_text(text)
    free = text.replace("{real: true, default: 1.0}", "{real: true}").replace(
        '"make_divisible(32*w, 8)"', "32")
    with pytest.raises(SpecError, match=r"must be a whole number, got 24\*w \(w is real"):
        analyse_text(free)


def test_free_real_symbol_through_floor():
    text = WIDTH.replace("{real: true, default: 1.0}", "{real: true}").replace(
        '"make_divisible(32*w, 8)"', '"floor(32*w)"').replace('"round(24*w)"', "8")
    a = analyse_text(text)
    w = sp.Symbol("w", real=True, positive=True)
    assert sp.simplify(a.total.params - (27 * sp.floor(32 * w) + 8 * sp.floor(32 * w))) == 0


def test_real_symbol_set_must_be_positive():
    with pytest.raises(SymbolError, match="'w' is a real-valued symbol in this spec; give a "
                       "positive number"):
        analyse_text(WIDTH, w=-1)


# ------------------------------------------------------------------ indexed repeats
def test_repeat_index_runs_zero_to_n_minus_one():
    a = analyse_text("""
        input: [4, 8, 8]
        layers:
          - repeat: {count: 3, index: i}
            layers:
              - conv2d: {out: "4 + 2*i", kernel: 1}
          - conv2d: {out: 1, kernel: 1}
        """)
    outs = [r.output_shape[0] for r in a.layers if r.type == "conv2d"]
    assert outs == [4, 6, 8, 1]


def test_repeat_index_inside_a_named_repeat_and_a_block_argument():
    a = analyse_text("""
        input: [16, 64]
        blocks:
          dil:
            params: [d]
            layers: [conv1d: {out: 16, kernel: 3, dilation: d}]
        layers:
          - repeat: {count: 3, index: i}
            name: stack
            layers: [dil: {d: "2**i"}]
        """)
    # dilations 1, 2, 4 with kernel 3: 64 − 2·(1 + 2 + 4) = 50, field 1 + 14
    assert a.total.output_shape == (16, 50)
    assert [f.size for f in a.record("stack").rf] == [15]


def test_repeat_plain_count_still_works_and_index_with_free_count_is_refused():
    base = """
        symbols: {n: null}
        input: [4, 8, 8]
        layers:
          - repeat: REPEAT
            layers: [conv2d: {out: 4, kernel: 3, padding: 1}]
        """
    a = analyse_text(base.replace("REPEAT", "n"))
    assert a.total.params == 4 * 9 * 4 * sp.Symbol("n", integer=True, positive=True) + \
        4 * sp.Symbol("n", integer=True, positive=True)
    assert analyse_text(base.replace("REPEAT", "{count: n}")).total.params == a.total.params
    with pytest.raises(Unbound, match="index 'i' differs from pass to pass"):
        analyse_text(base.replace("REPEAT", "{count: n, index: i}"))
    assert analyse_text(base.replace("REPEAT", "{count: 2, index: i}"), n=5).total.params \
        == 2 * (4 * 9 * 4 + 4)


# ------------------------------------------------------------------ padding full
@pytest.mark.parametrize("layer, n, out", [
    ("conv1d: {out: 2, kernel: 5, padding: full}", 10, 14),                # 10 + 4
    ("conv1d: {out: 2, kernel: 3, dilation: 3, padding: full}", 10, 16),   # 10 + 3·2
    ("conv1d: {out: 2, kernel: 3, stride: 2, padding: full}", 10, 6),      # ⌊(10+4−3)/2⌋+1
    ("maxpool1d: {kernel: 2, stride: 1, padding: full}", 10, 11),          # 10 + 1
    ("avgpool1d: {kernel: 1, padding: full}", 10, 10),                     # padding 0
])
def test_full_padding_sizes(layer, n, out):
    a = analyse_text(f"input: [1, {n}]\nlayers:\n  - {layer}\n")
    assert a.total.output_shape[1] == out


def test_full_padding_per_axis_and_written_out():
    a = analyse_text("""
        input: [1, 10, 12]
        layers: [conv2d: {out: 1, kernel: [3, 5], dilation: [1, 2], padding: full}]
        """)
    assert a.total.output_shape == (1, 12, 20)  # 10 + 2, 12 + 2·4
    assert a.graph.nodes[1].args["padding"] == (2, 8)


def test_full_padding_refused_where_pytorch_refuses_a_pool_padding():
    with pytest.raises(SpecError, match="padding 'full' is 2 per side for kernel 3"):
        analyse_text("input: [1, 10]\nlayers: [maxpool1d: {kernel: 3, padding: full}]\n")


# ------------------------------------------------------------------ tensor parameters
UP = """
input: [3, 32, 32]
blocks:
  up:
    params: [o, skip]
    layers:
      - upsample: {like: skip}
      - concat: {with: [skip]}
      - conv2d: {out: o, kernel: 1}
layers:
  - conv2d: {name: d1, out: 8, kernel: 3, padding: 1}
  - maxpool2d: {kernel: 2}
  - conv2d: {out: 4, kernel: 3}
  - up: {o: 2, skip: d1}
"""


def test_tensor_parameter_and_upsample_like():
    a = analyse_text(UP)
    # [4, 14, 14] upsampled to d1's 32 × 32, concatenated with d1's 8 channels
    assert a.record("up_1.upsample_1").output_shape == (4, 32, 32)
    assert a.record("up_1.concat_1").output_shape == (12, 32, 32)
    assert a.record("up_1.conv2d_1").params == 12 * 2 + 2


def test_a_symbol_wins_over_an_output_of_the_same_name():
    text = "symbols: {d1: 6}\n" + UP.replace("o: 2, skip: d1", "o: d1, skip: conv2d_1")
    a = analyse_text(text)
    # skip is conv2d_1, the [4, 14, 14] output itself; o is the symbol d1 = 6
    assert a.record("up_1.concat_1").output_shape == (8, 14, 14)
    assert a.total.output_shape == (6, 14, 14)


def test_upsample_needs_exactly_one_of_scale_size_like():
    with pytest.raises(SpecError, match="give exactly one of 'scale', 'size' and 'like'"):
        analyse_text("input: [1, 8, 8]\nlayers: [upsample: {scale: 2, size: 16}]\n")


def test_a_tensor_parameter_passes_on_to_an_inner_block_and_is_no_number():
    text = """
        input: [3, 8, 8]
        blocks:
          inner:
            params: [s2]
            layers: [concat: {with: [s2]}]
          up:
            params: [o, skip]
            layers: [inner: {s2: skip}, conv2d: {out: o, kernel: 1}]
        layers:
          - conv2d: {name: d1, out: 4, kernel: 3, padding: 1}
          - up: {o: 2, skip: d1}
        """
    # d1 concatenated with itself: 8 channels, then 8·2 + 2 parameters
    a = analyse_text(text)
    assert a.record("up_1.inner_1.concat_1").output_shape == (8, 8, 8)
    assert a.record("up_1.conv2d_1").params == 18
    with pytest.raises(SpecError, match="'skip' names the output 'd1' \\(a tensor\\), not a "
                       "number"):
        analyse_text(text.replace("out: o,", "out: skip,"))
