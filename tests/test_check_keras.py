"""Keras options that change the counts: BatchNormalization's scale/center and frozen layers
(trainable: false), graded as Keras's model.summary() splits them."""

from __future__ import annotations

import json

import pytest

from conftest import ROOT

INCEPTION = ROOT / "specs" / "inception_v3.yaml"
# Keras's InceptionV3 is torchvision's network with every BatchNormalization(scale=False):
# conv2d_bn (keras/applications/inception_v3.py) drops γ, keeping β and the moving mean and
# variance. From archcalc's torchvision count (23,834,568 parameters with 34,432 running
# statistics, i.e. 17,216 BatchNorm channels): 23,834,568 − 17,216 + 34,432 = 23,851,784, the
# figure of Keras's applications table (keras-io templates/api/applications/index.md) and of
# model.summary() (trainable 23,817,352, non-trainable 34,432). Without the top (Dense(1000) on
# 2,048 features: 2,049,000): 21,802,784 total, 21,768,352 trainable.


def keras_inception(tmp_path, top: bool = True, head: str = ""):
    text = INCEPTION.read_text(encoding="utf-8")
    assert text.count("- batchnorm2d: {eps: 0.001}") == 1
    text = text.replace("- batchnorm2d: {eps: 0.001}", "- batchnorm2d: {eps: 0.001, scale: false}")
    tail = "  - adaptiveavgpool2d: {name: avgpool, out: 1}\n  - dropout: {p: 0.5}\n" \
           "  - flatten\n  - linear: {name: fc, out: 1000}\n"
    assert text.endswith(tail)
    if not top:
        text = text[:-len(tail)]
    if head:  # the network becomes a frozen block under a new head
        body, layers = text.split("\nlayers:\n")
        inner = "".join("      " + line + "\n" for line in layers.splitlines())
        text = body + "\n  base:\n    layers:\n" + inner + "\nlayers:\n" + head
    path = tmp_path / "inception_keras.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def grade(cli, tmp_path, spec, answers: str, convention="keras"):
    sheet = tmp_path / "sheet.yaml"
    sheet.write_text(f"spec: {spec.name}\nconvention: {convention}\nanswers:\n{answers}",
                     encoding="utf-8")
    code, out, err = cli("check", sheet, "--format", "json")
    assert out.strip(), err
    return code, json.loads(out)["sheets"][0]["results"]


def test_inception_v3_keras_with_and_without_top(cli, tmp_path):
    spec = keras_inception(tmp_path)
    code, results = grade(cli, tmp_path, spec, "  - {at: total, params: 23851784, "
                          "trainable_params: 23817352, non_trainable_params: 34432}\n")
    assert code == 0, results
    spec = keras_inception(tmp_path, top=False)
    code, results = grade(cli, tmp_path, spec, "  - {at: total, params: \"21,802,784\", "
                          "trainable_params: \"21,768,352\", non_trainable_params: 34432}\n"
                          "  - {at: total, params: \"21.8M\"}\n")
    assert code == 0, results


def test_frozen_base_under_a_new_head(cli, tmp_path):
    # transfer learning: the base frozen, GlobalAveragePooling2D and Dense(5) on its 2,048
    # features: 2,048·5 + 5 = 10,245 trainable; 21,802,784 non-trainable (the whole base)
    head = ("  - base: {name: base, trainable: false}\n"
            "  - adaptiveavgpool2d: {out: 1}\n  - flatten\n  - linear: {name: head, out: 5}\n")
    spec = keras_inception(tmp_path, top=False, head=head)
    code, results = grade(cli, tmp_path, spec, """  - at: total
    params: "21,813,029"
    trainable_params: "10,245"
    non_trainable_params: "21,802,784"
  - {at: base, trainable_params: 0}
  - {at: head, trainable_params: 10245}
  - {at: total, trainable_params: "21,778,597"}
""")
    assert [r["correct"] for r in results] == [True, True, True, True, True, False]
    # PyTorch counts a frozen parameter in parameters() (requires_grad off): the total is the
    # same without the moving statistics, 21,813,029 − 34,432 = 21,778,597
    code, results = grade(cli, tmp_path, spec, """  - at: total
    params: "21,778,597"
    trainable_params: "10,245"
    non_trainable_params: "21,768,352"
""", convention="pytorch")
    assert code == 0, results


def test_center_false_and_both(cli, tmp_path):
    # BatchNormalization over 16 channels: γ, β 16 each, moving statistics 32
    model = """model:
  input: [16, 8, 8]
  layers:
    - batchnorm2d: {name: both, center: false, scale: false}
    - batchnorm2d: {name: beta, scale: false}
    - batchnorm2d: {name: gamma, center: false}
    - batchnorm2d: {name: plain}
convention: keras
answers:
  - {at: both, params: 32, trainable_params: 0}
  - {at: beta, params: 48, trainable_params: 16}
  - {at: gamma, params: 48, trainable_params: 16}
  - {at: plain, params: 64, trainable_params: 32, non_trainable_params: 32}
"""
    sheet = tmp_path / "s.yaml"
    sheet.write_text(model, "utf-8")
    code, out, _ = cli("check", sheet, "--format", "json")
    assert code == 0, out


@pytest.mark.parametrize("value", ["'false'", 0, "[true]"])
def test_trainable_must_be_a_boolean(cli, tmp_path, value):
    spec = tmp_path / "s.yaml"
    spec.write_text(f"input: [3, 8, 8]\nlayers:\n  - conv2d: {{out: 4, kernel: 3, "
                    f"trainable: {value}}}\n", "utf-8")
    code, out, err = cli("summary", spec)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert f"{spec}:3:44: conv2d: 'trainable' must be true or false" in err


def test_scale_center_and_frozen_layers_match_pytorch(cli, tmp_path):
    # verify builds BatchNorm without the left-out γ or β: parameters() then holds C each
    spec = tmp_path / "bn.yaml"
    spec.write_text("input: [3, 16, 16]\nlayers:\n"
                    "  - conv2d: {out: 8, kernel: 3, bias: false, trainable: false}\n"
                    "  - batchnorm2d: {scale: false}\n  - batchnorm2d: {center: false}\n"
                    "  - batchnorm2d: {scale: false, center: false}\n", "utf-8")
    code, out, _ = cli("verify", spec, "--format", "json")
    assert code == 0, out
    params = [r for r in json.loads(out)["results"] if r["metric"] == "params"]
    assert all(r["match"] for r in params)
    assert [r["measured"] for r in params] == [216, 8, 8, 0]  # 3·3·3·8; C; C; nothing


def test_reports_split_trainable_and_frozen(cli, tmp_path):
    # a frozen block (3·3·3·16 = 432 conv weights, β 16, moving statistics 32) under a
    # trainable head (16·32·32 + 1)·10 = 163,850: Keras's summary gives 164,330 total,
    # 163,850 trainable, 432 + 16 + 32 = 480 non-trainable
    spec = tmp_path / "tl.yaml"
    spec.write_text("""input: [3, 32, 32]
blocks:
  base:
    layers:
      - conv2d: {out: 16, kernel: 3, padding: 1, bias: false}
      - batchnorm2d: {scale: false}
      - relu
layers:
  - base: {name: features, trainable: false}
  - flatten
  - linear: {name: head, out: 10}
""", "utf-8")
    code, out, _ = cli("params", spec, "--convention", "keras")
    assert code == 0 and "Total params: 164,330" in out
    assert "Trainable params: 163,850  ·  Non-trainable params: 480" in out
    code, out, _ = cli("params", spec, "--convention", "keras", "--format", "json")
    total = json.loads(out)["total"]
    assert (total["params"], total["trainable_params"], total["non_trainable"]) == \
        (164_330, 163_850, 480)
    code, out, _ = cli("params", spec)  # PyTorch: parameters() keeps the frozen 448
    assert "Total params: 164,298 (32 non-trainable buffer elements)" in out
    assert "Trainable params: 163,850  ·  Non-trainable params: 448" in out
