"""``--free NAME``: a symbol the spec gives a default stays free, and every value written
as an expression of it follows (d_ff: 4*d_model)."""

from __future__ import annotations

import json

import pytest

SPEC = """\
symbols: {d: 8, f: 4*d, h: d/2}
input: [3, d]
layers:
  - linear: {out: f}
  - linear: {out: h}
"""


@pytest.fixture
def path(spec_file):
    return spec_file(SPEC)


def _json(cli, *args):
    code, out, err = cli(*args, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def test_a_default_left_free_gives_closed_forms(cli, path):
    # Linear(d, 4d) + Linear(4d, d/2), with biases: 4d² + 4d + 2d² + d/2
    data = _json(cli, "params", path, "--free", "d")
    assert data["symbols"]["d"] is None
    assert data["total"]["params"] == "9*d/2 + 6*d**2"
    assert [c["condition"] for c in data["conditions"]] == ["d % 2 == 0"]
    bound = _json(cli, "params", path)["total"]["params"]
    assert bound == 6 * 8**2 + 9 * 8 // 2  # the same form at the default d = 8


def test_every_command_that_reads_a_spec_takes_it(cli, path):
    assert _json(cli, "compare", path, path, "--free", "d")["models"][0]["params"] == \
        "9*d/2 + 6*d**2"
    lines = _json(cli, "explain", path, "--metric", "params", "--free", "d")
    assert lines["explanations"][0]["lines"][0]["value"] == "9*d/2 + 6*d**2"


def test_verify_samples_a_freed_symbol(cli, path):
    pytest.importorskip("torch")
    code, out, _ = cli("verify", path, "--free", "d", "--samples", "2", "--format", "json")
    assert code == 0
    data = json.loads(out)
    points = {r["symbols"]["d"] for r in data["results"]}
    assert len(points) == 2 and all(d % 2 == 0 for d in points)  # where d/2 is whole


@pytest.mark.parametrize("args, message", [
    (("--free", "d", "--set", "d=4"), "error: --set d=4 and --free d: give one of them\n"),
    (("--free", "q",), "--free q: the spec has no symbol 'q' (its symbols: d, f, h)\n"),
    (("--free", ",",), "error: --free ',': expected symbol names, e.g. n_layer,d_model\n"),
])
def test_bad_uses_are_located_errors(cli, path, args, message):
    code, out, err = cli("params", path, *args)
    assert code == 2 and out == ""
    assert err.endswith(message), err
