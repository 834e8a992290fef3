"""docs/tutorial-solve.md: every console example is run and must print exactly what the
tutorial shows (regenerate with `python tests/doc_blocks.py docs/tutorial-solve.md`), and
the answers its text states are the printed ones (each derived in the text)."""

from __future__ import annotations

from conftest import ROOT
from doc_blocks import blocks, stale

TUTORIAL = ROOT / "docs" / "tutorial-solve.md"


def test_every_console_example_prints_what_it_shows():
    assert len(blocks(TUTORIAL)) == 5
    assert stale(TUTORIAL) == []


def test_the_answers_in_the_text_are_the_printed_ones():
    outputs = {cmd: out for cmd, out in blocks(TUTORIAL)}

    def out(fragment):
        return next(o for c, o in outputs.items() if fragment in c)

    assert "p = (k - 1)/2" in out("same-padding")
    assert "smallest: n=50" in out("conv-stack")  # 2n + 1 ≥ 100 ⇔ n ≥ 50
    assert out("vgg16").split()[1:] == [str(h) for h in range(224, 256)]
    # 572 = 16·24 + 188
    assert "family: H = 16·k + 188, k ≥ 0 (proved for every k)" in out("unet")
    assert 16 * 24 + 188 == 572
    # 9·743² + 39·743 + 10 = 4,997,428 ≤ 5·10⁶ < 9·744² + 39·744 + 10 = 5,010,850
    assert "largest: w=743" in out("width")
    assert 9 * 743**2 + 39 * 743 + 10 == 4_997_428 and 9 * 744**2 + 39 * 744 + 10 == 5_010_850
