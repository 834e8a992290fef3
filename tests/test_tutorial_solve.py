"""docs/tutorial-solve.md: every console example is run and must print exactly what the
tutorial shows (regenerate with `python tests/doc_blocks.py docs/tutorial-solve.md`), and
the answers its text states are the printed ones (each derived in the text)."""

from __future__ import annotations

from fractions import Fraction

from conftest import ROOT
from doc_blocks import blocks, stale

TUTORIAL = ROOT / "docs" / "tutorial-solve.md"


def test_every_console_example_prints_what_it_shows():
    assert len(blocks(TUTORIAL)) == 10
    assert stale(TUTORIAL) == []


def test_the_answers_in_the_text_are_the_printed_ones():
    outputs = {cmd: out for cmd, out in blocks(TUTORIAL)}

    def out(fragment):
        return next(o for c, o in outputs.items() if fragment in c)

    assert "p = (k - 1)/2" in out("same-padding")
    assert "smallest: n=50" in out("conv-stack")  # 2n + 1 ≥ 100 ⇔ n ≥ 50
    assert out("vgg16").split()[1:] == [str(h) for h in range(224, 256)]
    # 748,540,128 + 12,483,084·B ≤ 3·2³⁰ ⇔ B ≤ 198.08…; (16·10⁹ − 13,476,831,232)/598,528
    # = 4,215.6…, with 598,528 = 2·32·4,096·2 (the KV cache) + 74,240 (the activations)
    assert "largest: B=198" in out("alexnet-paper") and "12483084*B + 748540128" in \
        out("alexnet-paper")
    assert "largest: L=4215" in out("llama-7b") and "KV cache 524288*L" in out("llama-7b")
    # 572 = 16·24 + 188
    assert "family: H = 16·k + 188, k ≥ 0 (proved for every k)" in out("unet")
    assert 16 * 24 + 188 == 572
    # 9·743² + 39·743 + 10 = 4,997,428 ≤ 5·10⁶ < 9·744² + 39·744 + 10 = 5,010,850
    assert "largest: w=743" in out("width")
    assert 9 * 743**2 + 39 * 743 + 10 == 4_997_428 and 9 * 744**2 + 39 * 744 + 10 == 5_010_850

    # MobileNetV2's head make_divisible(1280·w, 8): floor(1280·w + 4) crosses 1584 = 8·198
    # at 1280·w = 1580, w = 79/64; below it the head has 1,576 channels.
    mobile = out("--want \"params < 5e6\"")
    assert 1280 * Fraction(79, 64) + 4 == 1584
    assert "largest: none (0 < w < 79/64 (1.234375) solves" in mobile
    assert "at w = 79/64 (1.234375): params 4,994,504 → 5,005,656 " \
        "(make_divisible(1280*w, 8) 1,576 → 1,584)" in mobile
    assert "DIFFERS" not in mobile and "floating point differs" not in mobile
    # the stem's make_divisible(32·w, 8): 8 = 9/10 · 80/9 at w = 5/18 (open: the 90 % rule
    # is strict), 16 = 9/10 · 160/9 at w = 5/9 (closed)
    stem = out("stem.shape[0] = 16")
    assert Fraction(9, 10) * 32 * Fraction(5, 18) == 8 and Fraction(9, 10) * 32 * Fraction(5, 9) == 16
    assert "solution: 5/18 (0.277778…) < w ≤ 5/9 (0.555556…)" in stem
    assert stem.count("(as the pieces say)") == 6
