"""``padding: full`` against PyTorch: archcalc's closed form (shape, parameters, FLOPs) for a
convolution or pool with ``padding: full`` equals torch.nn's layer built directly here with
the explicit padding d·(k − 1) per axis and run under FlopCounterMode; where torch refuses
that padding (a pool's padding above half its kernel), archcalc refuses ``full`` with a
located message. Configurations are drawn by hypothesis (derandomised), as in
tests/test_differential_layers.py."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from archcalc.errors import SpecError  # noqa: E402
from helpers import analyse_text  # noqa: E402

SETTINGS = settings(max_examples=60, derandomize=True, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))
TORCH_ERRORS = (RuntimeError, ValueError)


def closed(layer: str, args: dict, shape: list):
    text = f"input: {json.dumps(shape)}\nlayers:\n  - {layer}: {json.dumps(args)}\n"
    try:
        return analyse_text(text).layers[1]
    except SpecError as e:
        return e


def measured(make, shape: list):
    try:
        module = make().eval()
        counter = FlopCounterMode(display=False)
        with torch.no_grad(), counter:
            y = module(torch.randn(1, *shape))
    except TORCH_ERRORS as e:
        return e
    return tuple(y.shape[1:]), sum(p.numel() for p in module.parameters()), \
        counter.get_total_flops()


def agree(rec, got, layer: str):
    if isinstance(got, Exception):
        assert isinstance(rec, SpecError), f"torch rejects ({got}) but archcalc accepts"
        assert str(rec).startswith("test.yaml:") and layer in str(rec)
        return
    assert not isinstance(rec, SpecError), f"archcalc rejects ({rec}) but torch accepts"
    assert (rec.output_shape, rec.params, rec.flops) == got


@st.composite
def conv_cases(draw):
    nd = draw(st.sampled_from([1, 2, 3]))
    k = draw(st.lists(st.integers(1, 5), min_size=nd, max_size=nd))
    d = draw(st.lists(st.integers(1, 3), min_size=nd, max_size=nd))
    s = draw(st.integers(1, 3))
    sizes = draw(st.lists(st.integers(1, 9), min_size=nd, max_size=nd))
    c_in, c_out = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    return nd, k, d, s, sizes, c_in, c_out


@SETTINGS
@given(conv_cases())
def test_conv_full_padding_matches_torch(case):
    nd, k, d, s, sizes, c_in, c_out = case
    pad = [di * (ki - 1) for ki, di in zip(k, d)]
    layer = f"conv{nd}d"
    rec = closed(layer, {"out": c_out, "kernel": k, "dilation": d, "stride": s,
                         "padding": "full"}, [c_in, *sizes])
    got = measured(lambda: getattr(nn, f"Conv{nd}d")(c_in, c_out, k, stride=s, padding=pad,
                                                      dilation=d), [c_in, *sizes])
    agree(rec, got, layer)
    if not isinstance(rec, SpecError) and s == 1:  # n + d·(k − 1) at stride 1
        assert rec.output_shape[1:] == tuple(n + p for n, p in zip(sizes, pad))


@SETTINGS
@given(st.sampled_from(["max", "avg"]), st.sampled_from([1, 2]), st.integers(1, 3),
       st.integers(1, 2), st.integers(1, 3), st.integers(1, 9), st.booleans())
def test_pool_full_padding_matches_torch(kind, nd, k, d, s, n, ceil):
    d = d if kind == "max" else 1
    pad = d * (k - 1)
    layer = f"{kind}pool{nd}d"
    args = {"kernel": k, "stride": s, "padding": "full", "ceil_mode": ceil}
    if kind == "max":
        args["dilation"] = d

    def make():
        cls = getattr(nn, f"{kind.capitalize()}Pool{nd}d")
        extra = {"dilation": d} if kind == "max" else {}
        return cls(k, s, pad, ceil_mode=ceil, **extra)

    shape = [2, *([n] * nd)]
    agree(closed(layer, args, shape), measured(make, shape), layer)


def test_verify_builds_full_padding_upsample_like_and_tensor_parameters(cli, tmp_path):
    """archcalc's own torch backend builds what the new spec forms mean: full padding as the
    written-out numbers, upsample to a named output's size, a block reading a tensor
    parameter; verify then measures every layer's shape, params, FLOPs and field."""
    spec = tmp_path / "forms.yaml"
    spec.write_text("""\
input: [2, 16, 16]
blocks:
  up:
    params: [o, skip]
    layers:
      - upsample: {like: skip, mode: bilinear}
      - concat: {with: [skip]}
      - conv2d: {out: o, kernel: 3, padding: full, dilation: 2}
layers:
  - conv2d: {name: d1, out: 4, kernel: [3, 2], padding: full}
  - maxpool2d: {kernel: 2, padding: full, stride: 2}
  - conv2d: {out: 4, kernel: 3}
  - up: {o: 3, skip: d1}
""")
    code, out, _ = cli("verify", spec)
    assert code == 0, out
    assert "checks match ✓" in out and "✗" not in out
    assert "[3, 22, 21]" in out  # d1 is [4, 18, 17]; the full 3×3 dilated 2 adds 4 per axis
