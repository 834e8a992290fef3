"""docs/tutorial-import.md: every console example is run and must print exactly what the
tutorial shows (regenerate with `python tests/doc_blocks.py docs/tutorial-import.md`), the
spec it reads is what the import writes, and the figures its text states are the printed
ones (each derived in the text)."""

from __future__ import annotations

import pytest

from conftest import ROOT
from doc_blocks import blocks, stale

pytest.importorskip("torch")

TUTORIAL = ROOT / "docs" / "tutorial-import.md"


def test_every_console_example_prints_what_it_shows():
    assert len(blocks(TUTORIAL)) >= 3
    assert stale(TUTORIAL) == []


def test_the_example_spec_is_the_import():
    imported = next(out for cmd, out in blocks(TUTORIAL) if "import torch" in cmd)
    spec = ROOT / "examples" / "import" / "tiny_cnn.yaml"
    assert spec.read_text(encoding="utf-8") == imported


def test_the_figures_in_the_text_are_the_printed_ones():
    params = next(out for cmd, out in blocks(TUTORIAL) if cmd.startswith("archcalc params"))
    # 3·16·9 = 432 (stem), 16·16·9 = 2,304 per 3×3 convolution of width 16, four of them
    assert 432 + 4 * 2304 == 9648 and 16 * 10 == 160
    assert "Total MACs: 9648*H*W + 160" in params
    assert "9648*H*W + 160" in TUTORIAL.read_text(encoding="utf-8")


def test_verify_matches_as_the_text_says():
    import archcalc

    result = archcalc.verify(str(ROOT / "examples" / "import" / "tiny_cnn.yaml"), rf="off")
    assert result.ok and not result.mismatches
    assert result.checked == 420
    assert "All 420 checks match" in TUTORIAL.read_text(encoding="utf-8")


def test_the_unknown_example_spec_is_the_import_and_its_figures_hold():
    imported = next(out for cmd, out in blocks(TUTORIAL) if "--allow-unknown" in cmd)
    spec = ROOT / "examples" / "import" / "crnn.yaml"
    assert spec.read_text(encoding="utf-8") == imported
    params = next(out for cmd, out in blocks(TUTORIAL) if "params examples/import/crnn" in cmd)
    # nn.LSTM(64, 32, bidirectional): per direction 4 gates · 32 · (64 + 32) weights and
    # 2 · 4 · 32 biases
    per_direction = 4 * 32 * (64 + 32) + 2 * 4 * 32
    assert per_direction == 12544 and 2 * per_direction == 25088
    assert "rnn          unknown     [16, 64]       25,088" in params
    assert "1 layer imported as unknown (rnn): MACs, FLOPs and saved activations exclude it" in params
    text = TUTORIAL.read_text(encoding="utf-8")
    assert "4·32·(64 + 32) = 12,288 weights and 2·4·32 = 256 biases" in text


def test_the_stages_example_shares_blocks_and_goes_through_torch_export():
    imported = next(out for cmd, out in blocks(TUTORIAL) if "stages.py" in cmd)
    assert "(torch.export)." in imported.splitlines()[0]
    assert imported.count("    params: [c]\n") == 2  # plain blocks, projection blocks
    assert "  - block_2: {name: blocks.3, c: 32}" in imported
