"""Training FLOPs (archcalc/training.py): forward, input gradients and weight gradients per
layer, against derivations, against FlopCounterMode over one forward and backward pass of
``out.sum()`` (torch_backend/measure.py ``measure_training``), and against nanoGPT's estimate."""

from __future__ import annotations

import json

import pytest

from archcalc.layers import REGISTRY
from archcalc.layers.backward import BACKWARD, ZERO_BACKWARD
from archcalc.training import training
from helpers import analyse_file, analyse_text, sym


def test_every_layer_type_has_a_training_rule():
    """A backward rule, or a declared reason why its backward has no products (not both)."""
    assert set(BACKWARD) | set(ZERO_BACKWARD) == set(REGISTRY)
    assert not set(BACKWARD) & set(ZERO_BACKWARD)
    # the types with products are exactly those with a backward rule
    assert {n for n, r in REGISTRY.items() if r.cost == "macs"} == set(BACKWARD)


def test_vgg16_is_three_forwards_less_the_first_input_gradient():
    """Every conv and linear is trained and every input but the network's needs a gradient:
    each layer costs forward + input grad + weight grad = 3 × its forward, except the first
    whose input (the image) needs none."""
    a = analyse_file("specs/vgg16.yaml")
    t = training(a)
    first = a.record("stage1.conv2d_1").macs
    assert first == 64 * 3 * 9 * 224 * 224 == 86_704_128
    assert a.total.macs == 15_470_264_320
    assert t.total.forward == a.total.macs
    assert t.total.weight_grad == a.total.macs
    assert t.total.input_grad == a.total.macs - first
    assert t.total.macs == 3 * 15_470_264_320 - 86_704_128 == 46_324_088_832
    assert t.total.flops == 92_648_177_664


FROZEN_PREFIX = """
input: [3, 8, 8]
layers:
  - conv2d: {name: a, out: 4, kernel: 3, trainable: false}
  - relu
  - conv2d: {name: b, out: 4, kernel: 3, trainable: false}
  - conv2d: {name: c, out: 5, kernel: 3}
  - batchnorm2d
  - conv2d: {name: d, out: 6, kernel: 1, trainable: false}
  - flatten
  - linear: {name: fc, out: 7}
"""


def test_a_frozen_prefix_runs_no_backward():
    """a and b are frozen and read nothing that needs a gradient: no backward at all. c is
    trained but reads b's output, which needs none: only its weight gradient. d is frozen
    but reads c's output: only its input gradient. fc: both."""
    a = analyse_text(FROZEN_PREFIX)
    t = training(a)
    rows = {r.local: t.of(r) for r in a.records}
    macs = {n: a.record(n).macs for n in "abcd"}
    assert macs == {"a": 4 * 27 * 36, "b": 4 * 36 * 16, "c": 5 * 36 * 4, "d": 6 * 5 * 4}
    assert (rows["a"].input_grad, rows["a"].weight_grad) == (0, 0)
    assert (rows["b"].input_grad, rows["b"].weight_grad) == (0, 0)
    assert (rows["c"].input_grad, rows["c"].weight_grad) == (0, macs["c"])
    assert (rows["d"].input_grad, rows["d"].weight_grad) == (macs["d"], 0)
    fc = a.record("fc").macs
    assert fc == 24 * 7
    assert (rows["fc"].input_grad, rows["fc"].weight_grad) == (fc, fc)
    assert t.total.macs == sum(macs.values()) + fc + macs["c"] + macs["d"] + 2 * fc


def test_symbolic_spec_gives_closed_forms():
    text = """
symbols: {H: null}
input: [3, H, H]
layers:
  - conv2d: {name: c1, out: 8, kernel: 3, padding: 1}
  - conv2d: {name: c2, out: 8, kernel: 3, padding: 1}
"""
    a = analyse_text(text)
    H = sym("H")
    t = training(a)
    assert t.total.forward == 3 * 8 * 9 * H**2 + 8 * 8 * 9 * H**2
    assert t.total.macs.expand() == (3 * t.total.forward - 3 * 8 * 9 * H**2).expand()


def test_gpt2_against_nanogpt_estimate():
    """nanoGPT model.py estimate_mfu: flops_per_token = 6·N + 12·L·H·Q·T, per sequence × T,
    N = get_num_params() (non_embedding: the position table wpe left out). archcalc's exact
    count for specs/gpt2.yaml (tied head, every layer trained): each linear 3 × its forward
    (the head's weight gradient included), the two attention products 3 × their forward
    (two operand gradients each, no weights), norms and activations nothing. The estimate
    differs by 6·T per parameter that is no matrix weight: the biases and layer norms."""
    a = analyse_file("specs/gpt2.yaml")
    t = training(a)
    n_layer, d, heads, T, vocab = 12, 768, 12, 1024, 50257
    assert t.total.flops == 874_944_921_600 == 3 * 2 * a.total.macs
    N = a.total.params - T * d  # nanoGPT's get_num_params(): wpe excluded
    estimate = (6 * N + 12 * n_layer * heads * (d // heads) * T) * T
    assert estimate == 875_690_459_136
    weights = vocab * d + n_layer * 12 * d * d  # wte (the head's) and the blocks' matrices
    # per block: ln_1, ln_2 (weight and bias), the q/k/v/o biases, c_fc's and c_proj's; ln_f
    others = n_layer * (2 * 2 * d + 4 * d + 4 * d + d) + 2 * d
    assert N - weights == others == 121_344
    assert estimate - t.total.flops == 6 * T * others == 745_537_536
    # the backward is exactly twice the forward here (nanoGPT's 2·forward holds exactly)
    assert t.total.input_grad + t.total.weight_grad == 2 * t.total.forward


def test_cli_flops_train_table_and_json(cli):
    code, out, err = cli("flops", "specs/vgg16.yaml", "--train", "--depth", "0",
                         "--width", "300")
    assert code == 0, err
    assert "Training FLOPs: 92,648,177,664 = forward 30,940,528,640 + input gradients " \
           "30,767,120,384 + weight gradients 30,940,528,640" in out
    code, out, err = cli("flops", "specs/vgg16.yaml", "--train", "--format", "json")
    assert code == 0, err
    obj = json.loads(out)
    assert obj["total"]["train_flops"] == {"forward": 30_940_528_640,
                                           "input_grad": 30_767_120_384,
                                           "weight_grad": 30_940_528_640,
                                           "training": 92_648_177_664}
    fc8 = next(r for r in obj["layers"] if r["name"] == "fc8")
    assert fc8["train_flops"]["training"] == 3 * fc8["flops"]
    code, plain, _ = cli("flops", "specs/vgg16.yaml", "--format", "json")
    assert "train_flops" not in plain  # only with --train: the old output is unchanged


def test_cli_train_csv(cli):
    code, out, err = cli("flops", "specs/lenet5.yaml", "--train", "--format", "csv")
    assert code == 0, err
    head = out.splitlines()[0]
    assert head == "name,depth,kind,type,shape,forward,input_grad,weight_grad,training"


def test_cli_train_refuses_tool_conventions(cli):
    code, out, err = cli("flops", "specs/vgg16.yaml", "--train", "--convention", "fvcore")
    assert code == 2 and out == ""
    assert err == ("error: training FLOPs count the products PyTorch's autograd computes, "
                   "from archcalc's own MACs; this analysis holds fvcore's forward counts "
                   "(use --convention pytorch)\n")


def test_repeat_over_free_symbol_from_the_input(cli, spec_file):
    """n convolutions 3→3, 3×3 on the 8×8 input: each pass's forward and weight gradient are
    64·27·3 = 5,184 MACs; the first pass reads the input, which needs no gradient, so only the
    n − 1 later passes compute an input gradient (5,184 each). At n = 3 the closed form must
    equal the unrolled network's count."""
    text = """symbols: {n: null}
input: [3, 8, 8]
layers:
  - repeat: n
    name: body
    layers:
      - conv2d: {out: 3, kernel: 3, padding: 1}
      - relu: {}
"""
    import archcalc
    import sympy as sp

    path = spec_file(text)
    n = sp.Symbol("n", integer=True, positive=True)
    t = archcalc.analyse(path).train_flops()
    f = 2 * 5184
    assert sp.simplify(t.forward - f * n) == 0 and sp.simplify(t.weight_grad - f * n) == 0
    assert sp.simplify(t.input_grad - f * (n - 1)) == 0
    bound = archcalc.analyse(path, set={"n": 3}).train_flops()
    assert bound.training == t.training.subs(n, 3) == 3 * 3 * f - f
    code, out, err = cli("flops", path, "--train")
    assert code == 0, err
    assert "The layers of repeat 'body' show its first pass" in out


def test_nested_repeats_from_the_input_are_refused(cli, spec_file):
    path = spec_file("""symbols: {n: null, m: null}
input: [3, 8, 8]
layers:
  - repeat: n
    name: outer
    layers:
      - repeat: m
        name: inner
        layers:
          - conv2d: {out: 3, kernel: 3, padding: 1}
""")
    code, out, err = cli("flops", path, "--train")
    assert code == 2 and out == ""
    assert err.startswith(f"error: {path}:4:5: repeat 'outer' over n: its first pass's input")
    code, out, err = cli("flops", path, "--train", "--set", "n=2")
    assert code == 0, err


def test_api_train_flops():
    import archcalc

    a = archcalc.analyse("specs/vgg16.yaml")
    t = a.train_flops()
    assert (t.forward, t.input_grad, t.weight_grad, t.training) == \
        (30_940_528_640, 30_767_120_384, 30_940_528_640, 92_648_177_664)
    assert a.train_flops("stage1.conv2d_1").input_grad == 0
    assert a.to_dict(train=True)["total"]["train_flops"]["training"] == 92_648_177_664
    with pytest.raises(archcalc.SpecError, match=r"use convention='pytorch'"):
        archcalc.analyse("specs/vgg16.yaml", convention="thop").train_flops()


# ---------------------------------------------------------------- against PyTorch
torch_needed = pytest.mark.skipif(
    __import__("importlib").util.find_spec("torch") is None, reason="needs torch")


def _compare_with_torch(a) -> list:
    """Per node: (name, archcalc's backward in FlopCounterMode's terms, measured), forward
    likewise; the mismatches."""
    from archcalc.layers.backward import flopcounter_count
    from archcalc.profiles import view_of
    from archcalc.torch_backend.measure import measure_training

    t = training(a)
    m = measure_training(a.graph, "cpu")
    bad = []
    for node in a.graph.nodes[1:]:
        r = t.layers[node.id]
        want = 2 * flopcounter_count(view_of(a, node), (r.input_grad, r.weight_grad))
        if (2 * r.forward, want) != (m[node.id].forward, m[node.id].backward):
            bad.append((node.name, 2 * r.forward, m[node.id].forward, want, m[node.id].backward))
    return bad


@torch_needed
def test_frozen_prefix_against_torch():
    assert _compare_with_torch(analyse_text(FROZEN_PREFIX)) == []


@torch_needed
@pytest.mark.parametrize("spec", ["resnet18", "mobilenet_v2", "swin_t", "bert-base",
                                  "densenet121", "lenet5"])
def test_zoo_against_torch(spec):
    """Every layer's forward and backward FLOPs as FlopCounterMode measures them (grouped
    convolutions: FlopCounterMode's weight gradient is groups × autograd's)."""
    assert _compare_with_torch(analyse_file(f"specs/{spec}.yaml")) == []


@torch_needed
def test_flopcounter_overcounts_grouped_weight_gradients():
    """A depthwise 3×3 convolution, 8 channels, on 8×8 (padding 1): forward 8·9·64 MACs;
    autograd's weight gradient is one grouped convolution of the same size, FlopCounterMode
    counts it 8 times (conv_backward_flop transposes batch and channels and drops groups)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    conv = torch.nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False)
    x = torch.randn(1, 8, 8, 8)  # needs no gradient: only the weight's
    with FlopCounterMode(display=False) as counter:
        conv(x).sum().backward()
    forward = 2 * 8 * 9 * 64
    assert counter.get_total_flops() == forward + 8 * forward


@torch_needed
def test_verify_train_cli(cli):
    code, out, err = cli("verify", "specs/lenet5.yaml", "--train", "--rf", "off")
    assert code == 0, out + err
    assert "total" in out and "1,757,136 ✓" in out
    assert "FlopCounterMode counts a grouped convolution's weight gradient groups times" in out
    code, out, err = cli("verify", "specs/resnet18.yaml", "--train", "--rf", "off",
                         "--format", "json")
    assert code == 0, err
    results = json.loads(out)["results"]
    total = [r for r in results if r["metric"] == "train"]
    assert total == [{"layer": "total", "metric": "train", "expected": 10_648_412_160,
                      "measured": 10_648_412_160, "match": True, "symbols": {}}]
    assert sum(r["metric"] == "backward" for r in results) == \
        len(analyse_file("specs/resnet18.yaml").graph.nodes) - 1


# ---------------------------------------------------------------- random networks
if __import__("importlib").util.find_spec("torch") is not None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    RANDOM = settings(max_examples=80, derandomize=True, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))

    def _flag(draw) -> str:
        return ", trainable: false" if draw(st.booleans()) else ""

    @st.composite
    def conv_nets(draw) -> str:
        """[c, 6, 6] through convolutions (grouped too), batch norms and ReLUs, each maybe
        frozen, then a linear layer."""
        c = draw(st.sampled_from([1, 2, 4]))
        lines = [f"input: [{c}, 6, 6]", "layers:"]
        for _ in range(draw(st.integers(1, 5))):
            kind = draw(st.sampled_from(["conv", "conv", "bn", "relu"]))
            if kind == "conv":
                out = draw(st.sampled_from([2, 4, 8]))
                groups = draw(st.sampled_from([g for g in (1, 2, 4) if c % g == 0 and
                                               out % g == 0]))
                k = draw(st.sampled_from([1, 3]))
                lines.append(f"  - conv2d: {{out: {out}, kernel: {k}, padding: {k // 2}, "
                             f"groups: {groups}, bias: {str(draw(st.booleans())).lower()}"
                             f"{_flag(draw)}}}")
                c = out
            elif kind == "bn":
                lines.append(f"  - batchnorm2d: {{{_flag(draw)[2:]}}}")
            else:
                lines.append("  - relu")
        lines += ["  - flatten", f"  - linear: {{out: 3{_flag(draw)}}}"]
        return "\n".join(lines) + "\n"

    @st.composite
    def sequence_nets(draw) -> str:
        """[L, E] through linear layers, attention (grouped-query, causal, or
        nn.MultiheadAttention), layer norms, ReLUs and residual adds, each maybe frozen."""
        e = 8
        lines = [f"input: [{draw(st.integers(2, 5))}, {e}]", "layers:"]
        if draw(st.booleans()):  # a named output that cross-attention may read as keys
            lines.append(f"  - linear: {{name: first, out: {e}{_flag(draw)}}}")
        kinds = ["linear", "attention", "mha", "ln", "relu", "res"]
        if len(lines) == 3:  # and a path that starts again from the input, beside it
            kinds += ["cross", "cross_mha", "restart", "products"]
        for _ in range(draw(st.integers(1, 4))):
            kind = draw(st.sampled_from(kinds))
            if kind == "linear":
                lines.append(f"  - linear: {{out: {e}{_flag(draw)}}}")
            elif kind == "attention":
                heads = draw(st.sampled_from([1, 2, 4]))
                kv = draw(st.sampled_from([h for h in (1, 2, 4) if heads % h == 0]))
                lines.append(f"  - attention: {{heads: {heads}, kv_heads: {kv}, causal: "
                             f"{str(draw(st.booleans())).lower()}{_flag(draw)}}}")
            elif kind == "mha":
                lines.append(f"  - multiheadattention: {{heads: 2{_flag(draw)}}}")
            elif kind == "products":  # x·firstᵀ, then that times first: [L, E] again
                lines += ["  - matmul: {with: first, transpose: true}",
                          "  - einsum: {equation: 'ij,jk->ik', with: [first]}"]
            elif kind == "restart":
                lines.append(f"  - linear: {{out: {e}, from: input{_flag(draw)}}}")
            elif kind == "cross":
                lines.append(f"  - attention: {{heads: 2, kv: first{_flag(draw)}}}")
            elif kind == "cross_mha":
                lines.append(f"  - multiheadattention: {{heads: 2, kv: first{_flag(draw)}}}")
            elif kind == "ln":
                lines.append(f"  - layernorm: {{{_flag(draw)[2:]}}}")
            elif kind == "relu":
                lines.append("  - relu")
            else:
                lines += ["  - branches:",
                          f"      - [linear: {{out: {e}{_flag(draw)}}}]",
                          "      - []",
                          "    merge: add"]
        lines.append(f"  - linear: {{out: 3{_flag(draw)}}}")
        return "\n".join(lines) + "\n"

    @torch_needed
    @RANDOM
    @given(st.one_of(conv_nets(), sequence_nets()))
    def test_random_networks_against_torch(text):
        """Per layer, forward and backward FLOPs against FlopCounterMode over forward and
        backward of out.sum(), with random frozen layers."""
        assert _compare_with_torch(analyse_text(text)) == [], text


PRODUCTS = """
input: [4, 8]
layers:
  - linear: {name: first, out: 8, trainable: false}
  - linear: {name: mid, out: 8}
  - matmul: {name: scores, with: first, transpose: true}
  - einsum: {name: mix, equation: 'ij,jk->ik', with: [first]}
  - linear: {name: head, out: 3}
"""


def test_products_give_one_gradient_per_operand_that_needs_one():
    """``first`` is frozen and reads the input: it needs no gradient, so each product with
    it gives only the current tensor's gradient (mid is trained, so it needs one)."""
    a = analyse_text(PRODUCTS)
    t = training(a)
    rows = {r.local: t.of(r) for r in a.records}
    assert a.record("scores").macs == 4 * 8 * 4 and a.record("mix").macs == 4 * 4 * 8
    assert (rows["scores"].input_grad, rows["scores"].weight_grad) == (128, 0)
    assert (rows["mix"].input_grad, rows["mix"].weight_grad) == (128, 0)
    assert (rows["mid"].input_grad, rows["mid"].weight_grad) == (0, 256)
    assert (rows["first"].input_grad, rows["first"].weight_grad) == (0, 0)


@torch_needed
def test_products_against_torch():
    assert _compare_with_torch(analyse_text(PRODUCTS)) == []
    both = PRODUCTS.replace("out: 8, trainable: false}", "out: 8}")
    a = analyse_text(both)
    assert training(a).of(a.record("scores")).input_grad == 2 * 128
    assert _compare_with_torch(a) == []


REPEAT = """
symbols: {n: null}
input: [4, 8]
layers:
  - linear: {out: 8}
  - repeat: n
    name: body
    layers:
      - linear: {out: 8}
      - relu
  - linear: {out: 2, trainable: false}
"""


def test_repeat_over_a_free_symbol_closed_form():
    """The first linear reads the input (weight gradient only), the n linears of the body
    are 3 × their forward of 4·8·8, the frozen head 2 × its forward of 4·8·2."""
    a = analyse_text(REPEAT)
    n = sym("n")
    t = training(a)
    assert (t.total.macs - (256 * 2 + 3 * 256 * n + 64 * 2)).expand() == 0


@torch_needed
def test_verify_train_at_sampled_points(cli, spec_file):
    """Free symbols: each point's layers and the closed-form total against torch (a repeat
    over n built pass by pass)."""
    code, out, err = cli("verify", spec_file(REPEAT), "--train", "--samples", "2", "--rf",
                         "off", "--format", "json")
    assert code == 0, out + err
    results = json.loads(out)["results"]
    totals = [r for r in results if r["metric"] == "train"]
    assert len(totals) == 2
    for r in totals:
        n = r["symbols"]["n"]
        assert r["match"] and r["expected"] == 2 * (256 * 2 + 3 * 256 * n + 64 * 2)
    code, out, err = cli("verify", "examples/dilated.yaml", "--train", "--samples", "2",
                         "--rf", "off")
    assert code == 0, out + err
    assert "Backward FLOPs" in out
