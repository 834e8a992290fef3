"""``archcalc verify``: the CLI, the JSON, the receptive-field measurement, and proof that a
wrong closed form is caught."""

from __future__ import annotations

import dataclasses

import json
import sys
import textwrap

import pytest

pytest.importorskip("torch")

from archcalc.layers import REGISTRY  # noqa: E402
from archcalc.torch_backend.network import BUILDERS  # noqa: E402
from archcalc.verification import verify  # noqa: E402
from conftest import EXAMPLES  # noqa: E402


def write(tmp_path, text: str, name: str = "net.yaml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def by(result, layer: str, metric: str):
    found = [r for r in result.results if r.layer == layer and r.metric == metric]
    assert len(found) == 1, (layer, metric, found)
    return found[0]


def test_every_layer_type_has_a_torch_builder():
    assert sorted(set(REGISTRY) - set(BUILDERS)) == []


# ---------------------------------------------------------------- the CLI
def test_vgg16_passes_with_a_readable_table(cli):
    # meta device: the same shapes, params and FLOPs without computing 15 G MACs on CI;
    # the receptive fields still come from real gradients (one-channel copy, CPU).
    code, out, _ = cli("verify", EXAMPLES / "vgg16.yaml", "--device", "meta")
    assert code == 0, out
    assert "VGG16: closed form vs PyTorch (meta)" in out
    for header in ("Layer", "Output shape", "Params", "FLOPs", "Receptive field"):
        assert header in out
    # fc6: 25088·4096 + 4096 = 102,764,544 params; FLOPs 2·25088·4096 = 205,520,896
    assert "102,764,544 ✓" in out and "205,520,896 ✓" in out
    # stage5's pool: RF 212 (docs/pytorch-semantics.md §4: 1 + 2·(2+2) + ... as `archcalc rf` prints)
    assert "212×212 ✓" in out
    assert "✗" not in out
    # 39 layers × 4 counts + 31 receptive fields (every layer before flatten) = 187
    assert "All 187 checks match ✓" in out


def test_dilated_with_twenty_samples(cli):
    code, out, _ = cli("verify", EXAMPLES / "dilated.yaml", "--samples", "20")
    assert code == 0, out
    assert out.count("at D=") == 20  # one table per random point
    assert "All 100 checks match ✓" in out  # 20 points × (shape, params, buffers, FLOPs, rf)


def test_json_output(cli):
    code, out, _ = cli("verify", EXAMPLES / "dilated.yaml", "--samples", "3", "--seed", "7",
                       "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["device"] == "cpu" and data["checked"] == 15 and data["mismatches"] == 0
    first = data["results"][0]
    assert set(first) == {"layer", "metric", "expected", "measured", "match", "symbols"}
    m, n, f, d = (first["symbols"][k] for k in "MNFD")
    shape = next(r for r in data["results"] if r["metric"] == "shape")
    assert shape["expected"] == shape["measured"] == [1, m - d * f + d, n - d * f + d]
    assert all(m >= d * (f - 1) + 1 and n >= d * (f - 1) + 1
               for r in data["results"] for m, n, f, d in [tuple(r["symbols"][k]
                                                               for k in "MNFD")])


def test_samples_are_seeded():
    a = verify(str(EXAMPLES / "dilated.yaml"), samples=4, seed=3)
    b = verify(str(EXAMPLES / "dilated.yaml"), samples=4, seed=3)
    assert [r.symbols for r in a.results] == [r.symbols for r in b.results]
    assert len({tuple(r.symbols.items()) for r in a.results}) == 4


def test_bad_device_and_format_exit_2(cli):
    code, _, err = cli("verify", EXAMPLES / "dilated.yaml", "--device", "gpu")
    assert code == 2 and "--device gpu" in err and "did you mean 'cpu'" in err
    code, _, err = cli("verify", EXAMPLES / "dilated.yaml", "--format", "yaml")
    assert code == 2 and "--format yaml" in err


def test_without_torch_says_how_to_install(cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    code, out, err = cli("verify", EXAMPLES / "dilated.yaml")
    assert code == 2 and out == ""
    assert "pip install 'archcalc[verify]'" in err and "Traceback" not in err


def test_auto_device_picks_cuda_when_present(monkeypatch):
    import torch

    from archcalc.torch_backend.measure import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"


# ---------------------------------------------------------------- a wrong rule is caught
def test_off_by_one_pool_rule_is_caught(cli, monkeypatch):
    from archcalc.layers import base, pool

    rule = REGISTRY["maxpool2d"]

    def wrong(ctx):
        out = pool.pool(ctx)
        return base.Out((out.shape[0], *(n + 1 for n in out.shape[1:])), out.params,
                        out.buffers, out.macs, out.rf)

    monkeypatch.setitem(REGISTRY, "maxpool2d", dataclasses.replace(rule, fn=wrong))
    code, out, _ = cli("verify", EXAMPLES / "unet-skip.yaml", "--device", "meta", "--rf", "off")
    assert code == 1
    # 568/2 = 284 in PyTorch; the patched rule says 285
    assert "maxpool2d_1" in out and "[64, 285, 285] ✗ torch [64, 284, 284]" in out
    assert "✗ maxpool2d_1 shape: closed form [64, 285, 285], PyTorch [64, 284, 284]" in out


def test_wrong_receptive_field_is_caught(monkeypatch, tmp_path):
    from archcalc.layers import base, conv

    rule = REGISTRY["conv2d"]

    def wrong(ctx):  # forgets the dilation in the RF step only
        out = conv.conv(ctx)
        rf = (None, *(base.Window(w.kernel - 2, w.stride, w.pad_left) for w in out.rf[1:]))
        return base.Out(out.shape, out.params, out.buffers, out.macs, rf)

    monkeypatch.setitem(REGISTRY, "conv2d", dataclasses.replace(rule, fn=wrong))
    path = write(tmp_path, """
        input: [1, 15, 15]
        layers:
          - conv2d: {name: c, out: 2, kernel: 3, dilation: 2}
    """)
    result = verify(path, device="cpu")
    check = by(result, "c", "rf")
    # output 11×11, centre unit 5: the true field is 5..9 (k_eff = 5); the wrong rule says 3
    assert not check.match and check.measured == [[5, 9], [5, 9]]
    assert check.expected == [[5, 7], [5, 7]]
    assert result.mismatches == 1


def test_torch_refusal_is_a_mismatch(tmp_path, monkeypatch):
    from archcalc.layers import base

    rule = REGISTRY["pixelshuffle"]

    def lax(ctx):  # a rule that forgets the divisibility check
        c, h, w = ctx.x
        r = ctx.factor
        return base.Out(shape=(c // (r * r), h * r, w * r), rf=(None, None, None))

    monkeypatch.setitem(REGISTRY, "pixelshuffle", dataclasses.replace(rule, fn=lax))
    path = write(tmp_path, """
        input: [10, 4, 5]
        layers:
          - pixelshuffle: {name: ps, factor: 3}
    """)
    result = verify(path, device="cpu")
    assert result.mismatches == 1
    (check,) = result.results
    assert check.layer == "ps" and check.metric == "torch" and "pixel_shuffle" in check.measured


# ---------------------------------------------------------------- receptive fields
def test_homework_network_receptive_field(tmp_path):
    # docs/pytorch-semantics.md §4.5: 3 × [conv 5×5 s1 p2, maxpool 2] on 64×64: r = 36, jump 8, start −14.
    path = write(tmp_path, """
        input: [1, 64, 64]
        layers:
          - repeat: 3
            layers:
              - conv2d: {out: 4, kernel: 5, padding: 2}
              - relu
              - maxpool2d: {kernel: 2}
          - identity: {name: last}
    """)
    result = verify(path, device="cpu")
    assert result.ok
    # output 8×8, centre unit 3: start −14 + 3·8 = 10, end 10 + 36 − 1 = 45
    assert by(result, "last", "rf").measured == [[10, 45], [10, 45]]


def test_misaligned_paths_give_the_union(tmp_path):
    # docs/pytorch-semantics.md §4.3: conv k3 s2 p0 and conv k3 s2 p1 merged: each path has r = 3, but the
    # union is 4 wide. Crop both to 9 so that they can be added.
    path = write(tmp_path, """
        input: [1, 20]
        layers:
          - conv1d: {name: a, out: 1, kernel: 3, stride: 2}
          - conv1d: {name: b, out: 1, kernel: 3, stride: 2, padding: 1, from: input}
          - crop: {size: 9}
          - add: {name: both, with: a}
    """)
    result = verify(path, device="cpu")
    assert result.ok
    # output 9, centre unit 4: path a covers 8..10, path b (after crop offset 0) 7..9
    assert by(result, "both", "rf").measured == [[7, 10]]


def test_dilated_stack_measures_the_span_not_the_count(tmp_path):
    # docs/pytorch-semantics.md §4.3: k3 d2 → k3 d4 gives r = 13 with holes (7 non-zero positions).
    path = write(tmp_path, """
        input: [1, 31]
        layers:
          - conv1d: {out: 2, kernel: 3, dilation: 2}
          - conv1d: {name: top, out: 2, kernel: 3, dilation: 4}
    """)
    result = verify(path, device="cpu")
    assert result.ok
    # output 31 − 4 − 8 = 19, centre unit 9: 9..21 (13 wide)
    assert by(result, "top", "rf").measured == [[9, 21]]


def test_rf_off_and_budget_notes(tmp_path):
    path = str(EXAMPLES / "inception.yaml")
    off = verify(path, device="meta", rf="off")
    assert off.ok and not [r for r in off.results if r.metric == "rf"]
    assert any("--rf off" in n for n in off.notes)
    from archcalc import limits

    with limits.applied(max_rf_work=1):  # no pass fits: none measured, and a note says so
        partial = verify(path, device="meta")
    assert partial.ok and any("measured for the first 0 of" in n for n in partial.notes)


def test_cuda_without_a_gpu_is_bad_input(cli, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code, _, err = cli("verify", EXAMPLES / "dilated.yaml", "--device", "cuda")
    assert code == 2 and "sees no CUDA device" in err


KERNEL_30 = """
    symbols: {M: null}
    input: [1, M, M]
    layers:
      - conv2d: {out: 1, kernel: 30}
"""


def test_no_valid_point_is_not_a_pass(tmp_path):
    # a 30×30 kernel needs M ≥ 30; drawn from 1..20 no point is valid
    result = verify(write(tmp_path, KERNEL_30), samples=3, ranges={"M": (1, 20)})
    assert result.checked == 0 and not result.ok
    assert any("found only 0 valid points" in n for n in result.notes)


def test_points_are_drawn_where_the_conditions_hold(tmp_path):
    # the recorded condition M - 30 >= 0 holds from M = 30 on: M is drawn from 30..49
    result = verify(write(tmp_path, KERNEL_30), samples=3)
    assert result.ok and result.checked == 3 * 5  # shape, params, buffers, FLOPs, rf
    assert all(30 <= r.symbols["M"] <= 49 for r in result.results)
    assert any("M in 30..49" in n for n in result.notes)


def test_known_flop_undercount_is_a_note_not_a_mismatch(monkeypatch):
    from types import SimpleNamespace

    from archcalc import verification as v

    monkeypatch.setitem(v.KNOWN_UNDERCOUNT, ("cpu", "linear"), "a known gap")
    rec = SimpleNamespace(name="fc", type="linear")
    check = v._compare(rec, "flops", 51200, 0, {}, "cpu")
    assert check.match and check.note == "a known gap"
    assert not v._compare(rec, "flops", 51200, 0, {}, "cuda").match  # no known gap there
    assert not v._compare(rec, "flops", 51200, 60000, {}, "cpu").match  # over-count: a ✗
    assert not v._compare(SimpleNamespace(name="c", type="conv2d"), "flops", 2, 0, {},
                          "cpu").match  # another type


def test_known_undercounts_name_registered_layer_types():
    from archcalc.verification import KNOWN_UNDERCOUNT

    for device, layer_type in KNOWN_UNDERCOUNT:
        assert device in ("cpu", "cuda") and layer_type in REGISTRY, layer_type


def test_field_larger_than_input_still_checks_its_inside_end(monkeypatch, tmp_path):
    # zeropad [0, 8] then conv k9 on n=6: 6 outputs, each seeing [u, u+8], which always
    # reaches past the right border (6 − 1 = 5); the left end u lies inside and must match.
    path = write(tmp_path, """
        input: [1, 6]
        layers:
          - zeropad: {padding: [[0, 8]]}
          - conv1d: {name: c, out: 1, kernel: 9}
    """)
    check = by(verify(path, device="cpu"), "c", "rf")
    # centre unit 2: closed form [2, 10] clipped to [2, 5]; PyTorch sees 2..5
    assert check.match and check.note and check.expected == [[2, 5]] == check.measured

    from archcalc.layers import base, conv

    rule = REGISTRY["conv1d"]

    def shifted(ctx):  # a rule whose receptive field starts one pixel too early
        out = conv.conv(ctx)
        rf = (None, *(base.Window(w.kernel, w.stride, w.pad_left + 1) for w in out.rf[1:]))
        return base.Out(out.shape, out.params, out.buffers, out.macs, rf)

    monkeypatch.setitem(REGISTRY, "conv1d", dataclasses.replace(rule, fn=shifted))
    check = by(verify(path, device="cpu"), "c", "rf")
    assert not check.match and check.expected == [[1, 5]] and check.measured == [[2, 5]]


# ---------------------------------------------------------------- the linear copy
GROWING = """
    input: [1, 9]
    layers:
      - repeat: 12
        layers:
          - identity: {name: a}
          - add: {with: a}
          - mul: {with: a}
      - conv1d: {name: last, out: 1, kernel: 3}
"""


def test_merges_cannot_overflow_the_linear_copy(tmp_path, monkeypatch):
    # a sum then a product per block: x → 2x·x, so from 1: 2, 8, 128, …, 2^1023, then
    # 2^2047 = inf in float64 at block 11. The linear copy takes their mean instead (all
    # values positive: the same inputs matter), and `last` (k3, output 7, centre unit 3)
    # sees exactly 3..5.
    path = write(tmp_path, GROWING)
    result = verify(path, device="cpu")
    assert result.ok and by(result, "last", "rf").measured == [[3, 5]]

    from archcalc.torch_backend import registry
    from archcalc.torch_backend.modules import Merge

    def raw(b):  # the real sum and product in the copy too
        return Merge(b.type)

    monkeypatch.setitem(registry.BUILDERS, "add", raw)
    monkeypatch.setitem(registry.BUILDERS, "mul", raw)
    check = by(verify(path, device="cpu"), "last", "rf")
    assert not check.match  # inf · 0 = nan in the backward pass: every position "reached"


def test_linear_layers_over_channels_are_narrowed(tmp_path):
    """ConvNeXt's channels-last MLP: a permute, then linear layers over the channels. The
    one-channel copy narrows them too and measures the same fields as the full width."""
    from archcalc.analysis import analyse
    from archcalc.spec.loader import load
    from archcalc.torch_backend.measure import measure_fields, measure_layers, plan_fields

    path = write(tmp_path, """
        input: [3, 17, 15]
        layers:
          - conv2d: {out: 6, kernel: 3, stride: 2}
          - branches:
              - - conv2d: {out: 6, kernel: 5, padding: 2, groups: 6}
                - permute: {dims: [1, 2, 0]}
                - linear: {out: 24}
                - linear: {out: 6}
                - permute: {dims: [2, 0, 1]}
              - [identity]
            merge: add
          - conv2d: {out: 4, kernel: 3, dilation: 2}
    """)
    graph = load(path)
    analysis = analyse(graph)
    wide = {0: tuple(graph.input_shape),
            **{k: m.shape for k, m in measure_layers(graph, "meta").items()}}
    # the centre unit of every channels-first output (the channels-last ones in between
    # hold a different width in each copy)
    units = {n.id: (None, *((d - 1) // 2 for d in analysis.layers[n.id].output_shape[1:]))
             for n in graph.nodes[1:] if n.type not in ("permute", "linear")}
    narrow = measure_fields(graph, units, "cpu", narrow=True, wide=wide)
    full = measure_fields(graph, units, "cpu", narrow=False)
    assert narrow == full and len(narrow) == len(units)
    linears = [m for m in plan_fields(graph, True, wide).net.modules()
               if type(m).__name__ == "Linear"]
    assert [m.out_features for m in linears] == [1, 1]  # 24 and 6 in the network
    assert verify(path, device="cpu").ok


def test_plain_table_is_the_text_rich_prints(monkeypatch):
    """The verify table is written directly when nothing wraps (rich costs about a
    millisecond a row); rich's own layout must give the very same text."""
    from archcalc.cli import verify_cmd
    from archcalc.report import plain_table

    for result in (verify(str(EXAMPLES / "dilated.yaml"), samples=2),
                   verify(str(EXAMPLES / "inception.yaml"), device="meta")):
        fast = verify_cmd.table(result)
        with monkeypatch.context() as m:
            m.setattr(plain_table, "render", lambda *a: None)
            assert verify_cmd.table(result) == fast
        assert "✓" in fast


# ---------------------------------------------------------------- token ids and tied weights
TOKENS = """
    symbols: {L: null}
    input: [L]
    layers:
      - embedding: {name: wte, vocab: 300, dim: 16}
      - embedding: {name: types, from: input, vocab: 2, dim: 16}
      - add: {from: wte, with: [types]}
      - parameter: {shape: [64, 16], op: add, rows: prefix}
      - layernorm
      - linear: {name: lm_head, out: 300, bias: false, tie: wte}
"""


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_token_ids_at_symbolic_lengths(tmp_path, device):
    """int64 ids for an input [L] at each sampled L (ids ≥ 2 reach the two-row table only
    modulo 2); no receptive field, said in a note; the tied head counts no weight."""
    result = verify(write(tmp_path, TOKENS), device=device, samples=3)
    assert result.ok and {r.metric for r in result.results} == {"shape", "params", "buffers",
                                                                "flops"}
    assert any("token ids read by embeddings" in n for n in result.notes)
    assert {by_point.measured for by_point in result.results
            if by_point.layer == "lm_head" and by_point.metric == "params"} == {0}
    assert len({tuple(r.symbols.items()) for r in result.results}) == 3


def test_ids_are_drawn_below_the_largest_vocab():
    from archcalc.spec.loader import load_string
    from archcalc.torch_backend.shapes import id_range, reads_ids

    graph = load_string(textwrap.dedent(TOKENS), "t.yaml", {"L": 8})
    assert reads_ids(graph) and id_range(graph) == 300
    from archcalc.torch_backend.measure import measure_layers

    measured = measure_layers(graph, "cpu")
    assert measured[1].shape == (8, 16) and measured[1].params == 300 * 16
    assert measured[6].params == 0  # lm_head: the weight is wte's, counted there
    assert sum(m.params for m in measured.values()) == 300 * 16 + 2 * 16 + 64 * 16 + 2 * 16
