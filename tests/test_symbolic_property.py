"""Closed forms agree with the numeric path: random layer chains with a free input size H
(and free width C) are analysed symbolically, then H, C are substituted and compared with a
numeric analysis of the same spec — shapes, params, MACs and receptive fields. Where the
numeric path rejects a size, some recorded condition must be false there, and vice versa."""

from __future__ import annotations

import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archcalc.analysis import analyse
from archcalc.errors import SpecError
from archcalc.spec.loader import load_string

layer = st.one_of(
    st.builds(lambda k, s, p, d: f"conv2d: {{out: 4, kernel: {k}, stride: {s}, padding: {p}, "
              f"dilation: {d}}}", st.integers(1, 5), st.integers(1, 3), st.integers(0, 2),
              st.integers(1, 2)),
    st.builds(lambda k, s: f"conv2d: {{out: C, kernel: {k}, stride: {s}, padding: same}}",
              st.integers(1, 4), st.integers(1, 3)),
    st.builds(lambda k, s, p, c: f"maxpool2d: {{kernel: {k}, stride: {s}, padding: {p}, "
              f"ceil_mode: {c}}}", st.integers(2, 4), st.integers(1, 3), st.integers(0, 1),
              st.sampled_from(["true", "false"])),
    st.builds(lambda k, s: f"avgpool2d: {{kernel: {k}, stride: {s}}}", st.integers(1, 3),
              st.integers(1, 3)),
    st.builds(lambda k, s, p: f"convtranspose2d: {{out: 2, kernel: {k}, stride: {s}, "
              f"padding: {p}}}", st.integers(1, 4), st.integers(1, 3), st.integers(0, 1)),
    st.just("batchnorm2d"), st.just("relu"),
    st.builds(lambda p: f"zeropad: {{padding: {p}}}", st.integers(0, 2)),
)

H, C = sp.symbols("H C", integer=True, positive=True)


def spec(layers: list[str]) -> str:
    body = "\n".join(f"  - {item}" for item in layers)
    return f"symbols: {{H: null, C: null}}\ninput: [C, H, H]\nlayers:\n{body}\n"


def numeric(text: str, h: int, c: int):
    try:
        return analyse(load_string(text, "p.yaml", {"H": h, "C": c}))
    except SpecError:
        return None


def at(value, h, c):
    return value if isinstance(value, int) else int(sp.sympify(value).subs({H: h, C: c}))


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(layer, min_size=1, max_size=5), st.integers(1, 40), st.integers(1, 6))
def test_symbolic_equals_numeric(layers, h, c):
    text = spec(layers)
    try:
        sym = analyse(load_string(text, "p.yaml"))
    except SpecError:
        return  # invalid for every H (e.g. a structural error): nothing to compare
    num = numeric(text, h, c)
    holds = all(bool(cond.subs({H: h, C: c})) for cond, _, _ in sym.conditions)
    assert holds == (num is not None), (text, h, c, [str(x[0]) for x in sym.conditions])
    if num is None:
        return
    for s, n in zip(sym.layers, num.layers):
        assert tuple(at(d, h, c) for d in s.output_shape) == n.output_shape, (s.name, text)
        assert at(s.params, h, c) == n.params
        assert at(s.macs, h, c) == n.macs
        if s.rf is not None:
            for sa, na in zip(s.rf, n.rf):
                assert (at(sa.size, h, c), at(sa.jump, h, c), at(sa.start, h, c)) == \
                    (na.size, na.jump, na.start)
