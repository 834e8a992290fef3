"""Fixtures for every test: where the repository's specs and examples live, and a CLI runner."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# ARCHCALC_EXAMPLES points the example tests at another copy of the examples (see .ci/run).
EXAMPLES = Path(os.environ.get("ARCHCALC_EXAMPLES") or ROOT / "examples").resolve()
SPECS = ROOT / "specs"


@pytest.fixture
def spec_file(tmp_path):
    """Write a spec's text to a file in the test's folder: ``spec_file(text)`` → its path."""
    def write(text: str, name: str = "net.yaml") -> str:
        path = tmp_path / name
        path.write_text(text)
        return str(path)

    return write


@pytest.fixture
def cli():
    """Run the archcalc CLI in-process: returns (exit code, stdout, stderr)."""
    from typer.testing import CliRunner

    from archcalc.cli import app

    runner = CliRunner()

    def run(*args: str):
        result = runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
        return result.exit_code, result.stdout, result.stderr

    return run
