"""archcalc sweep: closed forms evaluated with numpy must equal the numeric path exactly, at
every point, and points where a condition fails must be reported invalid, not computed."""

from __future__ import annotations

import random
import sys
import textwrap

import numpy as np
import pytest

from archcalc import conventions
from archcalc.errors import SpecError
from archcalc.sweeping import Range, parse_range, sweep
from helpers import analyse_text

# Strided conv (floor), ceil-mode pool (Piecewise with a ceiling), Keras 'same' padding
# (ceiling, Max), dilation, grouped conv, adaptive pool and a linear layer after flatten.
SPEC = """\
name: mixed
symbols: {H: null, W: null}
input: [3, H, W]
layers:
  - conv2d: {out: 8, kernel: 5, stride: 2, bias: false}
  - batchnorm2d
  - maxpool2d: {kernel: 3, stride: 2, ceil_mode: true}
  - conv2d: {out: 16, kernel: 3, stride: 3, padding: same, groups: 2}
  - conv2d: {out: 16, kernel: 3, dilation: 2, padding: 1}
  - adaptiveavgpool2d: {out: [2, null]}
  - flatten
  - linear: {out: 10}
"""
# The flatten makes linear's input 16·2·W'' wide: params depend on W, so they vary too.


def _numeric(h: int, w: int):
    """The numeric path at one point, or None where the spec is invalid there."""
    text = SPEC.replace("symbols: {H: null, W: null}", f"symbols: {{H: {h}, W: {w}}}")
    try:
        a = analyse_text(text)
    except SpecError:
        return None
    return (*a.total.output_shape, a.total.params, a.total.macs)


@pytest.fixture(scope="module")
def symbolic():
    return analyse_text(SPEC)


def test_parse_range():
    assert parse_range("H=32:2048") == Range(("H",), 32, 2048, 1)
    assert len(parse_range("H=32:2048")) == 2017  # 32 … 2048 inclusive
    r = parse_range("H,W=32:64:16")
    assert r.names == ("H", "W") and r.values().tolist() == [32, 48, 64]
    assert parse_range("p=0:4").start == 0  # 0 is refused later for a positive symbol
    for bad in ("H", "H=1", "H=-1:4", "H=5:4", "H=1:4:0", "H=a:b", "1=1:2"):
        with pytest.raises(SpecError):
            parse_range(bad)


def test_grid_matches_numeric_path_at_random_points(symbolic):
    ranges = [parse_range("H=1:60"), parse_range("W=1:40")]
    result = sweep(symbolic, ranges, conventions.DEFAULT, ("shape", "params", "macs"))
    assert len(result) == 60 * 40
    names = list(result.columns)
    assert names == ["out0", "params", "macs"]  # flatten + linear: output [10]
    rng = random.Random(7)
    indices = rng.sample(range(len(result)), 40)
    indices += [0, len(result) - 1]  # H = W = 1 (invalid) and H = 60, W = 40
    for i in indices:
        h, w = int(result.inputs["H"][i]), int(result.inputs["W"][i])
        expected = _numeric(h, w)
        if expected is None:
            assert not result.valid[i], (h, w)
        else:
            assert result.valid[i], (h, w)
            got = tuple(int(result.columns[k][i]) for k in names)
            assert got == expected, (h, w)


def test_invalid_points_are_exactly_where_the_numeric_path_refuses(symbolic):
    result = sweep(symbolic, [parse_range("H,W=1:40")], conventions.DEFAULT, ("macs",))
    for i, h in enumerate(range(1, 41)):
        assert bool(result.valid[i]) == (_numeric(h, h) is not None), h
    assert (~result.valid).sum() > 0 and result.failures


def test_values_past_int64_stay_exact():
    """Sizes whose MACs pass 2^61 are evaluated in Python integers, still exact."""
    text = textwrap.dedent("""\
        symbols: {H: null}
        input: [1024, H, H]
        layers:
          - conv2d: {out: 1024, kernel: 3, stride: 2, padding: 1}
        """)
    a = analyse_text(text)
    result = sweep(a, [parse_range("H=1000000:4000000:1000000")], conventions.DEFAULT, ("macs",))
    for i, h in enumerate((1_000_000, 2_000_000, 3_000_000, 4_000_000)):
        out = (h + 2 - 3) // 2 + 1
        assert int(result.columns["macs"][i]) == out * out * 1024 * 1024 * 9  # Cout·Cin·k²·H'W'
    assert int(result.columns["macs"][-1]) > 2 ** 63  # would overflow int64


def test_keras_convention_adds_buffers(symbolic):
    r = Range(("H", "W"), 64, 64)
    torch_like = sweep(symbolic, [r], conventions.DEFAULT, ("params",)).columns["params"][0]
    keras = sweep(symbolic, [r], conventions.KERAS, ("params",)).columns["params"][0]
    assert keras - torch_like == 16  # BatchNorm2d(8): running mean + var = 2·8


def test_unswept_free_symbol_is_an_error(symbolic):
    with pytest.raises(SpecError, match="W"):
        sweep(symbolic, [parse_range("H=1:4")], conventions.DEFAULT)


# ------------------------------------------------------------------ command line
@pytest.fixture
def spec_file(tmp_path):
    path = tmp_path / "mixed.yaml"
    path.write_text(SPEC)
    return path


def test_cli_csv(cli, spec_file):
    code, out, _ = cli("sweep", spec_file, "--over", "H=30:41", "--set", "W=40", "--format", "csv")
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0] == "H,out0,params,macs,valid"
    assert len(lines) == 13  # 30 … 41 inclusive
    rows = {int(line.split(",")[0]): line.split(",") for line in lines[1:]}
    assert _numeric(30, 40) is None
    assert rows[30][-1] == "0" and rows[30][1:4] == ["", "", ""]  # invalid: no numbers
    expected = _numeric(41, 40)
    assert rows[41][-1] == "1" and tuple(int(v) for v in rows[41][1:4]) == expected


def test_cli_table_and_grid(cli, spec_file):
    code, out, _ = cli("sweep", spec_file, "--over", "H=20:29", "--over", "W=30:31", "--rows", "4")
    assert code == 0
    assert "20 points (4 shown)" in out
    lines = out.splitlines()  # the table (title, header, rule, 4 points), then the forms
    assert lines[1].split() == ["H", "W", "out0", "params", "macs"] and len(lines[3:7]) == 4
    assert lines[7].startswith("out0 = 10") and lines[8].startswith("params = ")


def test_cli_errors(cli, spec_file, monkeypatch):
    code, _, err = cli("sweep", spec_file, "--over", "X=1:4", "--set", "W=3")
    assert code == 2 and "--over X: the spec has no symbol 'X'" in err
    code, _, err = cli("sweep", spec_file, "--over", "H=1:4")
    assert code == 2 and "W" in err
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if the extra were missing
    code, _, err = cli("sweep", spec_file, "--over", "H,W=8:9", "--plot", "out.png")
    assert code == 2 and "pip install 'archcalc[plot]'" in err


def test_cli_plot_writes_a_png(cli, spec_file, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "macs.png"
    code, _, err = cli("sweep", spec_file, "--over", "H,W=30:80", "--plot", png)
    assert code == 0, err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_sweeps_a_symbol_that_has_a_default(cli, tmp_path):
    """A swept symbol is freed even when the spec gives it a default value."""
    path = tmp_path / "default.yaml"
    path.write_text("symbols: {H: 224}\ninput: [3, H, H]\nlayers:\n"
                    "  - conv2d: {out: 4, kernel: 3, stride: 2}\n")
    code, out, err = cli("sweep", path, "--over", "H=3:5", "--format", "csv", "--what", "macs")
    assert code == 0, err
    # out = floor((H - 3)/2) + 1 → 1, 1, 2 per axis; MACs = out² · 4 · 3 · 9
    assert out.splitlines()[1:] == ["3,108,1", "4,108,1", "5,432,1"]


def test_min_max_with_constants_and_piecewise():
    """Max/Min against a constant and a ceil-mode Piecewise/Min compile element-wise."""
    import sympy as sp

    from archcalc.sweeping import evaluate

    H = sp.Symbol("H", integer=True, positive=True)
    hs = np.arange(1, 200, dtype=np.int64)
    forms = [sp.Max(3, sp.floor(H / 2)), sp.Min(sp.ceiling(H / 3), 40) * 7,
             sp.Piecewise((sp.floor(H / 5), H > 50), (H + 1, True))]
    for form in forms:
        got, undefined = evaluate(form, [H], [hs], len(hs))
        assert [int(v) for v in got] == [int(form.subs(H, int(h))) for h in hs], form
        assert not undefined.any()


# ------------------------------------------------------------------ hostile sweeps
@pytest.mark.parametrize("names", [("idiv", "vmin"), ("vmax", "select")])
def test_symbols_named_like_the_evaluators_functions(names):
    """Symbols may be called what the compiled code calls (floor division, element-wise
    min/max, numpy's select for a ceil-mode pool): the values still equal the numeric path."""
    a, b = names
    spec = SPEC.replace("{H: null, W: null}", f"{{{a}: null, {b}: null}}").replace(
        "[3, H, W]", f"[3, {a}, {b}]")
    result = sweep(analyse_text(spec), [Range((a,), 28, 40), Range((b,), 30, 31)],
                   conventions.get("pytorch"))
    cols = list(result.columns.values())
    for i in range(len(result)):
        h, w = int(result.inputs[a][i]), int(result.inputs[b][i])
        want = _numeric(h, w)
        got = tuple(int(c[i]) for c in cols) if result.valid[i] else None
        assert got == want, (h, w)


DIVIDES = """\
symbols: {H: null}
input: [3, H, H]
layers:
  - conv2d: {out: "64/(H-1)", kernel: 1}
"""


def test_division_by_zero_at_some_points_marks_them_invalid():
    """out = 64/(H - 1): H = 1 divides by zero, H = 4 and 6 give no whole channel count
    (64/3, 64/5); H = 2, 3, 5 give 64, 32, 16 channels — what the numeric path says at each
    point. No numpy warning escapes (warnings are errors here)."""
    import warnings

    def numeric(h):
        try:
            return analyse_text(DIVIDES.replace("{H: null}", f"{{H: {h}}}")).total.params
        except SpecError:
            return None

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = sweep(analyse_text(DIVIDES), [Range(("H",), 1, 6)], conventions.get("pytorch"),
                       ("params",))
    got = [int(v) if ok else None for v, ok in zip(result.columns["params"], result.valid)]
    assert got == [numeric(h) for h in range(1, 7)] == [None, 256, 128, None, 64, None]


def test_division_by_zero_in_the_cli(cli, tmp_path):
    path = tmp_path / "divides.yaml"
    path.write_text(DIVIDES)
    code, out, err = cli("sweep", path, "--over", "H=1:3", "--format", "csv", "--what", "params")
    assert (code, err) == (0, "")
    assert out.splitlines() == ["H,params,valid", "1,,0", "2,256,1", "3,128,1"]  # 4·64/(H-1)


def test_sizes_past_int64_are_refused(cli, spec_file):
    code, out, err = cli("sweep", spec_file, "--over", "H=99999999999999999999:99999999999999999999",
                         "--set", "W=40")
    assert (code, out) == (2, "")
    assert err.startswith("error: --over H=99999999999999999999:") and len(err.splitlines()) == 1
    code, out, err = cli("sweep", spec_file, "--over", "H=1:" + "9" * 5000, "--set", "W=40")
    # refused before int() of it (past Python's 4,300-digit limit); the message is capped
    assert (code, out) == (2, "") and err.startswith("error: --over H=1:999") and \
        err.endswith("...\n") and err.count("\n") == 1


def test_point_count_is_bounded_before_reading_the_spec(cli, tmp_path):
    """10^7 points are refused before anything is allocated, or the spec even read (this
    one does not exist); the limit is the documented max_sweep_points."""
    from archcalc import limits

    missing = tmp_path / "missing.yaml"
    code, out, err = cli("sweep", missing, "--over", "H=1:10000000", "-f", "csv")
    assert (code, out) == (2, "")
    assert err.startswith("error: --over: 10,000,000 points is more than the limit 1,000,000")
    assert limits.Limits().max_sweep_points == 1_000_000
    code, _, err = cli("sweep", missing, "--over", "H=1:2000", "--over", "W=1:1000",
                       "--limit", "max_sweep_points=1999999")
    assert code == 2 and "2,000,000 points (2,000 × 1,000)" in err
    code, _, err = cli("sweep", missing, "--over", "H=1:2000", "--over", "W=1:1000",
                       "--limit", "max_sweep_points=2000000")
    assert code == 2 and "no such file" in err  # within the raised limit: on to the spec


def test_cli_refuses_a_symbol_swept_twice_and_an_empty_what(cli, spec_file):
    code, out, err = cli("sweep", spec_file, "--over", "H,H=30:31", "--set", "W=40")
    assert (code, out, err) == (2, "", "error: --over: 'H' is swept twice\n")
    code, out, err = cli("sweep", spec_file, "--over", "H,W=30:31", "--what", ",")
    assert (code, out) == (2, "") and err.startswith("error: --what: ")
