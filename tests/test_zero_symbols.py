"""Whole-number symbols that may be 0 (``symbols: {p: {min: 0}}``): a padding, an output
padding. Free, such a symbol is a non-negative integer; ``--set`` takes 0; ``sweep`` and
``solve`` ranges may start at 0 (solve's default range does); the spec's validity conditions
still hold at 0. Expected sizes from PyTorch's convolution formula
out = ⌊(n + 2p − d(k − 1) − 1)/s⌋ + 1 (torch.nn.Conv2d documentation)."""

from __future__ import annotations

import pytest
import sympy as sp

import archcalc

PADDED = """
symbols: {p: {min: 0}}
input: [3, 32, 32]
layers: [conv2d: {name: conv1, out: 8, kernel: 5, padding: p}]
"""
SMALL = PADDED.replace("[3, 32, 32]", "[3, 3, 3]")


def test_a_free_padding_from_0_is_a_nonnegative_symbol():
    """32 + 2p − 5 + 1 = 2p + 28, with p ≥ 0: 28 at p = 0 ("valid")."""
    a = archcalc.analyse(PADDED)
    p = sp.Symbol("p", integer=True, nonnegative=True)
    assert a["conv1"].output_shape == (8, 2 * p + 28, 2 * p + 28)
    assert archcalc.analyse(PADDED, set={"p": 0})["conv1"].output_shape == (8, 28, 28)


def test_solve_finds_padding_0():
    """2p + 28 = 28 ⇔ p = 0, in the default range 0..1024; = 32 ⇔ p = 2."""
    s = archcalc.solve(PADDED, "conv1.shape[1] = 28", "p")
    assert s.solutions == [{"p": 0}] and s.ranges == {"p": (0, 1024)}
    assert archcalc.solve(PADDED, "conv1.shape[1] = 32", "p").solutions == [{"p": 2}]


def test_validity_conditions_hold_at_0():
    """A 5×5 kernel on a 3×3 input needs 3 + 2p ≥ 5, so p ≥ 1: p = 0 is no solution, though
    its formula (2p − 1 = −1 ≤ 1) would say so, and --set p=0 is refused."""
    s = archcalc.solve(SMALL, "conv1.shape[1] <= 1", "p", range={"p": (0, 4)})
    assert s.solutions == [{"p": 1}]
    with pytest.raises(archcalc.SpecError, match="kernel span 5 is larger"):
        archcalc.analyse(SMALL, set={"p": 0})


def test_sweep_from_0():
    s = archcalc.sweep(PADDED, "p=0:2")
    assert s.inputs["p"] == [0, 1, 2] and s.columns["out1"] == [28, 30, 32]


def test_a_positive_symbol_refuses_a_range_from_0(cli, spec_file):
    path = spec_file(PADDED.replace("{p: {min: 0}}", "{p: null}"))
    code, _, err = cli("solve", path, "--want", "conv1.shape[1] = 28", "--for", "p",
                       "--range", "p=0:3")
    assert code == 2 and "--range p=0:3" in err and "{min: 0}" in err
    code, _, err = cli("sweep", path, "--over", "p=0:3")
    assert code == 2 and "--over p=0:3" in err and "{min: 0}" in err


@pytest.mark.parametrize("declared, says", [
    ("{min: 2}", "min is 0"),
    ("{min: true}", "min is 0"),
    ("{min: 0, real: true}", "'min' is for a whole-number symbol"),
    ("{min: 0, default: [1]}", "the default must be a number"),
    ("{mni: 0}", "unknown key 'mni'"),
])
def test_bad_declarations_are_located(cli, spec_file, declared, says):
    code, _, err = cli("params", spec_file(PADDED.replace("{p: {min: 0}}", f"{{p: {declared}}}")))
    assert code == 2 and says in err and ":2:" in err


def test_set_refuses_a_negative_value(cli, spec_file):
    code, _, err = cli("shapes", spec_file(PADDED), "--set", "p=-1")
    assert code == 2 and "--set p=-1" in err and "≥ 0" in err


def test_default_from_0_is_overridable_with_0(spec_file):
    text = PADDED.replace("{p: {min: 0}}", "{p: {min: 0, default: 2}}")
    assert archcalc.analyse(text)["conv1"].output_shape == (8, 32, 32)
    assert archcalc.analyse(text, set={"p": 0})["conv1"].output_shape == (8, 28, 28)
