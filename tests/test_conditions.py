"""Free symbols: a closed form that holds only for some inputs says so, and --set values that
break it are refused with the condition they violate."""

from __future__ import annotations

import json

import pytest

from conftest import EXAMPLES

VALID_5X5 = """\
name: valid 5x5
symbols: {H: null, W: null}
input: [3, H, W]
layers:
  - conv2d: {name: c5, out: 8, kernel: 5}
"""
GROUPED = """\
symbols: {C: null, H: null}
input: [C, H, H]
layers:
  - conv2d: {name: grouped, out: 8, kernel: 3, groups: 4}
  - maxpool2d: {name: pool, kernel: 2}
"""


@pytest.fixture
def spec(spec_file):
    return spec_file


def _json(cli, *args):
    code, out, err = cli(*args, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def test_summary_lists_the_conditions(cli, spec):
    # A 5×5 valid convolution has output H − 5 + 1, a size only when H ≥ 5 (and W ≥ 5).
    path = spec(VALID_5X5)
    code, out, err = cli("summary", path, "--width", "400")
    assert code == 0, err
    assert f"Holds when H >= 5  [conv2d 'c5', {path}:5:5]" in out
    assert f"Holds when W >= 5  [conv2d 'c5', {path}:5:5]" in out
    assert out.count("Holds when") == 2
    conditions = _json(cli, "summary", path)["conditions"]
    assert [c["condition"] for c in conditions] == ["H >= 5", "W >= 5"]
    assert all(c["at"] == f"{path}:5:5" for c in conditions)


def test_a_condition_is_listed_once_per_layer(cli, spec):
    # A square kernel on [3, H, H] gives the same condition on both axes: listed once.
    path = spec(VALID_5X5.replace("{H: null, W: null}", "{H: null}").replace("H, W]", "H, H]"))
    assert [c["condition"] for c in _json(cli, "summary", path)["conditions"]] == ["H >= 5"]


def test_no_conditions_once_every_symbol_is_bound(cli, spec):
    path = spec(VALID_5X5)
    data = _json(cli, "summary", path, "--set", "H=5,W=9")
    assert data["conditions"] == []
    # (5 − 5)/1 + 1 = 1 and (9 − 5)/1 + 1 = 5
    assert data["total"]["output_shape"] == [8, 1, 5]


def test_set_that_violates_a_condition_is_refused(cli, spec):
    path = spec(VALID_5X5)
    code, out, err = cli("summary", path, "--set", "H=4", "--set", "W=9")
    assert code == 2 and out == ""
    assert err == (
        f"error: {path}:5:5: conv2d 'c5': --set H=4 violates H >= 5: kernel span 5 is larger "
        "than the padded input 4 on spatial axis 1 (input 4, padding 0+0); needs n + padding "
        "≥ d·(k−1)+1 (input [3, 4, 9])\n")


def test_dilated_example_names_its_condition(cli):
    # dilated.yaml: an F×F kernel with dilation D spans D·(F−1)+1 = 2·2+1 = 5 > M = 3.
    path = str(EXAMPLES / "dilated.yaml")
    code, out, err = cli("shapes", path, "--set", "M=3,N=10,F=3,D=2")
    assert code == 2
    assert err.startswith(f"error: {path}:7:5: conv2d 'dilated': --set M=3,F=3,D=2 violates "
                          "M >= D*(F - 1) + 1: kernel span 5 is larger than the padded input 3")
    assert err.count("\n") == 1


def test_dilated_example_at_the_boundary(cli):
    # M = 5 = D·(F−1)+1: output 5 − 5 + 1 = 1 row; N = 10: 10 − 5 + 1 = 6 columns.
    data = _json(cli, "shapes", str(EXAMPLES / "dilated.yaml"), "--set", "M=5,N=10,F=3,D=2")
    assert data["total"]["output_shape"] == [1, 1, 6]


def test_partial_set_keeps_the_remaining_condition(cli):
    # With M = 3 bound, the kernel condition becomes D·(F−1)+1 ≤ 3: still open (F = 1 works).
    data = _json(cli, "summary", str(EXAMPLES / "dilated.yaml"), "--set", "M=3")
    texts = [c["condition"] for c in data["conditions"]]
    assert "D*(F - 1) + 1 <= 3" in texts
    assert "N >= D*(F - 1) + 1" in texts


def test_groups_condition_names_divisibility(cli, spec):
    path = spec(GROUPED)
    code, out, err = cli("summary", path, "--set", "C=6")
    assert code == 2
    assert err == (f"error: {path}:4:5: conv2d 'grouped': --set C=6 violates C % 4 == 0: "
                   "groups 4 does not divide the input channels 6 (input [6, H, H])\n")


def test_condition_of_a_later_layer(cli, spec):
    # conv 3×3 valid: H − 2; 2×2 pool: ⌊(H − 2)/2⌋ = ⌊H/2⌋ − 1 ≥ 1 needs H ≥ 4. H = 3 fails there.
    path = spec(GROUPED)
    code, out, err = cli("summary", path, "--set", "C=8,H=3")
    assert code == 2
    assert err.startswith(f"error: {path}:5:5: maxpool2d 'pool': --set H=3 violates "
                          "floor(H/2) - 1 >= 1: output size 0")
    # H = 4: conv → 2, pool → 1.
    assert _json(cli, "shapes", path, "--set", "C=8,H=4")["total"]["output_shape"] == [8, 1, 1]


def test_pool_padding_condition(cli, spec):
    path = spec("symbols: {K: null, P: null}\ninput: [3, 32, 32]\nlayers:\n"
                "  - maxpool2d: {name: pool, kernel: K, padding: P}\n")
    texts = [c["condition"] for c in _json(cli, "summary", path)["conditions"]]
    assert "2*P <= K" in texts
    code, out, err = cli("summary", path, "--set", "K=3,P=2")
    assert code == 2
    assert err.startswith(f"error: {path}:4:5: maxpool2d 'pool': --set K=3,P=2 violates "
                          "2*P <= K: padding 2 is more than half the kernel 3")


def test_set_without_a_closed_form_still_names_the_values(cli, spec):
    # N passes of a shrinking body have no closed form in N to quote; the layer's own message
    # is kept and the --set values are named. 8 → 6 → 4 → 2, the 4th 3×3 fails.
    path = spec("symbols: {N: null}\ninput: [3, 8, 8]\nlayers:\n"
                "  - repeat: N\n    layers: [{conv2d: {out: 3, kernel: 3}}]\n")
    code, out, err = cli("summary", path, "--set", "N=4")
    assert code == 2
    assert err.startswith(f"error: {path}:5:15: conv2d 'conv2d_4': kernel span 3 is larger than "
                          "the padded input 2")
    assert err.endswith("(with --set N=4)\n")
    assert _json(cli, "shapes", path, "--set", "N=3")["total"]["output_shape"] == [3, 2, 2]


@pytest.mark.parametrize("value", ["0", "-3", "2.5", "7/2"])
def test_free_size_must_be_a_positive_whole_number(cli, spec, value):
    path = spec(VALID_5X5)
    code, out, err = cli("summary", path, "--set", f"H={value}")
    assert code == 2
    assert err.startswith(f"error: {path}: --set H=")
    assert err.endswith("'H' is a free size in this spec; give a positive whole number\n")
