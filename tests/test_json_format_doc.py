"""docs/json-format.md: its examples are what archcalc prints, strict JSON, with every key
the page documents."""

from __future__ import annotations

import json
import re

from conftest import ROOT
from doc_blocks import blocks, stale

DOC = ROOT / "docs" / "json-format.md"


MEMORY = "\n## The memory verb"
SWEEP = "\n## The memory verb's batch-size sweep"
SOLVE = "\n## The solve verb"


def test_examples_are_current():
    assert len(blocks(DOC)) == 5  # two of the analysis verbs, memory, its sweep, solve
    assert stale(DOC) == []


def _strict(text: str):
    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def test_documented_keys_are_the_printed_keys():
    text = DOC.read_text().split(MEMORY)[0]
    top = re.findall(r"^\| `(\w+)` \|", text, re.M)
    for _, out in blocks(DOC)[:2]:
        data = _strict(out)
        assert list(data) == top
        total_keys = re.search(r"^\| `total` \| (.*) \|$", text, re.M)[1]
        assert list(data["total"]) == re.findall(r"`(\w+)`", total_keys)
        for layer in data["layers"]:
            for key in ("name", "type", "depth", "kind", "output_shape", "params",
                        "trainable_params", "non_trainable", "macs", "flops", "activations",
                        "rf", "rf_jump", "rf_start"):
                assert key in layer


def test_memory_keys_are_documented():
    """Every key the memory verb prints, at the top, in ``total`` and in a layer record, is
    named in its section, and every top-level key there is printed."""
    section = DOC.read_text().split(MEMORY)[1].split(SWEEP)[0]
    named = set(re.findall(r"`(\w+)`", section))
    _, out = blocks(DOC)[2]
    data = _strict(out)
    for keys in (data, data["total"], data["layers"][0], data["dtypes"],
                 data["device_memory"], data["components"][0]):
        assert set(keys) <= named, set(keys) - named
    bullets = re.findall(r"^- `(\w+)`", section, re.M)
    assert set(bullets) <= set(data)


def test_memory_sweep_keys_are_documented():
    """The sweep's keys, at the top, in ``device_memory`` and in a point, are named in its
    section, and its top-level bullets are printed; its totals are 40 + 4,352·b (the memory
    example's fixed and per-sample bytes) and fit 64 KiB up to b = 15."""
    section = DOC.read_text().split(SWEEP)[1].split(SOLVE)[0]
    named = set(re.findall(r"`(\w+)`", section))
    _, out = blocks(DOC)[3]
    data = _strict(out)
    for keys in (data, data["device_memory"], data["points"][0]):
        assert set(keys) <= named, set(keys) - named
    assert set(re.findall(r"^- `(\w+)`", section, re.M)) <= set(data)
    assert [(p["batch"], p["total_bytes"], p["fits"]) for p in data["points"]] == \
        [(b, 40 + 4352 * b, 40 + 4352 * b <= 65536) for b in (8, 16, 32)]


def test_solve_keys_are_documented():
    """Every key the solve verb prints is named in its section, and so are a family's."""
    section = DOC.read_text().split(SOLVE)[1]
    _, out = blocks(DOC)[4]
    data = _strict(out)
    named = set(re.findall(r"`(\w+)`", section))
    assert set(data) <= named, set(data) - named
    assert {"symbol", "period", "residues", "from", "proved"} <= named
    assert data["count"] == 1 + 52 - 50  # 2n + 1 ≥ 100 ⇔ n ≥ 50: n = 50, 51, 52
