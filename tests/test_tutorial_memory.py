"""docs/tutorial-memory.md: every console example is run and must print exactly what the
tutorial shows (regenerate with `python tests/doc_blocks.py docs/tutorial-memory.md`), and
the figures its text states are the ones the tool prints (each derived in the text)."""

from __future__ import annotations

from conftest import ROOT
from doc_blocks import blocks, stale

TUTORIAL = ROOT / "docs" / "tutorial-memory.md"


def test_every_console_example_prints_what_it_shows():
    assert len(blocks(TUTORIAL)) >= 6
    assert stale(TUTORIAL) == []


def test_the_figures_in_the_text_are_the_printed_ones():
    outputs = {cmd: out for cmd, out in blocks(TUTORIAL)}
    text = TUTORIAL.read_text()
    alexnet = next(out for cmd, out in outputs.items() if "--batch B" in cmd)
    assert "Total in B: 748540128 + 12483084·B bytes" in alexnet
    assert "748,540,128 + 12,483,084·B" in text
    # 3 GiB = 3,221,225,472 bytes: (3,221,225,472 − 748,540,128) // 12,483,084 = 198
    assert (3 * 2**30 - 748_540_128) // 12_483_084 == 198
    assert "Largest batch that fits: 198" in alexnet
    llama = next(out for cmd, out in outputs.items() if "--mixed" in cmd and "--zero" not in cmd)
    # ZeRO's 16Ψ: 2Ψ weights + 2Ψ gradients + 12Ψ fp32 master, momentum and variance
    psi = 6_738_415_616
    assert f"parameters: {2 * psi:,} bytes" in llama and f"gradients: {2 * psi:,} bytes" in llama
    assert f"optimizer states: {12 * psi:,} bytes" in llama
    sweep = next(out for cmd, out in outputs.items() if "--batch 1:256" in cmd)
    # 748,540,128 + 12,483,084·b at b = 128 and 256; 3 GiB − the total at 128 = 0.81 GiB
    assert f"  128   {748_540_128 + 12_483_084 * 128:,}   yes" in sweep
    assert f"  256   {748_540_128 + 12_483_084 * 256:,}    no" in sweep
    assert "0.81 GiB to spare" in text and \
        round((3 * 2**30 - 748_540_128 - 12_483_084 * 128) / 2**30, 2) == 0.81
    compare = next(out for cmd, out in outputs.items() if cmd.startswith("archcalc compare"))
    # VGG-16 under SGD with momentum: 3 · 4 · 138,357,544 fixed bytes; AlexNet's row is the
    # memory verb's total above
    vgg = next(line for line in compare.splitlines() if line.startswith("VGG16"))
    total, largest = int(vgg.split()[3].replace(",", "")), int(vgg.split()[-1])
    fixed = 3 * 4 * 138_357_544
    per = (total - fixed) // 128
    assert fixed + 128 * per == total and (3 * 2**30 - fixed) // per == largest == 21
    assert "21 images do" in text and "2,346,374,880    yes             198" in compare
    kv = next(out for cmd, out in outputs.items() if "L=4096" in cmd)
    assert f"KV cache: {2 * 32 * 32 * 128 * 4096 * 2:,} bytes" in kv and 2**31 == 2147483648
    assert "100.4 GiB" in text and round(16 * psi / 2**30, 1) == 100.4


def test_the_checkpointing_figures_are_the_printed_ones():
    """Section 6: 2·s·b·h per block (s = 1,024, b = 1, h = 768, 2 bytes), twelve blocks, and
    the peak = kept through the forward pass + the largest block's recomputation."""
    outputs = {cmd: out for cmd, out in blocks(TUTORIAL)}
    text = TUTORIAL.read_text()
    out = next(out for cmd, out in outputs.items() if "--checkpoint" in cmd)
    assert 2 * 1024 * 1 * 768 == 1_572_864 and "1,572,864 bytes per block" in text
    assert f"{12 * 1_572_864:,}" in out  # the repeat's row: twelve blocks' inputs
    assert "saved for backward: 22,032,384 bytes" in out
    assert "recomputation of one checkpointed group: 49,815,552 bytes" in out
    assert 22_032_384 + 49_815_552 == 71_847_936 and "= 71,847,936 bytes" in out
    assert "22,032,384 + 49,815,552 = 71,847,936" in text
