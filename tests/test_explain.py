"""explain: formula, formula with numbers, value — and the written-out arithmetic agrees
with the rules on every example spec (so the formula registry cannot drift)."""

from __future__ import annotations

import json

import pytest

from archcalc.layers import REGISTRY
from archcalc.report import explain as ex
from conftest import EXAMPLES, ROOT, SPECS
from helpers import analyse_file

VGG = EXAMPLES / "vgg16.yaml"
FIXTURES = sorted(EXAMPLES.glob("*.yaml")) + \
    sorted((ROOT / "tests" / "fixtures" / "profiles").glob("*.yaml")) + \
    [ROOT / "tests" / "fixtures" / "sheets" / "resnet18.yaml"]


def text(explanations) -> str:
    return ex.render(explanations, "table")


def test_issue_example_conv3_1_params():
    a = analyse_file(VGG)
    out = text(ex.explain(a, "stage3.conv2d_1", "params"))
    # VGG16 conv3_1: 3×3 kernel, 128 → 256 channels, bias
    assert "params(stage3.conv2d_1) = (k_h·k_w·C_in/groups + 1)·C_out = (3·3·128 + 1)·256 " \
           "= 295,168" in out


def test_macs_and_flops_of_a_layer():
    a = analyse_file(VGG)
    out = text(ex.explain(a, "stage3.conv2d_1", "flops"))
    # 56·56 positions · 256 outputs · 3·3·128 = 924,844,032 MACs
    assert "= 56·56·256·3·3·128 = 924,844,032" in out
    assert "flops(stage3.conv2d_1) = 2·MACs = 2·924,844,032 = 1,849,688,064" in out


def test_block_and_total_are_sums_of_parts():
    a = analyse_file(VGG)
    out = text(ex.explain(a, "stage1", "params"))
    # conv1_1 (3·3·3+1)·64 = 1,792; conv1_2 (3·3·64+1)·64 = 36,928
    assert "params(stage1) = params(stage1.conv2d_1) + params(stage1.conv2d_2) = " \
           "1,792 + 36,928 = 38,720" in out
    total = text(ex.explain(a, None, "params"))
    # the top level also has flatten, two relu and two dropout layers: 5 parts of 0
    assert total.rstrip().endswith("= 138,357,544   (5 other parts count 0)")


def test_receptive_field_recurrence():
    a = analyse_file(VGG)
    lines = ex.explain(a, "stage5", "rf")[0].lines
    assert lines[0].formula == "rf(stage5.maxpool2d_1)"
    first = next(ln for ln in lines if ln.label == "rf(stage1.conv2d_1)")
    assert first.formula.startswith("r = r' + (k − 1)·j' = 1 + (3 − 1)·1 = 3")
    assert lines[-1].formula.startswith("r = r' + (k − 1)·j' = 196 + (2 − 1)·16 = 212")
    # element-wise layers are not listed
    assert not any("relu" in ln.label for ln in lines)


def test_no_receptive_field_names_the_cause():
    a = analyse_file(EXAMPLES / "unet-skip.yaml")
    line = ex.explain(a, None, "rf")[0].lines[-1]
    assert line.value == "—" and "up1 (convtranspose2d)" in line.note


def test_symbolic_specs_explain_in_symbols():
    a = analyse_file(EXAMPLES / "dense-block.yaml")
    out = text(ex.explain(a, "block1.dense_layer_2.conv2d_2", "params"))
    # 3×3 conv from the 4k bottleneck to k channels, no bias: 36·k²
    assert "= 3·3·(4*k)·k = 36*k**2" in out
    shape = text(ex.explain(analyse_file(EXAMPLES / "dilated.yaml"), "dilated", "shape"))
    assert "⌊(M + 2·0 − D·(F − 1) − 1)/1⌋ + 1 = M - D*F + D" in shape


def test_zero_cost_layers_say_why():
    a = analyse_file(VGG)
    line = ex.explain(a, "stage1.relu_1", "macs")[0].lines[0]
    assert line.value == "0" and "zero on purpose" in line.note
    pool = ex.explain(a, "stage1.maxpool2d_1", "macs")[0].lines[0]
    assert "zero on purpose" in pool.note


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_written_out_formulas_match_the_rules(path):
    """Every layer's formula terms, replayed from its rule, give the analysis's values; a
    count without a formula is zero for a declared reason."""
    from archcalc.layers import formulas
    from archcalc.layers.terms import Term

    a = analyse_file(path)
    checked = 0
    for node in a.graph.nodes[1:]:
        rec = a.layers[node.id]
        for metric, value in (("params", rec.params), ("macs", rec.macs)):
            got = formulas.written_out(a, node, metric, value)  # raises on any disagreement
            checked += isinstance(got, Term)
        for name, term, axis in formulas.of(a, node)["shape"]:
            assert formulas.agrees(term, rec.output_shape[axis]), (node.name, name)
        ex.explain(a, node.name)
    assert checked or path.stem in ("tinynet",)


def _zoo_and_examples():
    return sorted(EXAMPLES.glob("*.yaml")) + sorted(SPECS.glob("*.yaml"))


def test_every_layer_type_has_a_formula_or_a_declared_zero_reason():
    """Over every layer of every zoo spec and example: each count is a formula or zero for
    the reason its type declares; each registered type declares a reason for every metric
    it never writes out as a formula; no type declares a zero it does not count."""
    from archcalc.layers import formulas
    from archcalc.layers.base import COUNTED
    from archcalc.layers.terms import Term

    from layer_networks import NETWORKS

    from helpers import analyse_text

    with_formula: set = set()
    analyses = [analyse_file(p) for p in _zoo_and_examples()] + \
        [analyse_text(text) for text in NETWORKS.values()]
    for a in analyses:
        for node in a.graph.nodes[1:]:
            rec = a.layers[node.id]
            for metric in COUNTED:
                got = formulas.written_out(a, node, metric, getattr(rec, metric))
                if isinstance(got, Term):
                    with_formula.add((node.type, metric))
    for name, rule in REGISTRY.items():
        for metric in COUNTED:
            assert (name, metric) in with_formula or rule.zero_reason(metric), (name, metric)


def test_a_count_without_a_formula_or_reason_is_an_internal_error(monkeypatch, tmp_path):
    """A rule that counts parameters without writing them out as terms, and declares no
    reason for a zero, is a fault in archcalc: explain refuses to call it 'no parameters'."""
    import dataclasses

    from archcalc.layers import formulas
    from archcalc.layers.base import Out

    spec = tmp_path / "prelu.yaml"
    spec.write_text("input: [8, 4, 4]\nlayers:\n  - prelu: {num: 8}\n  - relu\n")
    a = analyse_file(spec)
    plain = dataclasses.replace(REGISTRY["prelu"], fn=lambda ctx: Out(ctx.x, params=ctx.num))
    monkeypatch.setitem(REGISTRY, "prelu", plain)
    with pytest.raises(formulas.FormulaError, match="no formula for params"):
        ex.explain(a, "prelu_1", "params")
    lying = dataclasses.replace(plain, zero={"params": "{type} has no parameters"})
    monkeypatch.setitem(REGISTRY, "prelu", lying)
    with pytest.raises(formulas.FormulaError, match="declares params zero"):
        ex.explain(a, "prelu_1", "params")
    relu = ex.explain(a, "relu_1", "params")[0].lines[0]
    assert (relu.value, relu.note) == ("0", "relu has no parameters")


def test_cli_explain_json_and_errors(cli):
    code, out, _ = cli("explain", VGG, "fc6", "--metric", "params", "--format", "json")
    assert code == 0
    line = json.loads(out)["explanations"][0]["lines"][0]
    # fc6: 25,088 → 4,096 with bias: (25088 + 1)·4096
    assert line["substituted"] == "(25088 + 1)·4096" and line["value"] == "102,764,544"
    code, _, err = cli("explain", VGG, "fc9")
    assert code == 2 and "did you mean" in err
    code, _, err = cli("explain", VGG, "--metric", "param")
    assert code == 2 and "params" in err
    code, out, _ = cli("explain", VGG, "stage1", "--format", "markdown")
    assert code == 0 and out.startswith("**params(stage1)**")


def test_explain_of_pool_and_strided_same_conv_pairs_never_simplifies(monkeypatch):
    """Eight ceil-mode pools with strided 'same' convolutions between them, free H and W:
    the conditions explain asks about are decided at probe points or left undecided, so
    sympy.simplify (up to a second per condition on these forms; about 20 calls before the
    large probes) runs at most for the last layer's question whether its 'same' padding is
    symmetric, once per axis. The derivation still ends at the network's output, and the RF
    jump is the product of the strides, 2¹⁶ = 65,536 (sixteen stride-2 layers)."""
    import sympy as sp

    from helpers import analyse_text

    pairs = "".join("  - maxpool2d: {kernel: 3, stride: 2, ceil_mode: true}\n"
                    "  - conv2d: {out: 8, kernel: 3, stride: 2, padding: same}\n"
                    for _ in range(8))
    a = analyse_text("symbols: {H: null, W: null}\ninput: [3, H, W]\nlayers:\n" + pairs)
    calls = []
    monkeypatch.setattr(sp, "simplify", lambda *args, **k: calls.append(args))
    out = text(ex.explain(a, None, None))
    assert len(calls) <= 2, calls
    assert "rf(conv2d_8)" in out and "j = j'·s = 32768·2 = 65536" in out


def test_formulas_are_the_rules_own_arithmetic():
    """Written out from the rule's terms: ceil-mode pooling with its exact min (the last
    window must start inside the input or the left padding), Keras 'same' as ⌈n/s⌉, and a
    layer scale over the last axis of tokens counted by that axis."""
    from helpers import analyse_text

    a = analyse_text("""
        input: [3, 9, 9]
        layers:
          - maxpool2d: {kernel: 2, stride: 2, padding: 1, ceil_mode: true}
          - conv2d: {out: 4, kernel: 3, stride: 2, padding: same}
          - flatten
          - layerscale: {dim: -1}
    """)
    pool = ex.explain(a, "maxpool2d_1", "shape")[0].lines[0]
    # ⌈(9 + 2 − 1 − 1)/2⌉ = 5, ⌊(9 + 1 − 1)/2⌋ = 4: the fifth window would start in the
    # right padding, so PyTorch drops it: min(5, 4) + 1 = 5 (nn.MaxPool2d gives 5 too)
    assert pool.formula == "min(⌈(H + 2·p − d·(k − 1) − 1)/s⌉, ⌊(H + p − 1)/s⌋) + 1"
    assert pool.substituted == "min(⌈(9 + 2·1 − 1·(2 − 1) − 1)/2⌉, ⌊(9 + 1 − 1)/2⌋) + 1"
    assert pool.value == "5"
    same = ex.explain(a, "conv2d_1", "shape")[0].lines[0]
    assert (same.formula, same.substituted, same.value) == ("⌈H/s⌉", "⌈5/2⌉", "3")
    scale = ex.explain(a, "layerscale_1", "params")[0].lines[0]
    assert (scale.formula, scale.value) == ("D", "36")  # flatten: 4·3·3 features


@pytest.mark.parametrize("tool", ["ptflops", "ptflops-aten", "fvcore", "thop", "torchinfo",
                                  "flopcounter", "megatron"])
def test_a_tool_layer_line_is_the_count_its_table_shows(tool):
    # explain is given the analysis the convention recounted; its line must show that count,
    # not the tool's rule applied a second time (ptflops' linear would add its bias twice).
    from archcalc import conventions
    from archcalc.analysis import analyse
    from archcalc.report.explain import explain_record
    from archcalc.report.values import human
    from archcalc.spec.loader import load
    from conftest import EXAMPLES, SPECS

    conv = conventions.get(tool)
    for path in (EXAMPLES / "vgg16.yaml", SPECS / "gpt2.yaml"):
        a = conv.apply(analyse(load(str(path))))
        assert conv.apply(a) is a  # recounting a recounted analysis changes nothing
        for node in a.graph.nodes[1:]:
            line = explain_record(a, "node", node, "macs", conv).lines[-1]
            assert line.value == human(a.layers[node.id].macs, []), (tool, node.name)


def test_training_flops_of_a_layer_say_why_a_part_is_zero():
    """VGG16's first convolution (224×224×64 outputs, 3×3×3 window: 86,704,128 MACs) reads the
    image, which needs no gradient: forward and weight gradient 2·86,704,128 FLOPs each, no
    input gradient. The second (3×3×64 window: 1,849,688,064 MACs) computes all three."""
    import archcalc

    a = archcalc.analyse("specs/vgg16.yaml")
    text = a.explain("stage1.conv2d_1", "train")
    assert "train(stage1.conv2d_1) = forward + input grad + weight grad = 173,408,256 + 0 + " \
        "173,408,256 = 346,816,512" in text
    assert "input_grad(stage1.conv2d_1) = 0   (its input, the network's input, needs no " \
        "gradient)" in text
    text = a.explain("stage1.conv2d_2", "train")
    assert f"input_grad(stage1.conv2d_2) = 2·MACs = 2·1,849,688,064 = {2 * 1_849_688_064:,}" \
        in text
    total = a.explain(None, "train")
    assert f"= {92_648_177_664:,}" in total and "train(stage1) + train(stage2)" in total


def test_training_flops_of_a_frozen_layer_and_of_a_repeat_from_the_input(cli, spec_file):
    path = spec_file("""symbols: {n: null}
input: [3, 8, 8]
layers:
  - conv2d: {out: 3, kernel: 3, padding: 1, trainable: false, name: stem}
  - repeat: n
    name: body
    layers:
      - conv2d: {out: 3, kernel: 3, padding: 1}
""")
    code, out, err = cli("explain", path, "stem", "--metric", "train")
    assert code == 0, err
    assert "weight_grad(stem) = 0   (frozen (trainable: false))" in out
    assert "input_grad(stem) = 0   (its input, the network's input, needs no gradient)" in out
    code, out, err = cli("explain", path, "body", "--metric", "train")
    # the frozen stem's output needs no gradient: the body's first pass has no input gradient
    assert code == 0, err
    assert "the later n − 1 passes also compute their input gradients" in out
    code, out, err = cli("explain", path, "--metric", "trian")
    assert code == 2 and "did you mean 'train'" in err
