"""docs/zoo.md is what tools/make_zoo_table.py writes from today's specs, so it cannot drift:
every spec has a row, every number is archcalc's own, and every published figure that differs
from archcalc's count carries a note whose arithmetic the generator re-checks. Analysis only."""

from __future__ import annotations

import importlib.util
import re
import sys

import pytest

from conftest import ROOT, SPECS
from helpers import analyse_file, analyse_text


@pytest.fixture(scope="module")
def zoo():
    spec = importlib.util.spec_from_file_location("make_zoo_table",
                                                  ROOT / "tools" / "make_zoo_table.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def rendered(zoo):
    return zoo.render()


def _rows(text: str) -> list:
    return re.findall(r"^\| `([^`]+)` \|", text, flags=re.M)


def test_doc_is_what_the_generator_writes(zoo, rendered):
    on_disk = zoo.DOC.read_text()
    assert on_disk == rendered, "docs/zoo.md is out of date: run python tools/make_zoo_table.py"


def test_every_spec_has_exactly_one_row():
    rows = _rows((ROOT / "docs" / "zoo.md").read_text())
    assert sorted(rows) == sorted(p.stem for p in SPECS.glob("*.yaml"))
    assert len(rows) == len(set(rows))


def test_the_brief_keras_totals(rendered):
    # Keras's applications table (keras-io templates/api/applications/index.md): DenseNet121
    # 8,062,504, MobileNetV2 3,538,984, Xception 22,910,480, each equal to archcalc's
    # --convention keras total (parameters + BatchNorm moving statistics).
    for name, total in {"densenet121": "8,062,504", "mobilenet_v2": "3,538,984",
                        "xception": "22,910,480"}.items():
        line = next(x for x in rendered.splitlines() if x.startswith(f"| `{name}` |"))
        assert f"| {total} / {total} |" in line, name


def test_resnet50_row_explains_the_paper_figure(rendered):
    line = next(x for x in rendered.splitlines() if x.startswith("| `resnet50` |"))
    assert "4,089,184,256 (4.089 G)" in line and "3.8 G [He15]" in line
    assert "3,857,973,248 MACs" in line  # tests/test_zoo_torchvision.py derives this number
    # Keras's ResNet50 convolutions have biases: one per BatchNorm channel, 53,120 / 2.
    assert "25,636,712 / 25,610,152" in line and "+26,560" in line


def test_a_differing_figure_without_a_note_stops_the_build(zoo, monkeypatch):
    monkeypatch.delitem(zoo.NOTES, "lenet5")  # LeCun's 60,000 vs archcalc's 60,840
    with pytest.raises(zoo.ZooTableError, match="lenet5: params 60,000"):
        zoo.row("lenet5", analyse_file(SPECS / "lenet5.yaml"), zoo._published_module())


def test_receptive_fields_agree_with_the_spec_headers(zoo):
    # Each header records the receptive field of what its author calls the last feature map;
    # the doc's rule (the input of the global pooling) must find a map with that field.
    for path in sorted(SPECS.glob("*.yaml")):
        a = analyse_file(path)
        rf = a.layers[zoo.last_feature_map(a)].rf
        if rf is None:
            continue
        header = path.read_text().split("\nname:")[0]
        size = rf[0].size
        assert re.search(rf"\b({size}|{size:,}) ?x ?({size}|{size:,})\b", header), path.name


# ------------------------------------------------------------------------- the rule itself
def test_last_feature_map_is_the_input_of_the_global_pool(zoo):
    a = analyse_text("""
        input: [3, 32, 32]
        layers:
          - conv2d: {name: c, out: 8, kernel: 3, stride: 2}
          - relu: {name: r}
          - adaptiveavgpool2d: {out: 1}
          - dropout: {p: 0.5}
          - flatten
          - linear: {out: 10}
    """)
    i = zoo.last_feature_map(a)
    assert a.layers[i].name == "r" and a.layers[i].output_shape == (8, 15, 15)
    # conv 3 / 2 on 32: (32 - 3) // 2 + 1 = 15 positions, each seeing 3 pixels, 2 apart
    assert [(x.size, x.jump, x.start) for x in a.layers[i].rf] == [(3, 2, 0), (3, 2, 0)]


def test_a_convolution_to_one_by_one_is_a_feature_map(zoo):
    # LeNet-5's C5: a 5 x 5 convolution on a 5 x 5 map is a layer, not a pooling.
    a = analyse_text("""
        input: [1, 5, 5]
        layers:
          - conv2d: {name: c5, out: 4, kernel: 5}
          - flatten
          - linear: {out: 2}
    """)
    assert a.layers[zoo.last_feature_map(a)].name == "c5"


def test_a_network_that_keeps_its_spatial_axes_ends_in_its_output(zoo):
    a = analyse_text("""
        input: [1, 16, 16]
        layers:
          - conv2d: {out: 4, kernel: 3, padding: 1}
          - conv2d: {name: head, out: 2, kernel: 1}
    """)
    assert a.layers[zoo.last_feature_map(a)].name == "head"
