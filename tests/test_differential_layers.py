"""Every layer rule against PyTorch on random configurations (hypothesis, derandomised).

For each configuration, archcalc's closed form (shape, parameters, FLOPs = 2·MACs) is
compared with a torch module built here directly from torch.nn — not through archcalc's
torch backend — and run under FlopCounterMode. Invalid configurations must be rejected by
archcalc exactly where torch rejects them, with archcalc's located one-line message.

Deliberate exclusions from the "torch rejects" comparison (archcalc is right to differ):
* ``padding: same`` with a stride > 1: torch refuses it; archcalc follows Keras (out =
  ceil(n/s)), checked against an explicit asymmetric F.pad in tests/test_differential_nets.py;
* ``windowmerge`` of windows whose count and size are wrong but multiply to the map's size:
  torch's view takes them, archcalc refuses them (they are not a partition's inverse);
* ``matmul`` with a vector (rank 1): torch multiplies it, archcalc refuses it (in the
  network the vector would meet the batch axis);
* a transposed convolution whose output size is exactly 0: torch returns an empty tensor
  or raises depending on the CPU backend (docs/pytorch-semantics.md §1.4); archcalc rejects it.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

torch = pytest.importorskip("torch")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from archcalc.errors import SpecError  # noqa: E402
from helpers import analyse_text  # noqa: E402

SETTINGS = settings(max_examples=200, derandomize=True, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))
FEW = settings(SETTINGS, max_examples=80)

TORCH_ERRORS = (RuntimeError, ValueError, TypeError, IndexError, AssertionError)


def closed(layer: str, args: dict, input_shape: list):
    """archcalc's record for a one-layer network, or the SpecError it raises."""
    text = f"input: {json.dumps(input_shape)}\nlayers:\n  - {layer}: {json.dumps(args)}\n"
    try:
        return analyse_text(text).layers[1]
    except SpecError as e:
        return e


def measured(make_module, input_shape: list):
    """(shape without batch, params, FLOPs) of torch on a batch of one, or the exception."""
    try:
        module = make_module().eval()
        x = torch.randn(1, *input_shape)
        counter = FlopCounterMode(display=False)
        with torch.no_grad(), counter:
            y = module(x)
    except TORCH_ERRORS as e:
        return e
    return tuple(y.shape[1:]), sum(p.numel() for p in module.parameters()), \
        counter.get_total_flops()


def agree(rec, got, layer: str):
    """Both accept with the same numbers, or both reject (archcalc with a located message)."""
    if isinstance(got, Exception):
        assert isinstance(rec, SpecError), f"torch rejects ({got}) but archcalc accepts"
        message = str(rec)
        assert message.startswith("test.yaml:") and layer in message and "\n" not in message
        return
    assert not isinstance(rec, SpecError), f"archcalc rejects ({rec}) but torch accepts"
    shape, params, flops = got
    assert (rec.output_shape, rec.params, rec.flops) == (shape, params, flops)


# ---------------------------------------------------------------- strategies
nd = st.sampled_from([1, 2, 3])


def per_axis(draw, n: int, lo: int, hi: int):
    """An int, or a list with one value per spatial axis."""
    if draw(st.booleans()):
        return draw(st.integers(lo, hi))
    return [draw(st.integers(lo, hi)) for _ in range(n)]


def sizes(draw, n: int, lo: int = 1, hi: int = 11) -> list:
    hi = hi if n < 3 else min(hi, 7)
    return [draw(st.integers(lo, hi)) for _ in range(n)]


# ---------------------------------------------------------------- convolutions
@SETTINGS
@given(st.data())
def test_conv_matches_torch(data):
    draw = data.draw
    n = draw(nd)
    cin, out, groups = draw(st.integers(1, 6)), draw(st.integers(1, 6)), draw(st.integers(1, 3))
    args = {"out": out, "kernel": per_axis(draw, n, 1, 5), "stride": per_axis(draw, n, 1, 3),
            "dilation": per_axis(draw, n, 1, 3), "groups": groups,
            "bias": draw(st.booleans())}
    pad = draw(st.one_of(st.just("valid"), st.just("same"), st.integers(0, 3)))
    if pad == "same":  # torch's 'same' needs stride 1 (Keras-style strided 'same': see top)
        args["stride"] = 1
    args["padding"] = pad
    mode = args["padding_mode"] = draw(st.sampled_from(["zeros", "zeros", "reflect",
                                                        "replicate", "circular"]))
    shape = [cin, *sizes(draw, n)]
    layer = f"conv{n}d"
    cls = getattr(nn, f"Conv{n}d")
    got = measured(lambda: cls(cin, out, args["kernel"], stride=args["stride"], padding=pad,
                               dilation=args["dilation"], groups=groups, bias=args["bias"],
                               padding_mode=mode), shape)
    agree(closed(layer, args, shape), got, layer)


@SETTINGS
@given(st.data())
def test_conv_transpose_matches_torch(data):
    draw = data.draw
    n = draw(nd)
    cin, out, groups = draw(st.integers(1, 6)), draw(st.integers(1, 6)), draw(st.integers(1, 3))
    k, s = per_axis(draw, n, 1, 4), per_axis(draw, n, 1, 3)
    d, p = per_axis(draw, n, 1, 3), per_axis(draw, n, 0, 2)
    op = per_axis(draw, n, 0, 3)
    args = {"out": out, "kernel": k, "stride": s, "padding": p, "output_padding": op,
            "dilation": d, "groups": groups}
    shape = [cin, *sizes(draw, n, 1, 6)]
    layer = f"convtranspose{n}d"
    cls = getattr(nn, f"ConvTranspose{n}d")
    got = measured(lambda: cls(cin, out, k, stride=s, padding=p, output_padding=op,
                               groups=groups, dilation=d), shape)
    if not isinstance(got, Exception) and 0 in got[0]:
        return  # an empty output: backend-dependent in torch (see the module docstring)
    agree(closed(layer, args, shape), got, layer)


def test_conv_transpose_zero_output_is_rejected():
    # S20: ConvTranspose1d(1,1,2,stride=4,padding=1) on n=1: (1-1)·4 − 2 + 1 + 1 = 0
    rec = closed("convtranspose1d", {"out": 1, "kernel": 2, "stride": 4, "padding": 1}, [1, 1])
    assert isinstance(rec, SpecError) and "not positive" in str(rec)


# ---------------------------------------------------------------- pools
@SETTINGS
@given(st.data())
def test_pool_matches_torch(data):
    draw = data.draw
    n, kind = draw(nd), draw(st.sampled_from(["max", "avg"]))
    k = per_axis(draw, n, 1, 4)
    args = {"kernel": k, "padding": per_axis(draw, n, 0, 2), "ceil_mode": draw(st.booleans())}
    stride = draw(st.one_of(st.none(), st.integers(1, 3)))
    if stride is not None:
        args["stride"] = stride
    if kind == "max":
        args["dilation"] = per_axis(draw, n, 1, 2)
    else:
        args["count_include_pad"] = draw(st.booleans())
    shape = [draw(st.integers(1, 3)), *sizes(draw, n, 1, 9)]
    layer = f"{kind}pool{n}d"
    if kind == "max":
        make = lambda: getattr(nn, f"MaxPool{n}d")(k, stride, args["padding"], args["dilation"],
                                                    ceil_mode=args["ceil_mode"])  # noqa: E731
    else:
        make = lambda: getattr(nn, f"AvgPool{n}d")(  # noqa: E731
            k, stride, args["padding"], ceil_mode=args["ceil_mode"],
            count_include_pad=args["count_include_pad"])
    agree(closed(layer, args, shape), measured(make, shape), layer)


@FEW
@given(st.data())
def test_adaptive_pool_matches_torch(data):
    draw = data.draw
    n, kind = draw(nd), draw(st.sampled_from(["avg", "max"]))
    out = [draw(st.one_of(st.none(), st.integers(1, 9))) for _ in range(n)]
    shape = [2, *sizes(draw, n, 1, 9)]
    layer = f"adaptive{kind}pool{n}d"
    cls = getattr(nn, f"Adaptive{kind.title()}Pool{n}d")
    agree(closed(layer, {"out": out}, shape), measured(lambda: cls(out), shape), layer)


# ---------------------------------------------------------------- linear, norms
@FEW
@given(st.data())
def test_linear_matches_torch(data):
    draw = data.draw
    shape = [draw(st.integers(1, 5)) for _ in range(draw(st.integers(1, 3)))]
    out, bias = draw(st.integers(1, 7)), draw(st.booleans())
    agree(closed("linear", {"out": out, "bias": bias}, shape),
          measured(lambda: nn.Linear(shape[-1], out, bias=bias), shape), "linear")


@FEW
@given(st.data())
def test_norms_match_torch(data):
    draw = data.draw
    n, c = draw(nd), draw(st.integers(1, 8))
    shape = [c, *sizes(draw, n, 2, 5)]
    kind = draw(st.sampled_from(["batchnorm", "instancenorm", "groupnorm", "layernorm",
                                 "rmsnorm"]))
    affine = draw(st.booleans())
    if kind == "batchnorm":
        layer, args = f"batchnorm{n}d", {"affine": affine}
        make = lambda: getattr(nn, f"BatchNorm{n}d")(c, affine=affine)  # noqa: E731
    elif kind == "instancenorm":
        layer, args = f"instancenorm{n}d", {"affine": affine}
        make = lambda: getattr(nn, f"InstanceNorm{n}d")(c, affine=affine)  # noqa: E731
    elif kind == "groupnorm":
        g = draw(st.integers(1, 4))
        layer, args = "groupnorm", {"groups": g, "affine": affine}
        make = lambda: nn.GroupNorm(g, c, affine=affine)  # noqa: E731
    else:
        tail = shape[-draw(st.integers(1, len(shape))):]
        layer, args = kind, {"shape": tail, "affine": affine}
        cls = nn.LayerNorm if kind == "layernorm" else nn.RMSNorm
        make = lambda: cls(tail, elementwise_affine=affine)  # noqa: E731
    agree(closed(layer, args, shape), measured(make, shape), layer)


def test_batchnorm_buffers_are_running_mean_and_var():
    # P3/P4: BatchNorm2d(64) holds 129 buffer elements = 64 + 64 + num_batches_tracked (1);
    # archcalc counts running_mean + running_var = 128 and leaves the step counter out.
    rec = closed("batchnorm2d", {}, [64, 4, 4])
    bn = nn.BatchNorm2d(64)
    assert sum(b.numel() for b in bn.buffers()) == 129
    assert rec.buffers == bn.running_mean.numel() + bn.running_var.numel() == 128


# ---------------------------------------------------------------- shape operations
@FEW
@given(st.data())
def test_upsample_matches_torch(data):
    draw = data.draw
    n = draw(st.sampled_from([1, 2]))
    shape = [1, *sizes(draw, n, 1, 12)]
    if draw(st.booleans()):
        scale = draw(st.sampled_from([0.29, 0.5, 1.5, 2, 2.5, 3, 0.2]))
        args = {"scale": scale}
        make = lambda: nn.Upsample(scale_factor=float(scale))  # noqa: E731
    else:
        size = sizes(draw, n, 1, 15)
        args = {"size": size}
        make = lambda: nn.Upsample(size=tuple(size))  # noqa: E731
    agree(closed("upsample", args, shape), measured(make, shape), "upsample")


@FEW
@given(st.data())
def test_pixel_shuffles_match_torch(data):
    draw = data.draw
    r, c = draw(st.integers(1, 3)), draw(st.integers(1, 12))
    shape = [c, *sizes(draw, 2, 1, 8)]
    if draw(st.booleans()):
        layer, make = "pixelshuffle", lambda: nn.PixelShuffle(r)
    else:
        layer, make = "pixelunshuffle", lambda: nn.PixelUnshuffle(r)
    agree(closed(layer, {"factor": r}, shape), measured(make, shape), layer)


@FEW
@given(st.data())
def test_flatten_matches_torch(data):
    draw = data.draw
    shape = [draw(st.integers(1, 4)) for _ in range(draw(st.integers(1, 4)))]
    start = draw(st.integers(-len(shape), len(shape) - 1))
    end = draw(st.integers(-len(shape), len(shape) - 1))
    # Spec axes have no batch axis: torch's axis = spec axis + 1 for non-negative axes.
    t_start, t_end = (start + 1 if start >= 0 else start), (end + 1 if end >= 0 else end)
    agree(closed("flatten", {"start": start, "end": end}, shape),
          measured(lambda: nn.Flatten(t_start, t_end), shape), "flatten")


def test_flatten_default_flattens_everything():
    # no batch axis: [3, 4, 5] → [60] (torch.flatten(x) on the unbatched tensor)
    assert closed("flatten", {}, [3, 4, 5]).output_shape == tuple(torch.flatten(
        torch.zeros(3, 4, 5)).shape) == (60,)


def test_adaptive_pool_1d_needs_a_size():
    # Found by test_adaptive_pool_matches_torch: torch 2.13's AdaptiveAvgPool1d(None) and
    # AdaptiveMaxPool1d(None) raise ("output_size must be tuple of ints"); 2-d/3-d keep the axis.
    for kind in ("avg", "max"):
        with pytest.raises(TypeError):
            getattr(nn, f"Adaptive{kind.title()}Pool1d")(None)(torch.zeros(1, 2, 5))
        rec = closed(f"adaptive{kind}pool1d", {"out": None}, [2, 5])
        assert isinstance(rec, SpecError) and "1-d adaptive pool" in str(rec)
    assert closed("adaptiveavgpool2d", {"out": [None, 3]}, [1, 7, 9]).output_shape == (1, 7, 3)


@pytest.mark.parametrize("mode, n, padding, kernel", [
    ("circular", 1, 2, 1), ("circular", 2, 3, 1), ("circular", 2, 2, 1),
    ("reflect", 2, 1, 1), ("reflect", 2, 2, 1), ("reflect", 2, "same", 4),
    ("reflect", 3, "same", 4), ("circular", 1, "same", 4), ("replicate", 1, 3, 1),
])
def test_padding_modes_reject_where_torch_does(mode, n, padding, kernel):
    # Found by comparing with torch 2.13: circular padding may not exceed the input
    # ("wrapping around more than once") and reflect padding must be smaller than it, on
    # each side — 'same' with k=4 pads (1, 2), so n=2 is refused by reflect.
    args = {"out": 1, "kernel": kernel, "padding": padding, "padding_mode": mode}
    got = measured(lambda: nn.Conv1d(1, 1, kernel, padding=padding, padding_mode=mode), [1, n])
    agree(closed("conv1d", args, [1, n]), got, "conv1d")


# ---------------------------------------------------------------- channels and merges
@FEW
@given(st.data())
def test_channel_layers_match_torch(data):
    draw = data.draw
    c = draw(st.integers(1, 12))
    shape = [c, *sizes(draw, 2, 1, 5)]
    if draw(st.booleans()):
        g = draw(st.integers(1, 6))
        layer, args, make = "channelshuffle", {"groups": g}, lambda: nn.ChannelShuffle(g)
    else:
        num = draw(st.sampled_from([1, c, draw(st.integers(1, 12))]))
        layer, args, make = "prelu", {"num": num}, lambda: nn.PReLU(num)
    agree(closed(layer, args, shape), measured(make, shape), layer)


class _Condensed(nn.Module):
    """The deployed learned group convolution as the authors' CondenseConv computes it
    (ShichenLiu/CondenseNet, layers.py, BN-ReLU left out): torch.index_select of
    Cin·G/C channels with an index of repeats, then a G-group Conv2d; their LearnedGroupConv
    asserts that G divides Cin and Cout and that C divides Cin."""

    def __init__(self, cin, out, k, stride, pad, g, c, bias):
        super().__init__()
        if cin % g or out % g or cin % c:
            raise ValueError("LearnedGroupConv's channel conditions")
        self.index = torch.arange(cin * g // c) % cin
        self.conv = nn.Conv2d(cin * g // c, out, k, stride=stride, padding=pad, groups=g,
                              bias=bias)

    def forward(self, x):
        return self.conv(torch.index_select(x, 1, self.index))


@FEW
@given(st.data())
def test_learnedgroupconv_matches_torch(data):
    draw = data.draw
    g, c = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    cin, out = draw(st.integers(1, 12)), draw(st.integers(1, 8))
    k, stride, pad = draw(st.integers(1, 3)), draw(st.integers(1, 2)), draw(st.integers(0, 1))
    bias, phase = draw(st.booleans()), draw(st.sampled_from(["test", "train"]))
    shape = [cin, *sizes(draw, 2, 1, 6)]
    args = {"out": out, "kernel": k, "stride": stride, "padding": pad, "groups": g,
            "condense_factor": c, "bias": bias, "phase": phase}
    if phase == "test":
        make = lambda: _Condensed(cin, out, k, stride, pad, g, c, bias)  # noqa: E731
    else:
        def make():
            _Condensed(cin, out, k, stride, pad, g, c, bias)  # the same conditions
            return nn.Conv2d(cin, out, k, stride=stride, padding=pad, bias=bias)
    agree(closed("learnedgroupconv", args, shape), measured(make, shape), "learnedgroupconv")


@FEW
@given(st.data())
def test_indexchannels_matches_torch(data):
    draw = data.draw
    c, count = draw(st.integers(1, 8)), draw(st.integers(1, 16))
    shape = [c, *sizes(draw, 2, 1, 5)]
    index = torch.tensor([draw(st.integers(0, c - 1)) for _ in range(count)])

    class Select(nn.Module):
        def forward(self, x):
            return torch.index_select(x, 1, index)

    agree(closed("indexchannels", {"count": count}, shape), measured(Select, shape),
          "indexchannels")


@FEW
@given(st.data())
def test_merges_match_torch(data):
    """add / mul broadcast and concat along one axis, against torch.add / torch.cat on two
    tensors of random shapes (the second made by a crop of a padded copy of the first)."""
    draw = data.draw
    kind = draw(st.sampled_from(["add", "mul", "concat"]))
    a = [draw(st.integers(1, 4)) for _ in range(3)]
    b = [draw(st.sampled_from([1, d, draw(st.integers(1, 4))])) for d in a]
    dim = draw(st.integers(-3, 2))
    x, y = torch.zeros(1, *a), torch.zeros(1, *b)
    try:
        ref = torch.cat([x, y], dim + 1 if dim >= 0 else dim) if kind == "concat" else x + y
    except RuntimeError as e:
        ref = e
    # b is reached from a with zero channels/pads and a crop: padchannels + zeropad + crop
    text = (f"input: {a}\nlayers:\n"
            f"  - padchannels: {{after: {max(b[0] - a[0], 0)}}}\n"
            f"  - zeropad: {{padding: [[0, {max(b[1] - a[1], 0)}], [0, {max(b[2] - a[2], 0)}]]}}\n"
            f"  - slice: {{stop: {b[0]}}}\n"
            f"  - crop: {{size: {b[1:]}, name: other}}\n"
            f"  - {kind}: {{from: input, with: [other]"
            f"{f', dim: {dim}' if kind == 'concat' else ''}}}\n")
    try:
        rec = analyse_text(text).layers[-1]
    except SpecError as e:
        rec = e
    if isinstance(ref, Exception):
        assert isinstance(rec, SpecError), f"torch rejects ({ref}) but archcalc accepts"
        assert kind in str(rec)
    else:
        assert not isinstance(rec, SpecError), str(rec)
        assert rec.output_shape == tuple(ref.shape[1:])


@FEW
@given(st.data())
def test_multiheadattention_matches_torch(data):
    """Self- or cross-attention with random sizes, bias, kdim/vdim and add_bias_kv against
    nn.MultiheadAttention (batch_first) called with need_weights=True; the keys and values
    of cross-attention come from the input through padchannels, slice and linear."""
    draw = data.draw
    heads = draw(st.integers(1, 4))
    e = heads * draw(st.integers(1, 3)) if draw(st.booleans()) else draw(st.integers(1, 9))
    length, s, features = draw(st.integers(1, 5)), draw(st.integers(1, 5)), \
        draw(st.integers(1, 6))
    cross = draw(st.booleans())
    kv_features = features if cross else e
    dims = {k: draw(st.sampled_from([None, kv_features, draw(st.integers(1, 6))]))
            for k in ("kdim", "vdim")}
    bias, bias_kv = draw(st.booleans()), draw(st.booleans())
    args = {"heads": heads, "bias": bias, "add_bias_kv": bias_kv,
            **{k: v for k, v in dims.items() if v is not None}}
    layers = ""
    if cross:
        args.update({"from": "input", "kv": "memory"})
        layers = (f"  - padchannels: {{after: {max(s - length, 0)}}}\n"
                  f"  - slice: {{stop: {s}}}\n"
                  f"  - linear: {{name: memory, out: {features}}}\n")
    text = (f"input: [{length}, {e}]\nlayers:\n{layers}"
            f"  - multiheadattention: {json.dumps(args)}\n")
    try:
        rec = analyse_text(text).layers[-1]
    except SpecError as err:
        rec = err
    kv_shape = (s, features) if cross else (length, e)
    try:
        module = nn.MultiheadAttention(e, heads, bias=bias, add_bias_kv=bias_kv,
                                       kdim=dims["kdim"], vdim=dims["vdim"],
                                       batch_first=True).eval()
        x = torch.randn(1, length, e)
        kv = torch.randn(1, *kv_shape) if cross else x.clone()  # not x: no fused fast path
        counter = FlopCounterMode(display=False)
        with torch.no_grad(), counter:
            y = module(x, kv, kv, need_weights=True)[0]
        got = (tuple(y.shape[1:]), sum(p.numel() for p in module.parameters()),
               counter.get_total_flops())
    except TORCH_ERRORS as err:
        got = err
    agree(rec, got, "multiheadattention")


class ReferenceAttention(nn.Module):
    """General attention written here, apart from archcalc's builder, the way Meta's LLaMA
    reference and HF's T5Attention write it: q/k/v/o nn.Linear, the scores and A·V with
    torch.matmul broadcast over key/value groups (grouped-query heads not repeated), the
    rotary rotation as a complex product of feature pairs (llama/model.py
    apply_rotary_emb), the bias table as an nn.Embedding(N, H) looked up by relative
    position (T5's relative_attention_bias), the causal mask from torch.tril."""

    def __init__(self, e, e_kv, heads, kv_heads, head_dim, out, bias, causal, rotary, table):
        super().__init__()
        self.h, self.g, self.d = heads, heads // kv_heads, head_dim
        self.q_proj = nn.Linear(e, heads * head_dim, bias=bias["q"])
        self.k_proj = nn.Linear(e_kv, kv_heads * head_dim, bias=bias["k"])
        self.v_proj = nn.Linear(e_kv, kv_heads * head_dim, bias=bias["v"])
        self.o_proj = nn.Linear(heads * head_dim, out, bias=bias["o"])
        self.causal, self.rotary = causal, rotary
        self.rel = nn.Embedding(table, heads) if table else None

    def rope(self, t):  # [B, T, n, d]: pairs (2i, 2i+1) rotated by position·θ_i
        pairs = torch.view_as_complex(t.reshape(*t.shape[:-1], -1, 2).contiguous())
        theta = 10000.0 ** (-torch.arange(0, self.d, 2).float() / self.d)
        turn = torch.polar(torch.ones(t.shape[1], self.d // 2),
                           torch.arange(t.shape[1]).float()[:, None] * theta[None, :])
        return torch.view_as_real(pairs * turn[None, :, None, :]).flatten(-2)

    def forward(self, x, kv):
        lead = x.shape[:-2]
        x, kv = x.flatten(0, -3), kv.flatten(0, -3)  # leading axes as one batch axis
        b, n, m = x.shape[0], x.shape[1], kv.shape[1]
        q = self.q_proj(x).view(b, n, self.h, self.d)
        k = self.k_proj(kv).view(b, m, self.h // self.g, self.d)
        v = self.v_proj(kv).view(b, m, self.h // self.g, self.d)
        if self.rotary:
            q, k = self.rope(q), self.rope(k)
        q = q.view(b, n, self.h // self.g, self.g, self.d).permute(0, 2, 3, 1, 4)
        k, v = k.transpose(1, 2)[:, :, None], v.transpose(1, 2)[:, :, None]  # [b, k, 1, S, d]
        scores = torch.matmul(q, k.transpose(-2, -1)) / self.d ** 0.5  # broadcast over g
        if self.rel is not None:
            pos = torch.arange(m)[None, :] - torch.arange(n)[:, None]
            bias = self.rel(pos.remainder(self.rel.num_embeddings))  # [L, S, H]
            scores = scores + bias.permute(2, 0, 1).reshape(self.h // self.g, self.g, n, m)
        if self.causal:
            scores = scores.masked_fill(torch.tril(torch.ones(n, m)) == 0, float("-inf"))
        y = torch.matmul(scores.softmax(-1), v)  # [b, k, g, L, d]
        y = y.permute(0, 3, 1, 2, 4).reshape(b, n, self.h * self.d)
        return self.o_proj(y).view(*lead, n, -1)


def _attention_case(draw):
    """A random configuration: (archcalc args, spec text, query shape, kv shape or None,
    reference module maker)."""
    kv_heads = draw(st.integers(1, 3))
    heads = kv_heads * draw(st.integers(1, 3))
    rotary = draw(st.booleans())
    head_dim = draw(st.sampled_from([2, 4]) if rotary else st.integers(1, 4))
    explicit_dim = draw(st.booleans())
    e = draw(st.integers(1, 9)) if explicit_dim else heads * head_dim
    if not explicit_dim:
        head_dim = e // heads
    lead = [draw(st.integers(1, 3)) for _ in range(draw(st.integers(0, 2)))]
    length = draw(st.integers(1, 5))
    cross = draw(st.booleans())
    causal = draw(st.booleans())
    s = length if (causal or not cross) else draw(st.integers(1, 5))
    e_kv = draw(st.integers(1, 7)) if cross else e
    out = draw(st.one_of(st.none(), st.integers(1, 6)))
    table = draw(st.sampled_from([0, 0, 1, 5]))
    flags = {"bias": draw(st.booleans())}
    for k in "qkvo":
        if draw(st.booleans()):
            flags[f"{k}_bias"] = draw(st.booleans())
    args = {"heads": heads, "causal": causal, "rotary": rotary, "bias_table": table, **flags}
    if kv_heads != heads or draw(st.booleans()):
        args["kv_heads"] = kv_heads
    if explicit_dim:
        args["head_dim"] = head_dim
    if out is not None:
        args["out"] = out
    shape = [*lead, length, e]
    layers = ""
    if cross:  # keys and values [.., S, E_kv] made from the input: pad or cut L to S, project
        args.update({"from": "input", "kv": "memory"})
        axis = len(lead)  # the sequence axis of [.., L, E]
        layers = (f"  - permute: {{dims: {json.dumps([axis, *range(axis), axis + 1])}}}\n"
                  f"  - padchannels: {{after: {max(s - length, 0)}}}\n"
                  f"  - slice: {{stop: {s}}}\n"
                  f"  - permute: {{dims: {json.dumps([*range(1, axis + 1), 0, axis + 1])}}}\n"
                  f"  - linear: {{name: memory, out: {e_kv}}}\n")
    text = f"input: {json.dumps(shape)}\nlayers:\n{layers}  - attention: {json.dumps(args)}\n"
    bias = {k: flags.get(f"{k}_bias", flags["bias"]) for k in "qkvo"}
    make = lambda: ReferenceAttention(e, e_kv, heads, kv_heads, head_dim,  # noqa: E731
                                      e if out is None else out, bias, causal, rotary, table)
    return args, text, shape, ([*lead, s, e_kv] if cross else None), make


@FEW
@given(st.data())
def test_attention_matches_reference_torch(data):
    """Random heads, kv_heads (dividing heads), head_dim, bias flags, causal, cross-attention
    (S ≠ L), rotary, bias table and leading axes: archcalc's shape, parameters and FLOPs
    against ReferenceAttention (built here, not by archcalc's backend) under
    FlopCounterMode, which counts its four linear layers and two matmuls (bmm) and none of
    the rotation, mask, table lookup or softmax."""
    args, text, shape, kv_shape, make = _attention_case(data.draw)
    rec = analyse_text(text).layers[-1]
    module = make().eval()
    x = torch.randn(1, *shape)
    kv = x if kv_shape is None else torch.randn(1, *kv_shape)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        y = module(x, kv)
    got = (tuple(y.shape[1:]), sum(p.numel() for p in module.parameters()),
           counter.get_total_flops())
    assert (rec.output_shape, rec.params, rec.flops) == got, args


@FEW
@given(st.data())
def test_attention_builder_matches_reference_torch(data):
    """archcalc's own builder (what verify runs) measures what the reference measures."""
    from archcalc.torch_backend.builders.attention import attention as build
    from archcalc.torch_backend.registry import BuildCtx

    args, _, shape, kv_shape, make = _attention_case(data.draw)
    full = {k: None for k in ("kv_heads", "head_dim", "out", "q_bias", "k_bias", "v_bias",
                              "o_bias", "scale")}
    full.update({k: v for k, v in args.items() if k not in ("from", "kv")})
    xs = [tuple(shape)] + ([tuple(kv_shape)] if kv_shape else [])
    ours, ref = build(BuildCtx("attention", full, xs)).eval(), make().eval()
    x = torch.randn(1, *shape)
    inputs = (x,) if kv_shape is None else (x, torch.randn(1, *kv_shape))
    results = []
    for module in (ours, ref):
        counter = FlopCounterMode(display=False)
        with torch.no_grad(), counter:
            y = module(*inputs) if module is ours else module(x, inputs[-1])
        results.append((tuple(y.shape), sum(p.numel() for p in module.parameters()),
                        counter.get_total_flops()))
    assert results[0] == results[1], args


def test_attention_elementwise_parts_are_not_counted():
    """FlopCounterMode (torch 2.13) counts no FLOPs for the rotation, the mask, the table's
    gather and add, the scale, repeat_interleave or softmax: the same layer with and without
    them measures the same."""
    from archcalc.torch_backend.builders.attention import Attention

    flags = dict.fromkeys("qkvo", True)
    x = torch.randn(2, 3, 6, 16)
    totals = []
    for causal, rotary, table, kv_heads in ((False, False, 0, 4), (True, True, 9, 2)):
        module = Attention(16, 16, 4, kv_heads, 4, 16, flags, causal, rotary, table, None)
        module.k, module.v = nn.Linear(16, 16), nn.Linear(16, 16)  # same projections
        module.kv_heads = 4
        counter = FlopCounterMode(display=False)
        with torch.no_grad(), counter:
            module(x)
        totals.append(counter.get_total_flops())
    # 2·3 windows × 2 FLOPs × (4 projections L·E·E + 2 products L·L·E), L = 6, E = 16
    assert totals[0] == totals[1] == 2 * 3 * 2 * (4 * 6 * 16 * 16 + 2 * 6 * 6 * 16)


@FEW
@given(st.data())
def test_attention_params_equal_multiheadattention(data):
    """nn.MultiheadAttention(E, H, kdim=vdim=E_kv) has the parameters of `attention` with
    heads H and bias true (in_proj_weight or q/k/v_proj_weight, in_proj_bias, out_proj),
    and FlopCounterMode measures the same products: the two rules agree."""
    draw = data.draw
    heads = draw(st.integers(1, 4))
    e = heads * draw(st.integers(1, 4))
    length, s = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    e_kv = draw(st.one_of(st.none(), st.integers(1, 7)))
    layers = "" if e_kv is None else f"  - linear: {{name: memory, out: {e_kv}}}\n"
    common = "" if e_kv is None else ", from: input, kv: memory"
    extra = "" if e_kv is None else f", kdim: {e_kv}, vdim: {e_kv}"
    prelude = "" if e_kv is None else (f"  - padchannels: {{after: {max(s - length, 0)}}}\n"
                                       f"  - slice: {{stop: {s}}}\n")
    text = f"input: [{length}, {e}]\nlayers:\n{prelude}{layers}"
    a = analyse_text(text + f"  - attention: {{heads: {heads}{common}}}\n").layers[-1]
    m = analyse_text(text + f"  - multiheadattention: {{heads: {heads}{common}{extra}}}\n"
                     ).layers[-1]
    module = nn.MultiheadAttention(e, heads, kdim=e_kv, vdim=e_kv, batch_first=True)
    assert a.params == m.params == sum(p.numel() for p in module.parameters())
    assert a.macs == m.macs


@FEW
@given(st.data())
def test_embedding_matches_torch(data):
    """nn.Embedding with random vocab, dim and padding_idx (inside and just outside
    −vocab..vocab−1, where torch refuses it) on ids of rank 1 to 3."""
    draw = data.draw
    vocab, dim = draw(st.integers(1, 40)), draw(st.integers(1, 9))
    pad = draw(st.sampled_from([None, draw(st.integers(-vocab - 2, vocab + 1))]))
    ids = draw(st.lists(st.integers(1, 5), min_size=1, max_size=3))
    args = {"vocab": vocab, "dim": dim, **({} if pad is None else {"padding_idx": pad})}
    rec = closed("embedding", args, ids)
    try:
        module = nn.Embedding(vocab, dim, padding_idx=pad).eval()
        counter = FlopCounterMode(display=False)
        with torch.no_grad(), counter:
            y = module(torch.randint(0, vocab, (1, *ids)))
        got = (tuple(y.shape[1:]), sum(p.numel() for p in module.parameters()),
               counter.get_total_flops())
    except TORCH_ERRORS as err:
        got = err
    agree(rec, got, "embedding")


@FEW
@given(st.data())
def test_parameter_matches_torch(data):
    """A learned tensor added, multiplied (broadcasting: sizes equal, 1 or other) or
    concatenated (before or after, any axis), whole or its first rows, against the same
    torch operations written here on an nn.Parameter (tables of no more axes than the
    input: without a batch axis, a further axis would meet the batch axis)."""
    draw = data.draw
    x = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
    op = draw(st.sampled_from(["add", "mul", "concat"]))
    rank = len(x)
    dim = draw(st.integers(-rank, rank - 1))
    axis = dim % rank
    position, prefix = draw(st.sampled_from(["before", "after"])), draw(st.booleans())
    if op == "concat":
        table = [draw(st.integers(1, 3)) if i == axis else
                 draw(st.sampled_from([n, n, draw(st.integers(1, 4))])) for i, n in enumerate(x)]
    else:
        table = [draw(st.sampled_from([n, 1, draw(st.integers(1, 5))]))
                 for n in x][draw(st.integers(0, rank - 1)):]
    lead = rank - len(table)
    prefix = prefix and axis >= lead
    args = {"shape": table, "op": op, "dim": dim, "position": position,
            "rows": "prefix" if prefix else "all"}
    rec = closed("parameter", args, x)
    try:
        p = nn.Parameter(torch.zeros(table))
        xt = torch.randn(1, *x)
        counter = FlopCounterMode(display=False)
        with torch.no_grad(), counter:
            used = p.narrow(axis - lead, 0, x[axis]) if prefix else p
            if op == "add":
                y = xt + used
            elif op == "mul":
                y = xt * used
            else:
                used = used.expand(1, *used.shape)
                y = torch.cat([used, xt] if position == "before" else [xt, used], dim=axis + 1)
        got = (tuple(y.shape[1:]), p.numel(), counter.get_total_flops())
    except TORCH_ERRORS as err:
        got = err
    agree(rec, got, "parameter")


@FEW
@given(st.data())
def test_tied_linear_matches_torch(data):
    """ids → embedding [V, D] → linear to F features → linear {out: O, tie: the embedding},
    against the same modules with the second linear's weight set to the embedding's
    Parameter (nanoGPT's tying): whole-model parameters() (the shared weight once), shape
    and FLOPs. Torch runs any tie whose weight fits the input (F = D); a module whose
    out_features O is not the weight's V is inconsistent, which archcalc refuses too."""
    draw = data.draw
    vocab, dim = draw(st.integers(1, 12)), draw(st.integers(1, 6))
    feat = draw(st.sampled_from([dim, draw(st.integers(1, 6))]))
    out = draw(st.sampled_from([vocab, draw(st.integers(1, 12))]))
    bias, length = draw(st.booleans()), draw(st.integers(1, 4))
    text = (f"input: [{length}]\nlayers:\n"
            f"  - embedding: {{name: wte, vocab: {vocab}, dim: {dim}}}\n"
            f"  - linear: {{out: {feat}}}\n"
            f"  - linear: {{out: {out}, bias: {str(bias).lower()}, tie: wte}}\n")
    try:
        a = analyse_text(text)
        rec = dataclasses.replace(a.layers[-1], params=a.total.params, macs=a.total.macs)
    except SpecError as err:
        rec = err
    model = nn.Sequential(nn.Embedding(vocab, dim), nn.Linear(dim, feat),
                          nn.Linear(feat, out, bias=bias)).eval()
    model[2].weight = model[0].weight
    try:
        counter = FlopCounterMode(display=False)
        with torch.no_grad(), counter:
            y = model(torch.randint(0, vocab, (1, length)))
        if y.shape[-1] != out:
            raise ValueError(f"out_features {out}, but the tied weight gives {y.shape[-1]}")
        got = (tuple(y.shape[1:]), sum(p.numel() for p in model.parameters()),
               counter.get_total_flops())
    except TORCH_ERRORS as err:
        got = err
    agree(rec, got, "linear")


# ---------------------------------------------------------------- products and rolls
def _with_operand(x_shape: list, y_shape: list, layer: str, args: dict):
    """archcalc's record of ``layer`` on the input (shape x) and a named output of shape y
    (made from the input by flatten, linear and reshape), or the SpecError it raises."""
    n = 1
    for d in y_shape:
        n *= d
    text = (f"input: {json.dumps(x_shape)}\nlayers:\n  - flatten\n"
            f"  - linear: {{out: {n}}}\n  - reshape: {{shape: {json.dumps(y_shape)}, name: y}}\n"
            f"  - {layer}: {json.dumps({'from': 'input', **args})}\n")
    try:
        return analyse_text(text).layers[-1]
    except SpecError as e:
        return e


def _counted(fn, *xs):
    """(shape, 0 params, FLOPs) of one call of ``fn`` on unbatched tensors, or the error."""
    try:
        counter = FlopCounterMode(display=False)
        with torch.no_grad(), counter:
            y = fn(*xs)
    except TORCH_ERRORS as e:
        return e
    return tuple(y.shape), 0, counter.get_total_flops()


@SETTINGS
@given(st.data())
def test_matmul_matches_torch(data):
    """torch.matmul on the spec's (unbatched) tensors: random matrices of rank 2 to 4 with
    broadcast leading axes (size 1, equal, or not broadcastable), inner sizes equal or
    not, the other transposed or not. Rank 1 is left out on purpose: archcalc refuses a
    vector (it would meet the batch axis)."""
    draw = data.draw
    n, k, m = (draw(st.integers(1, 5)) for _ in range(3))
    lead = [draw(st.integers(1, 3)) for _ in range(draw(st.integers(0, 2)))]
    x_lead = [draw(st.sampled_from([1, d, draw(st.integers(1, 3))])) for d in lead]
    y_lead = [draw(st.sampled_from([1, d])) for d in lead][draw(st.integers(0, len(lead))):]
    k2 = draw(st.sampled_from([k, k, draw(st.integers(1, 5))]))
    transpose = draw(st.booleans())
    x_shape, y_shape = [*x_lead, n, k], [*y_lead, *((m, k2) if transpose else (k2, m))]
    rec = _with_operand(x_shape, y_shape, "matmul", {"with": "y", "transpose": transpose})
    x, y = torch.randn(*x_shape), torch.randn(*y_shape)
    got = _counted(lambda a, b: torch.matmul(a, b.mT if transpose else b), x, y)
    agree(rec, got, "matmul")


_LABELS = "abcAB"


@settings(SETTINGS, max_examples=400)
@given(st.data())
def test_einsum_matches_torch(data):
    """torch.einsum with one or two operands: random subscripts (batch axes shared with the
    output, contracted axes, axes only one operand has, repeated subscripts taking a
    diagonal, size-1 axes that broadcast, sizes that do not match, ellipses over broadcast
    axes), explicit or implicit output; shapes and FlopCounterMode's FLOPs, or a refusal
    where torch refuses."""
    draw = data.draw
    sizes = {c: draw(st.integers(1, 4)) for c in _LABELS}
    ops = [draw(st.text(_LABELS, min_size=1, max_size=4))
           for _ in range(draw(st.sampled_from([1, 2, 2, 2])))]
    if len(ops) == 2 and draw(st.booleans()):  # a subscript both operands hold
        ops[1] += draw(st.sampled_from(ops[0]))
    shapes = [[draw(st.sampled_from([sizes[c], sizes[c], 1, draw(st.integers(1, 4))]))
               for c in op] for op in ops]
    seen = sorted(set("".join(ops)))
    ellipsis = [draw(st.integers(0, 3)) == 0 for _ in ops]  # "..." over 0-2 axes (broadcast)
    extra = [draw(st.sampled_from([1, 2, 3])) for _ in range(2)]
    for i, has in enumerate(ellipsis):
        if has:
            at, n = draw(st.integers(0, len(ops[i]))), draw(st.integers(0, 2))
            ops[i] = ops[i][:at] + "..." + ops[i][at:]
            shapes[i][at:at] = [draw(st.sampled_from([1, d])) for d in extra[2 - n:]]
    if draw(st.booleans()):
        out = "".join(draw(st.permutations(seen))[:draw(st.integers(0, len(seen)))])
        if any(ellipsis) and draw(st.booleans()):
            at = draw(st.integers(0, len(out)))
            out = out[:at] + "..." + out[at:]
        if draw(st.integers(0, 9)) == 0:
            out += draw(st.sampled_from(_LABELS + "z"))  # a repeated or unknown subscript
        equation = ",".join(ops) + "->" + out
    else:
        equation = ",".join(ops)
    tensors = [torch.randn(*shape) for shape in shapes]
    got = _counted(lambda *xs: torch.einsum(equation, *xs), *tensors)
    if len(ops) == 1:
        text = (f"input: {json.dumps(shapes[0])}\nlayers:\n"
                f"  - einsum: {json.dumps({'equation': equation})}\n")
        try:
            rec = analyse_text(text).layers[-1]
        except SpecError as e:
            rec = e
    else:
        rec = _with_operand(shapes[0], shapes[1], "einsum", {"equation": equation,
                                                            "with": ["y"]})
    agree(rec, got, "einsum")


@FEW
@given(st.data())
def test_roll_matches_torch(data):
    """torch.roll with one shift per axis (negative shifts and axes, an axis twice, shifts
    past the length), or one shift of the flattened tensor; lengths that differ refused."""
    draw = data.draw
    shape = [draw(st.integers(1, 5)) for _ in range(draw(st.integers(1, 3)))]
    n = draw(st.integers(1, 3))
    shifts = [draw(st.integers(-7, 7)) for _ in range(n)]
    if draw(st.booleans()):
        shift = shifts[0] if draw(st.integers(0, 3)) else shifts  # a list: one, or refused
        args = {"shifts": shift}
        make = lambda: lambda x: torch.roll(x, shift)  # noqa: E731
    else:
        dims = [draw(st.integers(-len(shape), len(shape) - 1)) if draw(st.integers(0, 9))
                else draw(st.sampled_from([-len(shape) - 1, len(shape)]))  # out of range
                for _ in range(draw(st.sampled_from([n, n, n, n + 1])))]
        args = {"shifts": shifts, "dims": dims}
        make = lambda: lambda x: torch.roll(x, shifts, dims)  # noqa: E731
    rec = closed("roll", args, shape)
    agree(rec, _counted(make(), torch.randn(*shape)), "roll")



def _torchvision_partition(x, wh, ww, grid):
    """[B, H, W, C] → windows, by torchvision's operations: Swin's view/permute/reshape
    (swin_transformer.py, shifted_window_attention) or, for the grid, MaxViT's
    WindowPartition on [B, C, H, W] with p = H/gh (one p per axis here) and SwapAxes(-2, -3)
    (maxvit.py), after PartitionAttentionLayer's check that the grid divides the map."""
    b, h, w, c = x.shape
    if not grid:
        x = x.view(b, h // wh, wh, w // ww, ww, c).permute(0, 1, 3, 2, 4, 5)
        return x.reshape(b, (h // wh) * (w // ww), wh * ww, c)
    if h % wh or w % ww:
        raise AssertionError("Grid size must be divisible by partition size")
    ph, pw = h // wh, w // ww
    x = x.permute(0, 3, 1, 2).reshape(b, c, h // ph, ph, w // pw, pw).permute(0, 2, 4, 3, 5, 1)
    return x.reshape(b, (h // ph) * (w // pw), ph * pw, c).swapaxes(-2, -3)


@FEW
@given(st.data())
def test_window_partition_matches_torchvision(data):
    """windowpartition's shape (and refusal when the window does not divide the map) against
    torchvision's operations on a random map; then windowmerge of the windows back to the
    map. torch's view would also accept a merge whose window count and size are wrong but
    multiply to the same numbers; archcalc refuses those (they are not a partition's
    inverse), checked by hand below."""
    draw = data.draw
    h, w, c = draw(st.integers(1, 12)), draw(st.integers(1, 12)), draw(st.integers(1, 3))
    wh, ww = (draw(st.one_of(st.sampled_from([d for d in range(1, n + 1) if n % d == 0]),
                             st.integers(1, 6))) for n in (h, w))  # mostly a divisor
    grid = draw(st.booleans())
    args = {"size": [wh, ww], "grid": grid}
    got = _counted(lambda x: _torchvision_partition(x, wh, ww, grid)[0],
                   torch.randn(1, h, w, c))
    text = (f"input: [{c}, {h}, {w}]\nlayers:\n  - permute: {{dims: [1, 2, 0]}}\n"
            f"  - windowpartition: {json.dumps(args)}\n"
            f"  - windowmerge: {json.dumps({**args, 'height': h, 'width': w})}\n")
    try:
        a = analyse_text(text)
        part, merge = a.layers[2], a.layers[3]
    except SpecError as e:
        part = merge = e
    agree(part, got, "windowpartition")
    if not isinstance(got, Exception):
        assert merge.output_shape == (h, w, c)


def test_windowmerge_refuses_what_only_multiplies_right():
    # [2, 98, 3] holds 196·3 elements, as a 14×14×3 map does, and torch's view(B, 2, 2, 7, 7,
    # C) takes it; but 98 tokens are not 7·7 windows: archcalc refuses.
    x = torch.randn(1, 2, 98, 3)
    assert x.view(1, 2, 2, 7, 7, 3).shape == (1, 2, 2, 7, 7, 3)
    rec = _with_operand([2, 98, 3], [2, 98, 3], "windowmerge",
                        {"size": 7, "height": 14, "width": 14})
    assert isinstance(rec, SpecError) and "98 tokens per window is not window 7·7" in str(rec)


# ---------------------------------------------------------------- refusals at the edges
_F32 = 3.4028234663852886e38  # the largest float32; the next double up overflows it
_PAST_F32 = float.fromhex("0x1.fffffe0000001p+127")  # the double just above _F32


@pytest.mark.parametrize("layer, args, shape, make", [
    ("hardtanh", {"min": 1.0, "max": 2.0}, [4, 3], lambda: nn.Hardtanh(1.0, 2.0)),
    ("hardtanh", {"min": 2.0, "max": 1.0}, [4, 3], lambda: nn.Hardtanh(2.0, 1.0)),
    ("hardtanh", {"min": 1.0, "max": 1.0}, [4, 3], lambda: nn.Hardtanh(1.0, 1.0)),
    ("hardtanh", {"min": -_PAST_F32}, [4, 3], lambda: nn.Hardtanh(-_PAST_F32, 1.0)),
    ("leakyrelu", {"slope": _F32}, [4, 3], lambda: nn.LeakyReLU(_F32)),
    ("leakyrelu", {"slope": _PAST_F32}, [4, 3], lambda: nn.LeakyReLU(_PAST_F32)),
    ("leakyrelu", {"slope": 1e308}, [4, 3], lambda: nn.LeakyReLU(1e308)),
    ("leakyrelu", {"slope": -1e308}, [4, 3], lambda: nn.LeakyReLU(-1e308)),
    ("elu", {"alpha": 1e308}, [4, 3], lambda: nn.ELU(1e308)),
    ("instancenorm1d", {}, [4, 1], lambda: nn.InstanceNorm1d(4)),
    ("instancenorm1d", {}, [4, 2], lambda: nn.InstanceNorm1d(4)),
    ("instancenorm1d", {"track_running_stats": True}, [4, 1],
     lambda: nn.InstanceNorm1d(4, track_running_stats=True)),
    ("instancenorm2d", {"affine": True}, [4, 1, 1], lambda: nn.InstanceNorm2d(4, affine=True)),
    ("instancenorm2d", {}, [4, 1, 2], lambda: nn.InstanceNorm2d(4)),
    ("instancenorm3d", {}, [2, 1, 1, 1], lambda: nn.InstanceNorm3d(2)),
    ("upsample", {"scale": 2**20}, [1, 1], lambda: nn.Upsample(scale_factor=float(2**20))),
    ("upsample", {"scale": 2**63}, [1, 1], lambda: nn.Upsample(scale_factor=float(2**63))),
    ("upsample", {"scale": 2**64}, [1, 1, 1], lambda: nn.Upsample(scale_factor=float(2**64))),
    ("upsample", {"scale": 2**62}, [1, 3], lambda: nn.Upsample(scale_factor=float(2**62))),
], ids=lambda v: str(v)[:40] if not callable(v) else "")
def test_refused_exactly_where_torch_refuses(layer, args, shape, make):
    """Scalars past float32 (PyTorch computes in float32), hardtanh's max ≤ min, instance
    statistics over one position, upsampled sizes past int64: torch and archcalc agree."""
    agree(closed(layer, args, shape), measured(make, shape), layer)
