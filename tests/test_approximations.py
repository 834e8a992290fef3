"""A spec's ``approximations``: estimates that ``explain`` shows beside the exact count."""

from __future__ import annotations

import json

import pytest

SPEC = """\
symbols: {n: null, d: 8}
input: [4, d]
approximations:
  - {metric: params, formula: "n*d**2", source: "weights only"}
  - {metric: flops, formula: "2*4*n*d**2", source: "2 FLOPs per weight per token"}
layers:
  - repeat: n
    layers: [linear: {out: d}]
"""


@pytest.fixture
def path(spec_file):
    return spec_file(SPEC)


def _lines(cli, *args):
    code, out, _ = cli("explain", *args, "--format", "json")
    assert code == 0
    return [line for ex in json.loads(out)["explanations"] for line in ex["lines"]]


def test_the_estimate_and_its_gap_beside_the_exact_count(cli, path):
    # exact: n passes of Linear(8, 8) with bias, (8 + 1)·8 = 72·n; the estimate leaves out
    # the biases, 8·n.
    lines = _lines(cli, path, "--metric", "params")
    assert lines[0]["value"] == "72*n"
    approx = lines[1]
    assert approx["label"] == "≈ params(total)" and approx["value"] == "64*n"
    assert approx["note"] == "weights only; exact − approximation = 8*n"


def test_bound_symbols_give_the_relative_gap(cli, path):
    # n = 3: exact FLOPs 2·3·(4·8·8) = 1,536; so is the estimate (biases add no MACs)
    lines = _lines(cli, path, "--metric", "flops", "--set", "n=3")
    assert lines[-1]["value"] == "1,536"
    assert lines[-1]["note"].endswith("exact − approximation = 0 (+0.00% of the exact count)")
    lines = _lines(cli, path, "--metric", "params", "--set", "n=3")
    assert lines[-1]["note"].endswith("= 24 (+11.11% of the exact count)")  # 24 / 216


def test_other_metrics_and_layers_show_none(cli, path):
    assert all(not line["label"].startswith("≈") for line in _lines(cli, path, "--metric",
                                                                     "macs"))
    assert all(not line["label"].startswith("≈") for line in _lines(cli, path, "repeat_1"))
