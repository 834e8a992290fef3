"""Answer sheets from strangers, and claims as students really write them.

Each test here failed before the behaviour it checks was put in: claims with parentheses
and commas inside calls, scale words, symbolic claims right only where the spec's
conditions hold, one unreadable claim or sheet not stopping the grading of the rest,
``spec:`` confined to the sheet's folder and ``--spec-root``, FIFOs refused up front, and
bounded time and output on hostile sheets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from archcalc import claims, limits
from conftest import ROOT

TINYNET = ROOT / "tests" / "fixtures" / "profiles" / "tinynet.yaml"


def write(folder, name, text):
    path = folder / name
    path.write_text(text)
    return path


def grade(cli, *args):
    code, out, err = cli("check", *args, "--format", "json")
    return code, (json.loads(out) if out.strip() else None), err


def verdicts(data, sheet=0):
    return [r["correct"] for r in data["sheets"][sheet]["results"]]


# ---------------------------------------------------------------- how claims are written
DILATED = """
name: dilated
symbols: {M: null, N: null, F: null, D: null}
input: [1, M, N]
layers:
  - conv2d: {name: c, out: 1, kernel: F, dilation: D}
  - maxpool2d: {name: p, kernel: 2, ceil_mode: true}
"""


def test_claims_with_parentheses_and_calls(cli, tmp_path):
    write(tmp_path, "net.yaml", DILATED)
    sheet = write(tmp_path, "sheet.yaml", """
spec: net.yaml
answers:
  - {at: c, rf: "1 + D*(F-1)"}                                   # right: a dilated kernel spans D·(F−1) + 1
  - {at: c, output_shape: "1 x (M - D*(F-1)) x (N - D*(F-1))"}   # right: valid conv, stride 1
  - {at: c, output_shape: "[1, M - D*(F-1), (N - D*(F-1))]"}     # right, with commas
  - {at: c, output_shape: "1 x (M - D*F) x (N - D*F)"}           # wrong: D too few
  - {at: p, output_shape: "[1, ceil((M - D*(F-1))/2), ceil((N - D*(F-1))/2)]"}
""")
    # the last one: ceil-mode pooling with kernel 2, stride 2 gives ⌈n/2⌉ rows for n rows
    code, data, err = grade(cli, sheet)
    assert code == 1, err
    assert verdicts(data) == [True, True, True, False, True]


@pytest.mark.parametrize("text,items", [
    ("512x7x7", ["512", "7", "7"]),
    ("512 × 7 × 7", ["512", "7", "7"]),
    ("[1, ceil(n/2), ceil(n/2)]", ["1", "ceil(n/2)", "ceil(n/2)"]),
    ("1 x (M - D*(F-1)) x N", ["1", "(M - D*(F-1))", "N"]),
    ("(M-2)x(N-2)", ["(M-2)", "(N-2)"]),
    ("1xM", ["1", "M"]),
    ("64 x H/2 x W/2", ["64", "H/2", "W/2"]),
    ("(C, H/2, W/2)", ["C", "H/2", "W/2"]),
    ("1 + D*(F-1)", ["1 + D*(F-1)"]),
    ("max(1, H - 2)", ["max(1, H - 2)"]),
    ("[max(1, H), Hx]", ["max(1, H)", "Hx"]),
])
def test_shape_text_is_split_outside_parentheses(text, items):
    assert claims.split_shape(text) == items


@pytest.mark.parametrize("text,value,right", [
    ("60 million", 60_000_000, True),
    ("60 million", 60_400_000, True),  # 60.4 million rounds to 60 million
    ("60 million", 60_600_000, True),  # truncated
    ("60 million", 61_000_000, False),
    ("1.5 billion", 1_540_000_000, True),
    ("1.5 billion", 1_560_000_000, True),  # truncated
    ("1.5 billion", 1_600_000_000, False),
    ("3 thousand params", 3_210, True),
    ("2 trillion", 2 * 10**12, True),
    ("60 Million", 60_000_000, True),
])
def test_scale_words(text, value, right):
    assert claims.parse_number(text, {}).matches(value) is right


@pytest.mark.parametrize("text", ["60 MiB", "1.2 Gi", "3 kib", "4 Ti bytes"])
def test_binary_prefixes_are_still_refused(text):
    with pytest.raises(Exception, match="binary prefixes"):
        claims.parse_number(text, {})


GROUPED = """
name: grouped
symbols: {R: null, O: null, G: null}
input: [R, 1, 1]
layers:
  - conv2d: {name: c, out: O, kernel: 1, groups: G, bias: false}
"""


def test_symbolic_claim_compared_where_the_conditions_hold(cli, tmp_path):
    write(tmp_path, "net.yaml", GROUPED)
    sheet = write(tmp_path, "sheet.yaml", """
spec: net.yaml
answers:
  - {at: c, macs: "R*O/G"}          # right: 1·1·O·(R/G) where R % G == 0 (recorded)
  - {at: c, params: "R*O/G"}        # right: O·(R/G) weights of size 1×1
  - {at: c, macs: "R*O"}            # wrong unless G = 1
  - {at: c, macs: "R*O/(2*G)"}      # wrong everywhere
""")
    code, data, err = grade(cli, sheet)
    assert code == 1, err
    assert verdicts(data) == [True, True, False, False]
    assert data["sheets"][0]["results"][0]["expected"] == "O*floor(R/G)"


def test_conditions_decide_the_comparison():
    import sympy as sp

    R, O, G = (sp.Symbol(n, integer=True, positive=True) for n in "ROG")
    expected = O * sp.floor(R / G)
    divides = sp.Eq(R - G * sp.floor(R / G), 0)  # how archcalc records R % G == 0
    assert not claims.same_expression(R * O / G, expected)  # R = 3, G = 2 tells them apart
    assert claims.same_expression(R * O / G, expected, [divides])
    assert not claims.same_expression(R * O / G + 1, expected, [divides])


# ---------------------------------------------------------------- grading goes on
def test_unreadable_claim_is_its_own_row(cli, tmp_path):
    sheet = write(tmp_path, "sheet.yaml", f"""
spec: {TINYNET}
answers:
  - {{at: conv1, params: 224}}                  # right: 3·3·3·8 + 8
  - {{at: conv1, params: "22 4"}}               # a typo
  - {{at: fc, params: 170}}                     # right: (16 + 1)·10
""")
    code, out, err = cli("check", sheet, "--spec-root", TINYNET.parent)
    assert code == 1 and err == ""
    assert "✗  2. conv1  params = 22 4   → cannot read this claim: " \
           f"{sheet}:5:25: answer 2 (params): '22 4' is neither a number" in out
    assert "        correct: 224" in out and "score 2/3" in out


def test_an_unreadable_sheet_does_not_stop_the_others(cli, tmp_path):
    good = write(tmp_path, "good.yaml", f"spec: {TINYNET}\nanswers:\n"
                                        "  - {at: conv1, params: 224}\n")
    typo = write(tmp_path, "typo.yaml", f"spec: {TINYNET}\nanswers:\n"
                                        "  - {at: conv1, params: lots}\n")
    broken = write(tmp_path, "broken.yaml", f"spec: {TINYNET}\nanswers: [\n")
    late = write(tmp_path, "late.yaml", f"spec: {TINYNET}\nanswers:\n"
                                        "  - {at: fc, params: 170}\n")
    root = ("--spec-root", TINYNET.parent)
    code, out, err = cli("check", good, broken, typo, late, *root)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith(f"error: {broken}:")
    grades = out[out.index("Grades"):].splitlines()
    assert [row.split() for row in grades[3:-1]] == [
        ["good", "✓", "1/1"], ["broken", "—"], ["typo", "✗", "0/1"], ["late", "✓", "1/1"]]
    assert grades[-1].startswith("entry: ✓ all claims right")  # the legend, under the table
    code, data, _ = grade(cli, good, broken, typo, late, *root)
    assert code == 2
    assert [s.get("score") for s in data["sheets"]] == ["1/1", None, "0/1", "1/1"]
    assert data["sheets"][1]["error"].startswith(f"{broken}:")
    # only unreadable claims, every sheet read: 1
    code, _, err = grade(cli, good, typo, *root)
    assert code == 1 and err == ""


def test_a_single_unreadable_sheet_prints_only_its_error(cli, tmp_path):
    sheet = write(tmp_path, "sheet.yaml", "spec: nowhere.yaml\nanswers: []\n")
    code, out, err = cli("check", sheet)
    assert (code, out) == (2, "") and err.count("\n") == 1


def test_help_documents_exit_codes_and_spec_root(cli):
    code, out, _ = cli("check", "--help")
    assert code == 0
    text = " ".join(out.split())
    assert "--spec-root" in text and "0 every claim right; 1 some claim wrong or unreadable" in text


# ---------------------------------------------------------------- confinement
def test_spec_root_widens_the_confinement(cli, tmp_path):
    sheet = write(tmp_path, "sheet.yaml", f"spec: {TINYNET}\nanswers:\n"
                                          "  - {at: conv1, params: 224}\n")
    code, _, err = cli("check", sheet)
    assert code == 2 and "outside the folders this sheet may read" in err
    assert cli("check", sheet, "--spec-root", TINYNET.parent)[0] == 0
    assert cli("check", sheet, "--spec-root", TINYNET)[0] == 0  # a file as the root
    other = tmp_path / "elsewhere"
    other.mkdir()
    assert cli("check", sheet, "--spec-root", other)[0] == 2
    code, _, err = cli("check", sheet, "--spec-root", tmp_path / "missing")
    assert code == 2 and err == f"error: --spec-root {tmp_path / 'missing'}: no such folder " \
                                "or file\n"


def test_symlink_inside_the_root_is_followed(cli, tmp_path):
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "net.yaml").write_text(TINYNET.read_text())
    os.symlink(specs / "net.yaml", tmp_path / "link.yaml")
    sheet = write(tmp_path, "sheet.yaml", "spec: link.yaml\nanswers:\n"
                                          "  - {at: conv1, params: 224}\n")
    assert cli("check", sheet)[0] == 0


def test_a_file_that_is_not_a_spec_is_not_shown(cli, tmp_path):
    secret = tmp_path / "private" / "notes"
    secret.parent.mkdir()
    secret.write_text("root:x:0:0:hunter2-password:/root:/bin/bash\n")
    sheet = write(tmp_path, "sheet.yaml", f"spec: {secret}\nanswers: []\n")
    code, out, err = cli("check", sheet, "--spec-root", tmp_path)
    assert code == 2 and out == "" and "hunter2" not in err
    assert err == f"error: {secret}:1:1: not an archcalc spec (a mapping with 'input' and " \
                  f"'layers'), named by the answer sheet at {sheet}:1:7\n"


def _run(args, **kwargs):
    return subprocess.run([sys.executable, "-m", "archcalc", *map(str, args)],
                          capture_output=True, text=True, timeout=60, **kwargs)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifos_are_refused_without_waiting(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    proc = _run(["check", fifo])  # a sheet that is a FIFO: nothing ever writes to it
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith(f"error: {fifo}") and proc.stderr.count("\n") == 1
    sheet = write(tmp_path, "sheet.yaml", "spec: pipe.yaml\nanswers: []\n")
    proc = _run(["check", sheet])  # a spec that is a FIFO
    assert proc.returncode == 2
    assert proc.stderr == f"error: {sheet}:1:7: spec 'pipe.yaml' is not a regular file (a " \
                          "device, FIFO or socket)\n"


@pytest.mark.skipif(not os.path.exists("/dev/stdin"), reason="no /dev/stdin here")
def test_dev_stdin_on_an_open_pipe_is_refused(tmp_path):
    sheet = write(tmp_path, "sheet.yaml", "spec: /dev/stdin\nanswers: []\n")
    for args in (["check", "/dev/stdin"], ["check", sheet, "--spec-root", "/"]):
        with subprocess.Popen([sys.executable, "-m", "archcalc", *map(str, args)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) as proc:
            try:
                out, err = proc.communicate(timeout=60)  # stdin stays open: no writer ends
            finally:
                proc.kill()
        assert proc.returncode == 2 and out == "" and err.count("\n") == 1, (args, err)


# ---------------------------------------------------------------- bounded work and output
def _within(seconds: float, code: str) -> None:
    """Run ``code`` in a fresh interpreter; it must finish within ``seconds`` (a
    regression here would hang rather than fail, so it is run where it can be stopped)."""
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=max(30.0, 10 * seconds), cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - started < seconds + 5.0  # + interpreter start and imports


def test_long_claims_are_matched_in_linear_time():
    # quadratic matching took 6.9 s at 8,000 spaces, so about 28 s at 16,000
    _within(2.0, """
import time
from archcalc import claims, errors, limits
limits.install(max_expr_chars=100_000)
started = time.monotonic()
for text in ("1" + " " * 16_000 + "x", "1" + " " * 16_000 + "M" + " " * 16_000):
    try:
        claims.parse_number(text + "?", {})
        raise SystemExit("accepted")
    except errors.SpecError:
        pass
    claims.split_shape(text)
assert time.monotonic() - started < 2.0, time.monotonic() - started
""")


def test_huge_exponents_are_refused_before_computing():
    _within(0.5, """
from archcalc import claims, errors
for text in ("1e999999999", "1e-999999999", "9.9e1300", "1e1234 G"):
    try:
        claims.parse_number(text, {})
        raise SystemExit(f"accepted {text}")
    except errors.SpecError as e:
        assert "too large to be a count" in e.message, e.message
""")
    # 10**1233 has 1,234 digits < 4,096 bits: still a count
    assert claims.parse_number("1e1233", {}).matches(10**1233)


def test_many_wrong_answers_on_a_deep_chain(cli, tmp_path):
    layers = "".join(f"  - conv1d: {{name: c{i}, out: 1, kernel: 3, padding: 1}}\n"
                     for i in range(5000))
    write(tmp_path, "chain.yaml", f"name: chain\ninput: [1, 100000]\nlayers:\n{layers}")
    answers = "".join(f"  - {{at: c{4900 + i}, rf: 7}}\n" for i in range(100))
    sheet = write(tmp_path, "sheet.yaml", f"spec: chain.yaml\nanswers:\n{answers}")
    started = time.monotonic()
    code, out, err = cli("check", sheet, "--limit", "max_yaml_nodes=100000")
    elapsed = time.monotonic() - started
    assert code == 1, err
    assert elapsed < 10, elapsed  # 100 full recurrences through 5,000 layers took minutes
    assert len(out) < 1_000_000  # was 8.5 MB
    # each kernel-3 stride-1 layer widens the field by 2: after c_i it is 1 + 2·(i + 1)
    assert "✗  1. c4900  rf = 7   → correct: 9803" in out
    assert "✗ 100. c4999  rf = 7   → correct: 10001" in out
    assert "rf(c4999) = r = r' + (k − 1)·j' = 9999 + (3 − 1)·1 = 10001" in out


def test_file_names_with_escape_codes_are_shown_escaped(cli, tmp_path):
    write(tmp_path, "net.yaml", TINYNET.read_text())
    sheet = write(tmp_path, "a\x1b]0;T\x07b.yaml", "spec: net.yaml\nanswers:\n"
                                                    "  - {at: conv1, params: 1}\n")
    for fmt in ("table", "json", "csv", "markdown", "latex"):
        code, out, err = cli("check", sheet, "--format", fmt)
        assert code == 1 and "\x1b" not in out and "\x07" not in out, fmt
    code, out, _ = cli("check", sheet, "--format", "json")
    assert json.loads(out)["sheets"][0]["path"].endswith("a\\x1b]0;T\\x07b.yaml")


def test_command_line_set_keeps_its_wording(cli, tmp_path):
    write(tmp_path, "net.yaml", TINYNET.read_text())
    sheet = write(tmp_path, "sheet.yaml", "spec: net.yaml\nset: {}\nanswers: []\n")
    code, _, err = cli("check", sheet, "--set", "ZZ=1")
    assert code == 2 and err.startswith(f"error: {tmp_path / 'net.yaml'}: --set ZZ: the spec "
                                        "has no symbol 'ZZ'")


def test_exact_evaluation_agrees_with_sympy():
    import sympy as sp

    H, W = (sp.Symbol(n, integer=True, positive=True) for n in "HW")
    forms = [sp.floor((H + 3) / 2) * W - sp.Min(H, W) + sp.Mod(H, 3), sp.ceiling(H / W),
             (H + 1) ** 3 / 7, sp.Max(H - 4, 1) ** 2, sp.Eq(H - 2 * sp.floor(H / 2), 0),
             sp.And(H >= 5, W < 9), sp.Or(H > W, sp.Ne(H, 3)), sp.Rational(3, 4) * H - W]
    for e in forms:
        for h, w in [(1, 1), (2, 7), (5, 3), (100, 9), (65536, 512)]:
            expected = e.xreplace({H: sp.Integer(h), W: sp.Integer(w)})
            got = claims._at(e, {H: h, W: w})
            if isinstance(got, bool):
                assert got == bool(expected), (e, h, w)
            else:
                assert sp.Rational(got) == expected, (e, h, w)


def test_a_spec_named_by_many_sheets_is_read_once(cli, tmp_path, monkeypatch):
    from archcalc import grading as check

    write(tmp_path, "net.yaml", TINYNET.read_text())
    sheets = [write(tmp_path, f"s{i}.yaml", "spec: net.yaml\nanswers:\n"
                                             "  - {at: conv1, params: 224}\n") for i in range(5)]
    loaded = []
    real = check._load_spec
    monkeypatch.setattr(check, "_load_spec", lambda *a: loaded.append(a) or real(*a))
    assert cli("check", *sheets)[0] == 0
    assert len(loaded) == 1
