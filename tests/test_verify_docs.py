"""docs/tutorial-verify.md: every console example is run and must print exactly what the
tutorial shows (regenerate with `python tests/doc_blocks.py docs/tutorial-verify.md`)."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from conftest import ROOT  # noqa: E402
from doc_blocks import blocks, run  # noqa: E402

TUTORIAL = ROOT / "docs" / "tutorial-verify.md"


@pytest.mark.parametrize("cmd, expected", blocks(TUTORIAL), ids=lambda v: str(v)[:50])
def test_tutorial_example(cmd, expected):
    code, out = run(cmd)
    assert code == 0
    assert out == expected


def test_tutorial_has_examples():
    assert len(blocks(TUTORIAL)) >= 2
