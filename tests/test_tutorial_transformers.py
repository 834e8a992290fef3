"""docs/tutorial-transformers.md: every console example is run and must print exactly what the
tutorial shows (regenerate with `python tests/doc_blocks.py docs/tutorial-transformers.md`),
the spec it shows is specs/gpt2.yaml, and the commands it names in its text run."""

from __future__ import annotations

import re

import pytest

from conftest import ROOT
from doc_blocks import blocks, run, stale

TUTORIAL = ROOT / "docs" / "tutorial-transformers.md"


def test_every_console_example_prints_what_it_shows():
    assert len(blocks(TUTORIAL)) >= 8
    assert stale(TUTORIAL) == []


def test_the_spec_shown_is_the_zoo_spec_without_its_comments():
    text = TUTORIAL.read_text()
    shown = re.search(r"```yaml\n(name: GPT-2\n.*?)```", text, re.S).group(1)
    spec = (ROOT / "specs" / "gpt2.yaml").read_text()
    body = spec[spec.index("name: GPT-2"):]
    without = re.sub(r"\napproximations:\n(?:  .*\n)+", "\n", body)
    assert shown == without


@pytest.mark.parametrize("command", [
    "archcalc verify specs/gpt2.yaml --set d_model=32,n_head=4,n_ctx=16,vocab=50 "
    "--free n_layer --samples 3",
    "archcalc verify specs/llama-7b.yaml --device meta",
])
def test_the_commands_in_the_text_run_and_match(command):
    pytest.importorskip("torch")
    flat = " ".join(TUTORIAL.read_text().split())
    assert command in flat
    code, out = run(command)
    assert code == 0 and out.rstrip().endswith("checks match ✓"), out[-400:]
