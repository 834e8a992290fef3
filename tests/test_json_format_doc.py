"""docs/json-format.md: its examples are what archcalc prints, strict JSON, with every key
the page documents."""

from __future__ import annotations

import json
import re

from conftest import ROOT
from doc_blocks import blocks, stale

DOC = ROOT / "docs" / "json-format.md"


def test_examples_are_current():
    assert len(blocks(DOC)) == 2
    assert stale(DOC) == []


def _strict(text: str):
    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def test_documented_keys_are_the_printed_keys():
    text = DOC.read_text()
    top = re.findall(r"^\| `(\w+)` \|", text, re.M)
    for _, out in blocks(DOC):
        data = _strict(out)
        assert list(data) == top
        total_keys = re.search(r"^\| `total` \| (.*) \|$", text, re.M)[1]
        assert list(data["total"]) == re.findall(r"`(\w+)`", total_keys)
        for layer in data["layers"]:
            for key in ("name", "type", "depth", "kind", "output_shape", "params",
                        "trainable_params", "non_trainable", "macs", "flops", "activations",
                        "rf", "rf_jump", "rf_start"):
                assert key in layer
