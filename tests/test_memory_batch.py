"""The batch given as --set B=N / --free B, and the memory verb's batch-size sweep
(archcalc/cli/memory_opts.py, archcalc/report/memory_sweep.py; bad inputs in
tests/bad_specs/640-648).

The network of most tests: input [3, 8, 8], conv2d 3→4 kernel 3. Parameters 4·3·3·3 + 4 =
112 (448 bytes in fp32); the output 4·6·6 = 144 elements (576 bytes a sample); the
inference peak is the input's 3·8·8 = 192 elements (768 bytes) alive with the output:
1,344 bytes a sample. Inference total at batch b: 448 + 1,344·b bytes."""

from __future__ import annotations

import json

import pytest

SMALL = "input: [3, 8, 8]\nlayers: [conv2d: {out: 4, kernel: 3}]\n"
ALEXNET = "specs/alexnet-paper.yaml"


@pytest.fixture
def small(tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    return str(path)


def _json(cli, *args):
    code, out, err = cli("memory", *args, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def test_set_b_is_the_batch_when_the_spec_has_no_b(cli, small):
    m = _json(cli, small, "--set", "B=128")
    assert m["batch"] == 128
    assert m["total_bytes"] == 448 + 1344 * 128 == 172_480
    assert _json(cli, small, "--batch", "128") == m


def test_free_b_keeps_the_batch_a_symbol(cli, small):
    m = _json(cli, small, "--free", "B")
    assert m["batch"] == "B"
    assert m["fixed_bytes"] == 448 and m["per_sample_bytes"] == 1344
    assert _json(cli, small, "--free", "B", "--batch", "B") == m


def test_the_specs_own_b_wins_and_the_batch_is_then_batch(cli, tmp_path):
    """A spec with a symbol B (the conv's channels here): --set B=8 binds it; the batch stays
    --batch's. Channels 8: parameters 8·27 + 8 = 224 (896 bytes), output 8·36 = 288
    elements: at batch 2 the total is 896 + 2·(768 + 1,152) = 4,736."""
    path = tmp_path / "b.yaml"
    path.write_text("symbols: {B: 4}\ninput: [3, 8, 8]\nlayers: [conv2d: {out: B, kernel: 3}]\n")
    m = _json(cli, str(path), "--set", "B=8", "--batch", "2")
    assert m["batch"] == 2 and m["total_bytes"] == 4_736


def test_the_issue_example_alexnet_at_set_b_128(cli):
    """The same numbers as --batch 128 (docs/tutorial-memory.md, section 1)."""
    code, out, err = cli("memory", ALEXNET, "--set", "B=128", "--train", "--optimizer",
                         "sgd-momentum", "--device-memory", "3GiB")
    assert code == 0, err
    code2, out2, _ = cli("memory", ALEXNET, "--batch", "128", "--train", "--optimizer",
                         "sgd-momentum", "--device-memory", "3GiB")
    assert out == out2 and "Largest batch that fits: 198" in out


def test_batch_ranges_double_or_step():
    from archcalc.report.memory_sweep import parse_batches

    assert parse_batches("1:256") == (1, 2, 4, 8, 16, 32, 64, 128, 256)
    assert parse_batches("3:20") == (3, 6, 12, 20)
    assert parse_batches("32:128:32") == (32, 64, 96, 128)
    assert parse_batches("5:5") == (5,)


def test_sweep_totals_and_fit(cli, small):
    """448 + 1,344·b at b = 1, 2, 4, 8: 1,792, 3,136, 5,824, 11,200; in 4,096 bytes batches
    1 and 2 fit, and the largest is ⌊(4,096 − 448)/1,344⌋ = 2."""
    s = _json(cli, small, "--batch", "1:8", "--device-memory", "4096")
    assert [(p["batch"], p["total_bytes"], p["fits"]) for p in s["points"]] == \
        [(1, 1792, True), (2, 3136, True), (4, 5824, False), (8, 11200, False)]
    assert s["fixed_bytes"] == 448 and s["per_sample_bytes"] == 1344
    assert s["device_memory"] == {"bytes": 4096, "largest_batch": 2}


def test_sweep_chart_marks_the_device_memory(cli, small):
    """The longest bar (11,200 bytes, the scale's full 48 cells); the device's 4,096 bytes at
    cell round(4,096·48/11,200) = 18; batch 1's bar round(1,792·48/11,200) = 8 cells;
    batch 8's: 18 cells within, the mark, 29 cells over. 11,200 bytes = 10.94 KiB."""
    code, out, err = cli("memory", small, "--batch", "1:8", "--device-memory", "4096")
    assert code == 0, err
    lines = out.splitlines()
    assert f"1 │{'█' * 8}{' ' * 10}┃ 1.75 KiB" in lines
    assert f"8 │{'█' * 18}┃{'░' * 29} 10.94 KiB" in lines
    assert lines[-1] == f"  │{' ' * 18}┃ device memory 4.00 KiB; ░: over it"


def test_sweep_csv(cli, small):
    code, out, _ = cli("memory", small, "--batch", "2:6:2", "--format", "csv")
    assert code == 0
    assert out.splitlines() == ["batch,total_bytes", "2,3136", "4,5824", "6,8512"]


def test_devices_named_as_a_spec_symbol_with_a_value_is_refused(cli):
    """Llama's spec has N = 32 (its layer count): --devices N would be a second symbol
    printed N."""
    code, _, err = cli("memory", "specs/llama-7b.yaml", "--train", "--zero", "3",
                       "--devices", "N")
    assert code == 2 and "the spec or the batch has a symbol N already" in err


def test_json_total_at_batch_1_on_the_line(cli, small):
    """Inference on the small network: the total is 448 + 1,344·b at every batch, so at batch
    1 it is 1,792 bytes, whichever batch the command is for."""
    for batch in ("1", "128", "B"):
        m = _json(cli, small, "--batch", batch)
        assert m["total_bytes_at_batch_1"] == 448 + 1344 == 1792
        assert m["fixed_bytes"] + m["per_sample_bytes"] == 1792


def test_json_total_at_batch_1_below_the_line(cli):
    """examples/vit-block.yaml in training (Adam, fp32): nn.MultiheadAttention keeps views of
    its input at batch 1 and copies from batch 2 on (tests/test_saved_attention.py checks the
    bytes kept against PyTorch's saved-tensor hooks at batch 1 and 2), so batch 1 holds less
    than fixed + per_sample. At batch 4 and at a free batch the object still gives batch 1's
    exact total: parameters, gradients and optimizer states, plus what is kept for backward
    at batch 1; the same figure the text prints after "at B = 1:" and the total at --batch 1."""
    from archcalc.activations import saved
    from archcalc.analysis import analyse
    from archcalc.spec.loader import load

    spec = "examples/vit-block.yaml"
    kept_one = saved(analyse(load(spec)), 4, 1).total
    one = _json(cli, spec, "--train", "--batch", "1")
    state = sum(c["bytes"] for c in one["components"] if c["what"] != "saved for backward")
    assert one["total_bytes"] == one["total_bytes_at_batch_1"] == state + kept_one
    for batch in ("4", "B"):
        m = _json(cli, spec, "--train", "--batch", batch)
        assert m["total_bytes_at_batch_1"] == state + kept_one == 364_832
        assert m["total_bytes_at_batch_1"] < m["fixed_bytes"] + m["per_sample_bytes"]
        code, out, _ = cli("memory", spec, "--train", "--batch", batch, "--depth", "0")
        assert code == 0 and f"at B = 1: {m['total_bytes_at_batch_1']})" in out
