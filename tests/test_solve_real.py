"""archcalc solve over a real-valued symbol: exact intervals of a width multiplier.

Three independent checks. A brute force: a small spec whose widths use every step function
(make_divisible, floor, ceil, round, int, //, %, min, max) is evaluated in this file, in
exact rational arithmetic from the functions' definitions (torchvision's _make_divisible,
Python's round, PyTorch's parameter count of a convolution: C_in·C_out·k² + C_out with a
bias), at many rational w, the answer's ends and points next to them; the answer must hold
exactly where the brute force says the relations hold. Floating point: archcalc's own
numeric path (--set w=…) away from the breakpoints. PyTorch: torchvision's MobileNetV2 at a
width multiplier (tests/torch_mobile_models.py, written from torchvision's
models/mobilenetv2.py) counts the parameters on either side of the answer.
"""

from __future__ import annotations

import json
import math
import random
from fractions import Fraction as F

import pytest

import archcalc
from archcalc import steps
from conftest import ROOT

SPEC = """
name: steps
symbols: {w: {real: true, default: 1.0}}
input: [3, 8, 8]
layers:
  - conv2d: {name: a, out: "make_divisible(24*w, 8)", kernel: 3, padding: 1, bias: false}
  - conv2d: {name: b, out: "floor(10*w) + 1", kernel: 1}
  - conv2d: {name: c, out: "ceil(7*w/3)", kernel: 1}
  - conv2d: {name: d, out: "round(5*w) + 1", kernel: 1}
  - conv2d: {name: e, out: "int(9*w/2) + floor((17*w)//3) + 1", kernel: 1}
  - conv2d: {name: f, out: "floor(6*min(w, 3/4)) + floor((11*w) % 3) + 1", kernel: 1}
  - conv2d: {name: g, out: "make_divisible(40*max(1.0, w), 8, 16)", kernel: 1}
  - conv2d: {name: h, out: "ceil(12 - 5*w) + round(7 - 3*w) + floor(max(2 - w, 1/2))", kernel: 1}
  - conv2d: {name: i, out: "floor(4*abs(w - 1)) + 1", kernel: 1}
  - repeat: "ceil(2*w)"
    layers: [conv2d: {out: 4, kernel: 3, padding: 1}]
"""


def md(v: F, d: int = 8, m: int | None = None) -> int:
    """torchvision's _make_divisible in exact arithmetic (0.9 read as 9/10)."""
    m = d if m is None else m
    n = max(m, math.floor(v + F(d, 2)) // d * d)
    return n + d if n < F(9, 10) * v else n


def widths(w: F) -> list:
    """The channels of a … i at w, from the spec's expressions (h's arguments fall as w
    grows)."""
    return [md(24 * w), math.floor(10 * w) + 1, math.ceil(7 * w / 3), round(5 * w) + 1,
            math.floor(9 * w / 2) + math.floor(17 * w / 3) + 1,
            math.floor(6 * min(w, F(3, 4))) + math.floor((11 * w) % 3) + 1,
            md(40 * max(F(1), w), 8, 16),
            math.ceil(12 - 5 * w) + round(7 - 3 * w) + math.floor(max(2 - w, F(1, 2))),
            math.floor(4 * abs(w - 1)) + 1]


def params(w: F) -> int:
    """3·9·a (no bias), 1×1 convolutions with a bias (C_in·C_out + C_out each), then the
    repeat's ceil(2w) 3×3 convolutions to 4 channels with a bias (9·C_in·4 + 4 each)."""
    c = widths(w)
    ones = sum(c[i] * c[i + 1] + c[i + 1] for i in range(len(c) - 1))
    threes = [c[-1]] + [4] * (math.ceil(2 * w) - 1)
    return 3 * 9 * c[0] + ones + sum(9 * cin * 4 + 4 for cin in threes)


def macs(w: F) -> int:
    """Every map stays 8×8 (padding 1 with the 3×3 kernels): 64 × the weights' products,
    biases left out (archcalc's and PyTorch's MAC count)."""
    c = widths(w)
    ones = sum(c[i] * c[i + 1] for i in range(len(c) - 1))
    threes = [c[-1]] + [4] * (math.ceil(2 * w) - 1)
    return 64 * (3 * 9 * c[0] + ones + sum(9 * cin * 4 for cin in threes))


def rf(w: F) -> int:
    """One 3×3 convolution, 1×1 ones, then ceil(2w) 3×3 ones, all stride 1: 3 + 2·ceil(2w)."""
    return 3 + 2 * math.ceil(2 * w)


def near(x: F) -> list:
    return [x - F(1, 10**9), x, x + F(1, 10**9)]


def inside(result, w: F) -> bool:
    return any(s.contains(w) for s in result.intervals)


def sample_points(result, count=400, seed=0) -> list:
    """Random rationals of the range, each end of the answer and its neighbours."""
    rng = random.Random(seed)
    lo, hi = result.range.lo.at, result.range.hi.at
    points = [lo + (hi - lo) * F(rng.randrange(1, 10**6), 10**6) for _ in range(count)]
    for s in result.intervals:
        points += near(s.lo.at) + near(s.hi.at)
    return [p for p in points if result.range.contains(p)]


@pytest.mark.parametrize("want, holds", [
    ("params <= 1500", lambda w: params(w) <= 1500),
    ("params > 2500", lambda w: params(w) > 2500),
    ("g.shape[0] = 48", lambda w: widths(w)[6] == 48),
    ("b.shape[0] != 11", lambda w: widths(w)[1] != 11),
    ("params >= 2000*w", lambda w: params(w) >= 2000 * w),  # names w itself
    ("macs <= 100000", lambda w: macs(w) <= 100000),
    ("rf >= 7", lambda w: rf(w) >= 7),
])
def test_answer_is_where_the_brute_force_holds(want, holds):
    result = archcalc.solve(SPEC, want, "w", range={"w": (F(1, 10), 2)})
    assert result.found
    for w in sample_points(result):
        assert inside(result, w) == holds(w), (want, w)


def test_ends_are_breakpoints_of_the_counts():
    """Each end of 'params <= 1500' inside the range is a point where the brute-force count
    crosses 1500: one side holds, the other does not."""
    result = archcalc.solve(SPEC, "params <= 1500", "w", range={"w": (F(1, 10), 2)})
    for s in result.intervals:
        for end in (s.lo.at, s.hi.at):
            if end in (F(1, 10), 2):
                continue
            sides = {params(x) <= 1500 for x in near(end)}
            assert sides == {True, False}, end
    for b in result.boundaries:
        assert b.inside["params"] <= 1500 < b.outside["params"]


def test_floating_point_agrees_away_from_breakpoints():
    """archcalc's numeric path (--set w=…, floats) at decimals at least 10⁻⁶ from every end:
    the count and the relation are the exact ones."""
    result = archcalc.solve(SPEC, "params <= 1500", "w", range={"w": (F(1, 10), 2)})
    ends = [e for s in result.intervals for e in (s.lo.at, s.hi.at)]
    rng = random.Random(1)
    checked = 0
    for _ in range(60):
        w = F(rng.randrange(100_000, 2_000_000), 10**6)
        if min(abs(w - e) for e in ends) < F(1, 10**6):
            continue
        total = archcalc.analyse(SPEC, set={"w": float(w)}).total.params
        assert total == params(w)
        assert inside(result, w) == (total <= 1500)
        checked += 1
    assert checked > 50


def test_checks_agree_with_the_pieces():
    result = archcalc.solve(SPEC, "params <= 1500", "w", range={"w": (F(1, 10), 2)})
    checks = [c for b in result.boundaries for c in b.checks]
    assert checks and all("DIFFERS" not in c for c in checks)


# ------------------------------------------------------------------ MobileNetV2
MOBILENET = ROOT / "specs" / "mobilenet_v2.yaml"


def torch_params(w: float) -> int:
    pytest.importorskip("torch")
    from torch_mobile_models import measure, mobilenet_v2

    return measure(lambda: mobilenet_v2(w), (3, 224, 224))[0]


def test_mobilenet_v2_widest_under_5m_params():
    """The largest w with params < 5,000,000 is not attained: every w below 79/64 solves.
    At 79/64 the head's make_divisible(1280·w, 8) reaches 1580 + 4 = 1584 = 8·198 (1576 just
    below); 79/64 = 1.234375 is a binary fraction, so PyTorch's model at exactly that w, and
    at the double just below it, sees the same widths the exact walk does."""
    result = archcalc.solve(MOBILENET, "params < 5e6", "w", range={"w": (1, 1.5)},
                            pick="largest")
    assert result.supremum == F(79, 64) and result.largest is None
    (b,) = result.boundaries
    below = math.nextafter(1.234375, 0)
    assert b.inside["params"] == torch_params(below) == torch_params(1.23) < 5_000_000
    assert b.outside["params"] == torch_params(1.234375) == torch_params(1.235) >= 5_000_000
    assert b.changes["make_divisible(1280*w, 8)"] == (1576, 1584)


@pytest.mark.parametrize("w", [0.35, 0.5, 0.75, 1.0, 1.3, 1.4])
def test_mobilenet_v2_pieces_count_what_pytorch_counts(w):
    """At torchvision's published width multipliers (and one more): the interval where
    params equals PyTorch's count at w contains w."""
    n = torch_params(w)
    result = archcalc.solve(MOBILENET, f"params = {n}", "w",
                            range={"w": (F(str(w)) - F(1, 20), F(str(w)) + F(1, 20))})
    assert inside(result, F(str(w)))


def test_mobilenet_v2_width_1_is_torchvisions_published_count():
    """torchvision's MobileNet_V2_Weights.IMAGENET1K_V1 meta: num_params 3,504,872."""
    result = archcalc.solve(MOBILENET, "params = 3504872", "w", range={"w": (F(9, 10), 1.1)})
    assert inside(result, F(1)) and torch_params(1.0) == 3_504_872


# ------------------------------------------------------------------ the step functions
@pytest.mark.parametrize("seed", range(4))
def test_make_divisible_interval_gives_one_value(seed):
    """make_divisible_at's value is the exact definition's throughout its interval, at its
    closed ends, and the numeric path's (floats) away from the ends."""
    from archcalc.expr import make_divisible

    rng = random.Random(seed)
    for _ in range(200):
        d = rng.choice([1, 4, 8, 16])
        m = rng.choice([None, d, 2 * d])
        v = F(rng.randrange(1, 400_000), 1000)
        n, span = steps.make_divisible_at(v, 0, d, d if m is None else m)
        assert n == md(v, d, m)
        lo, hi = span.lo.at, span.hi.at
        for x in (lo, hi, (lo + v) / 2, (v + hi) / 2) if hi is not None else (lo,):
            if x is not None and span.contains(x):
                assert md(x, d, m) == n
        if lo is not None and hi is not None and v - lo > F(1, 10**6) and hi - v > F(1, 10**6):
            assert make_divisible(float(v), d, m) == n


def test_right_of_a_breakpoint():
    """Just right of a breakpoint the value is the next one: floor(2⁺) = 2, ceil(2⁺) = 3,
    round(2.5⁺) = 3 though round(2.5) = 2, make_divisible(80/9⁺) = 16 though at 80/9 it is
    8 (8 < 9/10 · v only past 80/9)."""
    assert steps.rounding("floor", F(2), 1)[0] == 2
    assert steps.rounding("ceil", F(2), 1)[0] == 3
    assert steps.rounding("round", F(5, 2), 0)[0] == 2
    assert steps.rounding("round", F(5, 2), 1)[0] == 3
    assert steps.make_divisible_at(F(80, 9), 0, 8, 8)[0] == 8
    assert steps.make_divisible_at(F(80, 9), 1, 8, 8)[0] == 16


# ------------------------------------------------------------------ the command line
def spec_file(tmp_path, text=SPEC):
    path = tmp_path / "steps.yaml"
    path.write_text(text)
    return path


def test_cli_exit_codes_and_formats(cli, tmp_path):
    """0 with an answer, 1 with none (params ≥ 3·9·8 = 216 everywhere, so never < 100); the
    JSON's intervals are the API's; CSV one row per interval; Markdown the text's lines."""
    path = spec_file(tmp_path)
    api = archcalc.solve(SPEC, "params <= 1500", "w", range={"w": ("1/10", 2)})
    code, out, _ = cli("solve", path, "--want", "params <= 1500", "--for", "w",
                       "--range", "w=1/10:2", "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["real"] is True
    assert data["intervals"] == api.to_json()["intervals"]
    assert [F(i["low"]) for i in data["intervals"]] == [s.lo.at for s in api.intervals]
    code, out, _ = cli("solve", path, "--want", "params <= 1500", "--for", "w",
                       "--range", "w=1/10:2", "--format", "csv")
    rows = out.splitlines()
    assert code == 0 and rows[0] == "low,low_included,high,high_included"
    assert len(rows) == 1 + len(api.intervals)
    code, out, _ = cli("solve", path, "--want", "params < 100", "--for", "w")
    assert code == 1 and "no solution in the range" in out
    code, out, _ = cli("solve", path, "--want", "params <= 1500", "--for", "w",
                       "--format", "markdown")
    assert code == 0 and out.startswith("### steps: solve for w (real-valued)")


def test_smallest_and_largest(cli, tmp_path):
    """--smallest is the answer's lower end when included; --largest, at the range's end,
    says larger values may solve too (params(2) = 4,336 > 2,500)."""
    path = spec_file(tmp_path)
    api = archcalc.solve(SPEC, "params > 2500", "w", range={"w": (1, 2)})
    assert api.largest == 2 and params(F(2)) > 2500
    code, out, _ = cli("solve", path, "--want", "params > 2500", "--for", "w",
                       "--range", "w=1:2", "--largest")
    assert code == 0 and "largest: w = 2 (the end of the range" in out
    code, out, _ = cli("solve", path, "--want", "params > 2500", "--for", "w",
                       "--range", "w=1:2", "--smallest")
    low = api.intervals[0].lo
    assert code == 0
    assert (params(low.at) > 2500) == low.closed  # the end itself solves only if included
    assert ("smallest: w = " if low.closed else "smallest: none") in out


def test_where_the_spec_does_not_build():
    """floor(16·w) channels are 0 below w = 1/16, where no convolution can be built: those
    pieces are named, and the answer lies where it builds (16·w ≥ 1)."""
    text = SPEC.replace('out: "floor(10*w) + 1"', 'out: "floor(16*w)"')
    result = archcalc.solve(text, "params > 0", "w", range={"w": (0, 1)})
    assert result.intervals[0].lo == steps.Bound(F(1, 16), True)
    assert [s.text("w") for s, _why in result.failures] == ["0 < w < 1/16"]


def test_piece_limit(cli, tmp_path):
    """make_divisible(24·w, 8) alone changes at every 1/3 of w (24·w crosses 8·(k + ½)):
    more than 50 pieces in 0 < w ≤ 100, refused with the limit to raise."""
    code, _, err = cli("solve", spec_file(tmp_path), "--want", "params > 0", "--for", "w",
                       "--range", "w=0:100", "--limit", "max_solve_pieces=50")
    assert code == 2 and "more than 50 pieces" in err and "max_solve_pieces" in err


def test_json_keys_are_documented():
    """Every key of the real-symbol answer's JSON, at the top, in an interval, a boundary
    and a piece that does not build, is named in docs/json-format.md's solve section."""
    import re

    section = (ROOT / "docs" / "json-format.md").read_text().split("\n## The solve verb")[1]
    named = set(re.findall(r"`(\w+)`", section))
    text = SPEC.replace('out: "floor(10*w) + 1"', 'out: "floor(16*w)"')
    data = archcalc.solve(text, "params <= 1500", "w", range={"w": (0, 1)}).to_json()
    assert data["boundaries"] and data["not_built"]
    for keys in (data, data["intervals"][0], data["range"]["w"], data["boundaries"][0],
                 data["not_built"][0]):
        assert set(keys) <= named, set(keys) - named


def test_an_answer_of_one_point():
    """ceil(2w) + floor(2w) is 1 + 0 just below w = 1/2, 1 + 1 = 2 at it and 2 + 1 = 3
    just above (ceil's piece is closed on the right, floor's on the left): '= 2' holds at
    w = 1/2 alone, and it is checked once."""
    text = """
symbols: {w: {real: true, default: 1.0}}
input: [3, 4, 4]
layers: [conv2d: {name: c, out: "ceil(2*w) + floor(2*w)", kernel: 1, bias: false}]
"""
    result = archcalc.solve(text, "c.shape[0] = 2", "w", range={"w": ("1/10", 1)})
    (only,) = result.intervals
    assert only.lo == only.hi == steps.Bound(F(1, 2), True)
    assert result.smallest == result.largest == F(1, 2)
    assert sum(bool(b.checks) for b in result.boundaries) == 1
