"""Activation checkpointing per block (archcalc/checkpointing.py): the bytes kept through
the forward pass, the recomputation peak, and the training FLOPs with recomputation, from
derivations, from a published formula, and measured in PyTorch with reentrant
torch.utils.checkpoint (archcalc/torch_backend/checkpoint.py)."""

from __future__ import annotations

import pytest
import sympy as sp

import archcalc
from archcalc import footprint as fp
from archcalc.activations import saved
from archcalc.analysis import analyse
from archcalc.checkpointing import select
from archcalc.errors import SpecError
from archcalc.spec.loader import load, load_string
from archcalc.training import training

# A stem (1×1 convolution, 3 → 4 channels) and two blocks (3×3 convolution, 4 → 4, padding 1,
# then ReLU) on an 8×8 image: every tensor after the stem has 4·8·8 = 256 elements.
SMALL = """
name: small
input: [3, 8, 8]
blocks:
  block:
    layers: [conv2d: {out: 4, kernel: 3, padding: 1}, relu]
layers: [conv2d: {name: stem, out: 4, kernel: 1}, block, block]
"""


def _small():
    return analyse(load_string(SMALL, "small.yaml"))


def test_small_network_kept_bytes_by_derivation():
    """fp32, batch 1. Without checkpointing (activations.py): the stem keeps the image for
    its weight gradient (3·64·4 = 768 bytes), each block's convolution its input (the stem's
    output, 1,024; then relu_1's output, which relu_1 keeps already) and each ReLU its
    output (1,024): 768 + 3·1,024 = 3,840. With both blocks checkpointed, each checkpoint
    keeps its block's input only: the stem's output (1,024) and block_1's output (1,024),
    at the blocks' first layers; the stem still keeps the image: 768 + 2·1,024 = 2,816.
    Recomputing one block keeps its ReLU's output anew (1,024); its convolution's input is
    the checkpoint's own (the detached input shares its storage), not counted again."""
    a = _small()
    assert saved(a, 4, 1).total == 3840
    s = saved(a, 4, 1, checkpoint=["block"])
    assert s.total == 2816
    assert s.per_layer == {"stem": 768, "block_1.conv2d_1": 1024, "block_1.relu_1": 0,
                           "block_2.conv2d_1": 1024, "block_2.relu_1": 0}
    assert s.recompute == {"block_1": 1024, "block_2": 1024}


def test_small_network_memory_counts_the_recomputation_peak():
    """The training total adds the largest group's recomputation to what is kept through
    the forward pass: at batch B, 2,816·B + 1,024·B (every kept tensor grows with B).
    Parameters: stem 3·4 + 4 = 16, each block 4·4·9 + 4 = 148: 312 parameters, fp32 and
    SGD without state: 2 · 312 · 4 = 2,496 bytes of weights and gradients."""
    m = fp.compute(_small(), batch="B", train=True, optimizer="sgd", checkpoint=["block"])
    B = sp.Symbol("B", integer=True, positive=True)
    comps = dict(m.components)
    assert comps["saved for backward"] == 2816 * B
    assert comps["recomputation of one checkpointed group"] == 1024 * B
    assert m.recompute_peak == 3840 * B
    assert m.total_bytes == 2496 + 3840 * B
    assert m.checkpointed == ("block_1", "block_2")
    assert m.batch_one_total == 2496 + 3840  # the total at B = 1, with its recomputation
    # a device of 2,496 + 3,840·10 bytes holds exactly 10 samples
    fit = fp.compute(_small(), batch=1, train=True, optimizer="sgd", checkpoint=["block"],
                     device_memory=2496 + 38400)
    assert fit.largest_batch == 10


def test_small_network_training_flops_by_derivation():
    """MACs per sample: the stem 4·3·64 = 768, each block's convolution 4·4·9·64 = 9,216.
    Training without checkpointing: the stem's forward and weight gradient (its input, the
    image, needs none) 2·768, each block 3·9,216: 56,832 MACs. Checkpointed, each block's
    forward runs again in backward: + 2·9,216 = 75,264 MACs, 150,528 FLOPs."""
    a = _small()
    assert training(a).total.macs == 56832
    t = training(a, ["block"])
    assert t.total.recompute == 18432
    assert t.total.flops == 150528
    assert archcalc.analyse(SMALL).train_flops(checkpoint=["block"]).recompute == 36864


def test_outermost_selection_wins():
    """A block inside a checkpointed group is not checkpointed again: in ResNet-18, naming
    both 'stage' (layer2-layer4) and 'basic' checkpoints layer1's two basic blocks and the
    three stages, and keeps what naming those five groups does."""
    a = analyse(load("specs/resnet18.yaml"))
    both = select(a.graph, ["stage,basic"])
    assert [a.graph.groups[g].name for g in both.groups] == \
        ["layer1.basic_1", "layer1.basic_2", "layer2", "layer3", "layer4"]
    named = ["layer1.basic_1", "layer1.basic_2", "layer2", "layer3", "layer4"]
    assert saved(a, 4, 2, checkpoint=both).total == saved(a, 4, 2, checkpoint=named).total


def test_korthikanti_full_recomputation_keeps_2sbh_per_layer():
    """Korthikanti et al. 2022 ("Reducing Activation Recomputation in Large Transformer
    Models", arXiv:2205.05198, the full activation recomputation of Section 5): storing
    only each transformer layer's input takes 2·s·b·h bytes per layer at 16-bit (2sbhL in
    all). GPT-2 (s = 1,024, h = 768) at fp16 with every block checkpointed, batch 1 and 4:
    each block's row keeps exactly 2·1,024·b·768 bytes."""
    for b in (1, 4):
        m = archcalc.memory("specs/gpt2.yaml", batch=b, dtype="fp16", train=True,
                            checkpoint=["block"])
        blocks = [r for r in m.layers if r.type == "block"]
        assert len(blocks) == 12
        assert all(r.saved == 2 * 1024 * b * 768 for r in blocks)


def test_repeat_over_a_free_symbol_counts_n_inputs():
    """GPT-2 with n_layer free, fp16, 8 tokens, every block checkpointed: the block is built
    once for n_layer passes, so the kept bytes grow by 2·8·768 = 12,288 per block; the same
    total as n_layer = 3 built out."""
    a = analyse(load("specs/gpt2.yaml", {"L": 8, "n_layer": None}))
    n = next(s for s in a.graph.symbols.values() if str(s) == "n_layer")
    m = fp.compute(a, train=True, precision_=fp.precision("fp16"), checkpoint=["block"])
    kept = dict(m.components)["saved for backward"]
    assert sp.expand(kept).coeff(n) == 2 * 8 * 768
    three = fp.compute(analyse(load("specs/gpt2.yaml", {"L": 8, "n_layer": 3})), train=True,
                       precision_=fp.precision("fp16"), checkpoint=["block"])
    assert kept.subs(n, 3) == dict(three.components)["saved for backward"]
    assert m.recompute_peak.subs(n, 3) == three.recompute_peak
    t = training(a, ["block"])
    assert sp.expand(t.total.recompute).coeff(n) == \
        training(analyse(load("specs/gpt2.yaml", {"L": 8, "n_layer": 1})), ["block"]
                 ).total.recompute


def test_bad_names_and_options():
    a = _small()
    with pytest.raises(SpecError, match=r"checkpoint 'blok'.*did you mean 'block'"):
        select(a.graph, ["blok"])
    with pytest.raises(SpecError, match="needs training memory"):
        fp.compute(a, checkpoint=["block"])
    with pytest.raises(SpecError, match="no input of it needs a gradient"):
        saved(analyse(load_string(SMALL.replace("conv2d: {name: stem, out: 4, kernel: 1}, ", ""),
                                  "x.yaml")), 4, 1, checkpoint=["block_1"])


def test_cli_reports_without_train(cli, tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    code, out, err = cli("memory", str(path), "--checkpoint", "block")
    assert code == 2 and out == ""
    assert err == ("error: --checkpoint block changes what training keeps for the backward "
                   "pass: add --train\n")
    code, out, err = cli("memory", str(path), "--train", "--checkpoint", "block_1",
                         "--checkpoint", "block_2", "--format", "json")
    assert code == 0
    import json

    obj = json.loads(out)
    assert obj["checkpoint"] == {"groups": ["block_1", "block_2"],
                                 "recompute_bytes": {"block_1": 1024, "block_2": 1024},
                                 "largest": "block_1", "kept_forward_bytes": 2816,
                                 "peak_bytes": 3840}


# ---------------------------------------------------------------- measured in PyTorch
torch = pytest.importorskip("torch")


def _verified(spec, names, overrides=None):
    result = archcalc.verify(spec, overrides, rf="off", samples=1, device="cpu", saved=True,
                             train=True, checkpoint=names)
    metrics = {r.metric for r in result.results}
    assert {"saved", "train"} <= metrics
    bad = [r for r in result.results if not r.match]
    assert not bad, bad[:5]
    return result


def test_measured_small_network(tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    r = _verified(str(path), ["block"])
    total = next(c for c in r.results if c.layer == "total" and c.metric == "saved")
    assert total.measured == 2816 * 2  # --saved-batch 2


def test_measured_resnet18_basic_blocks():
    """ResNet-18 with every residual block checkpointed (the downsampling ones too): the
    bytes kept through the forward pass per layer and in total, and FlopCounterMode's
    training FLOPs with the recomputation, equal the closed forms."""
    _verified("specs/resnet18.yaml", ["basic", "basic_down"])


def test_measured_transformer_block():
    """A small GPT-2 (2 blocks, 8 tokens, width 64, 4 heads) with the second block
    checkpointed, and with both."""
    small = {"n_layer": 2, "L": 8, "n_ctx": 8, "vocab": 50, "d_model": 64, "n_head": 4}
    _verified("specs/gpt2.yaml", ["h.block_2"], small)
    _verified("specs/gpt2.yaml", ["block"], small)
