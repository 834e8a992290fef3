"""Every analysis verb in every format: JSON parses, CSV has a row per record, Markdown is a
GitHub table, LaTeX compiles (where pdflatex is installed), tables keep symbolic shapes."""

from __future__ import annotations

import csv
import io
import json

import pytest

from conftest import EXAMPLES
from latex_util import compile_latex, markdown_table_ok, needs_pdflatex

VERBS = ("summary", "params", "shapes", "flops", "rf")
SPECS = (EXAMPLES / "vgg16.yaml", EXAMPLES / "dense-block.yaml")


@pytest.mark.parametrize("verb", VERBS)
@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_json_csv_markdown(cli, verb, spec):
    code, out, _ = cli(verb, spec, "--format", "json")
    assert code == 0
    data = json.loads(out)
    n = len(data["layers"])
    code, out, _ = cli(verb, spec, "--format", "csv")
    rows = list(csv.reader(io.StringIO(out)))
    assert code == 0 and rows[0][:3] == ["name", "depth", "kind"] and len(rows) == n + 1
    assert [r[0] for r in rows[1:]] == [layer["name"] for layer in data["layers"]]
    code, out, _ = cli(verb, spec, "--format", "markdown")
    lines = out.splitlines()
    table = lines[2:2 + n + 2]
    assert code == 0 and markdown_table_ok(table)


def test_vgg16_totals_in_every_format(cli):
    """138,357,544 params and 15,470,264,320 MACs (VGG16, torchvision) in each format."""
    spec = EXAMPLES / "vgg16.yaml"
    assert json.loads(cli("summary", spec, "-f", "json")[1])["total"]["params"] == 138_357_544
    for fmt in ("table", "markdown", "latex"):
        out = cli("flops", spec, "-f", fmt)[1]
        assert "15,470,264,320" in out, fmt
    csv_out = cli("flops", spec, "-f", "csv")[1]
    assert "15470264320" not in csv_out  # per-layer rows only; the total is not a row
    assert "1387266048" in csv_out  # stage5 MACs: sum of its three convs at 14×14


def test_table_keeps_symbolic_shapes(cli):
    code, out, _ = cli("shapes", EXAMPLES / "dense-block.yaml", "--width", "120")
    assert code == 0 and "[k0 + 6*k, 56, 56]" in out and "[k0 + k, 56, 56]" in out


@needs_pdflatex
def test_every_verb_latex_compiles(cli, tmp_path):
    parts = []
    for spec in SPECS:
        for verb in VERBS:
            code, out, _ = cli(verb, spec, "--format", "latex")
            assert code == 0 and r"\toprule" in out
            parts.append(out)
        code, out, _ = cli("explain", spec, "--format", "latex")
        assert code == 0
        parts.append(out)
    compile_latex(tmp_path, "\n".join(parts))


@needs_pdflatex
def test_check_latex_compiles(cli, tmp_path):
    from conftest import ROOT

    code, out, _ = cli("check", ROOT / "tests" / "fixtures" / "sheets" / "planted.yaml",
                       "--format", "latex")
    assert code == 1
    compile_latex(tmp_path, out)


def test_csv_symbolic_shape_is_a_list(cli):
    """dilated.yaml: output [1, M - D*F + D, N - D*F + D] in one quoted CSV cell, a list; a
    numeric shape stays 'x'-joined (VGG16's first stage: 64x112x112)."""
    code, out, _ = cli("shapes", EXAMPLES / "dilated.yaml", "--format", "csv")
    rows = list(csv.reader(io.StringIO(out)))
    assert code == 0 and rows[1][4] == "[1, M - D*F + D, N - D*F + D]"
    code, out, _ = cli("shapes", EXAMPLES / "vgg16.yaml", "--format", "csv")
    assert list(csv.reader(io.StringIO(out)))[1][4] == "64x112x112"


def test_narrow_table_never_splits_a_number(cli):
    code, out, _ = cli("flops", EXAMPLES / "vgg16.yaml", "--width", "40")
    data = json.loads(cli("flops", EXAMPLES / "vgg16.yaml", "--format", "json")[1])
    assert code == 0
    for layer in data["layers"]:
        assert f"{layer['macs']:,}" in out and f"{layer['flops']:,}" in out, layer["name"]


@pytest.mark.parametrize("verb", VERBS)
def test_json_is_strict(cli, verb):
    """No NaN or Infinity, which strict parsers refuse."""
    def refuse(constant):
        raise ValueError(constant)

    for spec in SPECS:
        code, out, _ = cli(verb, spec, "--format", "json")
        assert code == 0
        json.loads(out, parse_constant=refuse)


def test_json_value_refuses_non_finite_numbers():
    from archcalc.errors import SpecError
    from archcalc.report.values import json_text, json_value

    for bad in (float("inf"), float("-inf"), float("nan")):
        with pytest.raises(SpecError, match="not a finite number"):
            json_value(bad)
    assert json_text({"a": 0.5}, None) == '{"a": 0.5}\n'
