"""The conditions a network states (archcalc/validity.py): each once, a size's lower bounds
reduced to the one that binds, and implied ones dropped — and, over the positive integers,
true exactly where every recorded condition is."""

from __future__ import annotations

import re

import pytest
import sympy as sp

from archcalc.analysis import analyse
from archcalc.dims import resolve
from archcalc.spec.loader import load_string
from archcalc.validity import stated

from conftest import ROOT

FREE = "symbols: {H: null, W: null}\n"


def free_spec(name: str) -> str:
    """A zoo spec with its input's spatial sizes made free symbols H and W."""
    text = (ROOT / "specs" / f"{name}.yaml").read_text()
    text, n = re.subn(r"^input: \[(\d+), \d+, \d+\]", r"input: [\1, H, W]", text, count=1,
                      flags=re.M)
    assert n == 1
    if re.search(r"^symbols: \{", text, flags=re.M):
        return re.sub(r"^symbols: \{", "symbols: {H: null, W: null, ", text, count=1,
                      flags=re.M)
    if re.search(r"^symbols:\n", text, flags=re.M):  # block style
        return re.sub(r"^symbols:\n", "symbols:\n  H: null\n  W: null\n", text, count=1,
                      flags=re.M)
    return FREE + text


def holds_everywhere(conditions, values: dict) -> bool:
    subs = {sp.Symbol(k, integer=True, positive=True): sp.Integer(v) for k, v in values.items()}
    return all(resolve(c.xreplace(subs)) is True for c, _, _ in conditions)


def test_squeezenet_states_its_least_input():
    """SqueezeNet 1.0 (torchvision): conv 7×7 stride 2, then three 3×3 stride-2 max pools in
    ceil mode. The last pool's output floor(H/16 − 21/16) + 1 ≥ 1 needs H ≥ 21, and every
    earlier bound (H ≥ 7 at conv1, H ≥ 9 at maxpool1, …) follows from it: of 28 recorded
    bounds, two are stated, at maxpool8."""
    a = analyse(load_string(free_spec("squeezenet1_0"), "squeezenet.yaml"))
    assert len(a.conditions) == 28
    texts = [(str(c), m.split(":")[0]) for c, m, _ in a.stated_conditions]
    assert texts == [("H >= 21", "maxpool2d 'maxpool8'"), ("W >= 21", "maxpool2d 'maxpool8'")]


@pytest.mark.parametrize("name, lo, hi", [("squeezenet1_0", 1, 60), ("unet", 170, 240),
                                          ("densenet121", 1, 60), ("googlenet", 1, 60),
                                          ("inception_v3", 60, 100)])
def test_stated_conditions_hold_exactly_where_the_recorded_ones_do(name, lo, hi):
    """Equivalence, point by point, over a range of sizes around the least one (and off the
    diagonal)."""
    a = analyse(load_string(free_spec(name), f"{name}.yaml"))
    for h in range(lo, hi):
        for w in (h, h + 5):
            point = {"H": h, "W": w}
            assert holds_everywhere(a.stated_conditions, point) == \
                holds_everywhere(a.conditions, point), (name, point)


def test_unet_crops_hold_at_every_size():
    """U-Net (Ronneberger et al. 2015, as specs/unet.yaml): the four crops of the skip
    connections need the decoder's map no larger than the encoder's, e.g. at the first
    level 16·⌊H/16 − 19/4⌋ − 104 ≤ H − 4. The difference gains 0 over every 16 pixels
    (16·(1/16) − 1) and is ≥ 0 at H = 1 … 16, so it holds at every size: the layer decides
    it (archcalc/periodic.py) and records no condition, and H ≥ 188, W ≥ 188 (the valid
    convolutions' least input) is all that is stated."""
    H = sp.Symbol("H", integer=True, positive=True)
    first = sp.Le(16 * sp.floor(H / 16 - sp.Rational(19, 4)) - 104, H - 4)
    assert all(first.xreplace({H: h}) for h in range(1, 17))
    a = analyse(load_string(free_spec("unet"), "unet.yaml"))
    assert a.graph.nodes and any(n.type == "crop" for n in a.graph.nodes)
    assert not any("crop" in m for _, m, _ in a.conditions)
    assert [str(c) for c, _, _ in a.stated_conditions] == ["H >= 188", "W >= 188"]


def test_other_conditions_are_kept_once():
    H = sp.Symbol("H", integer=True, positive=True)
    W = sp.Symbol("W", integer=True, positive=True)
    div = sp.Eq(sp.Mod(H, 4), 0)
    both = sp.Ge(H - W, 0)
    out = stated([(div, "a: x", None), (div, "b: x", None), (both, "c: y", None),
                  (sp.Ge(sp.floor(H / 2), 1), "d: z", None), (sp.Ge(H, 1), "e: w", None)])
    assert [(c, m) for c, m, _ in out] == [(div, "a: x"), (both, "c: y"), (sp.Ge(H, 2), "d: z")]


def test_a_bound_that_decreases_or_a_failing_period_is_kept():
    H = sp.Symbol("H", integer=True, positive=True)
    falling = sp.Ge(10 - H, 0)  # an upper bound: kept as written
    odd = sp.Ge(sp.floor(H / 2) * 2 - H, 0)  # holds at even H only: not implied
    out = stated([(falling, "a: x", None), (odd, "b: y", None), (sp.Ge(H, 3), "c: z", None)])
    assert [c for c, _, _ in out] == [falling, odd, sp.Ge(H, 3)]


def test_cli_prints_the_stated_conditions(cli, tmp_path):
    path = tmp_path / "sq.yaml"
    path.write_text(free_spec("squeezenet1_0"))
    code, out, err = cli("params", str(path), "--depth", "0")
    assert code == 0, err
    assert [line.split("  [")[0] for line in out.splitlines() if line.startswith("Holds")] == \
        ["Holds when H >= 21", "Holds when W >= 21"]


# torchvision's published least input of each model: the "min_size" of its weights' meta
# (torchvision/models/alexnet.py (63, 63), vgg.py (32, 32), googlenet.py (15, 15),
# inception.py (75, 75), squeezenet.py (21, 21) and (17, 17), densenet.py _COMMON_META
# (29, 29), convnext.py (32, 32); resnet.py, mobilenetv2.py, mobilenetv3.py,
# efficientnet.py, shufflenetv2.py, mnasnet.py and regnet.py (1, 1)).
TORCHVISION_MIN_SIZE = {"alexnet": 63, "vgg16": 32, "googlenet": 15, "inception_v3": 75,
                        "squeezenet1_0": 21, "squeezenet1_1": 17, "densenet121": 29,
                        "densenet161": 29, "convnext_tiny": 32, "resnet50": 1,
                        "mobilenet_v2": 1, "mobilenet_v3_large": 1, "efficientnet_b0": 1,
                        "shufflenet_v2_x1_0": 1, "mnasnet1_0": 1, "regnet_x_400mf": 1}


@pytest.mark.parametrize("name", sorted(TORCHVISION_MIN_SIZE))
def test_the_stated_least_input_is_torchvisions_min_size(name):
    a = analyse(load_string(free_spec(name), f"{name}.yaml"))
    least = TORCHVISION_MIN_SIZE[name]
    expected = [] if least == 1 else [f"H >= {least}", f"W >= {least}"]
    assert [str(c) for c, _, _ in a.stated_conditions] == expected
