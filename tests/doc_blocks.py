"""Console examples in the docs: every ```console block is one `$ archcalc …` command and
its exact output. Tests run the commands and compare; after a deliberate change,

    python tests/doc_blocks.py docs/tutorial-homework.md docs/tutorial-report.md

rewrites the outputs in place (then read the diff before committing it).
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_BLOCK = re.compile(r"```console\n\$ (?P<cmd>[^\n]*)\n(?P<out>.*?)```", re.S)


def blocks(path) -> list:
    """(command, expected output) for every console block of a Markdown file."""
    return [(m["cmd"], m["out"]) for m in _BLOCK.finditer(Path(path).read_text())]


def run(cmd: str) -> tuple:
    """Run one `archcalc …` command line from the repository root: (exit code, stdout)."""
    from typer.testing import CliRunner

    from archcalc.cli import app

    args = shlex.split(cmd)
    assert args[0] == "archcalc", cmd
    here = os.getcwd()
    os.chdir(ROOT)
    try:
        result = CliRunner().invoke(app, args[1:], catch_exceptions=False)
    finally:
        os.chdir(here)
    return result.exit_code, result.stdout


def stale(path) -> list:
    """The commands of a Markdown file whose printed output is not what the file shows."""
    return [cmd for cmd, expected in blocks(path) if run(cmd)[1] != expected]


def regenerate(path) -> None:
    text = Path(path).read_text()

    def fill(m):
        _, out = run(m["cmd"])
        return f"```console\n$ {m['cmd']}\n{out}```"

    Path(path).write_text(_BLOCK.sub(fill, text))


if __name__ == "__main__":
    for p in sys.argv[1:]:
        regenerate(p)
