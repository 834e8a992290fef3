"""README.md: its console examples are run and print exactly what it shows (regenerate with
`python tests/doc_blocks.py README.md`)."""

from __future__ import annotations

from conftest import ROOT
from doc_blocks import blocks, stale

README = ROOT / "README.md"


def test_readme_console_examples_print_what_they_show():
    assert len(blocks(README)) == 2
    assert stale(README) == []
