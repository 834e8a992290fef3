"""Channels-last shapes: sheets, single answers and Keras tuples read H×W×C, and a spec may
write its input that way; the analysis is channels first throughout."""

from __future__ import annotations

import json

from conftest import ROOT

ALEXNET = ROOT / "specs" / "alexnet-paper.yaml"
# AlexNet, Fig. 2 of the paper: conv1 gives 55×55×96 maps ((227 − 11)/4 + 1 = 55),
# pool1 27×27×96 (⌊(55 − 3)/2⌋ + 1 = 27); Keras prints them (None, 55, 55, 96).


def grade(cli, tmp_path, body: str, *args):
    path = tmp_path / "sheet.yaml"
    path.write_text(body, encoding="utf-8")
    code, out, err = cli("check", path, "--spec-root", ROOT, "--format", "json", *args)
    return code, (json.loads(out)["sheets"][0] if out.strip() else None), err


def marks(sheet) -> list:
    return [r["correct"] for r in sheet["results"]]


def test_keras_tuples_are_channels_last_everywhere(cli, tmp_path):
    code, sheet, _ = grade(cli, tmp_path, f"""spec: {ALEXNET}
answers:
  - {{at: conv1, output_shape: "(None, 55, 55, 96)"}}
  - {{at: conv1, output_shape: [null, 55, 55, 96]}}
  - {{at: pool1, output_shape: "(None, 27, 27, 96)"}}
  - {{at: conv1, output_shape: "(None, 96, 55, 55)"}}
""")
    assert code == 1 and marks(sheet) == [True, True, True, False]
    wrong = sheet["results"][3]
    assert wrong["expected"] == [55, 55, 96]  # shown in the order the claim is written in
    assert "channels-first order" in wrong["note"]


def test_channels_last_written_without_a_layout_gets_a_note(cli, tmp_path):
    code, sheet, _ = grade(cli, tmp_path, f"""spec: {ALEXNET}
convention: keras
answers:
  - {{at: conv1, output_shape: 55x55x96}}
""")
    assert code == 1 and marks(sheet) == [False]
    assert "layout: channels_last" in sheet["results"][0]["note"]


def test_sheet_and_answer_layouts(cli, tmp_path):
    code, sheet, _ = grade(cli, tmp_path, f"""spec: {ALEXNET}
layout: channels_last
answers:
  - {{at: conv1, output_shape: 55x55x96}}
  - {{at: conv1, output_shape: "96x55x55", layout: channels_first}}
  - {{at: fc6, output_shape: [4096]}}               # one axis: the same in both orders
  - {{at: conv1, output_shape: "96x55x55"}}
""")
    assert code == 1 and marks(sheet) == [True, True, True, False]


def test_inline_channels_last_model_128x128x16(cli, tmp_path):
    # a 3×3 'same' convolution of 16 filters on a 128×128 RGB image: Keras prints
    # (None, 128, 128, 16) and (3·3·3 + 1)·16 = 448 parameters
    body = """model:
  name: small
  input: [128, 128, 3]
  layout: channels_last
  layers:
    - conv2d: {name: conv, out: 16, kernel: 3, padding: same}
convention: keras
answers:
  - {at: conv, output_shape: 128x128x16, params: 448}
  - {at: conv, output_shape: "(None, 128, 128, 16)"}
"""
    code, sheet, _ = grade(cli, tmp_path, body)
    assert code == 0, sheet
    assert marks(sheet) == [True, True, True]


def test_channels_last_spec_has_the_same_numbers(cli, tmp_path):
    text = ALEXNET.read_text(encoding="utf-8")
    last = tmp_path / "alexnet-last.yaml"
    last.write_text(text.replace("input: [3, 227, 227]",
                                 "input: [227, 227, 3]\nlayout: channels_last"), "utf-8")
    outs = []
    for spec in (ALEXNET, last):
        code, out, _ = cli("summary", spec, "--format", "json")
        assert code == 0
        data = json.loads(out)
        outs.append((data["total"]["params"], data["total"]["macs"]))
    # the one-tower count from the spec's own header: 62,378,344
    assert outs[0] == outs[1] and outs[0][0] == 62_378_344


def test_channels_last_input_without_layout_suggests_it(cli, tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("input: [227, 227, 3]\nlayers:\n  - conv2d: {out: 96, kernel: 11, "
                    "stride: 4}\n", "utf-8")
    code, out, err = cli("summary", spec)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "'layout: channels_last'" in err


def test_a_bad_layout_is_located(cli, tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("input: [3, 8, 8]\nlayout: nhwc\nlayers:\n  - relu\n", "utf-8")
    code, _, err = cli("summary", spec)
    assert code == 2 and f"{spec}:2:9: 'layout' must be channels_first" in err


def test_channels_last_spec_is_shown_channels_last(cli, tmp_path):
    # the same AlexNet written [227, 227, 3]: its reports write every shape H, W, C (conv1
    # 55×55×96, Fig. 2 of the paper); the rank-1 shapes of the classifier are unchanged
    text = ALEXNET.read_text(encoding="utf-8")
    last = tmp_path / "alexnet-last.yaml"
    last.write_text(text.replace("input: [3, 227, 227]",
                                 "input: [227, 227, 3]\nlayout: channels_last"), "utf-8")
    code, out, _ = cli("summary", last, "--format", "json")
    data = json.loads(out)
    assert data["input"] == [227, 227, 3]
    conv1 = next(layer for layer in data["layers"] if layer["name"] == "conv1")
    assert conv1["output_shape"] == [55, 55, 96]
    assert data["total"]["output_shape"] == [1000]
    code, out, _ = cli("summary", last)
    assert "[55, 55, 96]" in out and "[96, 55, 55]" not in out
    code, out, _ = cli("shapes", last, "--format", "csv")
    assert "55x55x96" in out


def test_keras_input_tuple_in_a_spec(cli, tmp_path):
    # input: [null, 227, 227, 3], as Keras prints (None, 227, 227, 3): channels last, the
    # batch axis dropped; the one-tower count is the spec's own, 62,378,344
    text = ALEXNET.read_text(encoding="utf-8")
    keras = tmp_path / "alexnet-keras.yaml"
    keras.write_text(text.replace("input: [3, 227, 227]", "input: [null, 227, 227, 3]"),
                     "utf-8")
    code, out, _ = cli("summary", keras, "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["input"] == [227, 227, 3]
    assert data["total"]["params"] == 62_378_344


def test_explain_writes_a_channels_last_specs_shapes_channels_last(cli, tmp_path):
    # 32x32x3 → conv 3x3, 8 filters: (32 - 3) + 1 = 30 → [30, 30, 8], written as the spec writes.
    spec = tmp_path / "cl.yaml"
    spec.write_text("layout: channels_last\ninput: [32, 32, 3]\nlayers:\n"
                    "  - conv2d: {out: 8, kernel: 3}\n")
    code, out, _ = cli("explain", str(spec), "conv2d_1", "--metric", "shape")
    assert code == 0
    assert "shape(conv2d_1) = [30, 30, 8]   (input [32, 32, 3];" in out
