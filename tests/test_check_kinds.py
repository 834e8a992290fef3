"""Claims of depth, element count, spatial size, and comparisons between places and
networks, as course material words them."""

from __future__ import annotations

import json

import pytest

from archcalc import check_kinds
from conftest import ROOT

SPECS = ROOT / "specs"


def grade(cli, tmp_path, body: str, spec=None):
    path = tmp_path / "sheet.yaml"
    path.write_text((f"spec: {spec}\n" if spec else "") + body, encoding="utf-8")
    code, out, err = cli("check", path, "--spec-root", ROOT, "--format", "json")
    return code, json.loads(out)["sheets"][0]["results"] if out.strip() else err


def marks(results) -> list:
    return [r["correct"] for r in results]


def test_depth_is_weight_layers_on_the_longest_path(cli, tmp_path):
    # "VGG16 has 16 weight layers" (configuration D: 13 convolutions and 3 fully connected,
    # Simonyan & Zisserman 2015, Table 1); "GoogLeNet is 22 layers deep when counting only
    # layers with parameters" (Szegedy et al. 2015, Section 5)
    code, results = grade(cli, tmp_path, """answers:
  - {at: total, depth: 16}
  - {at: stage3, depth: 7}          # 2 + 2 + 3 convolutions up to the end of stage 3
  - {at: total, depth: 19}
  - at: total
    compare: {depth: "<", than: SPECS/googlenet-paper.yaml}
  - at: total
    compare: {depth: "=", than: "SPECS/googlenet-paper.yaml:total"}
""".replace("SPECS", str(SPECS)), SPECS / "vgg16.yaml")
    assert code == 1 and marks(results) == [True, True, False, True, False]
    assert "depth(total) = 16" in results[2]["derivation"][0]
    assert results[4]["expected"] == {"left": 16, "right": 22, "relation": "<",
                                      "ratio": round(16 / 22, 6)}


def test_spatial_and_elements(cli, tmp_path):
    # a 256×256 input after four 2×2 max-pools is 16×16: "16×16", "256 pixels"; the
    # convolution before keeps 8 channels, so 8·16·16 = 2,048 elements
    model = """model:
  input: [3, 256, 256]
  layers:
    - conv2d: {name: conv, out: 8, kernel: 3, padding: 1}
    - repeat: 4
      layers: [maxpool2d: {kernel: 2}]
answers:
  - {at: total, spatial: 16x16, elements: 2048}
  - {at: total, spatial: "256 pixels"}
  - {at: total, spatial: "16×16"}
  - {at: total, spatial: 16}
  - {at: total, spatial: "(None, 16, 16)"}
  - {at: total, spatial: 32x32, elements: "2K"}
  - {at: conv, elements: "524,288"}    # 8·256·256
"""
    code, results = grade(cli, tmp_path, model)
    assert [(r["metric"], r["correct"]) for r in results] == [
        ("spatial", True), ("elements", True), ("spatial", True), ("spatial", True),
        ("spatial", True), ("spatial", False), ("spatial", False), ("elements", True),
        ("elements", True)]
    assert "error" in results[5]  # None is no size of a spatial axis


def test_compare_networks_by_spec_path(cli, tmp_path):
    # torchvision documents DenseNet-121 at 7,978,856 parameters and ResNet-50 at 25,557,032
    code, results = grade(cli, tmp_path, """answers:
  - at: total
    compare: {params: "<", than: SPECS/resnet50.yaml}
  - at: total
    compare: {params: fewer, than: SPECS/resnet50.yaml}
  - at: total
    compare: {params: ">", than: SPECS/resnet50.yaml}
  - at: total
    compare: {params: "~0.31", than: SPECS/resnet50.yaml}  # 7,978,856 / 25,557,032 = 0.3122
""".replace("SPECS", str(SPECS)), SPECS / "densenet121.yaml")
    assert code == 1 and marks(results) == [True, True, False, True]
    assert results[2]["expected"]["left"] == 7_978_856
    assert results[2]["expected"]["right"] == 25_557_032


def test_two_3x3_are_cheaper_than_one_5x5(cli, tmp_path):
    # on C = 64 channels and 32×32: two 3×3 convolutions cost 2·9·C² per pixel, one 5×5
    # 25·C²: a ratio of 18/25 = 0.72 (Szegedy et al. 2016, Section 3.1)
    code, results = grade(cli, tmp_path, """model:
  input: [64, 32, 32]
  blocks:
    two3:
      layers:
        - conv2d: {out: 64, kernel: 3, padding: 1, bias: false}
        - conv2d: {out: 64, kernel: 3, padding: 1, bias: false}
  layers:
    - two3: {name: small}
    - conv2d: {name: big, out: 64, kernel: 5, padding: 2, bias: false}
answers:
  - {at: small, compare: {macs: cheaper, than: big}}
  - {at: small, compare: {macs: "18/25", than: big}}
  - {at: small, compare: {macs: "0.72", than: big}}
  - {at: small, compare: {params: "0.8", than: big}}   # 0.72 neither rounds nor truncates
  - {at: big, compare: {macs: "1.39x", than: small}}   # 25/18 = 1.3889
""")
    assert code == 1, results
    assert marks(results) == [True, True, True, False, True]


def test_separable_convolution_ratio(cli, tmp_path):
    # MobileNets (Howard et al. 2017, eq. 5): a depthwise separable 3×3 convolution costs
    # 1/N + 1/D_K² of a standard one; N = 256, D_K = 3: 1/256 + 1/9 = 0.11502 = 1/8.694
    code, results = grade(cli, tmp_path, """model:
  input: [256, 14, 14]
  blocks:
    separable:
      layers:
        - conv2d: {out: 256, kernel: 3, padding: 1, groups: 256, bias: false}
        - conv2d: {out: 256, kernel: 1, bias: false}
  layers:
    - separable: {name: sep}
    - conv2d: {name: std, out: 256, kernel: 3, padding: 1, bias: false}
answers:
  - {at: sep, compare: {macs: "1/9", than: std}}
  - {at: sep, compare: {macs: "1/8.7", than: std}}
  - {at: sep, compare: {macs: "1/23", than: std}}
""")
    assert marks(results) == [True, True, False]
    assert "left/right = 1/8.694" in results[2]["derivation"][-1]
    assert results[2]["expected"]["ratio"] == pytest.approx(1 / 256 + 1 / 9, abs=1e-6)


@pytest.mark.parametrize("claim,left,right,ok", [
    ("<", 1, 2, True), (">", 1, 2, False), ("=", 2, 2, True), ("<=", 2, 2, True),
    ("≥", 1, 2, False), ("more", 3, 2, True),
    ("1/23", 100, 2_300, True), ("1/23", 100, 2_390, True),  # 23.9 truncates to 23
    ("1/23", 100, 2_400, False), ("2x", 200, 100, True), ("0.5", 1, 2, True),
    ("2/3", 2, 3, True), ("2/3", 2, 4, False),
])
def test_judge(claim, left, right, ok):
    assert check_kinds.judge(claim, left, right)[0] is ok


def test_compare_that_cannot_be_read(cli, tmp_path):
    code, results = grade(cli, tmp_path, """answers:
  - {at: total, compare: {params: "<"}}
  - {at: total, compare: {params: "<", than: nowhere}}
  - {at: total, compare: {params: "<", than: missing.yaml}}
  - {at: total, compare: {params: "<", than: /etc/passwd.yaml}}
  - {at: total, compare: {params: "sideways", than: fc6}}
""", SPECS / "vgg16.yaml")
    assert code == 1 and marks(results) == [False] * 5
    errors = [r["error"] for r in results]
    assert "'compare' needs one metric" in errors[0]
    assert "no layer or block named 'nowhere'" in errors[1]
    assert "spec file 'missing.yaml' not found" in errors[2]
    assert "outside the folders this sheet may read" in errors[3]
    assert "'sideways'" in errors[4]


def test_an_answer_about_another_network(cli, tmp_path):
    # an answer with its own 'spec:' is about that network: torchvision's ResNet-50 has
    # 25,557,032 parameters ("25.5M" truncates, "25.6M" rounds) and 50 weight layers
    code, results = grade(cli, tmp_path, """answers:
  - {at: total, params: "138M"}
  - {spec: SPECS/resnet50.yaml, at: total, params: "25.5M", depth: 50}
  - {spec: SPECS/resnet50.yaml, at: total, params: "138M"}
  - {spec: SPECS/nothere.yaml, at: total, params: "25.6M"}
""".replace("SPECS", str(SPECS)), SPECS / "vgg16.yaml")
    assert code == 1 and marks(results) == [True, True, True, False, False]
    assert results[1]["at"] == f"{SPECS}/resnet50.yaml:total"
    assert results[1]["how"] == "truncated"
    assert results[3]["expected"] == 25_557_032
    assert "spec file" in results[4]["error"] and "not found" in results[4]["error"]


def test_python_api(tmp_path):
    """The same grading from Python: check_sheet, the gradebook, the claim parsers."""
    from archcalc import grading as check, claims, gradebook, layout

    sheet = tmp_path / "s.yaml"
    sheet.write_text(f"spec: {SPECS / 'vgg16.yaml'}\nprefix: binary\nanswers:\n"
                     "  - {at: total, depth: 16, points: 3}\n"
                     "  - {at: fc8, params: \"3.9M\"}\n", "utf-8")  # 4,097,000 / 2²⁰ = 3.907 → 3.9
    result = check.check_sheet(str(sheet), roots=[str(SPECS)])
    assert [(r.metric, r.correct, r.how, r.points) for r in result.results] == [
        ("depth", True, "", 3), ("params", True, "rounded", 1)]
    book = gradebook.to_json([result])
    assert book["students"][0]["earned"] == 4 and book["questions"][0]["right"] == 1
    assert claims.parse_number("≈ 51.3M", {}).how(51_380_224) == "truncated"
    assert layout.keras_tuple("(None, 55, 55, 96)") == "(55, 55, 96)"
    assert layout.to_first((55, 55, 96)) == (96, 55, 55)


@pytest.mark.parametrize("claim", ["1/0", "0/0", "1/-3", "-3", "0", "2/-3", "~", "abc"])
def test_judge_refuses_what_is_not_a_ratio(claim):
    with pytest.raises(Exception, match="ratio|neither a number"):
        check_kinds.judge(claim, 1, 2)
