"""archcalc import torch of networks hypothesis draws (tests/torch_drawn_models.py): chains
of convolutions, norms, activations written every common way (modules, functions, methods,
in-place calls, clamps), pools, residual sums and differences, gates, concatenations and
stacks, scales by numbers, pads and dropouts, with a head that flattens, averages, squeezes,
takes a maximum or pools by the map's size. Each import analyses to PyTorch's own count of
the same module (parameters(), FlopCounterMode's FLOPs ÷ 2, output shape); imported with H,
W free, its closed forms at another size are PyTorch's count of the network built for that
size; written by torch.onnx and read by archcalc import onnx, PyTorch's count too."""

from __future__ import annotations

import json
import sys

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conftest import ROOT

torch = pytest.importorskip("torch")

sys.path.insert(0, str(ROOT / "tests"))

import torch_drawn_models as drawn  # noqa: E402
import torch_transformer_models as tv  # noqa: E402

from archcalc.analysis import analyse  # noqa: E402
from archcalc.spec.loader import load_string  # noqa: E402
from archcalc.torch_backend.importer import import_torch  # noqa: E402


@st.composite
def plans(draw, side=16):
    """(plan, head) for a [3, side, side] input: every step valid at the sizes it meets."""
    c, h = 3, side
    plan = [["conv", draw(st.integers(2, 6)), 3, 1, 1]]
    c = plan[0][1]
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["conv", "bn", "act", "act", "pool", "residual", "gate",
                                     "branch", "scale", "pad", "dropout", "norm"]))
        if kind == "conv":
            k = draw(st.sampled_from([1, 3]))
            stride = draw(st.sampled_from([1, 2])) if h >= 4 else 1
            out = draw(st.integers(2, 6))
            plan.append(["conv", out, k, stride, k // 2])
            c, h = out, (h + 2 * (k // 2) - k) // stride + 1
        elif kind == "act":
            plan.append(["act", draw(st.sampled_from(drawn.ACTIVATIONS))])
        elif kind == "pool":
            if h >= 4:
                plan.append(["pool", draw(st.sampled_from(
                    ["nn.MaxPool2d", "nn.AvgPool2d", "F.max_pool2d", "F.avg_pool2d"])), 2])
                h //= 2
        elif kind == "residual":
            plan.append(["residual", draw(st.sampled_from(drawn.RESIDUALS))])
        elif kind == "gate":
            plan.append(["gate", draw(st.sampled_from(["expand_as", "broadcast"]))])
        elif kind == "branch":
            how = draw(st.sampled_from(["cat", "stack"]))
            extra = draw(st.integers(1, 4))
            plan.append(["branch", how, extra])
            c = c + extra if how == "cat" else 2 * c
        elif kind == "scale":
            plan.append(["scale", draw(st.sampled_from(["x * 0.5", "x / 2", "x + 1", "-x"]))])
        elif kind == "pad":
            p = draw(st.integers(1, 2))
            plan.append(["pad", draw(st.sampled_from(["nn.ZeroPad2d", "F.pad"])), p])
            h += 2 * p
        elif kind == "dropout":
            plan.append(["dropout", draw(st.sampled_from(["F.dropout2d", "F.dropout"]))])
        elif kind == "norm":
            groups = [g for g in (1, 2, 3) if c % g == 0]
            plan.append(["norm", draw(st.sampled_from(["instance", "group"])),
                         draw(st.sampled_from(groups))])
        else:
            plan.append(["bn"])
    return plan, draw(st.sampled_from(drawn.HEADS))


def _import(plan, head, shape, free=()):
    args = json.dumps(dict(plan=plan, shape=list(shape), head=head))
    text = import_torch("torch_drawn_models:Drawn", shape, args, free=free)
    return text, analyse(load_string(text, "drawn.yaml"))


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(drawn_plan=plans())
def test_drawn_networks_import_to_pytorchs_counts(drawn_plan):
    plan, head = drawn_plan
    shape = (3, 16, 16)
    text, got = _import(plan, head, shape)
    params, out, macs = tv.measure(lambda: drawn.Drawn(plan, shape, head), shape)
    assert (got.total.params, got.total.output_shape, got.total.macs) == \
        (params, out, macs), text


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(drawn_plan=plans(), side=st.integers(16, 24))
def test_drawn_networks_with_free_sizes_count_as_pytorch_at_other_sizes(drawn_plan, side):
    """Imported at 16 × 16 with H, W free, then read at side × side: PyTorch's count of the
    network built for that input (its last Linear sized for it). A stack is left out: its
    reshape to a new axis holds the traced sizes (a spec's reshape is of fixed sizes)."""
    plan, head = drawn_plan
    assume(not any(step[:2] == ["branch", "stack"] for step in plan))
    text, _ = _import(plan, head, (3, 16, 16), free=("H", "W"))
    got = analyse(load_string(text, "drawn-free.yaml", {"H": side, "W": side}))
    shape = (3, side, side)
    params, out, macs = tv.measure(lambda: drawn.Drawn(plan, shape, head), shape)
    assert (got.total.params, got.total.output_shape, got.total.macs) == \
        (params, out, macs), text


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(drawn_plan=plans())
def test_drawn_networks_imported_pass_verify(drawn_plan, tmp_path_factory):
    """The imported spec, built by archcalc's own builders and measured in PyTorch: every
    shape, parameter and FLOP figure agrees (receptive fields off)."""
    import archcalc

    plan, head = drawn_plan
    text, _ = _import(plan, head, (3, 16, 16))
    spec = tmp_path_factory.mktemp("drawn") / "drawn.yaml"
    spec.write_text(text, encoding="utf-8")
    result = archcalc.verify(str(spec), rf="off")
    assert result.ok and not result.mismatches and result.checked > 0, text


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(drawn_plan=plans())
def test_drawn_networks_exported_to_onnx_import_to_pytorchs_counts(drawn_plan):
    """The same networks written by torch.onnx (without constant folding, which would fold
    the batch norms into the convolutions before the file is written) and read by archcalc
    import onnx: PyTorch's count. The head that pools by the map's size is left out:
    torch.onnx cannot write a pool whose window is a traced size."""
    pytest.importorskip("onnx")
    import os
    import tempfile
    import warnings

    from archcalc.onnx_backend.importer import import_onnx

    plan, head = drawn_plan
    assume(head != "pool_by_size")
    shape = (3, 16, 16)
    make = lambda: drawn.Drawn(plan, shape, head)  # noqa: E731
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "drawn.onnx")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(make().eval(), (torch.zeros(1, *shape),), path, dynamo=False,
                              opset_version=17, do_constant_folding=False)
        text = import_onnx(path, None, ())
    got = analyse(load_string(text, "drawn.yaml"))
    params, out, macs = tv.measure(make, shape)
    assert (got.total.params, got.total.output_shape, got.total.macs) == \
        (params, out, macs), text
