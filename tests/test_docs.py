"""The docs cannot drift from the code: the spec-format reference holds the registry's own
listing, and every layer type appears in it."""

from __future__ import annotations

import re

from archcalc.layers import REGISTRY
from conftest import ROOT


def test_spec_format_layer_reference_is_the_registry(cli):
    text = (ROOT / "docs" / "spec-format.md").read_text()
    embedded = re.search(r"<!-- list-layers:begin -->\n(.*)<!-- list-layers:end -->", text,
                         re.S).group(1)
    code, listing, _ = cli("list-layers", "--format", "markdown")
    assert code == 0
    assert embedded == listing, "regenerate with: archcalc list-layers --format markdown"
    for name in REGISTRY:
        assert f"| `{name}` |" in embedded


def _yaml_blocks(name: str) -> list:
    import re

    return re.findall(r"```yaml\n(.*?)```", (ROOT / "docs" / name).read_text(), re.S)


def test_every_spec_format_example_loads_and_gives_the_numbers_it_states():
    # a fragment (a block definition alone) is called on a fitting input
    from helpers import analyse_text, sym

    examples = _yaml_blocks("spec-format.md")
    assert len(examples) == 9
    results = []
    for text in examples:
        if "layers:" in text and "input:" not in text:
            text += "input: [64, 8, 8]\nlayers: [basic: {c: 64, s: 1}]\n"
        results.append(analyse_text(text))
    vgg, encoder, decoder, basic, unet, width, wavenet, condensed, full = results
    assert vgg.total.output_shape == (1000,)
    n, length = sym("n_layer", "L")
    d = 768  # per block: attention 4d² + 4d, MLP 8d² + 5d, two layer norms 4d
    assert encoder.total.params == (12 * d * d + 13 * d) * n == 7087872 * n
    assert encoder.total.macs == 7077888 * length * n + 1536 * length**2 * n
    # embedding 1000·64, attention 2·64·64 + 2·64·16, MLP 2·64·256 + 256·64, norms 3·64
    assert decoder.total.params == 64000 + 10240 + 49152 + 192 == 123_584
    assert basic.total.output_shape == (64, 8, 8)
    # U-Net decoder steps: 3·9·8 + 8, 8·9·16 + 16, 32·9·16 + 16, 24·9·8 + 8
    assert unet.total.params == 224 + 1168 + 4624 + 1736 == 7752
    assert unet.total.output_shape == (8, 64, 64)
    assert unet.record("up_1.concat_1").output_shape == (32, 30, 30)
    # make_divisible(32, 8) = 32, make_divisible(16, 8) = 16 at w = 1.0
    assert width.total.params == 3 * 9 * 32 + 32 * 16 == 1376
    # at w = 0.35: make_divisible(11.2, 8) = 8 + 8 (8 < 0.9·11.2), make_divisible(5.6, 8) = 8
    narrow = analyse_text(examples[5], w=0.35)
    assert narrow.total.params == 3 * 9 * 16 + 16 * 8 == 560
    # dilations 1, 2, 4, 8 with kernel 2: length 64 − 15, field 1 + 15
    assert wavenet.total.output_shape == (16, 49)
    assert [f.size for f in wavenet.record("conv1d_4").rf] == [16]
    assert wavenet.total.params == 4 * (16 * 16 * 2 + 16) == 2112
    # full padding: 10 + (5 − 1) = 14, then 14 + (2 − 1) = 15
    assert full.record("conv1d_1").output_shape == (1, 14)
    assert full.total.output_shape == (1, 15)
    # learnedgroupconv, 64 → 32, G = C = 4: each output reads 64/4 = 16 channels; the index
    # holds 64·4/4 = 64 entries, BatchNorm's running statistics 2·64
    assert condensed.total.params == 2 * 64 + 32 * 16
    assert condensed.total.buffers == 2 * 64 + 64
