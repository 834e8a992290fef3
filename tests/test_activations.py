"""Bytes autograd keeps for the backward pass (archcalc/activations.py), against PyTorch.

The measurement (archcalc/torch_backend/saved.py) runs a training-mode forward pass under
torch.autograd.graph.saved_tensors_hooks and sums the distinct storages of the saved
tensors that are not parameters or buffers, each at the first layer that saves it; the
closed form must equal it exactly, per layer and in total. torchinfo's memory lines are
checked against its README (ResNet-152)."""

from __future__ import annotations

import textwrap

import pytest

torch = pytest.importorskip("torch")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from archcalc.activations import saved, torchinfo_memory  # noqa: E402
from archcalc.analysis import analyse  # noqa: E402
from archcalc.errors import SpecError  # noqa: E402
from archcalc.spec.loader import load, load_string  # noqa: E402
from saved_checks import assert_saved_exact as _assert_exact  # noqa: E402
from saved_checks import drawn as _valid  # noqa: E402
from layer_networks import NETWORKS  # noqa: E402

from conftest import ROOT  # noqa: E402


def _analysis(text: str):
    graph = load_string(textwrap.dedent(text)) if "\n" in text else load(str(ROOT / text))
    return analyse(graph)




MODELLED = ["norms_and_activations", "channels_and_shuffles", "embeddings", "learned_tensors",
            "branches_and_merges", "one_d", "three_d", "general_attention", "attention",
            "windows"]


@pytest.mark.parametrize("name", MODELLED)
def test_layer_networks_exact(name):
    """Every modelled layer type, per layer, at batch 2 (per-channel statistics and
    per-sample tensors told apart)."""
    _assert_exact(_analysis(NETWORKS[name]), 2)


@pytest.mark.parametrize("name", ["one_d", "branches_and_merges", "channels_and_shuffles"])
@pytest.mark.parametrize("dtype, nbytes", [(torch.float64, 8), (torch.bfloat16, 2)])
def test_other_dtypes(name, dtype, nbytes):
    """Floats (statistics included) take the activation dtype; int64 indices 8 bytes."""
    _assert_exact(_analysis(NETWORKS[name]), 2, dtype, nbytes)


RMS_NORMS = """
    input: [5, 8]
    layers:
      - linear: {out: 8}
      - rmsnorm
      - rmsnorm: {affine: false}
      - linear: {out: 4}
      - rmsnorm: {shape: [5, 4], name: last}
"""


@pytest.mark.parametrize("dtype, nbytes", [(torch.float16, 2), (torch.bfloat16, 2),
                                           (torch.float32, 4), (torch.float64, 8)])
def test_rms_norm_computes_in_float32_below_32_bits(dtype, nbytes):
    """F.rms_norm's CPU decomposition upcasts a 16-bit input (x.float()): it keeps a float32
    copy of it, float32 rstd and a float32 x·rstd, not the input itself; at 32 bits and
    more the input, and everything in the input's dtype."""
    a = _analysis(RMS_NORMS)
    got = _assert_exact(a, 2, dtype, nbytes)
    # the last norm, by hand: 2·5·4 elements, 2 rows, each kept tensor max(4, nbytes) per
    # element: x (a float32 copy below 32 bits, else linear_2's output, which only it
    # keeps), rstd and x·rstd
    width = max(4, nbytes)
    assert got.per_layer["last"] == 2 * 5 * 4 * width + 2 * width + 2 * 5 * 4 * width


@pytest.mark.parametrize("spec", ["specs/lenet5.yaml", "specs/alexnet-paper.yaml",
                                  "specs/resnet18.yaml"])
def test_zoo_exact(spec):
    _assert_exact(_analysis(spec), 1)


SMALL = {  # the zoo's decoders and encoder-decoder at small sizes (the same layers)
    "specs/gpt2.yaml": {"n_layer": 2, "d_model": 32, "n_head": 4, "n_ctx": 16, "vocab": 50},
    "specs/llama-7b.yaml": {"L": 8, "V": 50, "D": 32, "N": 2, "H": 4, "F": 48},
    "specs/mistral-7b.yaml": {"L": 8, "V": 50, "D": 32, "N": 2, "H": 4, "KV": 2, "F": 48},
    "specs/t5-small.yaml": {"L": 8, "T": 6, "V": 50, "D": 32, "H": 4, "DK": 8, "F": 48,
                            "N": 2},
}


@pytest.mark.parametrize("spec", sorted(SMALL))
def test_zoo_transformers_exact(spec):
    """Causal, grouped-query and rotary attention, RMS and layer norms, tied heads; T5's
    decoder reads a slice of the embeddings through an identity (the same storage)."""
    _assert_exact(analyse(load(str(ROOT / spec), SMALL[spec])), 2)


@pytest.mark.parametrize("spec", sorted(SMALL))
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_zoo_transformers_exact_at_16_bits(spec, dtype):
    """The same at 16 bits: the token ids stay int64, every layer runs in the 16-bit dtype
    (RMS norms in float32 inside)."""
    _assert_exact(analyse(load(str(ROOT / spec), SMALL[spec])), 2, dtype, 2)


def test_hand_derivation():
    """conv → relu → maxpool → flatten → linear at batch 3, float32:
    conv keeps the input x: 3·1·8·8·4 = 768 B; relu keeps its output [3, 2, 6, 6]:
    3·72·4 = 864 B; maxpool keeps that same tensor (counted once) and int64 indices of its
    output [3, 2, 3, 3]: 3·18·8 = 432 B; linear keeps its input, the flattened pool output
    (a view of it): 3·18·4 = 216 B. Total 2,280 B."""
    a = _analysis("""
        input: [1, 8, 8]
        layers:
          - conv2d: {out: 2, kernel: 3}
          - relu
          - maxpool2d: {kernel: 2}
          - flatten
          - linear: {out: 4}
    """)
    s = saved(a, 4, 3)
    assert list(s.per_layer.values()) == [768, 864, 432, 0, 216]
    assert s.total == 2280
    _assert_exact(a, 3)


def test_dropout_with_p_zero_returns_its_input():
    """relu keeps its output; dropout with p = 0 returns that very tensor, which the linear
    keeps too: counted once."""
    a = _analysis("""
        input: [5]
        layers:
          - linear: {out: 6}
          - relu
          - dropout: {p: 0.0}
          - linear: {out: 2}
    """)
    assert _assert_exact(a, 3).total == 3 * 5 * 4 + 3 * 6 * 4


def test_frozen_layers_keep_nothing_before_the_first_trainable_one():
    """Frozen layers whose inputs need no gradient create no autograd node; a frozen
    linear after trainable ones keeps nothing for its (frozen) weight's gradient; a mul
    keeps only the operands the other one's gradient needs."""
    a = _analysis("""
        input: [3, 12, 12]
        layers:
          - conv2d: {out: 4, kernel: 3, trainable: false}
          - batchnorm2d: {trainable: false}
          - relu
          - maxpool2d: {kernel: 2, name: p}
          - conv2d: {out: 4, kernel: 3, padding: 1}
          - layernorm
          - mul: {with: p}
          - flatten
          - linear: {out: 3, trainable: false}
    """)
    s = _assert_exact(a, 2)
    assert s.total == 800 + 800 + 160 + 160  # conv input, layernorm input, mean, rstd


def test_symbolic_batch_is_the_numeric_one_at_each_batch():
    import sympy as sp

    a = _analysis(NETWORKS["one_d"])
    b = sp.Symbol("B", positive=True, integer=True)
    form = saved(a, 4, b)
    for n in (1, 2, 5):
        assert form.total.subs(b, n) == saved(a, 4, n).total
    # per-channel statistics do not grow with the batch: batchnorm1d keeps 2·4 floats
    bn = form.per_layer["batchnorm1d_1"]
    assert sp.expand(bn - b * sp.diff(bn, b)) == 2 * 4 * 4


def test_inplace_relu_as_torchvision_keeps_the_same_bytes():
    """torchvision's ReLU(inplace=True) keeps the tensor it overwrote (the batch norm's
    output, which the next convolution keeps too): the distinct bytes equal those of the
    out-of-place ReLU the spec's network uses."""
    from torch import nn

    def distinct(model, x):
        seen, total = set(), [0]
        state = {p.untyped_storage().data_ptr() for p in (*model.parameters(),
                                                          *model.buffers())}

        def pack(t):
            ptr = t.untyped_storage().data_ptr()
            if ptr not in seen and ptr not in state:
                seen.add(ptr)
                total[0] += t.untyped_storage().nbytes()
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            y = model(x)
        return total[0], y

    def net(inplace):
        return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(inplace=inplace),
                             nn.Conv2d(4, 5, 3), nn.ReLU(inplace=inplace),
                             nn.MaxPool2d(2)).train()

    x = torch.randn(2, 3, 10, 10)
    a = _analysis("""
        input: [3, 10, 10]
        layers:
          - conv2d: {out: 4, kernel: 3}
          - batchnorm2d
          - relu
          - conv2d: {out: 5, kernel: 3}
          - relu
          - maxpool2d: {kernel: 2}
    """)
    expected = saved(a, 4, 2).total
    assert distinct(net(True), x)[0] == expected
    assert distinct(net(False), x)[0] == expected


# ---------------------------------------------------------------- random networks
@st.composite
def small_cnns(draw):
    # layernorm2d returns a channels-last layout: an element-wise layer after it keeps that
    # layout, instance norm copies it, batch and group norm take it as it is.
    c, h = draw(st.integers(1, 4)), draw(st.integers(8, 14))
    layers = [f"  - conv2d: {{out: {draw(st.integers(1, 5))}, kernel: "
              f"{draw(st.integers(1, 3))}, padding: {draw(st.sampled_from([0, 1, 'same']))}}}"]
    for _ in range(draw(st.integers(1, 6))):
        layers.append("  - " + draw(st.sampled_from([
            "relu", "relu6", "gelu", "silu", "sigmoid", "tanh", "hardswish", "leakyrelu",
            "batchnorm2d", "dropout: {p: 0.3}", "dropout2d: {p: 0.2}", "identity",
            "maxpool2d: {kernel: 2, stride: 1}", "avgpool2d: {kernel: 2, stride: 1}",
            "conv2d: {out: 3, kernel: 1}", "conv2d: {out: 4, kernel: 2, stride: 2, "
            "padding: same}", "groupnorm: {groups: 1}",
            "instancenorm2d: {affine: true}", "stochasticdepth: {p: 0.5}",
            "adaptiveavgpool2d: {out: 2}", "zeropad: {padding: 1}", "lrn: {size: 3}",
            "layernorm2d"])))
    layers.append("  - " + draw(st.sampled_from(["globalavgpool", "globalmaxpool",
                                                 "flatten", "permute: {dims: [1, 2, 0]}"])))
    layers.append(f"  - linear: {{out: {draw(st.integers(1, 4))}}}")
    return f"input: [{c}, {h}, {h}]\nlayers:\n" + "\n".join(layers) + "\n"


@st.composite
def sequence_nets(draw):
    n, d = draw(st.integers(2, 6)), draw(st.sampled_from([4, 8]))
    layers = [f"  - embedding: {{vocab: 11, dim: {d}}}"] if draw(st.booleans()) else \
        [f"  - linear: {{out: {d}}}"]
    for _ in range(draw(st.integers(1, 6))):
        layers.append("  - " + draw(st.sampled_from([
            "layernorm", "rmsnorm", "gelu: {approximate: tanh}", "silu", "dropout: {p: 0.1}",
            f"linear: {{out: {d}}}", f"linear: {{out: {d}, bias: false}}", "softmax: {dim: -1}",
            "logsoftmax: {dim: -1}", "tanh", "layerscale: {dim: -1}", "slice: {start: 1}",
            "identity", "attention: {heads: 2, causal: true}",
            "attention: {heads: 2, causal: true, dropout: 0.2}",
            "attention: {heads: 4, kv_heads: 2, head_dim: 2, rotary: true}",
            "attention: {heads: 2, head_dim: 3, bias_table: 5, out: 6}"])))
    source = "[2, {n}]" if layers[0].startswith("  - embedding") else "[{n}, 3]"
    return f"input: {source.format(n=n)}\nlayers:\n" + "\n".join(layers) + "\n"


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(small_cnns(), st.integers(1, 3))
def test_random_cnns(text, batch):
    _assert_exact(_valid(text), batch)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(sequence_nets(), st.integers(1, 3))
def test_random_sequence_networks(text, batch):
    _assert_exact(_valid(text), batch)




# ---------------------------------------------------------------- not modelled
def test_a_linear_on_a_sliced_view_is_refused():
    a = _analysis("""
        input: [3, 4]
        layers:
          - linear: {out: 4}
          - slice: {start: 1}
          - linear: {out: 2}
    """)
    # batch 1: the slice is a contiguous view, kept as it is: its storage is linear_1's
    # whole output, 3·4 floats, beside the input's 3·4
    assert saved(a, 4, 1).total == 3 * 4 * 4 + 3 * 4 * 4
    _assert_exact(a, 1)
    with pytest.raises(SpecError, match="linear 'linear_2': what it keeps of a slice"):
        saved(a, 4, 2)


def test_every_layer_type_has_a_saved_rule():
    from archcalc.layers import REGISTRY
    from archcalc.layers.saves import RULES

    assert set(RULES) == set(REGISTRY)


# ---------------------------------------------------------------- torchinfo
def test_torchinfo_resnet152_readme_lines():
    """torchinfo's README, ResNet-152 at 1×3×224×224 (summary's default units, MB)."""
    m = torchinfo_memory(_analysis("specs/resnet152.yaml"))
    assert m.lines() == ["Input size (MB): 0.60",
                         "Forward/backward pass size (MB): 360.87",
                         "Params size (MB): 240.77",
                         "Estimated Total Size (MB): 602.25"]
    assert m.params == 60_192_808 * 4  # Total params: 60,192,808 (README)


def test_torchinfo_lines_in_the_summary(cli):
    code, out, _ = cli("summary", str(ROOT / "specs/resnet152.yaml"), "--convention",
                       "torchinfo")
    assert code == 0
    assert "Forward/backward pass size (MB): 360.87" in out
    assert "Params size (MB): 240.77" in out


def test_verify_saved_cli(cli):
    code, out, _ = cli("verify", str(ROOT / "specs/lenet5.yaml"), "--saved", "--rf", "off")
    assert code == 0, out
    assert "Saved for backward" in out
    assert "123,104 ✓" in out  # the total at batch 2, as test_zoo_exact measures


def test_verify_saved_json_and_bad_batch(cli):
    import json

    code, out, _ = cli("verify", str(ROOT / "specs/lenet5.yaml"), "--saved", "--rf", "off",
                       "--saved-batch", "1", "--format", "json")
    assert code == 0
    rows = [r for r in json.loads(out)["results"] if r["metric"] == "saved"]
    assert rows[-1] == {"layer": "total", "metric": "saved", "expected": 61552,
                        "measured": 61552, "match": True, "symbols": {}}
    code, _, err = cli("verify", str(ROOT / "specs/lenet5.yaml"), "--saved-batch", "0")
    assert code == 2


def test_verify_saved_notes_what_is_not_modelled(cli, spec_file):
    path = spec_file("input: [4, 6]\nlayers:\n  - linear: {out: 4}\n"
                     "  - permute: {dims: [1, 0]}\n  - multiheadattention: {heads: 2}\n")
    code, out, _ = cli("verify", str(path), "--saved", "--rf", "off", "-n", "1")
    assert code == 0
    assert "bytes kept for backward not compared: " in out
    assert "multiheadattention 'multiheadattention_1': what its in-projection keeps" in out


def test_verify_saved_vit_block(cli):
    code, out, _ = cli("verify", str(ROOT / "examples/vit-block.yaml"), "--saved", "--rf",
                       "off", "-n", "1")
    assert code == 0, out
    assert "not compared" not in out
    assert "80,128 ✓" in out  # the total at batch 2, measured by test_saved_attention.py


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("before, norm", [
    ("layernorm2d\n  - relu", "instancenorm2d"),  # a channels-last copy, kept by the norm
    ("layernorm2d\n  - tanh", "instancenorm2d: {affine: true}"),
    ("layernorm2d\n  - sigmoid", "groupnorm: {groups: 1}"),  # channels-last as it is
    ("slice: {dim: 2, start: 1}", "groupnorm: {groups: 1}"),  # a slice with gaps: a copy
    ("slice: {dim: 0, start: 1}\n  - identity", "groupnorm: {groups: 1}"),
    ("slice: {dim: 2, start: 1}\n  - relu", "instancenorm2d"),  # relu's output: contiguous
])
def test_norms_after_a_tensor_that_is_not_contiguous(before, norm, batch):
    """instance_norm views ``input.contiguous()`` (Normalization.cpp), so a channels-last or
    sliced input is copied and the copy kept; native_group_norm takes a contiguous or
    channels-last input as it is and copies a slice; an element-wise layer on a slice of a
    contiguous tensor returns a contiguous tensor (TensorIterator keeps the axes' order)."""
    _assert_exact(_analysis(f"input: [3, 6, 6]\nlayers:\n  - conv2d: {{out: 3, kernel: 1}}\n"
                            f"  - {before}\n  - {norm}\n"), batch)


def test_group_norm_on_a_permuted_view_is_refused():
    a = _analysis("input: [3, 6, 6]\nlayers:\n  - conv2d: {out: 3, kernel: 1}\n"
                  "  - permute: {dims: [0, 2, 1]}\n  - groupnorm: {groups: 1}\n")
    with pytest.raises(SpecError, match="groupnorm 'groupnorm_1': what it keeps of a "
                                        "permuted view"):
        saved(a, 4, 2)


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("shape", [[3, 8, 8], [1, 4, 5], [3, 1, 5], [2, 3, 4]])
@pytest.mark.parametrize("order", [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1],
                                   [2, 1, 0]])
def test_linear_after_a_permutation(order, shape, batch):
    # F.linear folds its input to [rows, features]: a permutation whose fold is the transpose
    # of a contiguous tensor ([C, H, W] → [H, W, C] at batch 1) is kept without a copy, any
    # other non-contiguous one is copied (found by test_random_cnns)
    _assert_exact(_analysis(f"input: {shape}\nlayers:\n  - conv2d: {{out: {shape[0]}, "
                            f"kernel: 1}}\n  - relu\n  - permute: {{dims: {order}}}\n"
                            f"  - linear: {{out: 2}}\n"), batch)


def test_cuda_resident_rounds_each_storage_to_the_allocators_blocks(spec_file):
    """What a CUDA forward pass leaves allocated: every kept storage but the input (made
    before the pass) and the output, each in 512-byte blocks (CUDACachingAllocator.cpp
    round_size, kMinBlockSize = 512). conv 3→4, 3×3 on 5×5 (out 4×3×3) then ReLU at batch 2:
    the conv keeps its input (the network's input, allocated before), the ReLU its output
    (2·36 floats = 288 bytes: one block), which is the network's output too."""
    from archcalc.activations import cuda_resident, saved
    import archcalc

    a = archcalc.analyse(spec_file("""input: [3, 5, 5]
layers:
  - conv2d: {out: 4, kernel: 3}
  - relu: {}
"""))
    kept = saved(a, 4, 2, "cuda")
    assert kept.total == 2 * 75 * 4 + 2 * 36 * 4
    assert kept.allocated == (288,) and kept.output_bytes == 0
    assert cuda_resident(kept) == 512
    b = archcalc.analyse(spec_file("""input: [3, 5, 5]
layers:
  - conv2d: {out: 4, kernel: 3}
  - conv2d: {out: 700, kernel: 3}
"""))
    kept = saved(b, 4, 2, "cuda")  # the first conv's output (288 B), kept by the second;
    # the output (2·700 floats = 5,600 B) is kept by nobody: 11 blocks
    assert kept.allocated == (288,) and kept.output_bytes == 5600
    assert cuda_resident(kept) == 512 + 11 * 512


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_resident_memory_is_measured_exactly():
    import archcalc

    for spec in ("specs/lenet5.yaml", "specs/resnet18.yaml"):
        v = archcalc.verify(spec, device="cuda", saved=True, rf=False)
        checks = [r for r in v.results if r.metric == "cuda_allocated"]
        assert checks and all(r.match for r in checks), checks


@pytest.mark.parametrize("batch", [1, 2, 3])
@pytest.mark.parametrize("before", ["permute: {dims: [2, 0, 1]}\n  - softmax: {dim: -1}",
                                    "permute: {dims: [1, 0, 2]}\n  - logsoftmax: {dim: 1}"])
def test_softmax_returns_a_contiguous_tensor(before, batch):
    """softmax's CPU kernel makes its input contiguous and allocates a contiguous result
    (aten/src/ATen/native/SoftMax.cpp), unlike the element-wise layers, which keep their
    input's order: the linear after it keeps that result itself, no copy."""
    a = _analysis(f"input: [3, 4, 5]\nlayers:\n  - conv2d: {{out: 4, kernel: 1}}\n"
                  f"  - {before}\n  - linear: {{out: 3}}\n")
    s = _assert_exact(a, batch)
    assert s.per_layer["linear_1"] == 0  # softmax keeps the same storage first


@pytest.mark.parametrize("batch", [1, 2, 3])
@pytest.mark.parametrize("shape, axis, stop", [([6, 4], 0, 1), ([6, 4], 0, 2), ([6, 4], 1, 2),
                                               ([1, 6, 4], 1, 1), ([3, 1, 4], 0, 1)])
def test_a_flattened_slice_is_a_view_when_its_axes_merge(shape, axis, stop, batch):
    """A flatten of a slice is a view (ATen's computeStride) when no two neighbouring axes
    longer than 1 straddle the narrowed one: the class token x[:, 0] of [B, L, E], flattened
    to [B, E], keeps the whole [B, L, E] storage, with a row stride, and the linear after it
    (addmm) keeps it as it is; [B, 2, E] flattened is a copy."""
    a = _analysis(f"input: {shape}\nlayers:\n  - linear: {{out: 4}}\n"
                  f"  - slice: {{dim: {axis}, stop: {stop}}}\n  - flatten\n"
                  f"  - linear: {{out: 3}}\n")
    _assert_exact(a, batch)


@pytest.mark.parametrize("batch", [1, 2])
def test_one_channel_after_layernorm2d_is_contiguous_for_a_convolution(batch):
    """A one-channel layernorm2d output is channels last and contiguous at once; the 1 x 1
    convolution after it writes a contiguous output, so flatten is a view and the Linear
    keeps no tensor of its own (drawn by test_random_cnns; measured with saved-tensor
    hooks)."""
    _assert_exact(analyse(load_string(
        "input: [1, 8, 8]\nlayers:\n  - conv2d: {out: 1, kernel: 1}\n  - layernorm2d\n"
        "  - relu\n  - conv2d: {out: 3, kernel: 1}\n  - relu\n  - flatten\n"
        "  - linear: {out: 1}\n")), batch)
