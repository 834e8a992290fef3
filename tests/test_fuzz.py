"""Fuzzing: random YAML documents, random spec-shaped documents and random mutations of the
zoo specs, through every CLI verb that reads a spec.

The property: exit 0 with complete, strict JSON on stdout (no NaN or Infinity), or exit 2
with one line ``error: FILE:LINE:COL: message`` on stderr — never a traceback, never another
exit code, and never a control character (an escape code, a bidi override) that could drive
the terminal, in any output format. Answer sheets are fuzzed the same way through ``check``.
Examples are derandomized (a fixed seed), so CI runs the same inputs every time; the
example counts scale with ``ARCHCALC_FUZZ_SCALE`` for a longer run by hand, and
``ARCHCALC_FUZZ_RANDOM=1`` draws new inputs instead of the fixed ones (docs/robustness.md
records such runs).
"""

from __future__ import annotations

import json
import os
import re
import string
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import EXAMPLES, SPECS

SCALE = float(os.environ.get("ARCHCALC_FUZZ_SCALE", "1"))
FIXED_SEED = os.environ.get("ARCHCALC_FUZZ_RANDOM") != "1"  # set it to explore new inputs
VERBS = ("summary", "params", "shapes", "flops", "rf", "explain", "compare", "check")
FORMATS = ("json", "json", "table", "markdown", "latex", "csv")
SYMBOLS = ("H", "W", "C", "N")
NAMES = ("a", "b", "stem", "input")
HOSTILE_TEXT = ["\x1b[31mred", "\x1b]0;T\x07", "a\nb", "\u202eevil", "\x00", "\x9b2J", "\r",
                "x" * 300]
# Characters that must never reach a terminal raw: C0 (but newline and tab), DEL, C1, bidi.
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _strict_json(text: str):
    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def _settings(examples: int):
    return settings(max_examples=max(1, int(examples * SCALE)), derandomize=FIXED_SEED,
                    deadline=None, database=None, print_blob=True,
                    suppress_health_check=list(HealthCheck))


# ---------------------------------------------------------------- running the CLI
class _Runner:
    """Runs a verb in-process on a spec text and checks the property."""

    def __init__(self):
        from typer.testing import CliRunner

        from archcalc.cli import app

        self.app = app
        self.runner = CliRunner()
        self.dir = tempfile.mkdtemp(prefix="archcalc-fuzz-")

    def check(self, data: bytes, verb: str = "summary", fmt: str = "json",
              sheet: bytes | None = None) -> int:
        """Run ``verb`` on the spec ``data`` (``check``: on ``sheet``, or a one-claim sheet
        naming the spec) and assert the property; returns the exit code."""
        from archcalc import limits

        path = os.path.join(self.dir, "spec.yaml")
        with open(path, "wb") as f:
            f.write(data)
        target, allowed, located_in = path, (0, 2), path
        if verb == "check":  # an answer sheet naming the spec; a wrong answer exits 1
            target, allowed = os.path.join(self.dir, "sheet.yaml"), (0, 1, 2)
            with open(target, "wb") as f:
                f.write(sheet if sheet is not None else
                        b"spec: spec.yaml\nanswers:\n  - {at: total, params: 1}\n")
            located_in = f"(?:{re.escape(path)}|{re.escape(target)})"
        else:
            located_in = re.escape(path)
        with limits.applied(max_seconds=10):  # a symbolic blow-up stops here, not at 60 s
            result = self.runner.invoke(self.app, [verb, target, "--format", fmt],
                                        catch_exceptions=True)
        shown = data[:400]
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            import traceback

            tb = "".join(traceback.format_exception(result.exception))
            pytest.fail(f"{verb}: exception escaped on {shown!r}:\n{tb}")
        assert "Traceback" not in result.stderr, (verb, shown, result.stderr)
        for stream in (result.stdout, result.stderr):
            assert not CONTROL.search(stream), (verb, fmt, shown, stream[:400])
        if result.exit_code in allowed and result.exit_code != 2:
            if fmt == "json":
                _strict_json(result.stdout)
        elif result.exit_code == 2:
            located = re.compile(rf"error: {located_in}:\d+:\d+: \S[^\n]*\n")
            assert located.fullmatch(result.stderr), (verb, shown, result.stderr)
            assert result.stdout == ""
        else:
            pytest.fail(f"{verb}: exit {result.exit_code} on {shown!r}: {result.stderr}")
        return result.exit_code


@pytest.fixture(scope="module")
def run():
    return _Runner()


# ---------------------------------------------------------------- strategies
def _layer_types():
    from archcalc.layers import REGISTRY

    return sorted(REGISTRY)


EXPRESSIONS = ["H", "W", "C", "2*H", "H//2", "max(1, H - 2)", "H**2", "(H + W)**3", "x", "",
               "1/0", "-1", "2**64", "floor(H/3)", "ceil(W/2)", "3 +", "H.x", "_x", "7/2",
               "same", "valid", "min(H)", "9**9**9", "((H))", "1e3", "N*C",
               "(2**64)**62", "(2**64)**17", "1e999", "-1e999", "1e-999", "64/(H-1)", "2**64*2**64",
               "idiv", "vmin"]
VALUES = st.one_of(
    st.integers(-2, 12),
    st.sampled_from([0, 1, 2, 3, 64, 2**31, 10**30]),
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.booleans(),
    st.none(),
    st.sampled_from(EXPRESSIONS),
    st.lists(st.one_of(st.integers(-1, 9), st.sampled_from(["H", "same", None])), max_size=4),
    st.text(max_size=6),
    st.sampled_from(HOSTILE_TEXT),
)


def _mostly(draw, tenths: int = 9) -> bool:
    """True about ``tenths`` times in ten (and True when shrinking)."""
    return draw(st.sampled_from([True] * tenths + [False] * (10 - tenths)))


def _good_value(draw, spec):
    """A value of the right kind for an argument (mostly small, mostly valid)."""
    kind = spec.kind
    if kind in ("int", "ints", "any"):
        value = draw(st.integers(0 if spec.min == 0 else 1, 4))
        return [value, value] if kind == "ints" and draw(st.booleans()) else value
    if kind == "padding":
        return draw(st.sampled_from(["same", "valid", 0, 1, 2]))
    if kind == "float":
        return draw(st.floats(0, 1))
    if kind == "bool":
        return draw(st.booleans())
    if kind == "str":
        return draw(st.sampled_from(spec.choices or ("x",)))
    if kind in ("ref", "refs", "weight"):
        return draw(st.sampled_from(NAMES))
    if kind == "shape":
        return draw(st.lists(st.integers(-1, 8), min_size=1, max_size=3))
    return draw(VALUES)


@st.composite
def layer_items(draw, depth: int = 0):
    """One item of 'layers': a bare type, a type with arguments, or a repeat / branches."""
    from archcalc.layers import REGISTRY
    from archcalc.layers.base import REQUIRED

    choice = draw(st.sampled_from([2, 2, 2, 2, 2, 2, 2, 0, 1, 1]))
    if choice == 0 or (choice == 1 and depth > 1):
        return draw(st.sampled_from(_layer_types() + ["bogus", "repeat"]))
    if choice == 1:
        inner = st.lists(layer_items(depth + 1), min_size=0, max_size=3)
        if draw(st.booleans()):
            item = {"repeat": draw(st.one_of(st.integers(-1, 3), st.sampled_from(["N", 2.5]))),
                    "layers": draw(inner)}
        else:
            item = {"branches": draw(st.lists(inner, max_size=3)),
                    "merge": draw(st.sampled_from(["add", "concat", "mul", "sum"]))}
        if draw(st.booleans()):
            item["name"] = draw(st.sampled_from(NAMES + tuple(HOSTILE_TEXT[:2])))
        return item
    kind = draw(st.sampled_from(_layer_types()))
    args = {}
    for key, spec in REGISTRY[kind].args.items():
        wanted = spec.default is REQUIRED or not _mostly(draw, 7)
        if wanted and _mostly(draw):
            args[key] = _good_value(draw, spec) if _mostly(draw) else draw(VALUES)
    if not _mostly(draw, 7):
        args["name"] = draw(st.sampled_from(NAMES[:3] if _mostly(draw) else
                                            NAMES + tuple(HOSTILE_TEXT)))
    if not _mostly(draw):
        args[draw(st.sampled_from(["from", "bogus"]))] = draw(st.sampled_from(NAMES))
    return {kind: args or None}


@st.composite
def spec_documents(draw):
    """Spec-shaped documents: mostly well-formed structure, arbitrary contents."""
    doc = {}
    if not _mostly(draw, 8):
        doc["name"] = draw(st.one_of(st.sampled_from(HOSTILE_TEXT), st.text(max_size=12)))
    declared = draw(st.lists(st.sampled_from(SYMBOLS), unique=True, max_size=3))
    if declared:
        doc["symbols"] = {k: draw(st.one_of(st.none(), st.integers(4, 24), st.integers(-1, 24)))
                          for k in declared}
    rank = draw(st.sampled_from([1, 2, 3, 3, 3, 4]))
    sizes = st.integers(1, 24) if not declared else \
        st.one_of(st.integers(1, 24), st.integers(4, 16), st.sampled_from(declared))
    doc["input"] = draw(st.lists(sizes, min_size=rank, max_size=rank))
    items = layer_items()
    if not _mostly(draw, 8):
        doc["blocks"] = {draw(st.sampled_from(["blk"] * 4 + HOSTILE_TEXT[:4])): {
            "params": ["c"], "layers": draw(
            st.lists(layer_items(1), min_size=1, max_size=3))}}
        items = st.one_of(items, st.just({"blk": {"c": 4}}))
    doc["layers"] = draw(st.lists(items, min_size=1, max_size=6))
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True).encode("utf-8")


_KEYS = st.sampled_from(["input", "layers", "symbols", "blocks", "name", "repeat", "branches",
                         "merge", "out", "kernel", "conv2d", "relu", "params", "with", "x"])
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(),
                     st.text(max_size=10), st.sampled_from(EXPRESSIONS))
YAML_TREES = st.recursive(
    _SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_KEYS, children,
                                                                       max_size=4),
    max_leaves=25,
)


@st.composite
def yaml_documents(draw):
    """Any YAML document, any text, or any bytes."""
    kind = draw(st.integers(0, 5))
    if kind <= 2:
        return yaml.safe_dump(draw(YAML_TREES), allow_unicode=True).encode("utf-8")
    if kind == 3:
        return draw(st.text(max_size=200)).encode("utf-8", "surrogatepass")
    if kind == 4:
        return draw(st.binary(max_size=200))
    pieces = st.sampled_from(["input: ", "layers:", "\n", "  ", "- ", "[", "]", "{", "}", ": ",
                              "&a ", "*a", "!!python/object:os.system ", "!!str ", "<<: ",
                              "'", '"', "#", "---\n", "3", "H", "conv2d", "relu", ", ",
                              "\t", "%YAML 1.1\n", "? ", "|\n", ">\n"])
    return "".join(draw(st.lists(pieces, max_size=40))).encode("utf-8")


def _zoo_sources() -> list[Path]:
    return sorted(EXAMPLES.glob("*.yaml")) + sorted(SPECS.glob("*.yaml"))


REPLACEMENTS = ["0", "-1", "2.5", "99999999999999999999", "H", "1e309", "x", "[1, 2]", "{}",
                "null", "true", "same", "'3 +'", "*a", "&a", "!!python/object:os.system",
                "<<", "repeat", "branches", "input", "conv2d", "add", "concat", "from",
                "'__class__'", "10**10**10", "", "'(2**64)**62'", "'1e999'", "1e999",
                "'\\e[31m'", "\"\\u202e\"", "'64/(H-1)'"]


@st.composite
def zoo_mutations(draw):
    """A zoo spec with one to four random edits to its text."""
    sources = _zoo_sources()
    text = draw(st.sampled_from(sources)).read_text(encoding="utf-8")
    for _ in range(draw(st.integers(1, 4))):
        lines = text.splitlines(keepends=True) or [""]
        i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
        op = draw(st.integers(0, 8))
        if op == 0:
            del lines[i]
        elif op == 1:
            lines.insert(i, lines[j])
        elif op == 2:
            lines[i], lines[j] = lines[j], lines[i]
        elif op in (3, 4):
            pattern = r"\d+" if op == 3 else r"[A-Za-z_]\w*"
            matches = list(re.finditer(pattern, lines[i]))
            if matches:
                m = draw(st.sampled_from(matches))
                new = draw(st.sampled_from(REPLACEMENTS))
                lines[i] = lines[i][:m.start()] + new + lines[i][m.end():]
        elif op == 5:
            lines[i] = draw(st.sampled_from([" ", "  ", "\t", "- "])) + lines[i]
        elif op == 6:
            lines[i] = lines[i].lstrip(" ")
        elif op == 7:
            k = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:k] + draw(st.text(string.printable, max_size=3)) + lines[i][k:]
        else:
            lines = lines[: i + 1]
        text = "".join(lines)
    return text.encode("utf-8", "surrogatepass")


CLAIMS = st.one_of(
    st.integers(-2, 10**12), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
    st.none(), st.text(max_size=12), st.sampled_from(HOSTILE_TEXT),
    st.lists(st.one_of(st.integers(0, 300), st.sampled_from(["H", "n/2", ""])), max_size=4),
    st.sampled_from(["60 million", "11.7M", "1.2 Gi", "1 + D*(F-1)", "[1, ceil(n/2), 3]",
                     "1 x (M - D*(F-1)) x 3", "R*O/G", "1e999999999", "1e999", "-1e999",
                     "1" + " " * 5000 + "x", "9" * 5000, "(2**64)**62", "3 x 224 x 224",
                     "138,357,544", "15.47 G", "ceil(", "{}", "[[1]]", "idiv(H, 2)"]),
)
METRIC_KEYS = ("params", "trainable_params", "macs", "flops", "output_shape", "rf", "bogus")


@st.composite
def sheet_documents(draw):
    """Answer sheets: mostly a sheet's structure, with hostile claims, names and paths."""
    doc = {}
    if not _mostly(draw, 7):
        doc["name"] = draw(st.one_of(st.sampled_from(HOSTILE_TEXT), st.just({"a": 1}),
                                     st.text(max_size=10)))
    doc["spec"] = draw(st.sampled_from(["spec.yaml"] * 6 + [
        "/etc/passwd", "../../etc/passwd", "/dev/zero", "/dev/stdin", ".", "missing.yaml",
        "sheet.yaml", ["spec.yaml"], 5, None]))
    if not _mostly(draw, 7):
        doc["set"] = draw(st.sampled_from([{"H": 0}, {"ZZ": 1}, {"H": "1e999"}, "H=3", [1],
                                           {"H": 2**70}, {"\x1b[2J": 1}]))
    if not _mostly(draw, 7):
        doc["convention"] = draw(st.sampled_from([["a"], 5, None, "kerass", "keras", "fvcore",
                                                  {"x": 1}, "\x1b]0;T\x07"]))
    answers = []
    for _ in range(draw(st.integers(0, 4))):
        entry = {"at": draw(st.sampled_from(["total", "total", "a", "conv2d_1", "nope", 3,
                                             None, "\u202eevil"]))}
        for key in draw(st.lists(st.sampled_from(METRIC_KEYS), max_size=3, unique=True)):
            entry[key] = draw(CLAIMS)
        answers.append(entry if _mostly(draw) else draw(VALUES))
    if _mostly(draw):
        doc["answers"] = answers
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True).encode("utf-8")


# ---------------------------------------------------------------- the properties
@_settings(150)
@given(data=yaml_documents(), verb=st.sampled_from(VERBS))
def test_random_yaml(run, data, verb):
    run.check(data, verb)


@_settings(150)
@given(data=spec_documents(), verb=st.sampled_from(VERBS), fmt=st.sampled_from(FORMATS))
def test_random_specs(run, data, verb, fmt):
    run.check(data, "summary")
    run.check(data, verb, fmt)


@pytest.mark.skipif(not _zoo_sources(), reason="no zoo specs to mutate")
@_settings(150)
@given(data=zoo_mutations(), verb=st.sampled_from(VERBS), fmt=st.sampled_from(FORMATS))
def test_zoo_mutations(run, data, verb, fmt):
    run.check(data, verb, fmt)


SHEET_SPECS = [b"symbols: {H: 32}\ninput: [3, H, H]\nlayers:\n  - conv2d: {out: 8, kernel: 3}\n"
               b"  - relu: {name: a}\n",
               b"symbols: {M: null, D: 2, F: 3}\ninput: [1, M, M]\nlayers:\n"
               b"  - conv2d: {name: a, out: 1, kernel: F, dilation: D}\n"]


@_settings(150)
@given(sheet=sheet_documents(), spec=st.sampled_from(SHEET_SPECS),
       fmt=st.sampled_from(FORMATS))
def test_random_sheets(run, sheet, spec, fmt):
    """``check`` on hostile answer sheets: every claim graded or refused, within the sheet's
    folder, never a traceback or an escape code."""
    run.check(spec, "check", fmt, sheet=sheet)


@_settings(20)
@given(data=spec_documents())
@example(data=b"input: [1, 1, 1, 1]\nlayers: [dropout1d]\n")  # found by the long runs
@example(data=b"symbols: {H: null}\ninput: [H]\nlayers: [{reshape: {shape: [0]}}]\n")
@example(data=b"input: [1]\nlayers: [{upsample: {scale: 1}}]\n")
@example(data=b"input: [1, 1]\nlayers: [{upsample: {scale: 1, align_corners: false}}]\n")
def test_random_specs_verify(run, data):
    """``verify`` builds the network in PyTorch: the same property, on fewer examples."""
    pytest.importorskip("torch")
    run.check(data, "verify")


def test_the_strategies_reach_both_outcomes(run):
    """Guard against a fuzzer that only ever produces parse errors: among a fixed sample of
    spec-shaped documents some analyse cleanly (exit 0) and some are refused (exit 2)."""
    from hypothesis import find

    codes = set()

    def outcome(data):
        codes.add(run.check(data))
        return codes == {0, 2}

    find(spec_documents(), outcome, settings=settings(max_examples=300, derandomize=True,
                                                      database=None, deadline=None))
    assert codes == {0, 2}
