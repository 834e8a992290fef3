"""archcalc solve / archcalc.solve: inverse questions answered exactly.

Each expected value below is derived by hand in its test's docstring from PyTorch's output
size formula out = floor((in + 2·padding − dilation·(kernel − 1) − 1)/stride) + 1
(torch.nn.Conv2d and MaxPool2d documentation) and the receptive-field recurrence
r ← r + (k − 1)·j (Araujo et al., "Computing Receptive Fields of CNNs", Distill 2019).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import archcalc

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"


def free_input(name: str, tmp_path, channels: int) -> Path:
    """specs/NAME.yaml with its input made [channels, H, H], H a free symbol."""
    text = (SPECS / f"{name}.yaml").read_text()
    text, n = re.subn(r"^input: \[.*\]$", f"symbols: {{H: null}}\ninput: [{channels}, H, H]",
                      text, count=1, flags=re.M)
    assert n == 1
    path = tmp_path / f"{name}-free.yaml"
    path.write_text(text)
    return path


SAME = """
symbols: {H: null, k: null, p: null}
input: [3, H, H]
layers: [conv2d: {name: c, out: 8, kernel: k, padding: p}]
"""

STACK = """
symbols: {n: null}
input: [3, 512, 512]
layers:
  - repeat: n
    layers: [conv2d: {out: 3, kernel: 3, padding: 1}]
"""

WIDTH = """
name: width
symbols: {w: null}
input: [3, 32, 32]
layers:
  - conv2d: {out: w, kernel: 3, padding: 1}
  - conv2d: {out: w, kernel: 3, padding: 1}
  - adaptiveavgpool2d: {out: 1}
  - flatten
  - linear: {out: 10}
"""


def test_same_padding_closed_form():
    """Stride 1: out = H + 2p − k + 1; out = H ⇔ p = (k − 1)/2, a whole number for odd k."""
    r = archcalc.solve(SAME, "c.shape[1] = H", "p")
    k = archcalc.analyse(SAME).symbols["k"]
    import sympy

    assert sympy.expand(r.closed_form["p"] - (k - 1) / 2) == 0
    assert r.method.startswith("sympy solve")
    assert any("divisible by 2" in d for d in r.derivation)


def test_same_padding_enumerated_for_a_given_kernel():
    """With k = 5 and H = 32 bound, the one solution is p = (5 − 1)/2 = 2."""
    r = archcalc.solve(SAME, "c.shape[1] = 32", "p", set={"H": 32, "k": 5})
    assert (r.count, r.smallest) == (1, {"p": 2})


def test_conv_stack_depth_for_rf_100():
    """n 3×3 stride-1 convs: r = 1 + 2n ≥ 100 ⇔ n ≥ 49.5, so the smallest n is 50."""
    r = archcalc.solve(STACK, "rf >= 100", "n", pick="smallest")
    assert r.smallest == {"n": 50}
    assert r.largest == {"n": 1024} and r.default_range


def test_vgg16_inputs_for_a_7x7_map(tmp_path):
    """Five 2×2/2 pools after size-keeping 3×3 convs: floor(H/32) = 7 ⇔ 224 ≤ H ≤ 255."""
    r = archcalc.solve(free_input("vgg16", tmp_path, 3), "stage5.shape[1] = 7", "H")
    assert (r.count, r.smallest, r.largest) == (32, {"H": 224}, {"H": 255})
    assert r.solutions == [{"H": h} for h in range(224, 256)]


def test_resnet50_smallest_input(tmp_path):
    """ResNet-50's stem: 7×7/2 pad 3 gives floor((H − 1)/2) + 1 ≥ 1 for every H ≥ 1, the
    3×3/2 pad-1 max pool floor((h − 1)/2) + 1 ≥ 1 for h ≥ 1; each stride-2 3×3 pad-1 conv
    and 1×1/2 shortcut likewise maps 1 to 1, and the adaptive average pool takes any size.
    So the smallest input it accepts is 1×1 (and so is every larger one)."""
    path = free_input("resnet50", tmp_path, 3)
    r = archcalc.solve(path, "output.shape[0] = 1000", "H", pick="smallest")
    assert r.smallest == {"H": 1} and r.count == 1024


def test_unet_exact_crops(tmp_path):
    """U-Net (Ronneberger et al. 2015, Section 2: every 2×2 pooling on an even size). enc1 =
    H − 4, enc2 = H/2 − 6, enc3 = H/4 − 14/2 …: all four even ⇔ H ≡ 188 (mod 16), H ≥ 188;
    the paper's 572 = 16·24 + 188 is one of them."""
    path = free_input("unet", tmp_path, 1)
    wants = [f"enc{i}.shape[1] % 2 = 0" for i in range(1, 5)]
    r = archcalc.solve(path, wants, "H")
    assert r.smallest == {"H": 188}
    assert r.family == {"symbol": "H", "period": 16, "residues": [188], "from": 188,
                        "proved": True}
    assert r.count == len(range(188, 1025, 16))
    assert "proved" in r.method


def test_width_for_5m_parameters():
    """params = (27w + w) + (9w² + w) + (10w + 10) = 9w² + 39w + 10; w = 743 gives
    4,997,428 ≤ 5,000,000 and w = 744 gives 5,010,850: the largest width is 743."""
    r = archcalc.solve(WIDTH, "params <= 5e6", "w", pick="largest")
    assert r.largest == {"w": 743}
    assert "9*w**2 + 39*w + 10" in r.derivation[0]


def test_no_solution_exits_1(cli, tmp_path):
    """r = 1 + 2n ≤ 201 for n ≤ 100: no n in 1..100 reaches 10,000."""
    path = tmp_path / "stack.yaml"
    path.write_text(STACK)
    code, out, _ = cli("solve", path, "--want", "rf >= 10000", "--for", "n", "--range",
                       "n=1:100")
    assert code == 1 and "no solution in the range" in out


def test_cli_json(cli, tmp_path):
    """The JSON of the VGG16 question: 32 solutions from 224 to 255 (as above)."""
    path = free_input("vgg16", tmp_path, 3)
    code, out, _ = cli("solve", path, "--want", "stage5.shape[1] = 7", "--for", "H",
                       "--range", "H=200:300", "-f", "json")
    data = json.loads(out)
    assert code == 0
    assert (data["count"], data["smallest"], data["largest"]) == (32, {"H": 224}, {"H": 255})
    assert data["range"] == {"H": [200, 300]} and data["default_range"] is False


@pytest.mark.parametrize("want, fragment", [
    ("c.shape[1] = ", "a side of '=' is empty"),
    ("c.shape[1] H", "expected one relation"),
    ("cc.shape[1] = H", "no layer or block named 'cc'"),
    ("c.shap[1] = H", "unknown quantity 'shap'"),
    ("c.shape[7] = H", "the shape has 3 entries"),
    ("c.params[0] = 3", "takes no [index]"),
])
def test_bad_wants(cli, tmp_path, want, fragment):
    path = tmp_path / "same.yaml"
    path.write_text(SAME)
    code, _, err = cli("solve", path, "--want", want, "--for", "p")
    assert code == 2 and fragment in err and "Traceback" not in err
