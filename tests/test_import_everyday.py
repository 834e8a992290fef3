"""archcalc import torch of modules written as tutorials write them
(tests/torch_everyday_models.py): F.log_softmax, softmax and log_softmax as methods,
torch.mean and torch.amax, means with keepdim, a mean over a sequence's tokens, unsqueeze
and indexing with None; a module with parameters called twice is refused. Each import analyses to PyTorch's own count of the module
(parameters(), FlopCounterMode's FLOPs ÷ 2) and output shape, and passes verify."""

from __future__ import annotations

import sys

import pytest

from conftest import ROOT

torch = pytest.importorskip("torch")

sys.path.insert(0, str(ROOT / "tests"))

import torch_transformer_models as tv  # noqa: E402

import archcalc  # noqa: E402
from archcalc.analysis import analyse  # noqa: E402
from archcalc.spec.loader import load_string  # noqa: E402
from archcalc.torch_backend.importer import import_torch  # noqa: E402
import torch_everyday_models as everyday  # noqa: E402

CASES = [  # (class, one sample's input, token ids, a line the spec has)
    ("FunctionalLeNet", (3, 32, 32), False, "  - logsoftmax: {name: log_softmax, dim: 0}"),
    ("GatedHalves", (3, 16, 16), False, "  - reshape: {name: getitem_2, shape: [8, 1, 1]}"),
    ("KeptMeans", (3, 16, 16), False, "  - adaptiveavgpool2d: {name: mean, out: 1}"),
    ("PoolBySize", (3, 16, 16), False, "  - adaptiveavgpool2d: {name: avg_pool2d, out: 1}"),
    ("TokenPooling", (12,), True, "  - permute: {name: mean, dims: [1, 0]}\n  - globalavgpool"),
    ("Activations", (3, 12, 12), False,
     "  - leakyrelu: {name: leaky_relu, slope: 0.2}\n  - elu: {name: elu}\n"
     "  - elu: {name: elu_2, alpha: 0.5}\n  - hardtanh: {name: hardtanh, min: -2.0, max: 2.0}\n"
     "  - hardtanh: {name: hardtanh_1, min: -1.5, max: 2.5}\n  - relu6: {name: clamp}\n"
     "  - relu: {name: clamp_1}\n  - hardtanh: {name: clip, min: -0.5, max: 0.5}\n"
     "  - softplus: {name: softplus}\n  - prelu: {name: prelu, num: 6}\n"
     "  - relu: {name: relu_}\n  - sigmoid: {name: sigmoid_}"),
    ("NormsAndPads", (3, 10, 10), False,
     "  - zeropad: {name: pad, padding: [[0, 1], [1, 2]]}"),
    ("TextCNN", (12,), True, "  - adaptivemaxpool1d: {name: max_pool1d, from: relu, out: 1}"),
    ("Stacked", (3, 8, 8), False,
     "  - reshape: {name: stack, from: a, shape: [1, 4, 6, 6]}\n"
     "  - reshape: {name: stack_2, from: b, shape: [1, 4, 6, 6]}\n"
     "  - concat: {name: stack_3, from: stack, with: stack_2}"),
    ("ExpandedGate", (3, 8, 8), False, "  - mul: {name: mul, from: conv, with: sigmoid}"),
    ("InPlaceResidual", (3, 8, 8), False,
     "  - add: {name: add_, from: conv, with: down}\n  - relu: {name: act}\n"
     "  - relu: {name: relu_}\n  - globalavgpool: {name: mean}"),
    ("CausalSelfAttention", (12,), True,
     "  - attention: {name: attn, heads: 4, dropout: 0.1, causal: true}"),
    ("causal_float_mask", (12,), True,
     "  - attention: {name: attn, heads: 4, dropout: 0.1, causal: true}"),
    ("CausalEncoder", (12,), True,
     "    - attention: {name: self_attn, heads: 4, causal: true, dropout: 0.1}"),
    ("Arithmetic", (3, 8, 8), False,
     "  - add: {name: sub, from: conv, with: relu}\n  - sigmoid: {name: sigmoid, from: conv}\n"
     "  - mul: {name: truediv, from: sub, with: sigmoid}\n  - identity: {name: neg}\n"
     "  - identity: {name: add}"),
    ("SqueezedMaxima", (3, 10, 10), False, "  - globalmaxpool: {name: getattr_1, from: flatten}"),
]


@pytest.mark.parametrize("name,shape,tokens,line", CASES, ids=[c[0] for c in CASES])
def test_import_counts_what_pytorch_counts(name, shape, tokens, line, tmp_path):
    text = import_torch(f"torch_everyday_models:{name}", shape, None, tokens=tokens)
    assert line in text
    got = analyse(load_string(text, f"{name}.yaml"))
    dtype = torch.long if tokens else torch.float32
    params, out, macs = tv.measure(getattr(everyday, name), shape, dtype=dtype)
    assert (got.total.params, got.total.output_shape, got.total.macs) == (params, out, macs)
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(text, encoding="utf-8")
    result = archcalc.verify(str(spec), rf="off")
    assert result.ok and not result.mismatches and result.checked > 0


def test_a_max_over_time_holds_for_free_lengths():
    """The text CNN's F.max_pool1d(c, c.size(2)) is the pool over the whole sequence, so with
    --free L the counts at any L are PyTorch's at that L."""
    text = import_torch("torch_everyday_models:TextCNN", (12,), free=("L",), tokens=True)
    for length in (5, 9, 30):
        got = analyse(load_string(text, "textcnn.yaml", {"L": length}))
        params, out, macs = tv.measure(everyday.TextCNN, (length,), dtype=torch.long)
        assert (got.total.params, got.total.output_shape, got.total.macs) == \
            (params, out, macs), length


def test_a_causal_mask_made_from_the_length_holds_for_free_lengths():
    """nn.Transformer.generate_square_subsequent_mask(n) of the traced length n: the layer
    is causal attention, so with --free L the counts at any L are PyTorch's."""
    text = import_torch("torch_everyday_models:causal_float_mask", (12,), free=("L",),
                        tokens=True)
    for length in (1, 7, 40):
        got = analyse(load_string(text, "causal.yaml", {"L": length}))
        params, out, macs = tv.measure(everyday.causal_float_mask, (length,), dtype=torch.long)
        assert (got.total.params, got.total.output_shape, got.total.macs) == \
            (params, out, macs), length


def test_a_mask_that_is_not_causal_is_refused(cli):
    code, out, err = cli("import", "torch", "tests/torch_everyday_models.py:"
                         "CausalSelfAttention", "--args", '{"causal": false}', "--input", "12",
                         "--tokens")
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert "nn.MultiheadAttention with an attn_mask other than a causal one" in err, err


def test_instance_norms_pads_and_shuffles_are_their_layers():
    text = import_torch("torch_everyday_models:NormsAndPads", (3, 10, 10), None)
    for line in ["  - instancenorm2d: {name: norm, affine: true}",
                 "  - dropout2d: {name: dropout2d, p: 0.1}",
                 "  - zeropad: {name: fill, padding: [[1, 1], [1, 1]]}",
                 "  - pixelshuffle: {name: pixel_shuffle, factor: 2}",
                 "  - pixelunshuffle: {name: unshuffle, factor: 2}",
                 "  - add: {name: add, from: unshuffle, with: sigmoid}",
                 "  - mul: {name: mul_, with: unshuffle}",
                 "  - instancenorm1d: {name: seq}"]:
        assert line in text, text


UNMAPPABLE = [  # (op, what the message says)
    ("squeeze", "squeeze without dims (at the traced batch of one it removes the batch axis"),
    ("argmax", "the indices of max over a dim (an argmax)"),
    ("min", "min over a dim"),
    ("T", "the tensor attribute .T, which moves the batch axis"),
    ("clamp_max", "clamp with only its max bound"),
    ("squeeze_batch", "squeeze of the batch axis"),
    ("expand", "tensor.expand read by other than an element-wise sum or product"),
    ("mean_all", "mean over every axis (the batch axis with them)"),
]


@pytest.mark.parametrize("op,fragment", UNMAPPABLE, ids=[u[0] for u in UNMAPPABLE])
def test_ops_without_a_layer_are_refused_by_name(op, fragment, cli, tmp_path):
    """Each is a located error naming the op, never a silent drop (a max's values or a .T
    passed on as the input) or a traceback."""
    code, out, err = cli("import", "torch", "tests/torch_everyday_models.py:Unmappable",
                         "--args", f'{{"op": "{op}"}}', "--input", "3,8,8")
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert f"no archcalc layer for {fragment}" in err and "Traceback" not in err, err


def test_a_mean_keeping_the_token_axis_is_refused(cli, tmp_path):
    code, out, err = cli("import", "torch", "tests/torch_everyday_models.py:MeanKeepingTokens",
                         "--input", "6", "--tokens")
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert "mean over dims [1] keeping them" in err and "MeanKeepingTokens" in err


def test_a_module_called_twice_is_refused(cli):
    """Its parameters once in parameters(), twice in a spec with two layers: refused, with
    the module's path."""
    code, out, err = cli("import", "torch", "tests/torch_everyday_models.py:SharedHead",
                         "--input", "6", "--tokens")
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert "a second call of the module head (Linear)" in err
    code, out, err = cli("import", "torch", "tests/torch_everyday_models.py:SharedHead",
                         "--input", "6", "--tokens", "--allow-unknown")
    assert code == 0, err
    got = analyse(load_string(out, "shared.yaml"))
    assert got.total.params == tv.measure(everyday.SharedHead, (6,), dtype=torch.long)[0]
    assert "  - unknown: {name: head_2, shape: [4], op: \"a second call of the module head " \
           "(Linear), whose parameters a second layer would count again\"}" in out


TRANSFORMERS = [  # (class, a line the spec has)
    ("EncoderClassifier", "    - multiheadattention: {name: self_attn, heads: 4}"),
    ("PreNormEncoder", "  - layernorm: {name: encoder.norm}"),
    ("Seq2Seq", "    - multiheadattention: {name: multihead_attn, heads: 4, "
                "kv: transformer.encoder.norm}"),
]


@pytest.mark.parametrize("name,line", TRANSFORMERS, ids=[c[0] for c in TRANSFORMERS])
def test_torch_nn_transformer_modules_are_traced_into(name, line, tmp_path):
    """nn.TransformerEncoder(Layer), nn.TransformerDecoder(Layer) and nn.Transformer, which
    torch.fx keeps whole as torch.nn modules, are traced into: a block per layer, repeated;
    PyTorch's own count; the spec passes verify. Their forward checks sizes, so the trace
    is torch.fx's at the input's sizes."""
    text = import_torch(f"torch_everyday_models:{name}", (12,), None, tokens=True)
    assert "(torch.fx at the input's sizes)" in text.splitlines()[0]
    assert line in text and "  - repeat: 2\n" in text
    got = analyse(load_string(text, f"{name}.yaml"))
    params, out, macs = tv.measure(getattr(everyday, name), (12,), dtype=torch.long)
    assert (got.total.params, got.total.output_shape, got.total.macs) == (params, out, macs)
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(text, encoding="utf-8")
    result = archcalc.verify(str(spec), rf="off")
    assert result.ok and not result.mismatches and result.checked > 0


def test_sequence_first_transformer_layers_are_refused(cli):
    """batch_first=False moves the batch axis behind the tokens: no layer may, so the
    caller's transpose is refused, located."""
    code, out, err = cli("import", "torch",
                         "tests/torch_everyday_models.py:SequenceFirstEncoder",
                         "--input", "12", "--tokens")
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert "transpose of the batch axis" in err


def test_a_kernel_from_the_input_sizes_is_refused(cli):
    """A pool window of half the map, computed in the forward from its sizes: the spec
    would need the traced sizes as numbers; refused rather than written as names."""
    code, out, err = cli("import", "torch", "tests/torch_everyday_models.py:PoolByHalfSize",
                         "--input", "3,16,16")
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert "maxpool2d with its kernel computed from the input's sizes" in err
