"""Answer sheets: planted errors are graded right, with correct values and derivations."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest

from archcalc import claims
from conftest import ROOT

SHEETS = ROOT / "tests" / "fixtures" / "sheets"
TINYNET = ROOT / "tests" / "fixtures" / "profiles" / "tinynet.yaml"


def run_json(cli, *sheets):
    """The sheets here name specs elsewhere in the repository: it is their --spec-root."""
    code, out, err = cli("check", *sheets, "--format", "json", "--spec-root", ROOT)
    return code, json.loads(out) if out.strip() else None, err


def verdicts(sheet: dict) -> list:
    return [(r["index"], r["metric"], r["correct"]) for r in sheet["results"]]


def test_planted_errors_are_found(cli):
    code, data, _ = run_json(cli, SHEETS / "planted.yaml")
    assert code == 1
    sheet = data["sheets"][0]
    assert verdicts(sheet) == [
        (1, "params", True), (1, "output_shape", True),  # 7·7·3·64 = 9,408; 224 → 112
        (2, "params", False),  # wrong per-layer count
        (3, "params", True),  # "11.7M" for 11,689,512
        (4, "params", False),  # wrong total
        (5, "rf", False),  # wrong receptive field
        (6, "flops", False),  # the MACs written as FLOPs
        (7, "macs", False),  # fvcore's count
    ]
    assert sheet["score"] == "3/8"
    by = {(r["index"], r["metric"]): r for r in sheet["results"]}
    # 3·3·64·128 = 73,728 (no bias)
    assert by[2, "params"]["expected"] == 73_728
    assert "3·3·64·128 = 73,728" in by[2, "params"]["derivation"][0]
    # torchvision: resnet18 has 11,689,512 parameters
    assert by[4, "params"]["expected"] == 11_689_512
    assert "keras" in by[4, "params"]["note"]  # 11,689,512 + 9,600 BN statistics
    assert by[5, "rf"]["expected"] == [435, 435]
    assert any("= 435" in line for line in by[5, "rf"]["derivation"])
    assert by[6, "flops"]["expected"] == 3_628_146_688  # 2 × 1,814,073,344
    assert "MAC count" in by[6, "flops"]["note"]
    assert by[7, "macs"]["expected"] == 1_814_073_344
    note = by[7, "macs"]["note"]
    assert "fvcore" in note and "batchnorm2d" in note and "adaptiveavgpool2d" in note
    assert "derivation" not in by[3, "params"]


def test_symbolic_sheet(cli):
    code, data, _ = run_json(cli, SHEETS / "symbolic.yaml")
    assert code == 1
    assert verdicts(data["sheets"][0]) == [
        (1, "params", True),  # (3·3·C + 1)·64 = 576·C + 64
        (1, "output_shape", True),  # padding 1 keeps H and W
        (2, "output_shape", True),  # ⌊H/2⌋ written H//2
        (3, "output_shape", False),  # H/2 is wrong for odd H
        (4, "macs", True),  # H·W·64·3·3·C
    ]
    wrong = data["sheets"][0]["results"][3]
    assert wrong["expected"] == [64, "floor(H/2)", "floor(W/2)"]


def test_all_right_sheet_exits_0(cli):
    code, data, _ = run_json(cli, SHEETS / "allright.yaml")
    assert code == 0, data
    assert all(c for *_, c in verdicts(data["sheets"][0]))


def test_grade_table_for_several_sheets(cli):
    code, out, _ = cli("check", SHEETS / "planted.yaml", SHEETS / "symbolic.yaml",
                       SHEETS / "allright.yaml")
    assert code == 1
    grades = out[out.index("Grades"):].splitlines()
    assert grades[3].split() == ["planted", "✓", "✗", "✓", "✗", "✗", "✗", "✗", "3/8"]
    assert grades[4].split() == ["symbolic", "✓", "✓", "✗", "✓", "4/5"]
    # allright.yaml: 4 + 3 + 2 + 4 claims
    assert grades[5].split() == ["allright", "✓", "✓", "✓", "✓", "13/13"]
    assert "✗  2. layer2.0.conv2d_1  params = 147456   → correct: 73,728" in out


@pytest.mark.parametrize("fmt", ["markdown", "csv", "latex", "table"])
def test_other_formats(cli, fmt):
    code, out, _ = cli("check", SHEETS / "planted.yaml", "--format", fmt)
    assert code == 1 and "73,728" in out


def write(tmp_path, text, name="sheet.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_convention_keras_sheet_and_ptflops_hint(cli, tmp_path):
    sheet = write(tmp_path, f"""
spec: {TINYNET}
convention: keras
answers:
  - {{at: bn1, params: 32}}        # 2·8 weights + 2·8 moving statistics
  - {{at: total, macs: 309274}}    # what ptflops prints (docs/pytorch-semantics.md §3.5)
  - {{at: total, macs: 283136}}    # what thop prints
""")
    code, data, _ = run_json(cli, sheet)
    assert code == 1
    r = data["sheets"][0]["results"]
    assert [x["correct"] for x in r] == [True, False, False]
    assert "ptflops" in r[1]["note"] and "relu" in r[1]["note"]
    assert "thop" in r[2]["note"]


def test_inline_model_and_set(cli, tmp_path):
    sheet = write(tmp_path, """
model:
  name: one conv
  symbols: {H: null}
  input: [3, H, H]
  layers: [conv2d: {name: c, out: 8, kernel: 3}]
set: {H: 10}
answers:
  - {at: c, output_shape: [8, 8, 8], macs: 13824}   # 8·8·8·3·3·3
""")
    code, data, _ = run_json(cli, sheet)
    assert code == 0, data


@pytest.mark.parametrize("body,needle,where", [
    ("answers:\n  - {at: conv1, parms: 3}\n", "did you mean 'params'", ":5:"),
    ("answers:\n  - {at: conv9, params: 3}\n", "no layer or block named 'conv9'", ":5:"),
    ("answers:\n  - {at: conv1, params: 'lots'}\n", "neither a number", ":5:"),
    ("answers:\n  - {at: conv1, params: '1.2 MiB'}\n", "binary prefixes", ":5:"),
])
def test_unreadable_claim_is_a_row_and_exits_1(cli, tmp_path, body, needle, where):
    sheet = write(tmp_path, f"# sheet\nspec: {TINYNET}\nanswers:\n  - {{at: conv1, params: 224}}\n"
                            f"{body.replace('answers:', '', 1).lstrip(chr(10))}")
    code, data, err = run_json(cli, sheet)
    assert code == 1 and err == ""
    right, bad = data["sheets"][0]["results"]
    assert right["correct"] is True  # conv1: 3·3·3·8 + 8 = 224
    assert bad["correct"] is False and needle in bad["error"]
    assert bad["error"].startswith(f"{sheet}{where}")


@pytest.mark.parametrize("body,needle,where", [
    ("answers: 3\n", "'answers' must be a list", ":3:"),
    ("answer: []\n", "unknown key 'answer'", ":3:"),
])
def test_unreadable_sheet_exits_2_with_location(cli, tmp_path, body, needle, where):
    sheet = write(tmp_path, f"# sheet\nspec: {TINYNET}\n{body}")
    code, out, err = cli("check", sheet, "--spec-root", ROOT)
    assert code == 2 and needle in err and f"sheet.yaml{where}" in err and out == ""
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_missing_spec_file(cli, tmp_path):
    sheet = write(tmp_path, "spec: nowhere.yaml\nanswers: []\n")
    code, _, err = cli("check", sheet)
    assert code == 2 and "nowhere.yaml" in err and "sheet.yaml:1:" in err


@pytest.mark.parametrize("text,value,right", [
    ("138M", 138_357_544, True),  # 138.357544 rounds to 138
    ("139M", 138_357_544, False),
    ("15.5 G", 15_470_264_320, True),  # VGG16 MACs
    ("15.4 G", 15_470_264_320, True),  # truncated
    ("15.3 G", 15_470_264_320, False),
    ("11.7M", 11_689_512, True),  # ResNet-18 params
    ("11.6M", 11_689_512, True),  # truncated
    ("11.5M", 11_689_512, False),
    ("1.2K", 1_234, True),
    ("1.23K", 1_234, True),
    ("1.24K", 1_234, False),
    ("138,357,544", 138_357_544, True),
    ("138,357,545", 138_357_544, False),
    ("1.38e8", 138_357_544, True),
    ("15.47 GFLOPs", 15_470_264_320, True),
    (138357544, 138_357_544, True),
    ("1234", 1_234, True),
    ("1235", 1_234, False),
])
def test_claimed_numbers_at_their_precision(text, value, right):
    assert claims.parse_number(text, {}).matches(value) is right


def test_rounded_claim_tolerance_is_half_a_unit():
    n = claims.parse_number("15.5 G", {})
    assert n.value == 15_500_000_000 and n.tolerance == Fraction(50_000_000)


def test_shape_and_rf_claims():
    from helpers import sym

    H, W = sym("H", "W")
    env = {"H": H, "W": W, "C": 64}
    assert claims.parse_shape("[C, H/2, W/2]", env) == (64, H / 2, W / 2)
    assert claims.parse_shape("512x7x7", {}) == (512, 7, 7)
    assert claims.parse_shape("512 × 7 × 7", {}) == (512, 7, 7)
    assert claims.parse_rf(40, {}, 2) == (40, 40)
    assert claims.parse_rf("none", {}, 2) is None
    import sympy as sp

    assert claims.same_tuple((sp.floor(H / 2),), (H // 2,))
    assert not claims.same_tuple((H / 2,), (sp.floor(H / 2),))


VGG_SPEC = ROOT / "specs" / "vgg16.yaml"
needs_vgg = pytest.mark.skipif(not VGG_SPEC.exists(), reason="specs/vgg16.yaml not in this "
                                                              "checkout yet")


@needs_vgg
def test_homework_sheets_alice_and_bob(cli):
    code, data, _ = run_json(cli, SHEETS / "alice.yaml", SHEETS / "bob.yaml")
    assert code == 1
    alice, bob = data["sheets"]
    assert alice["score"] == "6/6"
    assert [r["correct"] for r in bob["results"]] == [False, False, False, True, False, False]
    # conv3_1 (3·3·128 + 1)·256 = 295,168; fc6 (25088 + 1)·4096 = 102,764,544; pool3 RF 44
    assert [r["expected"] for r in bob["results"]] == [
        295_168, [256, 56, 56], 102_764_544, 138_357_544, 30_940_528_640, [44, 44]]


@needs_vgg
def test_tutorial_outputs_are_real():
    from doc_blocks import blocks, stale

    tutorial = ROOT / "docs" / "tutorial-homework.md"
    assert len(blocks(tutorial)) >= 6
    assert stale(tutorial) == []


def test_tutorial_stderr_line_is_real(cli):
    """Section 8 of the tutorial quotes what stderr says about Alice's sheet without
    --spec-root; the console block holds stdout only."""
    import os

    text = (ROOT / "docs" / "tutorial-homework.md").read_text()
    quoted = [line.strip() for line in text.splitlines()
              if line.startswith("    error: tests/fixtures/sheets/alice.yaml")]
    here = os.getcwd()
    os.chdir(ROOT)
    try:
        code, _, err = cli("check", "tests/fixtures/sheets/dave.yaml",
                           "tests/fixtures/sheets/alice.yaml")
    finally:
        os.chdir(here)
    assert code == 2 and quoted == [err.strip()]
