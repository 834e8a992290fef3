"""archcalc import torch of CondenseNet: the deployed networks of the authors' code
(tests/torch_condensenet.py, written from ShichenLiu/CondenseNet's
models/condensenet_converted.py and layers.py) count what specs/condensenet-86-cifar.yaml
and specs/condensenet-imagenet.yaml count, in PyTorch and once imported (their index
selections as ``indexchannels``, the ShuffleLayer as ``channelshuffle``); with H, W free the
same closed forms; the imported specs pass verify. An index selection archcalc cannot write
is refused with the op and the module.
"""

from __future__ import annotations

import json
import re
import sys

import pytest
import sympy

from conftest import ROOT, SPECS

torch = pytest.importorskip("torch")

sys.path.insert(0, str(ROOT / "tests"))

import torch_condensenet as cn  # noqa: E402

from archcalc.analysis import analyse  # noqa: E402
from archcalc.spec.loader import load, load_string  # noqa: E402
from archcalc.torch_backend.importer import import_torch  # noqa: E402

# (builder, its keyword arguments, input, spec, --set for the spec)
CASES = [
    ("condensenet86_cifar", {}, (3, 32, 32), "condensenet-86-cifar", {}),
    ("condensenet74_imagenet", {}, (3, 224, 224), "condensenet-imagenet", {}),
    ("condensenet74_imagenet", {"groups": 8}, (3, 224, 224), "condensenet-imagenet",
     {"G": 8, "C": 8}),
]
IDS = ["cifar-86", "imagenet-74-g4", "imagenet-74-g8"]


def _imported(builder, kwargs, shape, **kw):
    text = import_torch(f"torch_condensenet:{builder}", shape,
                        json.dumps(kwargs) if kwargs else None, **kw)
    return text, analyse(load_string(text, "imported.yaml"))


@pytest.mark.parametrize("builder,kwargs,shape,spec,set_", CASES, ids=IDS)
def test_pytorch_counts_are_the_spec_counts(builder, kwargs, shape, spec, set_):
    want = analyse(load(str(SPECS / f"{spec}.yaml"), set_))
    params, out, macs = cn.measure(lambda: getattr(cn, builder)(**kwargs), shape)
    assert (params, out, macs) == (want.total.params, want.total.output_shape,
                                   want.total.macs)


@pytest.mark.parametrize("builder,kwargs,shape,spec,set_", CASES, ids=IDS)
def test_import_counts_as_the_spec(builder, kwargs, shape, spec, set_):
    text, got = _imported(builder, kwargs, shape)
    want = analyse(load(str(SPECS / f"{spec}.yaml"), set_))
    assert (got.total.params, got.total.macs, got.total.output_shape) == \
        (want.total.params, want.total.macs, want.total.output_shape)
    g = kwargs.get("groups", 4)
    # CondenseConv: the selected channels (as many as the input's: G = C), BN, ReLU, the
    # G-group 1x1 convolution, ShuffleLayer(x, G); CondenseLinear: half the features
    for line in ["    - indexchannels: {name: indexchannels1, count: count}",
                 "    - batchnorm2d: {name: conv_1.norm}",
                 f"    - conv2d: {{name: conv_1.conv, out: c, kernel: 1, groups: {g}, "
                 "bias: false}",
                 f"    - channelshuffle: {{name: channelshuffle1, groups: {g}}}"]:
        assert line in text, text
    half = want.record("classifier_index").output_shape[0]  # 800 / 2 or 2,064 / 2
    assert re.search(rf"\n  - indexchannels: {{name: index_select_\d+, count: {half}}}\n"
                     r"  - linear: {name: classifier.linear, out: \d+}\n$", text), text


@pytest.mark.parametrize("builder,shape,spec", [
    ("condensenet86_cifar", (3, 32, 32), "condensenet-86-cifar"),
    ("condensenet74_imagenet", (3, 224, 224), "condensenet-imagenet")], ids=IDS[:2])
def test_free_sizes_give_the_spec_closed_forms(builder, shape, spec):
    """Imported with --free H,W: the closed forms of the spec with its input made free."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from generate import free_input

    text, got = _imported(builder, {}, shape, free=("H", "W"))
    assert "input: [3, H, W]" in text
    source = (SPECS / f"{spec}.yaml").read_text(encoding="utf-8")
    want = analyse(load_string(free_input(source), f"{spec}-free.yaml"))
    assert got.total.params == want.total.params
    macs, wanted = sympy.sympify(got.total.macs), sympy.sympify(want.total.macs)
    assert macs.free_symbols and sympy.simplify(macs - wanted) == 0


def test_imported_specs_pass_verify(tmp_path):
    """CondenseNet-86 with H, W free at drawn sizes from 32 to 40 (the last 8x8 pool needs
    H/4 ≥ 8), and CondenseNet-74 at 224, built by archcalc's builders (the index i mod C)
    and measured in PyTorch; receptive fields off, the slow part."""
    import archcalc

    for builder, shape, free, ranges in [
            ("condensenet86_cifar", (3, 32, 32), ("H", "W"), {"H": (32, 40), "W": (32, 40)}),
            ("condensenet74_imagenet", (3, 224, 224), (), None)]:
        text, _ = _imported(builder, {}, shape, free=free)
        spec = tmp_path / f"{builder}.yaml"
        spec.write_text(text, encoding="utf-8")
        options = dict(ranges=ranges) if ranges else {}
        result = archcalc.verify(str(spec), rf="off", **options)
        assert result.ok and not result.mismatches and result.checked > 0, builder


def test_shuffle_layer_is_channelshuffle():
    """ShuffleLayer(x, g) moves the channels as nn.ChannelShuffle(g), the module archcalc's
    export writes for channelshuffle: the import's groups are the view's first factor."""
    x = torch.randn(2, 12, 3, 5)
    for g in (2, 3, 4):
        assert torch.equal(cn.ShuffleLayer(x, g), torch.nn.ChannelShuffle(g)(x))


SMALL = """
import torch
from torch import nn

class Selects(nn.Module):
    '''index_select as a method, of the features axis as -1 of a [B, F] vector, by an
    index that repeats channels.'''
    def __init__(self):
        super().__init__()
        self.register_buffer("index", torch.tensor([3, 3, 0, 7, 1]))
        self.fc = nn.Linear(5, 2)
    def forward(self, x):
        x = x.flatten(1)
        return self.fc(x.index_select(-1, self.index))

class Axis(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("index", torch.tensor([0, 1]))
    def forward(self, x):
        return torch.index_select(x, 2, self.index)

class Learned(nn.Module):
    def __init__(self):
        super().__init__()
        self.index = nn.Parameter(torch.tensor([0, 1]), requires_grad=False)
    def forward(self, x):
        return torch.index_select(x, 1, self.index)

class Empty(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("index", torch.zeros(0, dtype=torch.long))
    def forward(self, x):
        return torch.cat([x, torch.index_select(x, 1, self.index)], 1)

class Net(nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner
    def forward(self, x):
        return self.inner(x)

def selects():
    return Net(Selects())
def axis():
    return Net(Axis())
def learned():
    return Net(Learned())
def empty():
    return Net(Empty())
"""


def test_selections_written_and_refused(cli, tmp_path):
    """A constant index of the features axis (a method call, dim −1 of [B, F], repeats) is
    indexchannels of its length, 5 of 8; an index of another axis, one read from a learned
    tensor and an empty one are refused with the op and the module (exit 2, one line)."""
    path = tmp_path / "selections.py"
    path.write_text(SMALL, encoding="utf-8")
    code, out, err = cli("import", "torch", f"{path}:selects", "--input", "2,2,2")
    assert code == 0, err
    assert "  - indexchannels: {name: index_select, count: 5}\n" \
           "  - linear: {name: inner.fc, out: 2}" in out, out
    a = analyse(load_string(out, "selects.yaml"))
    assert (a.total.params, a.total.macs, a.total.output_shape) == (12, 10, (2,))
    for name, fragment in [
            ("axis", "torch.index_select of axis 2 (indexchannels selects along axis 1"),
            ("learned", "torch.index_select by an index that is no constant (a learned tensor"),
            ("empty", "torch.index_select by an empty index (no channels selected)")]:
        code, out, err = cli("import", "torch", f"{path}:{name}", "--input", "4,3,3")
        assert code == 2 and out == "" and err.count("\n") == 1, err
        assert fragment in err and "at inner" in err and "Traceback" not in err, err
