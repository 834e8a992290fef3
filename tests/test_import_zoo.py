"""torchvision's classic CNNs in plain PyTorch (tests/torch_zoo_models.py, written from
torchvision's source) against the zoo specs: PyTorch's own count of each module
(parameters(), FlopCounterMode's FLOPs ÷ 2, on the meta device) equals archcalc's analysis
of specs/<builder>.yaml and torchvision's published num_params (tests/published.py);
``archcalc import torch`` of the smaller member of each family, at full size, analyses to
the same params and MACs; and the import of every one with H, W free gives the closed forms
of its spec with the input made free.
"""

from __future__ import annotations

import sys

import pytest
import sympy

from conftest import ROOT, SPECS

torch = pytest.importorskip("torch")

sys.path.insert(0, str(ROOT / "tests"))

import torch_zoo_models as zoo  # noqa: E402

from archcalc.analysis import analyse  # noqa: E402
from archcalc.spec.loader import load, load_string  # noqa: E402
from archcalc.torch_backend.importer import import_torch  # noqa: E402
from published import TORCHVISION  # noqa: E402
from roundtrip import at_size, free_round_trip, same_closed_form  # noqa: E402

MODELS = sorted(TORCHVISION)  # each a builder in torch_zoo_models and a spec in specs/


def _shape(name):
    return (3, 299, 299) if name == "inception_v3" else (3, 224, 224)  # the eval crop


def _spec(name, **set_):
    return analyse(load(str(SPECS / f"{name}.yaml"), set_))


@pytest.mark.parametrize("name", MODELS)
def test_pytorch_counts_the_spec_and_the_published_parameters(name):
    params, out, macs = zoo.measure(getattr(zoo, name), _shape(name))
    want = _spec(name)
    assert (params, macs, out) == (want.total.params, want.total.macs, (1000,))
    if name != "inception_v3":  # its published figure counts AuxLogits: see the next test
        assert params == TORCHVISION[name]["num_params"], TORCHVISION[name]["source"]


def _training_macs(make, shape) -> int:
    """FlopCounterMode's MACs per image of a forward pass in training mode (meta device), on
    a batch of two: training-mode BatchNorm needs more than one value per channel, and
    AuxLogits' last map is 1x1."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        model, x = make().train(), torch.empty(2, *shape)
    with FlopCounterMode(display=False) as counter:
        model(x)
    flops = counter.get_total_flops()
    assert flops % 4 == 0
    return flops // 4


@pytest.mark.parametrize("name", ["googlenet", "inception_v3"])
def test_auxiliary_heads_are_the_specs_aux_branches(name):
    """With the auxiliary classifiers built (torchvision runs them in training mode only):
    parameters() is the spec's with --set aux=1 (for inception_v3 the published num_params,
    which counts AuxLogits), an eval pass counts the spec's default MACs (aux=0, no head
    run) and a training pass those with aux=1."""
    make = lambda: getattr(zoo, name)(aux_logits=True)  # noqa: E731
    params, _, eval_macs = zoo.measure(make, _shape(name))
    with_aux = _spec(name, aux=1)
    assert params == with_aux.total.params
    assert eval_macs == _spec(name).total.macs
    assert _training_macs(make, _shape(name)) == with_aux.total.macs
    if name == "inception_v3":
        assert params == TORCHVISION[name]["num_params"], TORCHVISION[name]["source"]


# The smaller member of each family (importing traces the module at full size on a real zero
# input); googlenet's inception concat reads the block calls of its branches by their names.
IMPORTED = ["alexnet", "vgg11", "vgg11_bn", "resnet18", "resnext50_32x4d", "densenet121",
            "squeezenet1_0", "squeezenet1_1", "googlenet", "inception_v3"]


@pytest.mark.parametrize("name", IMPORTED)
def test_import_counts_as_the_spec(name):
    text = import_torch(f"torch_zoo_models:{name}", _shape(name), None)
    got = analyse(load_string(text, f"{name}-imported.yaml"))
    want = _spec(name)
    assert (got.total.params, got.total.macs) == (want.total.params, want.total.macs)
    assert got.total.output_shape == (1000,)


@pytest.mark.parametrize("name", MODELS)
def test_imported_free_spec_passes_verify(name, tmp_path):
    """Each classic CNN imported with --free H,W is built by archcalc's own builders and
    measured in PyTorch at drawn small sizes (64 to 67; Inception v3 75 to 78, its least):
    every shape, parameter and FLOP figure agrees (receptive fields off, the slow part)."""
    import archcalc

    spec = tmp_path / f"{name}.yaml"
    spec.write_text(import_torch(f"torch_zoo_models:{name}", _shape(name), None,
                                 free=("H", "W")), encoding="utf-8")
    low = 75 if name == "inception_v3" else 64
    result = archcalc.verify(str(spec), rf="off", ranges={"H": (low, low + 3),
                                                         "W": (low, low + 3)})
    assert result.ok and not result.mismatches and result.checked > 0, result.notes


@pytest.mark.parametrize("name", MODELS)
def test_import_with_free_sizes_gives_the_spec_closed_forms(name):
    """Every classic CNN of the zoo, imported with --free H,W: the closed forms of its MACs
    are those of specs/<name>.yaml with its input made [3, H, W] (and at the
    eval crop its count); the parameters do not depend on H, W."""
    _, got, want = free_round_trip(f"torch_zoo_models:{name}", _shape(name),
                                SPECS / f"{name}.yaml")
    assert got.total.params == want.total.params == _spec(name).total.params
    assert same_closed_form(got.total.macs, want.total.macs)
    assert sympy.sympify(got.total.macs).free_symbols  # a closed form, not a number
    assert got.total.output_shape == want.total.output_shape == (1000,)
    assert at_size(got.total.macs, *_shape(name)[1:]) == _spec(name).total.macs
