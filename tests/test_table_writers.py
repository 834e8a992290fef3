"""The table model and its writers, and the formats verify, sweep and list-layers gained:
CSV parses with csv.reader, Markdown tables keep their column count, LaTeX compiles (where
pdflatex is installed)."""

from __future__ import annotations

import csv
import io

import pytest

from conftest import EXAMPLES, ROOT
from latex_util import compile_latex, markdown_table_ok, needs_pdflatex

from archcalc.report import writers
from archcalc.report.table import Column, Row, Table

SWEEP = ("sweep", EXAMPLES / "dilated.yaml", "--set", "F=3,D=2", "--over", "M=4:12",
         "--over", "N=5:9", "--rows", "7")


def _table() -> Table:
    return Table([Column("Layer", split=True), Column("Params", right=True)],
                 [Row(["stage | 1", "1,792"], bold=True), Row(["conv_a", "38,720"], depth=1)],
                 title="net*", footnotes=["Total: 40,512"], raw_header=["name", "params"],
                 machine=lambda: [["stage | 1", "1792"], ["conv_a", "38720"]])


def test_markdown_writer_escapes_indents_and_bolds():
    out = writers.markdown(_table()).splitlines()
    assert out[0] == r"**net\***"
    assert out[4] == "| **stage \\| 1** | 1,792 |" and out[5] == "| &nbsp;&nbsp;conv\\_a | 38,720 |"
    assert markdown_table_ok(out[2:6]) and out[7] == "Total: 40,512"


def test_csv_writer_writes_the_machine_form():
    rows = list(csv.reader(io.StringIO(writers.csv_text(_table()))))
    assert rows == [["name", "params"], ["stage | 1", "1792"], ["conv_a", "38720"]]


def test_latex_writer_escapes_and_indents():
    out = writers.latex(_table())
    assert r"\caption{net*}" in out and r"\quad conv\_a & 38,720 \\" in out
    assert r"\footnotesize Total: 40,512}" in out and out.startswith("% requires")


def test_text_writer_right_aligns_numbers_and_indents():
    lines = writers.text(_table(), 80).splitlines()
    assert lines[0].startswith("net*") and lines[1].split() == ["Layer", "Params"]
    assert lines[3] == "stage | 1    1,792" and lines[4] == "  conv_a    38,720"
    assert lines[5] == "Total: 40,512"


def test_dispatch_writes_the_verbs_own_json_and_own_formats():
    assert writers.write(None, "json", {"a": 1}) == '{\n  "a": 1\n}\n'
    assert writers.write(None, "csv", own={"csv": lambda: "x\n"}) == "x\n"


def test_sweep_markdown_and_latex(cli):
    code, out, _ = cli(*SWEEP, "--format", "markdown")
    lines = out.splitlines()
    assert code == 0 and lines[0] == "**Dilated convolution**"
    assert markdown_table_ok(lines[2:2 + 2 + 7])
    assert lines[2] == "| M | N | out0 | out1 | out2 | params | macs |"
    # M=4 < D*(F-1)+1 = 5: the first point is invalid, and says so
    assert lines[4].startswith("| 4 | 5 | invalid: ")
    assert "| 12 | 9 | 1 | 8 | 5 | 10 | 360 |" in lines  # 9·(12−4)·(9−4) = 360 MACs
    assert "- macs = 9\\*(M - 4)\\*(N - 4)" in lines
    code, tex, _ = cli(*SWEEP, "--format", "latex")
    assert code == 0 and r"12 & 9 & 1 & 8 & 5 & 10 & 360 \\" in tex


def test_verify_markdown_and_csv(cli):
    pytest.importorskip("torch")
    spec = EXAMPLES / "dilated.yaml"
    point = ("--set", "M=13,N=14,F=2,D=9", "--device", "cpu")
    code, out, _ = cli("verify", spec, *point, "--format", "markdown")
    lines = out.splitlines()
    assert code == 0 and markdown_table_ok(lines[2:5])
    # out = ⌊(13 − 9·(2−1) − 1)/1⌋ + 1 = 4 by 5; params 2·2 + 1 = 5; FLOPs 2·4·20 = 160
    assert lines[4] == "| dilated | [1, 4, 5] ✓ | 5 ✓ | 160 ✓ | 10×10 ✓ |"
    code, out, _ = cli("verify", spec, *point, "--format", "csv")
    rows = list(csv.reader(io.StringIO(out)))
    assert code == 0 and rows[0][:4] == ["layer", "shape", "shape_torch", "shape_match"]
    row = dict(zip(rows[0], rows[1]))
    assert row["params"] == row["params_torch"] == "5" and row["flops"] == "160"
    assert row["flops_match"] == "1"


def test_list_layers_csv(cli):
    code, out, _ = cli("list-layers", "--format", "csv")
    rows = list(csv.reader(io.StringIO(out)))
    by_type = {r[0]: r for r in rows[1:]}
    assert code == 0 and rows[0] == ["type", "family", "arguments (default)", "params", "MACs",
                                     "rule"]
    assert by_type["conv2d"][3] == "(k_h·k_w·C_in/groups + 1)·C_out"
    assert by_type["relu"][3] == "0" and by_type["relu"][4].startswith("0 — element-wise")
    assert all(len(r) == 6 for r in rows)


@needs_pdflatex
def test_new_latex_compiles(cli, tmp_path):
    parts = [cli(*SWEEP, "--format", "latex")[1], cli("list-layers", "--format", "latex")[1]]
    sheets = ROOT / "tests" / "fixtures" / "sheets"
    parts.append(cli("check", sheets / "bob.yaml", sheets / "slides.yaml", sheets / "nowhere.yaml",
                     "--spec-root", ROOT / "specs", "--format", "latex")[1])
    try:
        import torch  # noqa: F401

        parts.append(cli("verify", EXAMPLES / "dilated.yaml", "-n", "2", "--device", "cpu",
                         "--format", "latex")[1])
    except ImportError:
        pass
    compile_latex(tmp_path, "\n".join(parts))


@pytest.mark.parametrize("per_layer", [False, True])
def test_compare_text_is_what_rich_prints(per_layer):
    """compare's tables take the writers' linear-time path: the same text as rich's."""
    from conftest import ROOT

    from archcalc import conventions
    from archcalc.analysis import analyse
    from archcalc.report import compare, plain_table
    from archcalc.spec.loader import load

    conv = conventions.get("pytorch")
    models = [compare.Model(str(p), analyse(load(str(p))), conv)
              for p in (EXAMPLES / "vgg16.yaml", ROOT / "specs" / "resnet18.yaml")]

    def text() -> str:
        if per_layer:
            return compare.per_layer(models[0], models[1], "table", "exact", None, 160)
        return compare.render(models, compare.DEFAULT_COLUMNS, "table", "exact", 120)

    fast = text()
    original = plain_table.render
    plain_table.render = lambda *a, **k: None
    try:
        slow = text()
    finally:
        plain_table.render = original
    assert fast == slow and "138,357,544" in fast  # VGG16's parameters, torchvision's count


def test_a_centred_column_in_every_writer():
    t = Table([Column("Claim"), Column("Mark", centre=True)], [Row(["a", "✓"]), Row(["bb", "✗"])])
    assert writers.markdown(t).splitlines()[1] == "|:---|:---:|"
    assert r"\begin{tabular}{lc}" in writers.latex(t)
    lines = writers.text(t, 40).splitlines()
    # "Claim" is 5 wide, then 3 of separator; "Mark" centres one character: 1 before, 2 after
    assert lines[2] == "a" + " " * 4 + " " * 3 + " ✓  " and lines[3] == "bb" + " " * 6 + " ✗  "


def test_a_report_of_tables_and_lists():
    from archcalc.report.table import Lists

    blocks = [_table(), Lists([("2. conv_a params", ["2*H*W = `x`"]), ("unread", [])]), _table()]
    md = writers.write_blocks(blocks, "markdown")
    assert "**2. conv\\_a params**\n\n- `` 2*H*W = `x` ``\n\n**unread**\n" in md
    assert md.count("| **stage \\| 1** | 1,792 |") == 2
    tex = writers.write_blocks(blocks, "latex")
    assert tex.count("% requires") == 1 and tex.count(r"\begin{table}") == 2
    assert r"\paragraph{unread}" + "\n" + r"\begin{table}" in tex  # no empty itemize
    text = writers.write_blocks(blocks, "table", 80)
    assert "2. conv_a params\n  2*H*W = `x`\n\nunread\n\nnet*" in text


def test_check_markdown_escapes_claims_and_names(cli, tmp_path):
    """A claim such as 2*H*W is shown as written, not in italics (one Markdown escape)."""
    net = tmp_path / "net.yaml"
    net.write_text("symbols: {H: null, W: null}\ninput: [3, H, W]\nlayers:\n"
                   "  - conv2d: {out: 2, kernel: 1, name: conv_a}\n")
    sheet = tmp_path / "sheet.yaml"
    sheet.write_text("spec: net.yaml\nanswers:\n  - {at: conv_a, output_shape: '[2, H, W]'}\n"
                     "  - {at: conv_a, macs: '6*H*W'}\n  - {at: conv_a, macs: '2*H*W'}\n")
    code, out, _ = cli("check", sheet, "--format", "markdown")
    rows = [line for line in out.splitlines() if line.startswith("|")]
    assert code == 1 and markdown_table_ok(rows)
    # a 1×1 convolution from 3 to 2 channels: 3·2 MACs per pixel
    assert r"| 2 | conv\_a | macs | 6\*H\*W | 6\*H\*W | ✓ |" in rows
    assert r"| 3 | conv\_a | macs | 2\*H\*W | 6\*H\*W | ✗ |" in rows
    assert r"**Claim 3 (conv\_a macs) is not right**" in out


def test_a_column_that_never_wraps_keeps_each_cell_on_one_line():
    shape = "[64, 285, 285] ✗ torch [64, 284, 284]"
    columns = [Column("Layer", split=True), Column("Output shape", wrap=False),
               Column("Note", split=True)]
    t = Table(columns, [Row(["maxpool2d_1", shape, "a note of several words " * 3])])
    lines = writers.text(t, 60).splitlines()
    assert shape in lines[2] and all(shape not in line for line in lines[3:])
    wrapped = writers.text(Table([*columns[:1], Column("Output shape"), columns[2]], t.rows),
                           60)
    assert shape not in wrapped  # a column that may wrap breaks it between words
