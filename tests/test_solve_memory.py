"""archcalc solve with ``memory`` in a relation: the batch (or a size, or ZeRO's device count)
for which the network's total bytes fit.

The bytes are the memory verb's (tests/test_memory.py measures them against PyTorch); here a
hand derivation fixes the closed form on a small network, and on the zoo each answer is
checked against the memory verb's own verdict on either side of it.
"""

from __future__ import annotations

import json
from fractions import Fraction

import pytest

import archcalc

from conftest import EXAMPLES, SPECS

ALEXNET = SPECS / "alexnet-paper.yaml"
LINEAR = """
name: one linear
input: [100]
layers: [linear: {name: fc, out: 50}]
"""


def fits(spec, budget: int, **options) -> bool:
    """The memory verb's verdict on a device of ``budget`` bytes."""
    return archcalc.memory(spec, device_memory=budget, **options).fits


def test_largest_batch_of_a_linear_layer_by_hand(cli, spec_file):
    """Linear(100, 50) in fp32 inference: parameters (100·50 + 50)·4 = 20,200 bytes; the
    activations' peak is the input and the output alive together, (100 + 50)·4 = 600 bytes a
    sample. 20,200 + 600·B ≤ 10⁶ (1MB) ⇔ B ≤ 979,800/600 = 1,633, exactly: B = 1,633."""
    path = spec_file(LINEAR)
    code, out, _ = cli("solve", path, "--want", "memory <= 1MB", "--for", "B", "--largest",
                       "--range", "B=1:4096")
    assert code == 0
    assert "memory = 600*B + 20200 bytes" in out and "largest: B=1633" in out
    code, out, _ = cli("solve", path, "--want", "memory <= 999999", "--for", "B", "--largest",
                       "--range", "B=1:4096")
    assert "largest: B=1632" in out


def test_alexnet_largest_training_batch_in_3gib_is_the_memory_verbs(cli):
    """Krizhevsky et al. trained AlexNet on 3 GB GPUs; with SGD-momentum in fp32 the batch
    that fits 3GiB is the one the memory verb reports for --device-memory 3GiB."""
    code, out, _ = cli("solve", ALEXNET, "--want", "memory <= 3GiB", "--for", "B", "--train",
                       "--optimizer", "sgd-momentum", "--largest")
    assert code == 0 and "largest: B=198" in out
    m = archcalc.memory(ALEXNET, batch=128, train=True, optimizer="sgd-momentum",
                        device_memory="3GiB")
    assert m.largest_batch == 198
    train = dict(train=True, optimizer="sgd-momentum")
    assert fits(ALEXNET, 3 * 2**30, batch=198, **train)
    assert not fits(ALEXNET, 3 * 2**30, batch=199, **train)


def test_llama_inference_batch_and_context_in_a_device():
    """LLaMA-7B in bf16: the largest batch at its 2,048 tokens in 80 GB, and the longest
    context L at batch 1 in 16 GB; each the memory verb's fit on either side."""
    s = archcalc.solve(SPECS / "llama-7b.yaml", "memory <= 80GB", "B", pick="largest",
                       dtype="bf16")
    b = s.largest["B"]
    assert archcalc.memory(SPECS / "llama-7b.yaml", dtype="bf16",
                           device_memory="80GB").largest_batch == b
    s = archcalc.solve(SPECS / "llama-7b.yaml", "memory <= 16GB", "L", pick="largest",
                       range={"L": (1, 32768)}, dtype="bf16")
    longest = s.largest["L"]
    spec = SPECS / "llama-7b.yaml"
    assert fits(spec, 16 * 10**9, set={"L": longest}, dtype="bf16")
    assert not fits(spec, 16 * 10**9, set={"L": longest + 1}, dtype="bf16")


def test_zero3_devices_to_train_llama_in_80gb(cli):
    """ZeRO stage 3 partitions parameters, gradients and Adam's states over the devices:
    the fewest devices G for which each holds at most 80 GB at batch 1 (the spec's N is its
    layer count and D its width, so the devices are G); the memory verb agrees on either side."""
    spec = SPECS / "llama-7b.yaml"
    code, out, _ = cli("solve", spec, "--want", "memory <= 80GB", "--for", "G", "--train",
                       "--zero", "3", "--devices", "G", "--mixed", "--smallest",
                       "--format", "json")
    assert code == 0
    d = json.loads(out)["smallest"]["G"]
    options = dict(train=True, zero=3, mixed=True)
    assert fits(spec, 80 * 10**9, devices=d, **options)
    assert not fits(spec, 80 * 10**9, devices=d - 1, **options)


def test_batch_one_of_multihead_attention_is_its_own(cli):
    """nn.MultiheadAttention keeps views at batch 1 and copies from 2 on, so training at
    batch 1 takes less than the line fixed + per_sample·B says there: with the device
    holding batch 1's total exactly, B = 1 is the one solution; a byte less, none."""
    spec = EXAMPLES / "vit-block.yaml"
    m = archcalc.memory(spec, train=True)
    assert m.one_sample is not None and m.one_sample < m.fixed + m.per_sample
    s = archcalc.solve(spec, f"memory <= {m.one_sample}", "B", train=True)
    assert s.count == 1 and s.solutions == [{"B": 1}]
    assert any("memory at B = 1" in line for line in s.derivation)
    code, out, _ = cli("solve", spec, "--want", f"memory <= {m.one_sample - 1}", "--for", "B",
                       "--train")
    assert code == 1 and "no solution in the range" in out
    line = m.fixed + 2 * m.per_sample
    s = archcalc.solve(spec, f"memory <= {line}", "B", train=True)
    assert s.solutions == [{"B": 1}, {"B": 2}]


def test_batch_set_with_set_b_and_a_width_solved(cli):
    """--set B=8 is the batch, as in the memory verb; MobileNet v2's width w then solves
    over its pieces: the stem's make_divisible(32·w, 8) jumps from 16 to 24 channels where
    16 < 0.9·32·w (torchvision's _make_divisible), i.e. past w = 5/9, and at batch 8 in
    training that jump is what crosses 500 MB: the largest w is 5/9."""
    spec = SPECS / "mobilenet_v2.yaml"
    code, out, _ = cli("solve", spec, "--want", "memory <= 500MB", "--for", "w", "--set",
                       "B=8", "--train", "--largest", "--range", "w=0.5:1", "--format",
                       "json")
    assert code == 0
    answer = json.loads(out)
    end = answer["largest"]
    assert Fraction(end["numerator"], end["denominator"]) == Fraction(5, 9) \
        if isinstance(end, dict) else Fraction(str(end)) == Fraction(5, 9)
    options = dict(batch=8, train=True)
    assert fits(spec, 500 * 10**6, set={"w": 5 / 9}, **options)
    assert not fits(spec, 500 * 10**6, set={"w": 0.56}, **options)


@pytest.mark.parametrize("args, says", [
    (["--want", "fc.memory <= 1MB", "--for", "B"], "memory is the whole network's"),
    (["--want", "memory[0] <= 1MB", "--for", "B"], "takes no [index]"),
    (["--want", "params <= 1MB", "--for", "B", "--train"], "--train is a memory option"),
    (["--want", "params <= 10", "--for", "B"], "B names the batch only where"),
    (["--want", "memory <= 1.0005KB", "--for", "B"], "not a whole number of bytes"),
    (["--want", "memory <= 1MB", "--for", "B", "--batch", "2x"], "--batch"),
    (["--want", "memory <= 1MB", "--for", "B", "--optimizer", "lion", "--train"],
     "--optimizer lion"),
])
def test_memory_errors_are_located(cli, spec_file, args, says):
    code, out, err = cli("solve", spec_file(LINEAR), *args)
    assert code == 2 and says in err and "Traceback" not in err + out


def test_a_batch_named_as_a_spec_symbol_is_refused():
    """LLaMA's spec has a symbol N (its layers): a device count named N would be two
    symbols printed alike."""
    with pytest.raises(archcalc.SpecError, match="devices N"):
        archcalc.solve(SPECS / "llama-7b.yaml", "memory <= 80GB", "N", train=True, zero=3,
                       devices="N")


def test_largest_input_of_vgg16_training_in_8gib(tmp_path):
    """VGG16 with its input side H free (its adaptive pool takes any H ≥ 32): the kept
    activations are sums of floor(H/2ᵏ)² terms, evaluated exactly in integers; the largest H
    that trains at batch 32 in 8 GiB is the memory verb's fit on either side."""
    text = (SPECS / "vgg16.yaml").read_text().replace(
        "input: [3, 224, 224]", "symbols: {H: null}\ninput: [3, H, H]", 1)
    spec = tmp_path / "vgg16-free.yaml"
    spec.write_text(text)
    s = archcalc.solve(spec, "memory <= 8GiB", "H", pick="largest", range={"H": (32, 1024)},
                       batch=32, train=True)
    h = s.largest["H"]
    assert 32 < h < 1024 and "floor(H/32)" in s.derivation[-1]
    options = dict(batch=32, train=True)
    assert fits(spec, 8 * 2**30, set={"H": h}, **options)
    assert not fits(spec, 8 * 2**30, set={"H": h + 1}, **options)


def test_relations_past_64_bit_integers_are_exact(spec_file):
    """The linear layer's 20,200 + 600·B bytes to the fifth power passes 2⁶³: 20,800⁵ =
    3.89…·10²¹ ≤ 4·10²¹ < 21,400⁵ = 4.49…·10²¹, so B = 1 alone; a bound of 10²³ GB (past
    int64 itself) holds everywhere."""
    path = spec_file(LINEAR)
    s = archcalc.solve(path, "memory**5 <= 4*10**21", "B", range={"B": (1, 4)})
    assert s.solutions == [{"B": 1}]
    s = archcalc.solve(path, "memory <= 99999999999999999999999GB", "B", range={"B": (1, 4)})
    assert s.count == 4


def test_a_numeric_batch_above_one_has_no_batch_one_case(tmp_path):
    """At --batch 4 the multi-head attention block's total is the line from B = 2 itself: no
    batch-1 form is stated, and the longest sequence L that trains in 10⁶ bytes is the memory
    verb's fit on either side."""
    text = (EXAMPLES / "vit-block.yaml").read_text().replace(
        "input: [16, 48]", "symbols: {L: null}\ninput: [L, 48]", 1)
    spec = tmp_path / "vit-block-free.yaml"
    spec.write_text(text)
    s = archcalc.solve(spec, "memory <= 10**6", "L", pick="largest", range={"L": (1, 64)},
                       batch=4, train=True)
    assert not any("memory at" in line or "batch 1" in line for line in s.derivation)
    longest = s.largest["L"]
    assert fits(spec, 10**6, set={"L": longest}, batch=4, train=True)
    assert not fits(spec, 10**6, set={"L": longest + 1}, batch=4, train=True)
