"""Every renderer is safe on its own, whatever names reach it: escape codes, other control
characters, bidirectional overrides and line breaks in a model, block or layer name or a
file name are written escaped in tables, Markdown, LaTeX and CSV, and JSON stays strict.

The spec loader refuses such names in a spec (tests/bad_specs/); these tests give the
renderers hostile names directly, past the loader, so that each defence is tested alone."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import subprocess
import sys
import unicodedata

import pytest

from archcalc import conventions
from archcalc.report import compare, render
from conftest import ROOT
from helpers import analyse_text

HOSTILE = ["\x1b[31mred\x1b]0;T\x07", "a\nb", "\u202eevil", "nel\x85c1", "ls\u2028x", "bad\udcff"]
SPEC = """\
name: net
input: [3, 16, 16]
layers:
  - conv2d: {out: 4, kernel: 3}
  - repeat: 2
    name: stage
    layers:
      - conv2d: {out: 4, kernel: 3}
      - relu
"""
CONV = conventions.get("pytorch")


def _hostile(name: str):
    """The spec's analysis with ``name`` as the model name and in every record's name."""
    a = analyse_text(SPEC)
    records = tuple(dataclasses.replace(r, name=f"{r.name}{name}", local=f"{r.local}{name}")
                    for r in a.records)
    graph = dataclasses.replace(a.graph, name=f"model{name}")
    return dataclasses.replace(a, graph=graph, records=records)


def _unsafe(text: str) -> list:
    """Characters that drive a terminal or reorder, hide or split text: every control
    character but the line feed that ends a line, format characters (bidirectional
    overrides, zero-width), line and paragraph separators, lone surrogates."""
    return [c for c in text if c != "\n" and unicodedata.category(c) in ("Cc", "Cf", "Zl",
                                                                         "Zp", "Cs")]


def _strict_json(text: str):
    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    data = json.loads(text, parse_constant=refuse)
    json.dumps(data).encode("utf-8")  # no lone surrogate either
    _walk_strings(data, lambda s: s.encode("utf-8"))
    return data


def _walk_strings(obj, fn):
    if isinstance(obj, str):
        fn(obj)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            fn(k)
            _walk_strings(v, fn)
    elif isinstance(obj, list):
        for v in obj:
            _walk_strings(v, fn)


@pytest.mark.parametrize("name", HOSTILE, ids=ascii)
@pytest.mark.parametrize("fmt", ["table", "markdown", "latex", "csv"])
def test_report_formats_escape_names(name, fmt):
    a = _hostile(name)
    for verb in ("summary", "params", "shapes", "flops", "rf"):
        out = render.render(a, verb, fmt, CONV)
        assert _unsafe(out) == [], (verb, fmt)
        if fmt == "csv":  # one row per record, each name on its row
            rows = list(csv.reader(io.StringIO(out)))
            assert len(rows) == len(a.records) + 1 and all("\n" not in r[0] for r in rows)
        if fmt == "markdown":  # the table's rows are whole: each starts and ends with '|'
            table = [ln for ln in out.splitlines() if ln.startswith("|")]
            assert len(table) == len(a.records) + 2 and all(ln.endswith("|") for ln in table)
        if fmt == "table":
            assert "model" + render.printable(name) in out  # the title, escaped


@pytest.mark.parametrize("name", HOSTILE, ids=ascii)
def test_json_keeps_names_faithful_and_strict(name):
    data = _strict_json(render.render(_hostile(name), "summary", "json", CONV))
    want = name if "\udcff" not in name else name.replace("\udcff", "\\udcff")
    assert data["name"] == "model" + want
    assert all(layer["name"].endswith(want) for layer in data["layers"])


@pytest.mark.parametrize("name", HOSTILE, ids=ascii)
@pytest.mark.parametrize("fmt", ["table", "markdown", "latex", "csv", "json"])
def test_compare_escapes_names(name, fmt):
    models = [compare.Model(f"file{name}.yaml", _hostile(name), CONV),
              compare.Model("plain.yaml", analyse_text(SPEC), CONV)]
    out = compare.render(models, compare.DEFAULT_COLUMNS, fmt, "exact")
    per = compare.per_layer(models[0], models[1], fmt, "exact", None)
    for text in (out, per):
        if fmt == "json":
            _strict_json(text)
        assert _unsafe(text) == [], fmt


def test_non_utf8_file_name_on_a_strict_utf8_stdout(tmp_path):
    """A file name that is not UTF-8 (with an escape code in it) is the title of every verb;
    on a stdout that refuses what it cannot encode, every verb still answers, escaped."""
    path = os.fsencode(tmp_path) + b"/net\xff\x1b[2J.yaml"
    with open(path, "wb") as f:
        f.write(b"symbols: {H: 32}\ninput: [3, H, H]\nlayers:\n  - conv2d: {out: 8, kernel: 3}\n")
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict"}
    runs = [["summary"], ["summary", "-f", "markdown"], ["summary", "-f", "latex"],
            ["summary", "-f", "csv"], ["summary", "-f", "json"], ["compare"],
            ["compare", "-f", "csv"], ["compare", "-f", "json"], ["sweep", "--over", "H=3:4"]]
    for args in runs:
        cmd = [os.fsencode(sys.executable), b"-m", b"archcalc", args[0].encode(), path,
               *(a.encode() for a in args[1:])]
        proc = subprocess.run(cmd, capture_output=True, env=env, cwd=ROOT)
        assert (proc.returncode, proc.stderr) == (0, b""), args
        assert b"\x1b" not in proc.stdout, args
        text = proc.stdout.decode("utf-8")  # strict: every byte is UTF-8
        if "json" in args:
            _strict_json(text)


@pytest.mark.parametrize("name", HOSTILE, ids=ascii)
@pytest.mark.parametrize("fmt", ["markdown", "latex"])
def test_sweep_table_escapes_the_name(name, fmt):
    from archcalc import sweeping as sweep
    from archcalc.report import writers

    a = analyse_text(SPEC.replace("input: [3, 16, 16]", "symbols: {H: null}\ninput: [3, H, 16]"))
    result = sweep.sweep(a, [sweep.parse_range("H=8:12")], CONV, ["params", "macs"])
    assert _unsafe(writers.write(sweep.model(result, 20, list(a.graph.symbols),
                                             f"model{name}"), fmt)) == []
