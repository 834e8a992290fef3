"""Grading a class: the gradebook (CSV and JSON), points per claim, totals per student, and
per question the share right and the most common wrong answer with what explains it."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import time

from conftest import ROOT

CLASS = ROOT / "tests" / "fixtures" / "sheets" / "class"
SHEETS = sorted(CLASS.glob("*.yaml"))
ROOT_ARGS = ("--spec-root", str(ROOT / "tests" / "fixtures" / "sheets"))
# ResNet-18 (torchvision documents 11,689,512 parameters): conv1 7·7·3·64 = 9,408 (no bias;
# 9,472 counts a bias of 64); Keras's summary adds the BatchNorm moving mean and variance,
# 2 · 4,800 BatchNorm channels = 9,600, giving 11,699,112; MACs 1,814,073,344, and 3.6 G is
# the FLOPs (2 × MACs).


def gradebook(cli, tmp_path, name="grades.csv", *args):
    out_file = tmp_path / name
    code, out, err = cli("check", *SHEETS, *ROOT_ARGS, "--gradebook", out_file, *args)
    return code, out, err, out_file.read_text(encoding="utf-8")


def test_csv_gradebook(cli, tmp_path):
    code, out, err, text = gradebook(cli, tmp_path)
    assert code == 2  # fay's sheet cannot be read; the others are still graded
    assert err.count("\n") == 1 and "fay.yaml:3:1: unknown key 'answer'" in err
    rows = list(csv.DictReader(io.StringIO(text)))
    students = {r["student"]: r for r in rows if r["record"] == "student"}
    # ana: all right, 1 + 1 + 2 + 2 points; ben: nothing; eli's last claim is unreadable
    # (its 'points' is "two"), so it is worth 1 and not earned
    assert {k: (v["earned"], v["points"]) for k, v in students.items() if k != "fay"} == {
        "ana": ("6", "6"), "ben": ("0", "6"), "chen": ("4", "6"), "dara": ("4", "6"),
        "eli": ("4", "5")}
    assert students["fay"]["note"].startswith("cannot read this sheet: ")
    questions = {r["question"]: r for r in rows if r["record"] == "question"}
    q3 = questions["3"]
    assert (q3["at"], q3["metric"], q3["correct"]) == ("total", "params", "3/5")
    assert q3["claimed"] == "11,699,112"  # ben and chen
    assert "2 wrote 11,699,112: matches the keras count" in q3["note"]
    q4 = questions["4"]  # 1.82G (fvcore), 3.6 G (the FLOPs), and eli's unreadable one
    assert q4["correct"] == "2/5" and q4["claimed"] == "3.6 G"
    assert "matches the FLOPs" in q4["note"]
    claims = [r for r in rows if r["record"] == "claim" and r["student"] == "chen"]
    assert [(r["metric"], r["correct"], r["earned"]) for r in claims] == [
        ("params", "1", "1"), ("output_shape", "1", "1"), ("params", "0", "0"),
        ("macs", "1", "2")]
    assert "Questions (share of the class right" in out and "Points (earned of possible)" in out


def test_json_gradebook_and_json_output(cli, tmp_path):
    code, out, _, text = gradebook(cli, tmp_path, "grades.json", "--format", "json")
    book = json.loads(text)
    assert json.loads(out)["gradebook"] == book
    ana = next(s for s in book["students"] if s["student"] == "ana")
    assert (ana["earned"], ana["points"], ana["right"], ana["claims"]) == (6, 6, 4, 4)
    assert next(s for s in book["students"] if s["student"] == "fay")["error"]
    q2 = book["questions"][1]
    assert (q2["at"], q2["metric"], q2["right"], q2["answered"]) == \
        ("conv1", "output_shape", 4, 5)
    assert q2["share_right"] == 0.8
    assert q2["most_common_wrong"]["claimed"] == "112x112x64"
    assert "channels-last order" in q2["most_common_wrong"]["note"]


def test_points_mapping_and_bad_points(cli, tmp_path):
    spec = ROOT / "tests" / "fixtures" / "sheets" / "resnet18.yaml"
    sheet = tmp_path / "s.yaml"
    sheet.write_text(f"spec: {spec}\nanswers:\n"
                     "  - {at: conv1, params: 9408, output_shape: [64, 112, 112], "
                     "points: {params: 3}}\n"
                     "  - {at: fc, params: 513000, points: {macs: 2}}\n", "utf-8")
    book = tmp_path / "g.json"
    code, out, _ = cli("check", sheet, "--spec-root", spec, "--gradebook", book, "--format",
                       "json")
    results = json.loads(out)["sheets"][0]["results"]
    assert code == 1 and [r["correct"] for r in results] == [True, True, False]
    assert "'points' names 'macs', which this answer does not claim" in results[2]["error"]
    # 3 (params) + 1 (the shape, unnamed) earned; the unreadable claim is worth 1
    student = json.loads(book.read_text())["students"][0]
    assert (student["earned"], student["points"]) == (4, 5)


def test_formula_like_claims_are_text_in_the_spreadsheet(cli, tmp_path):
    spec = ROOT / "tests" / "fixtures" / "sheets" / "resnet18.yaml"
    sheet = tmp_path / "s.yaml"
    sheet.write_text(f"spec: {spec}\nanswers:\n  - {{at: fc, params: '=HYPERLINK(1)'}}\n",
                     "utf-8")
    book = tmp_path / "g.csv"
    cli("check", sheet, "--spec-root", spec, "--gradebook", book)
    row = next(r for r in csv.DictReader(io.StringIO(book.read_text()))
               if r["record"] == "claim")
    assert row["claimed"] == "'=HYPERLINK(1)"


def test_unwritable_gradebook_is_one_error_line(cli, tmp_path):
    code, out, err = cli("check", SHEETS[0], *ROOT_ARGS, "--gradebook",
                         tmp_path / "no-such-folder" / "g.csv")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("error: --gradebook ") and "cannot write it" in err


def test_a_class_of_200_sheets_grades_in_under_5_seconds(tmp_path):
    spec = ROOT / "tests" / "fixtures" / "sheets" / "resnet18.yaml"
    for i in range(200):
        wrong = i % 3 == 0
        (tmp_path / f"s{i:03}.yaml").write_text(
            f"spec: {spec}\nanswers:\n"
            f"  - {{at: conv1, params: {9472 if wrong else 9408}, output_shape: 112x112x64}}\n"
            f"  - {{at: total, params: \"{'11,699,112' if wrong else '11.7M'}\", points: 2}}\n"
            f"  - {{at: layer4.1, rf: 435}}\n"
            f"  - {{at: total, macs: \"{'3.6 G' if i % 2 else '1.8 G'}\"}}\n", "utf-8")
    sheets = sorted(str(p) for p in tmp_path.glob("s*.yaml"))
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "archcalc", "check", *sheets, "--spec-root",
                           str(spec), "--gradebook", str(tmp_path / "g.csv")],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    elapsed = time.monotonic() - start
    assert proc.returncode == 1, proc.stderr
    rows = list(csv.DictReader(io.StringIO((tmp_path / "g.csv").read_text())))
    q1 = next(r for r in rows if r["record"] == "question" and r["question"] == "1")
    assert q1["correct"] == "133/200"  # i % 3 == 0 for 67 of 0…199
    assert elapsed < 5, f"{elapsed:.1f} s"


def test_tutorial_class_report_is_real(cli, tmp_path):
    """Section 10 of the tutorial quotes the end of the report that --gradebook FILE gives."""
    text = (ROOT / "docs" / "tutorial-homework.md").read_text(encoding="utf-8")
    quoted = text.split("With a file, the report of the same class ends with:\n\n```text\n")[1]
    quoted = quoted.split("```")[0]
    names = ["ana", "ben", "chen", "dara", "eli", "fay"]
    assert [p.stem for p in SHEETS] == names
    args = [f"tests/fixtures/sheets/class/{n}.yaml" for n in names]
    import os

    here = os.getcwd()
    os.chdir(ROOT)
    try:
        _, out, _ = cli("check", *args, "--spec-root", "tests/fixtures/sheets",
                        "--gradebook", tmp_path / "g.csv")
    finally:
        os.chdir(here)
    assert out.endswith(quoted) and quoted.startswith("Points (earned of possible)")
