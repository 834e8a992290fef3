"""The structural claims behind archcalc's speed (docs/performance.md), checked without timing:
the numeric path imports no sympy/numpy/torch; nested floors collapse exactly; the fast
``resolve`` agrees with ``sympy.simplify``; graphs grow linearly with the spec."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest
import sympy as sp

from archcalc import dims
from archcalc.layers.window import pool_out_ceil, sliding_out
from conftest import EXAMPLES, ROOT, SPECS
from helpers import analyse_file, analyse_text, sym

HEAVY = ("sympy", "numpy", "torch", "matplotlib")

_PROBE = """
import sys
sys.argv = ["archcalc", *sys.argv[1:]]
from archcalc.cli import main
try:
    main()
except SystemExit as e:
    code = e.code
else:
    code = 0
heavy = [m for m in {heavy!r} if m in sys.modules]
print("EXIT", code, "HEAVY", ",".join(heavy) or "-", file=sys.stderr)
"""


def _vgg16() -> str:
    path = SPECS / "vgg16.yaml"
    return str(path if path.exists() else EXAMPLES / "vgg16.yaml")


@pytest.mark.parametrize("args", [
    ["params", "{vgg}"],
    ["summary", "{vgg}", "--format", "json"],
    ["rf", "{vgg}", "--format", "csv"],
])
def test_numeric_path_imports_no_heavy_module(args):
    """A spec with numbers only is analysed and printed with ints: sympy, numpy and torch are
    never imported (lazy imports), which is what keeps a cold run fast."""
    argv = [a.format(vgg=_vgg16()) for a in args]
    proc = subprocess.run([sys.executable, "-c", _PROBE.format(heavy=HEAVY), *argv],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert "fc8" in proc.stdout  # the whole report was printed
    assert "EXIT 0 HEAVY -" in proc.stderr, proc.stderr


def test_symbolic_spec_does_import_sympy():
    """The probe above can fail: a free symbol does pull in sympy."""
    proc = subprocess.run([sys.executable, "-c", _PROBE.format(heavy=HEAVY), "shapes",
                           str(EXAMPLES / "dilated.yaml")],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert "HEAVY sympy" in proc.stderr, proc.stderr


# ------------------------------------------------------------------ nested floors
H = sym("H")
POINTS = [sp.Integer(h) for h in range(1, 300)]


def _same_everywhere(simplified, reference):
    """Equal at H = 1 … 299, evaluated exactly by sympy."""
    for h in POINTS:
        assert simplified.xreplace({H: h}) == reference.xreplace({H: h}), (h, simplified)


def _floors(e) -> int:
    return sum(1 for a in sp.preorder_traversal(e) if isinstance(a, (sp.floor, sp.ceiling)))


def test_floor_of_floor_collapses_exactly():
    # floor((floor((H - 1)/2) + 1 - 1)/2): conv k3 s2 p1 then a second stride-2 step
    nested = sp.floor((sp.floor((H - 1) / 2) + 1 - 1) / 2)
    collapsed = dims.floordiv(dims.floordiv(H - 1, 2) + 1 - 1, 2)
    assert _floors(collapsed) == 1 and _floors(nested) == 2
    assert collapsed == sp.floor((H - 1) / 4)  # floor(floor(x/a)/b) = floor(x/(a·b))
    _same_everywhere(collapsed, nested)


@pytest.mark.parametrize("seed", range(6))
def test_random_floor_and_ceiling_chains_collapse_exactly(seed):
    """floor((floor(X) + m)/b) = floor((X + m)/b) for integer m and b ≥ 1 (likewise
    ceilings): random three-step chains against the nested form, at 299 points."""
    rng = random.Random(seed)
    for _ in range(5):
        kind = rng.choice(("floor", "ceil"))
        step = dims.floordiv if kind == "floor" else dims.ceildiv
        func = sp.floor if kind == "floor" else sp.ceiling
        fast, ref = H, H
        for _ in range(3):
            m, b, c = rng.randint(-7, 7), rng.randint(1, 5), rng.randint(0, 2)
            fast = step(fast + m, b) + c
            ref = func(sp.Rational(1, b) * (ref + m)) + c
        assert _floors(fast) == 1, fast
        _same_everywhere(fast, ref)


def _chain(layers):
    """(k, s, p) sliding windows applied to H by the project's formula, and the same
    arithmetic written as plain nested floors."""
    fast, ref = H, H
    for k, s, p in layers:
        fast = sliding_out(fast, p, p, k, s)
        ref = sp.floor(sp.Rational(1, s) * (ref + 2 * p - k)) + 1
    return fast, ref


@pytest.mark.parametrize("layers", [
    [(7, 2, 3), (3, 2, 1)],                                # ResNet stem: conv, maxpool
    [(7, 2, 3), (3, 2, 1), (3, 2, 1), (3, 2, 1), (3, 2, 1)],  # down to layer4 (stride 32)
    [(3, 2, 1), (3, 3, 0), (5, 2, 2), (2, 2, 0)],          # mixed strides 2, 3
    [(11, 4, 2), (3, 2, 0), (5, 1, 2), (3, 2, 0)],         # AlexNet's first stages
])
def test_strided_chains_collapse_to_one_floor(layers):
    fast, ref = _chain(layers)
    assert _floors(fast) == 1, fast
    _same_everywhere(fast, ref)


def test_resnet_output_size_is_one_floor_per_axis():
    """ResNet-50 with a free input: every spatial size prints as one floor, a line long."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from generate import free_input

    spec = SPECS / "resnet50.yaml"
    if not spec.exists():
        pytest.skip("specs/resnet50.yaml not present")
    from helpers import analyse_text as at

    a = at(free_input(spec.read_text()))
    h_out = a.record("layer4").output_shape[1]
    assert _floors(h_out) == 1 and len(str(h_out)) < 40, h_out
    nested = H
    for k, s, p in [(7, 2, 3), (3, 2, 1), (3, 2, 1), (3, 2, 1), (3, 2, 1)]:
        nested = sp.floor(sp.Rational(1, s) * (nested + 2 * p - k)) + 1
    _same_everywhere(h_out, nested)


def test_ceil_mode_pool_stays_exact_though_nested():
    """A ceil-mode pool gives a Piecewise with a ceiling inside: not collapsed into one
    floor (mixed floor/ceiling), but still exact against PyTorch's rule written plainly."""
    n = sliding_out(H, 0, 0, 5, 2)
    out = pool_out_ceil(n, 0, 3, 2)
    for h in range(5, 400):
        m = (h - 5) // 2 + 1
        o = -(-(m - 3) // 2) + 1
        if (o - 1) * 2 >= m:
            o -= 1
        assert out.xreplace({H: h}) == o, h


# ------------------------------------------------------------------ resolve
def _resolve_by_simplify(cond):
    """What resolve answered before the fast path: sympy.simplify's verdict, if any."""
    simplified = sp.simplify(cond)
    return bool(simplified) if simplified in (sp.true, sp.false) else None


def test_resolve_fast_path_agrees_with_simplify(monkeypatch):
    W = sym("W")
    conds = [
        sp.Eq(sp.floor((H - 1) / 32) + 1, 1),       # depends on H
        sp.Ge(H - 3, 0),                            # depends on H
        sp.Eq(sp.floor((H - 1) / 2) + 1 - sp.floor((H + 1) / 2), 0),  # always (undecided)
        sp.Ge(H + W, 2),                            # always for positive sizes (undecided)
        sp.Eq(H, -1),                               # never
        sp.Eq(sp.floor(H / 2) - sp.floor(H / 2), 0),  # always (decided at construction)
    ]
    assert [dims.resolve(c) for c in conds] == [_resolve_by_simplify(c) for c in conds]
    assert [dims.resolve(c) for c in conds] == [None, None, None, None, False, True]
    # Conditions that hold at some points and fail at others never reach sympy.simplify.
    monkeypatch.setattr(sp, "simplify", lambda *a, **k: (_ for _ in ()).throw(AssertionError))
    assert [dims.resolve(c) for c in conds[:2]] == [None, None]


# ------------------------------------------------------------------ linear structure
def test_chain_graph_is_linear_in_the_spec():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from generate import chain

    for n in (10, 100, 1000):
        a = analyse_text(chain(n))
        assert len(a.graph.nodes) == n + 1 and len(a.records) == n
        # conv 3x3 p1 on 8 channels: 8·8·9 + 8 = 584 params per conv, n/2 convs
        assert a.total.params == 584 * (n // 2)
        # RF grows by 2 per conv: 1 + 2·(n/2)
        assert a.total.rf[0].size == 1 + n


def test_example_still_analyses_numerically():
    a = analyse_file(_vgg16())
    assert a.total.params == 138_357_544  # Simonyan & Zisserman (2014), configuration D


# ------------------------------------------------------------------ typer-free fast path
def test_fast_parser_takes_plain_commands_only():
    from archcalc.cli.fast import parse

    verb, kw = parse(["params", "a.yaml", "-f", "json", "--set", "H=3", "-s", "W=4",
                      "--depth=1", "--limit", "max_nodes=9"])
    assert verb == "params" and kw["spec"] == "a.yaml" and kw["fmt"] == "json"
    assert kw["set_"] == ["H=3", "W=4"] and kw["depth"] == 1 and kw["limit"] == ["max_nodes=9"]
    for argv in (["params"], ["params", "--help"], ["params", "a.yaml", "b.yaml"],
                 ["params", "a.yaml", "-fjson"], ["params", "a.yaml", "--depth", "x"],
                 ["params", "a.yaml", "--format"], ["params", "a.yaml", "--set", "--format"],
                 ["params", "a.yaml", "--form", "json"], ["verify", "a.yaml"], []):
        assert parse(argv) is None, argv


@pytest.mark.parametrize("args", [
    ["params", "{vgg}"],
    ["summary", "{vgg}", "--format=json", "--depth", "0"],
    ["flops", "{vgg}", "-f", "csv", "-c", "keras"],
    ["params", "{vgg}", "--set", "H=3"],               # error: no symbol H
    ["shapes", "{vgg}", "--format", "jsn"],            # error: did you mean json
    ["rf", "no-such-file.yaml"],                       # error: no such file
])
def test_fast_path_prints_what_typer_prints(cli, args):
    """The console script (fast path) and the typer command give the same output and exit."""
    argv = [a.format(vgg=_vgg16()) for a in args]
    proc = subprocess.run([sys.executable, "-c", "from archcalc.cli import main; main()",
                           *argv], capture_output=True, text=True, cwd=ROOT, timeout=60,
                          env={**__import__("os").environ, "COLUMNS": "100"})
    code, out, err = cli(*argv)
    assert (proc.returncode, proc.stdout) == (code, out)
    assert proc.stderr.strip() == err.strip()


def _nested_floors(e) -> bool:
    """True if a floor or ceiling sits inside another."""
    rounding = (sp.floor, sp.ceiling)
    return any(isinstance(a, rounding) and any(isinstance(b, rounding)
                                               for b in sp.preorder_traversal(a) if b is not a)
               for a in sp.preorder_traversal(e))


def test_stride_after_ceil_mode_pool_distributes_into_the_min():
    """floor((Min(x, y) + m)/b) = Min(floor((x + m)/b), floor((y + m)/b)) (floor is monotone):
    conv → ceil-mode pool → strided conv → pool stays one level deep, and exact."""
    n = sliding_out(H, 0, 0, 5, 2)               # conv k5 s2
    n = pool_out_ceil(n, 0, 3, 2)                # maxpool k3 s2 ceil_mode
    n = sliding_out(n, 1, 1, 3, 3)               # conv k3 s3 p1
    n = sliding_out(n, 0, 0, 2, 2)               # maxpool k2 s2
    assert not _nested_floors(n), n
    for h in range(9, 300):
        m = (h - 5) // 2 + 1
        o = -(-(m - 3) // 2) + 1
        if (o - 1) * 2 >= m:                     # PyTorch: last window may not start in padding
            o -= 1
        o = (o + 2 - 3) // 3 + 1
        o = (o - 2) // 2 + 1
        if o >= 1:
            assert n.xreplace({H: sp.Integer(h)}) == o, h


# ------------------------------------------------------------------ bounded work
def test_repeat_pass_that_adds_no_layer_ends_the_repeat(monkeypatch):
    """Nested repeats of empty bodies expand in a handful of passes, not 100,000²: a pass
    that adds no layer would add none the next time either."""
    from archcalc.spec import loader

    calls = []
    items = loader._Builder.items
    monkeypatch.setattr(loader._Builder, "items",
                        lambda self, *a: calls.append(1) or items(self, *a))
    a = analyse_text("""
        input: [3, 8, 8]
        layers:
          - repeat: 100000
            layers:
              - repeat: 100000
                layers: []
          - relu
    """)
    assert [r.type for r in a.layers] == ["input", "relu"]
    assert len(calls) <= 4, len(calls)  # top list, one outer pass, one inner pass


def test_ceil_mode_pool_needs_no_min_when_a_window_always_fits():
    """With kernel − padding ≥ stride the last window always starts inside the input (a
    multiple of s lies in [n + 2p − k, n + p − 1]), so the size is one ceiling, no Min; the
    value is PyTorch's ceil-mode rule at every n."""
    for k, s, p in [(3, 2, 0), (3, 2, 1), (2, 2, 0), (5, 3, 2), (4, 4, 0)]:
        n = pool_out_ceil(H, p, k, s)
        assert not n.has(sp.Min), (k, s, p, n)
        for h in range(k, 200):
            o = -(-(h + 2 * p - k) // s) + 1
            if (o - 1) * s >= h + p:
                o -= 1
            assert n.xreplace({H: sp.Integer(h)}) == o, (k, s, p, h)
    assert pool_out_ceil(H, 1, 2, 2).has(sp.Min)  # k − p < s: the Min is needed


def _pool_conv_pairs(n: int) -> str:
    pairs = "".join("  - maxpool2d: {kernel: 3, stride: 2, ceil_mode: true}\n"
                    "  - conv2d: {out: 8, kernel: 3, stride: 2, padding: same}\n"
                    for _ in range(n))
    return "symbols: {H: null, W: null}\ninput: [3, H, W]\nlayers:\n" + pairs


def test_pool_conv_pairs_stay_compact(monkeypatch):
    """Eight ceil-mode pools with strided 'same' convolutions between them, free H and W:
    each size stays one short form, and no condition reaches sympy.simplify (the large
    probes show that each depends on H or W)."""
    calls = []
    simplify = sp.simplify
    monkeypatch.setattr(sp, "simplify", lambda *a, **k: calls.append(a) or simplify(*a, **k))
    a = analyse_text(_pool_conv_pairs(8))
    assert all(dims.form_size(d, 40) <= 40 for r in a.layers for d in r.output_shape)
    assert calls == []


def test_resolve_leaves_large_conditions_undecided(monkeypatch):
    """A condition too large to simplify quickly is undecided (None), never simplified."""
    monkeypatch.setattr(sp, "simplify", lambda *a, **k: (_ for _ in ()).throw(AssertionError))
    big = sum(sp.floor(H / 2**i) for i in range(1, 30))
    assert dims.form_size(big, dims.SIMPLIFY_SIZE) > dims.SIMPLIFY_SIZE
    cond = sp.Eq(big, 10**40)  # false at every probe: only simplify could say more
    assert cond not in (sp.true, sp.false)
    assert dims.resolve(cond) is None


def test_closed_forms_are_bounded_per_layer():
    """Free kernel and stride symbols make each conv's size one term longer (K/S**i): the
    analysis stops at the first layer whose closed form passes max_form_size, named."""
    from archcalc import limits
    from archcalc.errors import SpecError

    def spec(n):
        return "symbols: {K: null, S: null, L: null}\ninput: [4, L]\nlayers:\n" + \
            "  - conv1d: {out: 4, kernel: K, stride: S}\n" * n

    with pytest.raises(SpecError) as e:
        analyse_text(spec(50))
    assert "max_form_size" in e.value.message and "conv1d 'conv1d_" in e.value.message
    stopped = int(e.value.message.split("conv1d_")[1].split("'")[0])
    assert 5 < stopped < 50
    assert e.value.loc.line == 3 + stopped  # the layer's own line
    with limits.applied(max_form_size=10 ** 6):
        a = analyse_text(spec(stopped))
        assert len(a.layers) == stopped + 1  # raising the limit lets the same layers through


# ------------------------------------------------------------------ plain table
def _both_tables(analysis, verb, width, depth=None):
    from archcalc import conventions
    from archcalc.report import plain_table, render

    conv = conventions.get("pytorch")
    fast = render.table(analysis, verb, conv, width, depth)
    original = plain_table.render
    plain_table.render = lambda *a, **k: None
    try:
        slow = render.table(analysis, verb, conv, width, depth)
    finally:
        plain_table.render = original
    return fast, slow


@pytest.mark.parametrize("spec", ["vgg16", "resnet50", "inception_v3", "densenet121"])
def test_plain_table_is_what_rich_prints(spec):
    """The linear-time table writer gives rich's text exactly, wherever nothing wraps."""
    path = SPECS / f"{spec}.yaml"
    if not path.exists():
        pytest.skip(f"specs/{spec}.yaml not present")
    a = analyse_file(path)
    for verb in ("summary", "params", "shapes", "flops", "rf"):
        for width, depth in ((100, None), (100, 0), (200, 1), (60, None)):
            fast, slow = _both_tables(a, verb, width, depth)
            assert fast == slow, (spec, verb, width, depth)


@pytest.mark.parametrize("name", ["net", "", "Réseau × 2 — 網路", "x" * 150,
                                  "/tmp/archcalc-grading-7f3a/class/week3/relu-net.yaml",
                                  "a model name of many words " * 5, "網路" * 60,
                                  "three short words " + "y" * 120])
def test_plain_table_titles_and_wide_characters(name):
    """Titles shorter or longer than the table (wrapped as rich wraps them), empty, or with
    wide (CJK) characters: the table writer is used, and gives rich's text."""
    from archcalc.report import plain_table

    a = analyse_text(f"name: {name!r}\ninput: [3, H, 8]\nsymbols: {{H: null}}\nlayers:\n"
                     "  - conv2d: {out: 4, kernel: 3}\n  - relu\n")
    for width in (100, 40, 200):
        fast, slow = _both_tables(a, "summary", width)
        assert fast == slow, (name, width)
    assert plain_table.render(name, ["Layer", "Type"], [False, False], [["a", "relu"]], 100)


def test_plain_table_takes_linear_work():
    """A 49,000-layer repeat is printed without rich measuring any cell: the table writer
    is used (rich's Table is never built)."""
    from rich import table as rich_table

    from archcalc import conventions
    from archcalc.report import render

    a = analyse_text("input: [3, 8, 8]\nlayers:\n  - repeat: 49000\n    layers: [relu]\n")
    built = []
    original = rich_table.Table.__init__
    rich_table.Table.__init__ = lambda self, *a, **k: built.append(1) or original(self, *a, **k)
    try:
        text = render.table(a, "summary", conventions.get("pytorch"), 100)
    finally:
        rich_table.Table.__init__ = original
    assert built == [] and text.count("\nrelu_") == 49000


def test_time_out_names_the_work_it_stopped():
    """The time-out message says what was running: the innermost archcalc module on the
    stack, and closed forms only when sympy was running under it."""
    import sys as _sys

    from archcalc.cli.common import doing

    def frame_in(module):
        scope = {"__name__": module}
        exec("import sys\nf = sys._getframe()", scope)
        return scope["f"]

    assert doing(frame_in("archcalc.spec.loader")) == "reading the spec"
    assert doing(frame_in("archcalc.analysis")) == "analysing the layers"
    assert doing(frame_in("archcalc.report.render")) == "writing the report"
    assert doing(_sys._getframe()) is None  # no archcalc module on this stack

    # sympy running under the analysis: a real call chain (a frame's f_back is read-only)
    captured = {}
    env = {"__name__": "sympy.core.add", "captured": captured, "sys": _sys}
    exec("def inner():\n    captured['f'] = sys._getframe()\n", env)
    outer = {"__name__": "archcalc.analysis", "inner": env["inner"]}
    exec("def run():\n    inner()\n", outer)
    outer["run"]()
    assert doing(captured["f"]).startswith("computing closed forms in free symbols")
