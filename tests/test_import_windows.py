"""archcalc import torch on window attention: the plain-PyTorch Swin-T and MaxViT-T of
tests/torch_transformer_models.py (torchvision's layout) go through torch.fx at the input's
sizes (their forwards branch on sizes and fold windows into the batch axis) and give exactly
the params and MACs of specs/swin_t.yaml and specs/maxvit_t.yaml and PyTorch's own count of
the same module (parameters(), FlopCounterMode); the imported specs pass verify; the spec
holds the traced sizes, so --free is refused; a partition it does not recognise stays an
error.
"""

from __future__ import annotations

import re
import sys

import pytest

from conftest import ROOT

torch = pytest.importorskip("torch")

sys.path.insert(0, str(ROOT / "tests"))

import torch_transformer_models as tv  # noqa: E402

import archcalc  # noqa: E402
from archcalc.analysis import analyse  # noqa: E402
from archcalc.errors import SpecError  # noqa: E402
from archcalc.spec.loader import load, load_string  # noqa: E402
from archcalc.torch_backend.importer import import_torch  # noqa: E402

HOW = "by archcalc import torch (torch.fx at the input's sizes)."


def _layers(text: str, kind: str) -> list:
    """The arguments (without the name) of every ``kind`` layer in the imported spec."""
    found = re.findall(rf"^\s*- {kind}: \{{(.*)\}}\s*$", text, flags=re.M)
    return [re.sub(r"^name: [^,]*(, )?", "", a) for a in found]


@pytest.mark.parametrize("side", [224, 56])
def test_swin_t_imports_to_the_spec_counts(side, tmp_path):
    """At 224 every stage side (56, 28, 14, 7) is whole windows; at 56 (14, 7, 4, 2) the
    last two stages pad to one 7x7 window and cut back, with no shift, and PatchMerging
    pads the odd side 7."""
    shape = (3, side, side)
    text = import_torch("torch_transformer_models:swin_t", shape)
    assert HOW in text.splitlines()[0]
    got = analyse(load_string(text, "imported.yaml"))
    want = analyse(load(str(ROOT / "specs" / "swin_t.yaml"), {"res": side}))
    assert (got.total.params, got.total.macs) == (want.total.params, want.total.macs)
    params, out, macs = tv.measure(tv.swin_t, shape)
    assert (got.total.params, got.total.macs) == (params, macs)
    assert tuple(got.total.output_shape) == out
    if side == 224:
        assert (got.total.params, got.total.macs) == (28_288_354, 4_490_566_656)
    windows = sum(text.count(f"- {k}:") for k in ("windowpartition", "windowmerge"))
    assert windows and all("bias_table: 169" in a for a in _layers(text, "attention"))
    assert any("shifts: [-3, -3], dims: [0, 1]" in a for a in _layers(text, "roll"))
    assert bool(_layers(text, "zeropad")) == (side == 56)
    assert bool(_layers(text, "slice")) == (side == 56)
    assert _layers(text, "pixelunshuffle")
    if side == 56:  # the whole network verified where it is small
        spec = tmp_path / "swin.yaml"
        spec.write_text(text, encoding="utf-8")
        result = archcalc.verify(str(spec), rf="off")
        assert result.ok and not result.mismatches and result.checked > 0


def test_maxvit_t_imports_to_the_spec_counts(tmp_path):
    """MaxViT-T at 224, where its stage sides 56, 28, 14, 7 are whole 7x7 partitions:
    window and grid partitions, attention with a bias table and the scale C^-0.5; counts
    as the spec and PyTorch, and verify passes."""
    shape = (3, 224, 224)
    text = import_torch("torch_transformer_models:maxvit_t", shape)
    assert HOW in text.splitlines()[0]
    got = analyse(load_string(text, "imported.yaml"))
    want = analyse(load(str(ROOT / "specs" / "maxvit_t.yaml")))
    assert (got.total.params, got.total.macs) == (want.total.params, want.total.macs)
    params, out, macs = tv.measure(tv.maxvit_t, shape)
    assert (got.total.params, got.total.macs) == (params, macs)
    partitions = _layers(text, "windowpartition")
    assert sum("grid: true" in a for a in partitions) == sum(
        "grid: true" not in a for a in partitions) > 0
    assert all("bias_table: 169" in a and "scale:" in a for a in _layers(text, "attention"))
    spec = tmp_path / "maxvit.yaml"
    spec.write_text(text, encoding="utf-8")
    result = archcalc.verify(str(spec), rf="off")
    assert result.ok and not result.mismatches and result.checked > 0


def test_free_sizes_are_refused_for_a_forward_traced_at_its_sizes(cli):
    with pytest.raises(SpecError, match="traced at the input's sizes"):
        import_torch("torch_transformer_models:swin_t", (3, 56, 56), free=("H", "W"))
    code, out, err = cli("import", "torch", "torch_transformer_models:swin_t",
                         "--input", "3,56,56", "--free", "H,W")
    assert code == 2 and out == "" and err.startswith("error: --free H,W: ")
    assert "Traceback" not in err


MODEL = """
import torch
from torch import nn


class Windows(nn.Module):
    '''7x7 windows of a channels-last map folded into the batch axis, {how}.'''

    def __init__(self):
        super().__init__()
        self.mix = nn.Linear(8, 8)

    def forward(self, x):
        b, c, h, w = x.shape
        if h > 7:  # a branch on a size: torch.fx cannot trace it symbolically
            x = x.permute(0, 2, 3, 1)
        t = x.reshape(b, h // 7, 7, w // 7, 7, c).permute({order})
        t = self.mix(t.reshape(-1, 49, c))
        t = t.reshape(b, h // 7, w // 7, 7, 7, c).permute(0, 1, 3, 2, 4, 5)
        return t.reshape(b, h, w, c)
"""


def test_windows_by_the_layout_are_mapped_and_others_refused(cli, tmp_path):
    """Swin's partition and merge around a Linear become windowpartition, linear,
    windowmerge; windows taken in another order (columns before rows) are no partition
    archcalc knows: the view across the batch axis is refused, with the op named."""
    good = tmp_path / "good_windows.py"
    good.write_text(MODEL.format(how="as Swin", order="0, 1, 3, 2, 4, 5"), encoding="utf-8")
    text = import_torch(f"{good}:Windows", (8, 14, 14))
    got = analyse(load_string(text, "imported.yaml"))
    assert _layers(text, "windowpartition") == ["size: 7"]
    assert _layers(text, "windowmerge") == ["size: 7, height: 14, width: 14"]
    assert got.total.params == 72 and got.total.macs == 4 * 49 * 8 * 8
    assert tuple(got.total.output_shape) == (14, 14, 8)
    bad = tmp_path / "bad_windows.py"
    bad.write_text(MODEL.format(how="columns first", order="0, 3, 1, 2, 4, 5"),
                   encoding="utf-8")
    code, out, err = cli("import", "torch", f"{bad}:Windows", "--input", "8,14,14")
    assert code == 2 and out == "" and "Traceback" not in err
    assert "no archcalc layer for tensor.reshape across the batch axis" in err, err


def test_a_value_from_a_tensor_is_refused_when_traced_at_the_sizes(tmp_path):
    """Tracing at the input's sizes runs the forward on zeros: a Python number taken from a
    tensor's values (``.item()``) or a branch on a tensor would hold at zeros only, so it is
    refused, while sizes are numbers and a roll is mapped."""
    from archcalc.torch_backend.importer import build_module, trace_at_sizes

    path = tmp_path / "scaled.py"
    path.write_text(
        "import torch\nfrom torch import nn\n"
        "class Scaled(nn.Module):\n"
        "    def forward(self, x):\n"
        "        if x.shape[-1] > 4:\n            x = torch.roll(x, 1, 2)\n"
        "        return x * float(x.mean().item())\n"
        "class Branchy(nn.Module):\n"
        "    def forward(self, x):\n"
        "        return torch.roll(x, 1, 2) if x.sum() > 0 else x\n"
        "class Rolled(nn.Module):\n"
        "    def forward(self, x):\n"
        "        if x.shape[-1] > 4:\n            x = torch.roll(x, 1, 2)\n"
        "        return x\n", encoding="utf-8")
    for name, fragment in (("Scaled", r"a Python value from a tensor's values \(item\)"),
                           ("Branchy", "a branch on a tensor's values")):
        model = build_module(f"{path}:{name}", None)
        with pytest.raises(SpecError, match=fragment):
            trace_at_sizes(model, (3, 8, 8), name)
    text = import_torch(f"{path}:Rolled", (3, 8, 8))
    assert HOW in text.splitlines()[0]
    assert _layers(text, "roll") == ["shifts: [1], dims: [1]"]
