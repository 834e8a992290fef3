"""The classic and paper networks in specs/: archcalc's exact counts against hand-written
PyTorch models (tests/torch_reference_models.py), and against the figures their papers
publish, at the precision the papers give them."""

from __future__ import annotations

import pytest

from conftest import SPECS
from helpers import analyse_file

# spec file -> (reference model's name in torch_reference_models, its keyword arguments)
TORCH_REFERENCES = {
    "lenet5.yaml": ("LeNet5", {}),
    "alexnet-paper.yaml": ("AlexNetPaper", {}),
}


@pytest.fixture(scope="module")
def analyses():
    return {name: analyse_file(SPECS / name) for name in TORCH_REFERENCES}


@pytest.mark.parametrize("spec", sorted(TORCH_REFERENCES))
def test_matches_hand_written_torch_model(spec, analyses):
    pytest.importorskip("torch")
    import torch_reference_models as ref

    a = analyses[spec]
    cls_name, kwargs = TORCH_REFERENCES[spec]
    params, shape, macs = ref.measure(lambda: getattr(ref, cls_name)(**kwargs),
                                      a.graph.input_shape)
    assert a.total.params == params
    assert a.total.output_shape == shape
    assert a.total.macs == macs


def _rf(a, name):
    return [axis.size for axis in a.record(name).rf]


# ----------------------------------------------------------------------------- LeNet-5
def test_lenet5_published_layer_counts(analyses):
    # LeCun et al. 1998, Section II.B: trainable parameters C1 156, S2 12, C3 1,516, S4 32,
    # C5 48,120, F6 10,164, "about 60,000" in all (the RBF output's 840 centres are fixed).
    a = analyses["lenet5.yaml"]
    published = {"c1": 156, "s2": 12, "c3": 1516, "s4": 32, "c5": 48120, "f6": 10164}
    for name, count in published.items():
        assert a.record(name).params == count, name
    assert sum(published.values()) == 60_000
    assert a.total.params == 60_000 + 84 * 10
    # Connections = multiply-accumulates + one bias per output unit:
    # C1 (25 + 1)·6·28·28 = 122,304; C3 1,516·10·10 = 151,600 (both published).
    for name, connections in {"c1": 122_304, "c3": 151_600}.items():
        r = a.record(name)
        assert r.macs + r.output_shape[0] * r.output_shape[1] * r.output_shape[2] == connections
    assert a.record("c5").output_shape == (120, 1, 1)
    assert _rf(a, "c5") == [32, 32]  # each C5 unit sees the whole 32 x 32 input


# ----------------------------------------------------------------------------- AlexNet
def test_alexnet_paper_single_tower(analyses):
    a = analyses["alexnet-paper.yaml"]
    # Fig. 2's map sizes: 55, 27, 13, 13, 13; 256 x 6 x 6 into fc6.
    assert a.record("conv1").output_shape == (96, 55, 55)
    assert a.record("conv2").output_shape == (256, 27, 27)
    assert a.record("conv5").output_shape == (256, 13, 13)
    assert a.record("pool5").output_shape == (256, 6, 6)
    # (11²·3 + 1)·96 + (5²·96 + 1)·256 + (9·256 + 1)·384 + (9·384 + 1)·384 + (9·384 + 1)·256
    # + (9216 + 1)·4096 + (4096 + 1)·4096 + (4096 + 1)·1000 = 62,378,344
    assert a.total.params == 62_378_344
    # Section 1: "60 million parameters", to the nearest ten million.
    assert round(a.total.params, -7) == 60_000_000
    assert _rf(a, "pool5") == [195, 195]  # 11 → 19 → 51 → 67 → 99 → 131 → 163 → 195
