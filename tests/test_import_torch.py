"""archcalc import torch: plain-PyTorch definitions of zoo networks (the test suite's own
copies in tests/torch_reference_models.py and tests/torch_mobile_models.py, written from the
papers and torchvision's source; torchvision's wheel cannot load its C++ ops here) imported
as specs give the params and MACs of the hand-written specs in specs/, and PyTorch's own
count of the same module; with free input sizes the same closed forms.
"""

from __future__ import annotations

import json
import sys

import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ROOT

torch = pytest.importorskip("torch")

sys.path.insert(0, str(ROOT / "tests"))

import torch_mobile_models as mobile  # noqa: E402
import torch_reference_models as ref  # noqa: E402

from archcalc.analysis import analyse  # noqa: E402
from published import TORCHVISION  # noqa: E402
from archcalc.spec.loader import load, load_string  # noqa: E402
from archcalc.torch_backend.importer import import_torch  # noqa: E402
from roundtrip import at_size, free_round_trip, same_closed_form  # noqa: E402

# (callable, input, the hand-written spec, --set for that spec)
CASES = [
    ("torch_reference_models:AlexNetPaper", (3, 227, 227), "alexnet-paper", {}),
    ("torch_reference_models:ResNetCifar", (3, 32, 32), "resnet110-cifar", {}),
    ("torch_reference_models:PreActResNetCifar", (3, 32, 32), "preact-resnet164-cifar", {}),
    ("torch_reference_models:DenseNetBCCifar", (3, 32, 32), "densenet-bc-100-12-cifar", {}),
    ("torch_reference_models:MobileNetV1", (3, 224, 224), "mobilenet_v1", {}),
    ("torch_reference_models:GoogLeNetPaper", (3, 224, 224), "googlenet-paper", {}),
    ("torch_reference_models:NiNImageNet", (3, 224, 224), "nin", {}),
    ("torch_mobile_models:mobilenet_v2", (3, 224, 224), "mobilenet_v2", {}),
    *((f"torch_mobile_models:{name}", (3, 224, 224), name, {}) for name in (
        "mobilenet_v3_large", "mobilenet_v3_small", "shufflenet_v2_x1_0", "mnasnet1_0",
        "efficientnet_b0", "regnet_y_400mf", "regnet_x_400mf",
        "convnext_tiny")),  # LayerNorm2d: F.layer_norm on its own parameters
    # C3's partial table: x[:, [0, 4, 5]] as slices of its runs, concatenated
    ("torch_reference_models:LeNet5", (1, 32, 32), "lenet5", {}),
    # skips centre-cropped by slices offset from the upsampled map's sizes: crop like it
    ("torch_reference_models:UNet", (1, 572, 572), "unet", {}),
    # Keras 'same' max pooling, a -inf F.pad then the pool (torch.export: fx cannot trace)
    ("torch_reference_models:XceptionKeras", (3, 299, 299), "xception", {}),
]


def _imported(target, shape, args=None, **kw):
    text = import_torch(target, shape, None if args is None else json.dumps(args), **kw)
    return text, analyse(load_string(text, "imported.yaml"))


@pytest.mark.parametrize("target,shape,spec,set_", CASES, ids=[c[2] for c in CASES])
def test_import_counts_as_the_hand_written_spec(target, shape, spec, set_):
    text, got = _imported(target, shape)
    want = analyse(load(str(ROOT / "specs" / f"{spec}.yaml"), set_))
    assert got.total.params == want.total.params
    assert got.total.macs == want.total.macs
    module = ref if target.startswith("torch_reference") else mobile
    fn = getattr(module, target.split(":")[1])
    measured = module.measure(fn, shape)
    assert got.total.params == measured[0]
    assert got.total.macs == measured[-1]  # FlopCounterMode's count of the module, ÷ 2


# mobilenet_v1's spec is in its resolution R, U-Net's and Xception's have tests of their own
FREE_CASES = [c for c in CASES if c[2] not in ("mobilenet_v1", "unet", "xception")]


@pytest.mark.parametrize("target,shape,spec,set_", FREE_CASES, ids=[c[2] for c in FREE_CASES])
def test_free_sizes_give_the_closed_forms_of_the_spec_made_free(target, shape, spec, set_):
    """Imported with --free H,W: the MACs in closed form of specs/<spec>.yaml with its
    input made [C, H, W], the same parameters, and at the traced size the spec's count."""
    _, got, want = free_round_trip(target, shape, ROOT / "specs" / f"{spec}.yaml")
    assert got.total.params == want.total.params
    assert same_closed_form(got.total.macs, want.total.macs)
    assert sympy.sympify(got.total.macs).free_symbols
    fixed = analyse(load(str(ROOT / "specs" / f"{spec}.yaml"), set_))
    assert at_size(got.total.macs, *shape[1:]) == fixed.total.macs
    assert got.total.output_shape == want.total.output_shape


# the least input side each network takes with H, W free, where 64 is too small (a final
# pool of fixed size 7, GoogLeNet's and NiN's, needs a map of 7 or more after 32x)
LEAST_SIDE = {"googlenet-paper": 224, "nin": 224}


@pytest.mark.parametrize("target,shape,spec,set_", FREE_CASES, ids=[c[2] for c in FREE_CASES])
def test_imported_free_spec_passes_verify(target, shape, spec, set_, tmp_path):
    """Imported with --free H,W, built by archcalc's own builders and measured in PyTorch
    at drawn sizes from the least side up: every shape, parameter and FLOP figure agrees
    (receptive fields off, the slow part)."""
    import archcalc

    path = tmp_path / f"{spec}.yaml"
    path.write_text(import_torch(target, shape, None, free=("H", "W")), encoding="utf-8")
    low = LEAST_SIDE.get(spec, 64)
    result = archcalc.verify(str(path), rf="off", ranges={"H": (low, low + 3),
                                                         "W": (low, low + 3)})
    assert result.ok and not result.mismatches and result.checked > 0, result.notes


def test_free_sizes_give_the_spec_closed_forms():
    """MobileNet v1 with H, W free: the closed forms of specs/mobilenet_v1.yaml in R
    (its resolution) once H = W = R."""
    text, got = _imported("torch_reference_models:MobileNetV1", (3, 224, 224),
                          free=("H", "W"))
    assert "input: [3, H, W]" in text
    want = analyse(load(str(ROOT / "specs/mobilenet_v1.yaml"), {"R": None}))
    H, W, R = (sympy.Symbol(n, positive=True, integer=True) for n in "HWR")
    macs = sympy.sympify(got.total.macs)
    macs = macs.subs({s: R for s in macs.free_symbols if s.name in ("H", "W")})
    r = [s for s in sympy.sympify(want.total.macs).free_symbols if s.name == "R"][0]
    assert sympy.simplify(macs.subs(R, r) - want.total.macs) == 0
    assert got.total.params == want.total.params


def test_free_sizes_through_crops_and_same_pools():
    """U-Net with H, W free: each skip cropped like the upsampled map, so the closed forms of
    specs/unet.yaml with its input made free; Xception's -inf pads before its pools
    (computed by the forward at 299 x 299) as 'same' padding, so the spec's counts at other
    sizes too (its 1 x 1 stride-2 shortcut ⌊(n − 1)/2⌋ + 1 where Keras writes ⌈n/2⌉)."""
    for target, shape, spec in [("UNet", (1, 252, 252), "unet"),  # traced at a smaller size
                                ("XceptionKeras", (3, 299, 299), "xception")]:
        text, got, want = free_round_trip(f"torch_reference_models:{target}", shape,
                                          ROOT / "specs" / f"{spec}.yaml")
        assert got.total.params == want.total.params
        if target == "UNet":
            assert "crop: {name: getitem_6, from: down.3.3, like: up.0}" in text
            assert same_closed_form(got.total.macs, want.total.macs)
            continue
        assert "maxpool2d: {name: maxpool2d1, kernel: 3, stride: 2, padding: same}" in text
        assert "zeropad" not in text
        for h, w in [(71, 71), (96, 131), (150, 200)]:
            macs = at_size(got.total.macs, h, w)
            assert macs == at_size(want.total.macs, h, w)
            assert macs == ref.measure(ref.XceptionKeras, (3, h, w))[-1]


def test_names_and_vocabulary():
    text, _ = _imported("torch_reference_models:ResNetCifar", (3, 32, 32))
    assert "  - conv2d: {name: conv1, out: 16, kernel: 3, padding: 1, bias: false}" in text
    assert "  - batchnorm2d: {name: bn1}" in text
    assert "padchannels" in text  # option A's F.pad of the channels
    assert "globalavgpool" in text  # x.mean((2, 3))
    # 54 blocks of two bodies (identity shortcut; option A's subsampling one), each one
    # definition with its width c as a parameter; consecutive equal calls one repeat
    assert "  optionablock:\n    params: [c]\n" in text
    assert "    - conv2d: {name: conv1, out: c, kernel: 3, padding: 1, bias: false}" in text
    # option A pads (c_out − c_in)/2 channels on each side: (32 − 16)/2 = 32/4 and
    # (64 − 32)/2 = 64/4, so the same fraction of the parameter in both instances
    assert "    - padchannels: {name: padchannels1, before: c/4, after: c/4}" in text
    assert "  - repeat: 18\n    layers: [optionablock: {c: 16}]" in text
    assert text.count("  - repeat: 17\n") == 2
    assert "  - optionablock_2: {name: blocks.18, c: 32}" in text
    assert "  - optionablock_2: {name: blocks.36, c: 64}" in text
    assert len(text.splitlines()) < 50


def _resnet50_spec() -> str:
    return (ROOT / "specs" / "resnet50.yaml").read_text(encoding="utf-8")


def test_resnet50_imports_about_as_short_as_the_hand_written_spec():
    """torchvision's ResNet-50 (module for module in tests/torch_reference_models.py): its 16
    Bottlenecks differ in width, stride and the projection shortcut of each stage's first
    one, so two definitions with parameters, and the stages' other blocks repeats."""
    text, got = _imported("torch_reference_models:ResNet50", (3, 224, 224))
    assert len(text.splitlines()) <= 1.5 * len(_resnet50_spec().splitlines())
    want = analyse(load(str(ROOT / "specs" / "resnet50.yaml")))
    assert got.total.params == want.total.params == TORCHVISION["resnet50"]["num_params"]
    assert got.total.macs == want.total.macs
    measured = ref.measure(ref.ResNet50, (3, 224, 224))
    assert (got.total.params, got.total.macs) == (measured[0], measured[-1])
    assert "  bottleneck:\n    params: [c, s]\n" in text  # with the projection shortcut
    assert "out: 4*c" in text  # conv3 and the projection: planes · expansion 4
    assert "  - bottleneck: {name: layer3.0, c: 256, s: 2}" in text
    assert "  - repeat: 5\n    layers: [bottleneck_2: {c: 256}]" in text  # layer3: 6 − 1


def test_resnet50_free_sizes_give_the_spec_closed_forms():
    """With H, W free, the closed forms of specs/resnet50.yaml with its input made free
    (benchmarks/generate.py free_input, as the performance tests do)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from generate import free_input

    text, got = _imported("torch_reference_models:ResNet50", (3, 224, 224), free=("H", "W"))
    want = analyse(load_string(free_input(_resnet50_spec()), "resnet50-free.yaml"))
    assert got.total.params == want.total.params
    assert sympy.simplify(sympy.sympify(got.total.macs) - want.total.macs) == 0
    assert _before_pool(got) == _before_pool(want)  # layer4's [2048, h, w] in H and W


def _before_pool(analysis) -> tuple:
    layers = [r for r in analysis.layers if r.kind == "layer"]
    pool = [i for i, r in enumerate(layers) if r.type == "adaptiveavgpool2d"][0]
    return tuple(str(n) for n in layers[pool - 1].output_shape)


def test_bad_inputs_are_located(cli, tmp_path):
    bad = tmp_path / "bad_model.py"
    bad.write_text(
        "import torch\nfrom torch import nn\n"
        "def raising():\n    raise ValueError('no weights here')\n"
        "def not_a_module():\n    return 3\n"
        "class Branchy(nn.Module):\n"
        "    def forward(self, x):\n        return x if x.sum() > 0 else -x\n"
        "class Odd(nn.Module):\n"
        "    def forward(self, x):\n        return torch.fft.fft(x).real\n",
        encoding="utf-8")
    cases = [
        ([f"{bad}:raising"], "calling it raised ValueError: no weights here"),
        ([f"{bad}:not_a_module"], "returned int, not an nn.Module"),
        ([f"{bad}:Branchy"], "torch.fx cannot trace it"),
        ([f"{bad}:Odd"], "no archcalc layer for function"),
        ([f"{bad}:missing"], "has no callable 'missing'"),
        (["no_such_module_xyz:f"], "importing no_such_module_xyz raised ModuleNotFoundError"),
        (["nocolon"], "expected MODULE:CALLABLE or FILE.py:CALLABLE"),
    ]
    for args, fragment in cases:
        code, out, err = cli("import", "torch", *args, "--input", "3,8,8")
        assert code == 2, (args, err)
        assert out == "" and err.startswith("error: ") and err.count("\n") == 1, err
        assert fragment in err, err
        assert "Traceback" not in err
    code, out, err = cli("import", "torch", f"{bad}:Odd", "--input", "3,x")
    assert code == 2 and "--input 3,x: expected positive whole numbers" in err


def test_functional_calls_on_own_parameters_are_their_layers(tmp_path):
    """F.conv2d, F.batch_norm, F.group_norm, F.layer_norm (weight, no bias) and F.linear on
    a module's own parameters: the layers they stand for, with PyTorch's parameters() and
    FlopCounterMode's count; the imported spec passes verify."""
    import archcalc

    shape = (3, 8, 8)  # conv 3x3/2, padding 1: 4 x 4, the layer norm's width
    text, got = _imported("torch_reference_models:FunctionalOwn", shape)
    for line in ["conv2d: {name: conv2d, out: 8, kernel: 3, stride: 2, padding: 1}",
                 "batchnorm2d: {name: batch_norm, eps: 0.001}",
                 "groupnorm: {name: group_norm, groups: 2}",
                 "layernorm: {name: layer_norm, eps: 1e-06, bias: false}",
                 "linear: {name: linear, out: 5}"]:
        assert line in text, text
    params, _, out, macs = ref.measure(ref.FunctionalOwn, shape)
    assert (got.total.params, got.total.output_shape, got.total.macs) == (params, out, macs)
    spec = tmp_path / "functional.yaml"
    spec.write_text(text, encoding="utf-8")
    result = archcalc.verify(str(spec), rf="off")
    assert result.ok and not result.mismatches and result.checked > 0


def test_unmappable_variants_are_refused_with_op_and_module(cli, tmp_path):
    """The variants the new mappings do not take: a parameter read by two functional calls
    (counted once it would be wrong), a -inf pad that is neither Keras 'same' nor a pool's
    own padding, a crop off the centre: a located error (exit 2) naming op and module."""
    bad = tmp_path / "variants.py"
    bad.write_text(
        "import torch\nimport torch.nn.functional as F\nfrom torch import nn\n"
        "class Twice(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n        self.w = nn.Parameter(torch.ones(8))\n"
        "    def forward(self, x):\n"
        "        return F.layer_norm(F.layer_norm(x, (8,), self.w), (8,), self.w)\n"
        "class Net(nn.Module):\n"
        "    def __init__(self, inner):\n        super().__init__()\n        self.inner = inner\n"
        "    def forward(self, x):\n        return self.inner(x)\n"
        "class OddPad(nn.Module):\n"
        "    def forward(self, x):\n"
        "        if x.shape[2] < 4:\n            raise ValueError('too small')\n"
        "        return F.max_pool2d(F.pad(x, [0, 2, 0, 2], value=float('-inf')), 3, 2)\n"
        "class OffCentre(nn.Module):\n"
        "    def forward(self, x):\n"
        "        y = F.max_pool2d(x, 2)\n"
        "        return x[:, :, 1:1 + y.shape[2], 1:1 + y.shape[3]] + y\n"
        "def twice():\n    return Net(Twice())\n"
        "def odd_pad():\n    return Net(OddPad())\n"
        "def off_centre():\n    return Net(OffCentre())\n", encoding="utf-8")
    cases = [
        ("twice", "3,8,8", "no archcalc layer for function layer_norm of the learned tensor "
                           "inner.w, read before (its parameters would be counted twice) at "
                           "inner"),
        ("odd_pad", "3,8,8", "no archcalc layer for F.pad of [0, 2, 0, 2] with -inf before a "
                             "max pool (neither Keras 'same' nor one padding per side within "
                             "half the kernel) at inner"),
        ("off_centre", "3,8,8", "no archcalc layer for indexing (slice(None, None, None), "
                                "slice(None, None, None), slice(1, add, None)"),
    ]
    for name, shape, fragment in cases:
        code, out, err = cli("import", "torch", f"{bad}:{name}", "--input", shape)
        assert code == 2 and out == "" and err.count("\n") == 1, err
        assert fragment in err and "Traceback" not in err, err
    # torch.export's graph of it is refused too (a -inf pad that is no pool's padding), and
    # so, traced again at the input's sizes, is F.pad with a value other than 0
    assert "at inner (fx node pad)" in cli("import", "torch", f"{bad}:odd_pad",
                                           "--input", "3,8,8")[2]


def test_cli_writes_a_spec_that_loads(cli, tmp_path):
    out = tmp_path / "m.yaml"
    code, stdout, err = cli("import", "torch", "torch_reference_models:NiNImageNet",
                            "--input", "3,224,224", "-o", str(out))
    assert code == 0, err
    assert analyse(load(str(out))).total.params == 7595176  # specs/nin.yaml's count


def test_an_imported_spec_passes_verify(tmp_path):
    """ResNet-8 for CIFAR (``--args`` n = 1: one option-A block per stage) with H, W free,
    verified in PyTorch at drawn sizes by archcalc's own builders (receptive fields not
    measured, which is the slow part: rf='off')."""
    import archcalc

    text = archcalc.import_torch("torch_reference_models:ResNetCifar", (3, 32, 32),
                                 args={"n": 1}, free=("H", "W"))
    spec = tmp_path / "resnet8.yaml"
    spec.write_text(text, encoding="utf-8")
    assert archcalc.analyse(str(spec)).total.params == \
        ref.measure(lambda: ref.ResNetCifar(n=1), (3, 32, 32))[0]
    result = archcalc.verify(str(spec), rf="off", ranges={"H": (8, 16), "W": (8, 16)})
    assert result.ok and not result.mismatches


def test_imported_cnns_pass_verify(tmp_path):
    """ConvNeXt-T (LayerNorm2d's F.layer_norm), EfficientNet-B0, LeNet-5 (C3's slices and
    concatenations), Xception (torch.export; 'same' max pools), U-Net (centre crops) and
    MobileNet v1 imported at small inputs,
    built by archcalc's own builders and measured in PyTorch (receptive fields off, the
    slow part)."""
    import archcalc

    for target, shape in [("torch_mobile_models:convnext_tiny", (3, 32, 32)),
                          ("torch_mobile_models:efficientnet_b0", (3, 32, 32)),
                          ("torch_reference_models:LeNet5", (1, 32, 32)),
                          ("torch_reference_models:XceptionKeras", (3, 71, 71)),
                          ("torch_reference_models:UNet", (1, 188, 188)),  # its least side
                          ("torch_reference_models:MobileNetV1", (3, 64, 64))]:
        spec = tmp_path / f"{target.split(':')[1]}.yaml"
        spec.write_text(archcalc.import_torch(target, shape), encoding="utf-8")
        result = archcalc.verify(str(spec), rf="off")
        assert result.ok and not result.mismatches and result.checked > 0, target


# ---------------------------------------------------------------- --allow-unknown
@settings(max_examples=6, derandomize=True, deadline=None, database=None)
@given(kind=st.sampled_from(["GRU", "LSTM", "RNN"]), hidden=st.integers(1, 9),
       layers=st.integers(1, 2), bidirectional=st.booleans(), height=st.integers(2, 7))
def test_unknown_layers_state_their_module_parameters(kind, hidden, layers, bidirectional,
                                                      height):
    """A recurrent layer (no archcalc type) imported as unknown: the spec's params are
    parameters() of the whole module, its output shape the traced one, and its MACs only
    those of the layers archcalc knows (FlopCounterMode of the module without the
    recurrent layer, which is replaced by a zero-cost stand-in of the same output)."""
    args = dict(kind=kind, hidden=hidden, layers=layers, bidirectional=bidirectional,
                height=height, width=5)
    shape = (3, height, 5)
    text, got = _imported("torch_reference_models:RecurrentHead", shape, args=args,
                          allow_unknown=True)
    assert text.count("  - unknown: ") == 1 and f'op: "module torch.nn.modules.rnn.{kind}"' \
        in text
    params, _, out, _ = ref.measure(lambda: ref.RecurrentHead(**args), shape)
    assert (got.total.params, got.total.output_shape) == (params, out)
    rnn = [r for r in got.layers if r.type == "unknown"][0]
    assert rnn.output_shape == (height, hidden * (2 if bidirectional else 1))

    class Stand(torch.nn.Module):  # the recurrent layer's output, no arithmetic
        def forward(self, x):
            return x.new_zeros(x.shape[0], height, rnn.output_shape[1]), None

    def known_part():
        model = ref.RecurrentHead(**args)
        model.rnn = Stand()
        return model

    assert got.total.macs == ref.measure(known_part, shape)[-1]


def test_without_allow_unknown_the_op_is_refused_and_with_it_every_report_says_so(cli,
                                                                                 tmp_path):
    target = "torch_reference_models:RecurrentHead"
    code, out, err = cli("import", "torch", target, "--input", "3,6,6")
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert "no archcalc layer for module torch.nn.modules.rnn.GRU at rnn" in err
    assert "--allow-unknown imports it as an unknown layer" in err
    import archcalc

    with pytest.raises(archcalc.SpecError) as refused:  # the API names its keyword
        archcalc.import_torch(target, (3, 6, 6))
    assert "allow_unknown=True imports it as an unknown layer" in str(refused.value)
    spec = tmp_path / "rnn.yaml"
    code, _, err = cli("import", "torch", target, "--input", "3,6,6", "--allow-unknown",
                       "-o", str(spec))
    assert code == 0, err
    line = "1 layer imported as unknown (rnn): MACs, FLOPs and saved activations exclude it"
    for verb in (["summary"], ["params"], ["flops"], ["memory"], ["compare", str(spec)]):
        code, out, err = cli(*verb[:1], str(spec), *verb[1:])
        assert code == 0 and line in " ".join(out.split()), (verb, out, err)
    code, out, _ = cli("explain", str(spec), "rnn")
    assert "its MACs are not counted" in out


# ---------------------------------------------------------------- torch.export fallback
EXPORTED = [
    ("ResNet50", (3, 224, 224), "resnet50"),
    ("ResNetCifar", (3, 32, 32), "resnet110-cifar"),
    ("DenseNetBCCifar", (3, 32, 32), "densenet-bc-100-12-cifar"),
    ("MobileNetV1", (3, 224, 224), "mobilenet_v1"),
    ("mobilenet_v2", (3, 224, 224), "mobilenet_v2"),
]


@pytest.mark.parametrize("name,shape,spec", EXPORTED, ids=[c[0] for c in EXPORTED])
def test_a_forward_fx_cannot_trace_is_exported(name, shape, spec):
    """The zoo's CNNs behind a Python check of the input size (torch.fx refuses it): the
    torch.export fallback maps their ATen calls to the same counts as the hand-written
    spec and PyTorch's own (parameters(), FlopCounterMode)."""
    text, got = _imported("torch_reference_models:size_checked", shape, args={"name": name})
    assert "by archcalc import torch (torch.export)." in text.splitlines()[0]
    want = analyse(load(str(ROOT / "specs" / f"{spec}.yaml")))
    assert (got.total.params, got.total.macs) == (want.total.params, want.total.macs)
    measured = ref.measure(lambda: ref.size_checked(name), shape)
    assert (got.total.params, got.total.macs) == (measured[0], measured[-1])
    if name == "ResNet50":  # the module paths make the same blocks as fx's trace
        assert len(text.splitlines()) <= 1.5 * len(_resnet50_spec().splitlines())
        assert "  - bottleneck: {name: net.layer3.0, c: 256, s: 2}" in text


@pytest.mark.parametrize("size", [64, 224])
def test_a_branch_on_the_size_is_taken_as_at_the_input(size):
    """PoolsWhenLarge pools once more above a width of 100 (after its stride-2 stem: 224
    → 112 pools, 64 → 32 does not): the spec is the network at that input."""
    shape = (3, size, size)
    text, got = _imported("torch_reference_models:PoolsWhenLarge", shape)
    assert ("maxpool2d: {name: max_pool2d, kernel: 2}" in text) == (size == 224)
    measured = ref.measure(ref.PoolsWhenLarge, shape)
    assert (got.total.params, got.total.macs) == (measured[0], measured[-1])
