"""The corpus of broken and hostile specs (tests/bad_specs/, described in docs/robustness.md).

Each file ends in exit code 2 and exactly one stderr line ``error: <message>``, where the
message is the file's ``# expect:`` line (``{file}`` stands for the path; ``# args:`` adds
command-line options), or its entry in ``index.txt`` for files that cannot hold a comment.
Nothing reaches stdout, no traceback, and each fails fast.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT

CORPUS = Path(__file__).parent / "bad_specs"
LOCATED = re.compile(r"^(?:\{file\}|re:\\\{file\\\}):(?:\d+|\\d\+):(?:\d+|\\d\+): \S")


def _index() -> dict[str, str]:
    out = {}
    for line in (CORPUS / "index.txt").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, _, expect = line.partition("\t")
            out[name] = expect
    return out


def _case(path: Path) -> tuple[str, list[str]]:
    """(expected message, extra command-line arguments) of one corpus file."""
    index = _index()
    if path.name in index:
        return index[path.name], []
    lines = [line for line in path.read_text(encoding="utf-8").splitlines()
             if not line.startswith("# verb: ")]
    assert lines and lines[0].startswith(("# expect: ", "# expect-re: ")), \
        f"{path.name}: no '# expect:' line"
    expect = lines[0].split(": ", 1)[1]
    if lines[0].startswith("# expect-re: "):
        expect = "re:" + expect
    args = shlex.split(lines[1][len("# args: "):]) if len(lines) > 1 and \
        lines[1].startswith("# args: ") else []
    return expect, args


def _verb(path: Path) -> str:
    """The verb a corpus file runs with: ``# verb: NAME`` among its first lines (a command's
    own options, such as memory's ``--dtype``; ``export pytorch`` a command of two words),
    else summary."""
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines()[:3]:
        if line.startswith("# verb: "):
            return line[len("# verb: "):].strip()
    return "summary"


FILES = sorted(CORPUS.glob("*.yaml"))
# A bad spec is refused promptly, not after a hang (the command's own time limit is 60 s):
# a bound that a loaded 2-core machine meets; how fast it is lives in benchmarks/.
PROMPT = 10.0


def test_corpus_is_complete():
    assert len(FILES) >= 100
    numbers = [p.name.split("-", 1)[0] for p in FILES]
    assert len(set(numbers)) == len(numbers), "two corpus files share a number"
    assert set(_index()) <= {p.name for p in FILES}, "index.txt names a missing file"


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_bad_spec(cli, path):
    expect, args = _case(path)
    if _verb(path).startswith("export"):
        pytest.importorskip("torch")  # its import (seconds, once) is not the spec's work
    started = time.perf_counter()
    code, out, err = cli(*_verb(path).split(), str(path), *args)
    elapsed = time.perf_counter() - started
    assert code == 2, err
    assert out == ""
    _assert_message(err, expect, path)
    assert elapsed < PROMPT, f"took {elapsed:.2f} s"


def _assert_message(err: str, expect: str, path: Path) -> None:
    """One line ``error: <expected message>``; an ``re:`` expectation is a regular expression
    (``{file}`` escaped as ``\\{file\\}``) for messages that are not the same every run."""
    assert err.endswith("\n") and err.count("\n") == 1, err
    if expect.startswith("re:"):
        pattern = expect[3:].replace(r"\{file\}", re.escape(str(path)))
        assert re.fullmatch("error: " + pattern, err[:-1]), (err, pattern)
    else:
        assert err == "error: " + expect.replace("{file}", str(path)) + "\n"


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_spec_errors_are_located(path):
    """A problem in the file names file:line:col; only command-line mistakes may not."""
    expect, args = _case(path)
    if not args:
        assert LOCATED.match(expect), expect


@pytest.mark.parametrize("verb", ["params", "shapes", "flops", "rf", "explain", "compare"])
def test_every_verb_reports_the_same_error(cli, verb):
    for path in FILES[::9]:
        expect, args = _case(path)
        if _verb(path).startswith("export"):
            continue  # what the analysis verbs accept and one framework cannot express
        code, out, err = cli(verb, str(path), *args)
        if verb == "compare" and args and args[0] == "--limit":
            continue  # compare takes no --limit
        assert code == 2, (path.name, err)
        assert err.count("\n") == 1 and err.startswith("error: "), (path.name, err)
        assert "Traceback" not in err


SUBPROCESS_CASES = ["alias-bomb", "deep-flow-nesting", "expr-power-tower", "binary-garbage",
                    "tag-python-apply-os-system", "set-violates-dilated", "repeat-nested-bomb"]


def test_no_traceback_in_a_real_process():
    """The installed entry point, in a fresh interpreter: one line on stderr, exit 2."""
    paths = [next(CORPUS.glob(f"*-{name}.yaml")) for name in SUBPROCESS_CASES]
    script = (
        "import sys\n"
        "from archcalc.cli import app\n"
        "for p, *a in [l.split('\\t') for l in sys.stdin.read().splitlines()]:\n"
        "    try:\n"
        "        app(['summary', p, *a], standalone_mode=False)\n"
        "    except SystemExit as e:\n"
        "        print(e.code, file=sys.stderr)\n"
        "    except BaseException as e:\n"
        "        print('ESCAPED', type(e).__name__, file=sys.stderr)\n"
    )
    # One interpreter for all cases (start-up is the slow part); standalone_mode=False lets
    # typer.Exit through as an exception, so print its code.
    lines = ["\t".join([str(p), *_case(p)[1]]) for p in paths]
    proc = subprocess.run([sys.executable, "-c", script], input="\n".join(lines),
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert "Traceback" not in proc.stderr
    assert "ESCAPED" not in proc.stderr
    assert proc.stdout == ""
    for p in paths:
        expect = "error: " + _case(p)[0].replace("{file}", str(p))
        assert expect in proc.stderr.splitlines(), (p.name, proc.stderr)


def test_console_script_exit_code():
    """``python -m archcalc``: the exit code a grader's script sees, and a one-line stderr."""
    path = next(CORPUS.glob("*-deep-flow-nesting.yaml"))
    proc = subprocess.run([sys.executable, "-m", "archcalc", "summary", str(path)],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == "error: " + _case(path)[0].replace("{file}", str(path)) + "\n"


BOUNDED = ["alias-bomb", "deep-flow-nesting", "deep-mapping-nesting", "repeat-absurd",
           "repeat-nested-bomb", "expr-power-tower", "expr-huge-product",
           "expr-symbolic-expansion", "blocks-and-repeats-nest-too-deep"]


@pytest.mark.parametrize("name", BOUNDED)
def test_hostile_specs_fail_fast_in_bounded_memory(cli, name):
    """Each would take unbounded time or memory if expanded; each is refused within 2 s
    having allocated under 32 MiB (measured: well under 0.1 s and a few MiB each)."""
    import tracemalloc

    path = next(CORPUS.glob(f"*-{name}.yaml"))
    cli("summary", str(path))  # warm up: imports and caches are not the spec's cost
    started = time.perf_counter()
    code, out, err = cli("summary", str(path))
    elapsed = time.perf_counter() - started  # timed apart: tracemalloc slows Python code
    tracemalloc.start()
    try:
        cli("summary", str(path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert code == 2, err
    assert elapsed < PROMPT, f"{elapsed:.2f} s"
    assert peak < 32 * 2**20, f"{peak / 2**20:.1f} MiB"


def test_time_limit_stops_a_runaway_analysis(cli, monkeypatch, tmp_path):
    """``max_seconds`` stops a command that would run forever, located at the layer being
    analysed. (Symbolic closed forms can grow without bound; a rule that never returns
    stands in for one here, so the test does not depend on sympy's speed.)"""
    import dataclasses

    from archcalc.layers import REGISTRY

    def forever(ctx):
        while True:
            pass

    monkeypatch.setitem(REGISTRY, "tanh", dataclasses.replace(REGISTRY["tanh"], fn=forever))
    spec = tmp_path / "slow.yaml"
    spec.write_text("input: [3, 8]\nlayers:\n  - relu\n  - tanh\n")
    started = time.perf_counter()
    code, out, err = cli("summary", str(spec), "--limit", "max_seconds=1")
    assert code == 2
    # numbers only: the message names the work that took the time, not closed forms
    assert err == (f"error: {spec}:4:5: gave up after 1 s analysing the layers (raise --limit "
                   "max_seconds=N)\n")
    assert time.perf_counter() - started < 5


RAISABLE = [
    # (spec text, limit raised, what the default refuses, what the raised limit reaches)
    ("input: [3]\nlayers: [relu]\nx: " + "[" * 70 + "]" * 70 + "\n", "max_yaml_depth=100",
     "nesting is deeper than 64 levels", "unknown top-level key 'x'"),
    # Deeper than libyaml's own nesting limit (1,000 levels in PyYAML 6.0.4's wheels): the
    # raised limit still reaches archcalc's next message, whatever the YAML library's limits.
    ("input: [3]\nlayers: [relu]\nx: " + "[" * 1200 + "]" * 1200 + "\n", "max_yaml_depth=1300",
     "nesting is deeper than 64 levels", "unknown top-level key 'x'"),
    ("input: [3]\nlayers:\n  - linear: {out: '" + "+".join(["1"] * 600) + "'}\n",
     "max_expr_chars=2000", "expression is 1199 characters long; the limit is 1000", None),
    ("input: [3]\nlayers:\n  - repeat: 100001\n    layers: [relu]\n", "max_repeat=200000",
     "repeat 100001 is above the limit 100000",
     "repeat 100001 × 1 layers expands the network beyond 50000 layers"),
    ("input: [3]\nlayers:\n  - repeat: 60\n    layers: [relu]\n", "max_nodes=10",
     None, "repeat 60 × 1 layers expands the network beyond 10 layers"),
]


@pytest.mark.parametrize("text, limit, default_error, raised_error", RAISABLE,
                         ids=[r[1] for r in RAISABLE])
def test_limits_are_set_by_a_flag(cli, tmp_path, text, limit, default_error, raised_error):
    spec = tmp_path / "spec.yaml"
    spec.write_text(text)
    for args, expected in (((), default_error), (("--limit", limit), raised_error)):
        code, out, err = cli("summary", str(spec), *args)
        if expected is None:
            assert code == 0, err
        else:
            assert code == 2 and expected in err, err


YAML_LEVEL = [p for p in FILES if p.name[:3] < "030"] + \
    [next(CORPUS.glob(f"*-{name}.yaml")) for name in ("alias-bomb", "deep-flow-nesting",
                                                     "deep-mapping-nesting")]


@pytest.mark.parametrize("path", YAML_LEVEL, ids=[p.stem for p in YAML_LEVEL])
def test_same_verdict_without_libyaml(cli, monkeypatch, path):
    """With PyYAML's pure-Python parser alone (an install without libyaml), every YAML-level
    refusal is still archcalc's own, at the same place."""
    import yaml

    expect, args = _case(path)
    monkeypatch.delattr(yaml, "CSafeLoader", raising=False)
    code, out, err = cli("summary", str(path), *args)
    assert code == 2 and out == ""
    if "YAML syntax error" in expect or "YAML cannot contain" in expect:
        line = re.match(r"(?:re:)?\\?\{file\\?\}:(\d+):", expect)[1]
        assert err.startswith(f"error: {path}:{line}:"), err  # the library words it its way
    else:
        _assert_message(err, expect, path)


def test_what_is_not_a_regular_file_is_refused_before_reading(cli, tmp_path):
    """A FIFO (or /dev/stdin on a pipe) would make the read wait for ever, a device never
    ends: each is refused up front with exit 2, as is a directory."""
    import os

    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    for path, what in ((fifo, "is a named pipe (FIFO), not a spec file"),
                       ("/dev/null", "is a device, not a spec file"),
                       (tmp_path, "is a directory, not a spec file")):
        started = time.perf_counter()
        code, out, err = cli("summary", str(path))
        assert code == 2 and out == ""
        assert err.startswith(f"error: {path}: {what}"), err
        assert time.perf_counter() - started < 2
