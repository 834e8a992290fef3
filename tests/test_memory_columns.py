"""summary --memory and compare --memory (archcalc/report/memory_columns.py, the memory
columns of report/compare.py): the memory verb's bytes in the analysis verbs' reports, in
every format.

The network: input [3, 8, 8], conv2d 3→4 kernel 3, ReLU. Parameters 4·27 + 4 = 112 (448
bytes in fp32); each output 4·6·6 = 144 elements, 576 bytes a sample. Training: the
convolution keeps its input (3·64 = 192 elements, 768 bytes a sample) and the ReLU its
output (576 bytes a sample)."""

from __future__ import annotations

import json

import pytest

SMALL = "name: small\ninput: [3, 8, 8]\nlayers: [conv2d: {out: 4, kernel: 3}, relu]\n"


@pytest.fixture
def small(tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    return str(path)


def test_summary_memory_columns_csv(cli, small):
    """At batch 8: outputs 8·576 = 4,608 bytes each; without --train no saved column."""
    code, out, err = cli("summary", small, "--memory", "--batch", "8", "--format", "csv")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].endswith(",params_bytes,output_bytes")
    assert lines[1].endswith(",448,4608") and lines[2].endswith(",0,4608")


def test_summary_memory_train_json(cli, small):
    """--train adds saved_bytes: 8·768 = 6,144 at the convolution, 8·576 = 4,608 at the
    ReLU; the top-level memory object's total is 448·4 (parameters, gradients, Adam's two
    states) + 6,144 + 4,608 = 12,544 bytes. --set B=8 is the batch as --batch 8 is."""
    code, out, err = cli("summary", small, "--memory", "--train", "--set", "B=8",
                         "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert [layer["memory"] for layer in data["layers"]] == [
        {"params_bytes": 448, "output_bytes": 4608, "saved_bytes": 6144},
        {"params_bytes": 0, "output_bytes": 4608, "saved_bytes": 4608}]
    assert data["memory"]["total_bytes"] == 448 * 4 + 6144 + 4608 == 12_544
    assert data["memory"]["batch"] == 8 and "name" not in data["memory"]
    code, plain, _ = cli("summary", small, "--format", "json")
    assert "memory" not in json.loads(plain)
    assert all("memory" not in layer for layer in json.loads(plain)["layers"])


@pytest.mark.parametrize("fmt", ["table", "markdown", "latex"])
def test_summary_memory_in_every_writer(cli, small, fmt):
    code, out, err = cli("summary", small, "--memory", "--batch", "8", "--units", "iec",
                         "--format", fmt)
    assert code == 0, err
    assert "4.50 KiB" in out  # 4,608 bytes = 4.5 · 1,024
    assert "448 B" in out


def test_compare_memory_and_fit(cli, small):
    """Inference at batch 1: 448 bytes of parameters and the peak of live outputs, 768 +
    576 = 1,344 bytes at the convolution (the input with its output; at the ReLU 576 + 576
    = 1,152): total 1,792. In 4,096 bytes the largest batch is ⌊(4,096 − 448)/1,344⌋ = 2."""
    code, out, err = cli("compare", small, "--memory", "--device-memory", "4096",
                         "--columns", "params", "--format", "csv")
    assert code == 0, err
    assert out.splitlines() == ["model,path,params,memory,fits,largest_batch",
                                f"small,{small},112,1792,true,2"]
    code, out, _ = cli("compare", small, "--memory", "--device-memory", "4096",
                       "--columns", "params", "--format", "json")
    row = json.loads(out)["models"][0]
    assert (row["memory"], row["fits"], row["largest_batch"]) == (1792, True, 2)


def test_memory_options_need_memory(cli, small):
    for verb in ("summary", "compare"):
        code, _, err = cli(verb, small, "--train")
        assert code == 2 and "--train is a memory option: add --memory" in err
