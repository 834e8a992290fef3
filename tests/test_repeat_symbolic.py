"""``repeat`` over a free symbol: the body is built once and counted that many times.

The closed form in the count must equal, at every value, the network built pass by pass
(the count bound with --set, which unrolls it): the same totals, group rows and receptive
fields. A body that does not keep its input's shape has no such closed form and is refused."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import analyse_text, sym


@pytest.fixture
def spec(spec_file):
    return spec_file

# Bodies that keep a [C, H, W] input's shape: stride-1 convolutions padded to keep the size
# (odd kernels, dilations), element-wise layers, a residual.
LAYERS = {
    "conv": "conv2d: {{out: 4, kernel: {k}, padding: {p}, dilation: {d}}}",
    "relu": "relu",
    "bn": "batchnorm2d",
    "pool": "maxpool2d: {{kernel: 3, stride: 1, padding: 1}}",
    "residual": "branches: [[conv2d: {{out: 4, kernel: {k}, padding: {p}, dilation: {d}}}], []]"
                "\n{pad}  merge: add",
}


def _body(choices, indent: str) -> str:
    lines = []
    for name, k, d in choices:
        text = LAYERS[name].format(k=k, p=d * (k - 1) // 2, d=d, pad=indent)
        lines.append(f"{indent}- {text}")
    return "\n".join(lines)


def _spec(choices, count: str, outer: str | None = None) -> str:
    inner = f"""\
  - repeat: {count}
    name: body
    layers:
{_body(choices, "      ")}"""
    if outer is not None:  # the same repeat inside another one
        inner = f"""\
  - repeat: {outer}
    name: outer
    layers:
""" + "\n".join("    " + line for line in inner.splitlines())
    return f"""\
symbols: {{n: null, m: null}}
input: [4, 12, 12]
layers:
  - conv2d: {{out: 4, kernel: 3, padding: 1}}
{inner}
  - flatten
  - linear: {{out: 3}}
"""


layer = st.tuples(st.sampled_from(sorted(LAYERS)), st.sampled_from([1, 3, 5]),
                  st.sampled_from([1, 2]))


def _at(value, subs):
    return value.subs(subs) if hasattr(value, "subs") else value


def _same(a, b, subs):
    """Two analyses' totals and the repeat's row agree once ``subs`` is put in ``a``."""
    at = lambda v: _at(v, subs)  # noqa: E731
    for metric in ("params", "buffers", "macs", "activations"):
        assert at(getattr(a.total, metric)) == getattr(b.total, metric), metric
    assert [at(x.size) for x in a.total.rf or ()] == [x.size for x in b.total.rf or ()]
    return True


@settings(max_examples=25, deadline=None)
@given(st.lists(layer, min_size=1, max_size=4), st.integers(1, 6))
def test_closed_form_equals_the_network_built_pass_by_pass(choices, count):
    n = sym("n")
    text = _spec(choices, "n")
    closed = analyse_text(text)
    built = analyse_text(text, n=count)
    assert _same(closed, built, {n: count})
    body = closed.record("body")
    assert body.times == n
    unrolled = built.record("body")
    assert _at(body.params, {n: count}) == unrolled.params
    assert _at(body.macs, {n: count}) == unrolled.macs
    # the field after the repeat: the field after its last pass
    assert [_at(a.size, {n: count}) for a in body.rf] == [a.size for a in unrolled.rf]


@settings(max_examples=10, deadline=None)
@given(st.lists(layer, min_size=1, max_size=3), st.integers(1, 3), st.integers(1, 3))
def test_nested_repeats_multiply(choices, inner, outer):
    n, m = sym("n", "m")
    text = _spec(choices, "n", outer="m")
    closed = analyse_text(text)
    assert _same(closed, analyse_text(text, n=inner, m=outer), {n: inner, m: outer})


def test_conv_body_counts_and_field_by_hand():
    # one pass: a 3×3 conv 4→4 with bias, (9·4 + 1)·4 = 148 params, 12·12·4·9·4 = 20,736
    # MACs; each pass widens the field by 2 (a 3×3 kernel at jump 1).
    n = sym("n")
    a = analyse_text(_spec([("conv", 3, 1)], "n"))
    body = a.record("body")
    assert body.params == 148 * n and body.macs == 20_736 * n
    assert [x.size for x in body.rf] == [2 * n + 3] * 2
    assert [x.start for x in body.rf] == [-n - 1] * 2
    assert a.total.params == 148 + 148 * n + (4 * 12 * 12 + 1) * 3


def test_a_count_expression_and_the_json_times_field(cli, spec):
    path = spec("symbols: {n: null}\ninput: [6]\nlayers:\n  - repeat: 2*n - 1\n"
                "    name: mlp\n    layers: [linear: {out: 6}]\n")
    code, out, _ = cli("params", path, "--format", "json")
    assert code == 0
    row = next(r for r in json.loads(out)["layers"] if r["name"] == "mlp")
    assert row["times"] == "2*n - 1" and row["type"] == "repeat"
    assert row["params"] == "84*n - 42"  # (6 + 1)·6 = 42 per pass
    code, out, _ = cli("params", path)
    assert "repeat ×2*n - 1" in out


def test_frozen_layers_and_depth_count_every_pass(cli, spec):
    path = spec("symbols: {n: null}\ninput: [8]\nlayers:\n  - repeat: n\n"
                "    layers: [linear: {out: 8, trainable: false}, relu]\n"
                "  - linear: {out: 2}\n")
    data = json.loads(cli("params", path, "--format", "json", "--convention", "keras")[1])
    assert data["total"]["non_trainable"] == "72*n"  # (8 + 1)·8 per pass
    assert data["total"]["trainable_params"] == 18
    code, out, _ = cli("compare", path, path, "--columns", "depth", "--format", "json")
    assert code == 0 and json.loads(out)["models"][0]["depth"] == "n + 1"


def test_a_body_that_changes_the_shape_is_refused(cli, spec):
    path = spec("symbols: {n: null}\ninput: [3, 8, 8]\nlayers:\n  - repeat: n\n"
                "    layers: [maxpool2d: {kernel: 2}]\n")
    code, out, err = cli("summary", path)
    assert code == 2 and out == ""
    assert "a pass takes [3, 8, 8] to [3, 4, 4]" in err
    assert cli("summary", path, "--set", "n=2")[0] == 0  # built pass by pass: fine


def test_a_size_kept_only_under_a_condition_is_stated(cli, spec):
    # linear out = F keeps [F] only when the input has F features: stated as a condition
    path = spec("symbols: {n: null, F: null, G: null}\ninput: [G]\nlayers:\n  - repeat: n\n"
                "    layers: [linear: {out: F}]\n")
    data = json.loads(cli("summary", path, "--format", "json")[1])
    assert [c["condition"] for c in data["conditions"]] == ["G == F"]


def test_names_inside_the_body_are_not_visible_outside(cli, spec):
    path = spec("symbols: {n: null}\ninput: [4]\nlayers:\n  - repeat: n\n    name: body\n"
                "    layers: [linear: {out: 4, name: fc}, relu]\n"
                "  - add: {with: body.fc}\n")
    code, _, err = cli("summary", path)
    assert code == 2
    assert "'body.fc' is inside 'body', a repeat over 'n'" in err
    ok = spec("symbols: {n: null}\ninput: [4]\nlayers:\n  - repeat: n\n    name: body\n"
              "    layers: [linear: {out: 4, name: fc}, add: {with: fc}]\n"
              "  - add: {with: body}\n")
    assert cli("summary", ok)[0] == 0


def test_verify_builds_each_point_pass_by_pass():
    pytest.importorskip("torch")
    from archcalc.verification import verify

    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "net.yaml"
        path.write_text(_spec([("conv", 3, 1), ("relu", 1, 1), ("residual", 3, 2)], "n"))
        result = verify(str(path), samples=2, device="cpu")
    assert result.results and all(r.match for r in result.results)
    totals = [r for r in result.results if r.layer == "total"]
    assert {r.metric for r in totals} == {"shape", "params", "buffers", "flops"}
    assert len({r.symbols["n"] for r in totals}) == 2


def test_explain_writes_the_count_and_the_passes_of_the_field(cli, spec):
    path = spec(_spec([("conv", 3, 1)], "n"))
    code, out, _ = cli("explain", path, "body", "--metric", "params")
    assert code == 0
    assert "params(body) = n × (params(body.conv2d_1)) = n × (148) = 148*n" in out
    out = cli("explain", path, "body", "--metric", "rf")[1]
    # one pass: 3 → 5 (one 3×3 kernel at jump 1); n passes: 3 + n·2
    assert "rf(body.conv2d_1) = r = r' + (k − 1)·j' = 3 + (3 − 1)·1 = 5" in out
    assert "r = r₀ + n·(r₁ − r₀) = 3 + n·(5 − 3) = 2*n + 3" in out
