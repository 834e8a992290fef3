"""compare: one row per model, columns, units, every format; LaTeX compiles."""

from __future__ import annotations

import csv
import io
import json

import pytest

from archcalc.report.compare import count_text
from conftest import EXAMPLES, ROOT, SPECS
from latex_util import compile_latex, markdown_table_ok, needs_pdflatex

RESNET18 = ROOT / "tests" / "fixtures" / "sheets" / "resnet18.yaml"
THREE = [SPECS / "alexnet-paper.yaml", SPECS / "vgg16.yaml", SPECS / "lenet5.yaml"]
needs_three = pytest.mark.skipif(not all(p.exists() for p in THREE),
                                 reason="specs/alexnet-paper.yaml, vgg16.yaml, lenet5.yaml "
                                        "not in this checkout yet")


def compare_json(cli, *args):
    code, out, err = cli("compare", *args, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def test_rows_and_default_columns(cli):
    data = compare_json(cli, EXAMPLES / "vgg16.yaml", RESNET18)
    assert data["columns"] == ["input", "params", "macs", "flops", "rf", "depth"]
    vgg, resnet = data["models"]
    # VGG16: 138,357,544 params, 15,470,264,320 MACs (torchvision; Simonyan & Zisserman)
    assert (vgg["params"], vgg["macs"], vgg["flops"]) == \
        (138_357_544, 15_470_264_320, 30_940_528_640)
    # RF of the last feature map: stage5 pool, 212; ResNet-18 layer4: 435 (before avgpool)
    assert vgg["rf"] == [212, 212] and resnet["rf"] == [435, 435]
    # the numbers in the names: 13 conv + 3 linear; 1 + 16 conv + 1 linear on the long path
    assert vgg["depth"] == 16 and resnet["depth"] == 18
    # torchvision: resnet18 11,689,512 parameters, 1.81 GFLOPS (MACs)
    assert resnet["params"] == 11_689_512 and resnet["macs"] == 1_814_073_344


def test_columns_option_and_symbolic_values(cli):
    data = compare_json(cli, EXAMPLES / "dense-block.yaml", "--columns",
                        "params,trainable,activations,output")
    row = data["models"][0]
    assert set(row) == {"name", "path", "params", "trainable", "activations", "output"}
    assert row["output"] == ["k0 + 6*k", 56, 56]


def test_bad_columns_and_units(cli):
    code, _, err = cli("compare", RESNET18, "--columns", "params,flop")
    assert code == 2 and "did you mean 'flops'" in err
    code, _, err = cli("compare", RESNET18, "--units", "mega")
    assert code == 2 and "exact" in err


@pytest.mark.parametrize("units,text", [
    ("exact", "138,357,544"), ("si", "138.36M"), ("K", "138357.54K"), ("G", "0.14G"),
    ("sci", "1.38e+08"),
])
def test_units(units, text):
    assert count_text(138_357_544, units) == text


def test_si_rounds_half_up_exactly():
    assert count_text(1_814_073_344, "si") == "1.81G"
    assert count_text(1_815_000_000, "si") == "1.82G"
    assert count_text(999, "si") == "999"


def test_markdown_renders_as_a_table(cli):
    code, out, _ = cli("compare", EXAMPLES / "vgg16.yaml", RESNET18, "--format", "markdown",
                       "--units", "si")
    assert code == 0
    lines = out.splitlines()
    table = lines[:lines.index("")]
    assert markdown_table_ok(table) and len(table) == 4
    assert table[2].startswith("| VGG16 | [3, 224, 224] | 138.36M | 15.47G |")


def test_csv(cli):
    code, out, _ = cli("compare", EXAMPLES / "vgg16.yaml", RESNET18, "--format", "csv")
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["model", "path", "input", "params", "macs", "flops", "rf", "depth"]
    assert rows[1][3] == "138357544" and rows[2][6] == "435x435"


def test_latex_escapes_names(cli, tmp_path):
    spec = tmp_path / "odd.yaml"
    spec.write_text("name: 'A_b & c 100% #1 $x$ {y} ~z^ <w>'\ninput: [1, 8, 8]\n"
                    "layers: [conv2d: {out: 2, kernel: 3}]\n")
    code, out, _ = cli("compare", spec, "--format", "latex")
    assert code == 0
    assert r"A\_b \& c 100\% \#1 \$x\$ \{y\} \textasciitilde{}z\textasciicircum{} " \
           r"\textless{}w\textgreater{}" in out
    for needed in (r"\toprule", r"\midrule", r"\bottomrule", r"\begin{tabular}{llrrrrr}"):
        assert needed in out


@needs_pdflatex
def test_latex_with_odd_names_compiles(cli, tmp_path):
    spec = tmp_path / "odd.yaml"
    spec.write_text("name: 'A_b & c 100% #1 $x$ {y} ~z^ <w> \\\\'\ninput: [k, 8, 8]\n"
                    "symbols: {k: null}\nlayers: [conv2d: {out: 2, kernel: 3}]\n")
    code, out, _ = cli("compare", spec, RESNET18, "--format", "latex", "--fragment")
    assert code == 0
    compile_latex(tmp_path, out)


@needs_three
def test_issue_three_specs_latex_text(cli):
    code, out, _ = cli("compare", *THREE, "--format", "latex")
    assert code == 0
    lines = out.splitlines()
    assert lines[:4] == [r"\documentclass{article}", r"\usepackage{booktabs}",
                         r"\begin{document}", r"\begin{table}[ht]"]
    assert lines[-1] == r"\end{document}"
    body = lines[lines.index(r"\midrule") + 1:lines.index(r"\bottomrule")]
    assert len(body) == 3 and all(row.endswith(r"\\") for row in body)
    assert body[1].split(" & ")[2:4] == ["138,357,544", "15,470,264,320"]  # VGG16


@needs_three
@needs_pdflatex
def test_issue_three_specs_latex_compiles_as_is(cli, tmp_path):
    """The issue's command, its output straight into pdflatex."""
    code, out, _ = cli("compare", *THREE, "--format", "latex")
    assert code == 0 and out.startswith(r"\documentclass{article}")
    compile_latex(tmp_path, out, standalone=True)


@needs_three
@needs_pdflatex
def test_issue_three_specs_latex_fragment_compiles_in_a_report(cli, tmp_path):
    code, out, _ = cli("compare", *THREE, "--format", "latex", "--fragment")
    assert code == 0 and r"\documentclass" not in out
    compile_latex(tmp_path, out)


@needs_three
def test_issue_three_specs_markdown(cli):
    code, out, _ = cli("compare", *THREE, "--format", "markdown")
    table = out.splitlines()[:5]
    assert markdown_table_ok(table)


def test_per_layer_side_by_side(cli):
    code, out, _ = cli("compare", EXAMPLES / "vgg16.yaml", RESNET18, "--per-layer", "--depth",
                       "0", "--format", "json")
    assert code == 0
    rows = json.loads(out)["rows"]
    assert rows[0]["a"]["layer"] == "stage1" and rows[0]["b"]["layer"] == "conv1"
    assert rows[-1]["a"]["layer"] == "total" and rows[-1]["b"]["layer"] == "total"
    assert rows[-1]["a"]["params"] == 138_357_544 and rows[-1]["b"]["params"] == 11_689_512
    # ResNet-18 has 15 top-level rows, VGG16 13: the last two rows have no VGG side
    assert rows[-2]["a"] is None and rows[-2]["b"]["layer"] == "fc" and len(rows) == 15 + 1
    code, out, _ = cli("compare", EXAMPLES / "vgg16.yaml", RESNET18, "--per-layer",
                       "--format", "markdown", "--depth", "0")
    lines = out.splitlines()
    assert lines[0].startswith("A: VGG16") and markdown_table_ok(lines[2:lines.index("", 2)])
    code, _, err = cli("compare", RESNET18, "--per-layer")
    assert code == 2 and "exactly two" in err


def test_set_binds_only_declaring_specs(cli):
    data = compare_json(cli, EXAMPLES / "dense-block.yaml", RESNET18, "--set", "k=32,k0=64",
                        "--columns", "params")
    # dense block with k0 = 64, k = 32: 12·64 + 24·32·64 + 78·32 + 276·32² = 335,040
    assert data["models"][0]["params"] == 12 * 64 + 24 * 32 * 64 + 78 * 32 + 276 * 32**2
    assert data["models"][1]["params"] == 11_689_512


def test_convention_applies_to_compare(cli):
    data = compare_json(cli, ROOT / "tests" / "fixtures" / "profiles" / "tinynet.yaml",
                        "--convention", "fvcore", "--columns", "macs")
    assert data["convention"] == "fvcore" and data["models"][0]["macs"] == 266_736


@needs_three
def test_report_tutorial_outputs_are_real():
    from doc_blocks import blocks, stale

    tutorial = ROOT / "docs" / "tutorial-report.md"
    assert len(blocks(tutorial)) >= 5
    assert stale(tutorial) == []


@needs_three
@needs_pdflatex
def test_report_tutorial_latex_compiles(tmp_path):
    from doc_blocks import blocks

    latex = next(out for cmd, out in blocks(ROOT / "docs" / "tutorial-report.md")
                 if "--format latex" in cmd)
    compile_latex(tmp_path, latex, standalone=latex.startswith(r"\documentclass"))


def test_per_layer_never_splits_a_number(cli):
    """At the default width the side-by-side table is too narrow for every column at full
    width; shapes and names wrap, but each count is printed whole on one line (as the JSON
    of the same comparison gives it)."""
    args = (SPECS / "vgg16.yaml", SPECS / "resnet18.yaml", "--per-layer", "--depth", "0")
    code, out, _ = cli("compare", *args)
    assert code == 0
    rows = compare_json(cli, *args)["rows"]
    counts = {f"{side[k]:,}" for row in rows for side in row.values() if side
              for k in ("params", "macs")}
    assert "118,013,952" in counts  # ResNet-18 conv1: 64·3·7·7 · 112·112 MACs
    lines = out.splitlines()
    for text in counts:
        assert any(text in line for line in lines), text


def test_narrow_table_grows_rather_than_split(cli):
    """--width 30 cannot hold VGG16's counts side by side: the table is wider than asked,
    and every number is still whole."""
    code, out, _ = cli("compare", SPECS / "vgg16.yaml", RESNET18, "--width", "30")
    assert code == 0
    assert "138,357,544" in out and "15,470,264,320" in out and "1,814,073,344" in out


def test_sci_units_for_counts_past_float(cli, tmp_path):
    """A count past 10^308 has no float; --units sci still writes it, rounded exactly as
    Decimal rounds (half to even)."""
    from decimal import Decimal

    path = tmp_path / "huge.yaml"
    path.write_text('input: ["(2**64)**8"]\nlayers:\n  - linear: {out: "(2**64)**8"}\n')
    data = compare_json(cli, path, "--columns", "params,macs")["models"][0]
    code, out, err = cli("compare", path, "--columns", "params,macs", "--units", "sci")
    assert (code, err) == (0, "")
    for key in ("params", "macs"):
        assert f"{Decimal(data[key]):.2e}" in out  # 2^1024 + 2^512 → 1.80e+308


@pytest.mark.parametrize("n", [1000, 1125, 1135, 9995, 99_950, 138_357_544, -15_470_264_320,
                               2**53 - 1])
def test_sci_matches_python_where_floats_are_exact(n):
    assert count_text(n, "sci") == f"{n:.2e}"


def test_csv_symbolic_shapes_are_lists(cli, tmp_path):
    """A symbolic shape in CSV is written as a list, which cannot run into its sizes as
    'x'-joined text does (1xMin(…), or a symbol named x); numeric shapes stay 64x56x56."""
    path = tmp_path / "x.yaml"
    path.write_text("symbols: {x: null}\ninput: [3, x, x]\nlayers:\n"
                    "  - conv2d: {out: 8, kernel: 3}\n")
    code, out, _ = cli("compare", path, EXAMPLES / "vgg16.yaml", "--columns", "input,output",
                       "--format", "csv")
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["model", "path", "input", "output"]
    assert rows[1][2:] == ["[3, x, x]", "[8, x - 2, x - 2]"]  # a 3×3 valid conv: x − 2
    assert rows[2][2:] == ["3x224x224", "1000"]
