"""The corpus of hostile and broken answer sheets: each gives exactly its expected message.

A file's first line is ``# expect: MESSAGE`` (the sheet cannot be read: exit 2, an empty
stdout and the one stderr line ``error: MESSAGE``) or ``# expect-row: MESSAGE`` (one claim
cannot be read: exit 1, nothing on stderr, that claim graded as not right with MESSAGE as
its error and every other claim of the sheet graded right). ``{file}`` stands for the
sheet's path, ``{dir}`` for its folder; an optional second line ``# args: ...`` gives
command-line arguments. The specs the sheets name are in ``tests/bad_sheets/specs/``.
"""

from __future__ import annotations

import json
import shlex
import time
from pathlib import Path

import pytest

from conftest import ROOT

CORPUS = ROOT / "tests" / "bad_sheets"
FILES = sorted(CORPUS.glob("[0-9][0-9][0-9]-*.yaml"))
SECRET = "SECRET-TOKEN-1234"  # in the files of specs/ that are not specs: never shown


def _case(path: Path) -> tuple[str, str, list]:
    lines = path.read_text(encoding="utf-8").split("\n")
    kind, _, expect = lines[0].partition(": ")
    args = shlex.split(lines[1][len("# args:"):]) if lines[1].startswith("# args:") else []
    expect = expect.replace("{file}", str(path)).replace("{dir}", str(path.parent))
    return kind, expect, args


def _strict(text: str):
    def refuse(constant):
        raise ValueError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_corpus_is_complete():
    assert len(FILES) >= 50
    for path in FILES:
        kind, expect, _ = _case(path)
        assert kind in ("# expect", "# expect-row") and expect and expect != "?", path.name


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_bad_sheet(cli, path):
    kind, expect, args = _case(path)
    started = time.monotonic()
    code, out, err = cli("check", path, "--format", "json", *args)
    assert time.monotonic() - started < 2.0, path.name
    assert SECRET not in out + err
    if kind == "# expect":
        assert (code, out, err) == (2, "", f"error: {expect}\n")
        return
    assert code == 1 and err == "", err
    results = _strict(out)["sheets"][0]["results"]
    unreadable = [r for r in results if "error" in r]
    assert [r["error"] for r in unreadable] == [expect]
    assert unreadable[0]["correct"] is False
    assert all(r["correct"] for r in results if "error" not in r) and len(results) >= 2


@pytest.mark.parametrize("fmt", ["table", "markdown", "csv", "latex"])
def test_no_control_character_reaches_the_output(cli, fmt):
    """Escape codes in claims, names and 'at' are shown escaped in every format."""
    for path in FILES:
        _, _, args = _case(path)
        code, out, err = cli("check", path, "--format", fmt, *args)
        assert code in (1, 2), path.name
        shown = out + err
        assert "\x1b" not in shown and "\x07" not in shown, path.name
        assert all(line.isprintable() for line in shown.split("\n")), path.name
