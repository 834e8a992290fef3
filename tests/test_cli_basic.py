"""The CLI's main promises from the engine issue."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import EXAMPLES, ROOT


def test_params_vgg16_prints_total(cli):
    code, out, _ = cli("params", EXAMPLES / "vgg16.yaml")
    assert code == 0
    assert "138,357,544" in out
    assert all(len(line) <= 100 for line in out.splitlines())


def test_shapes_dilated_closed_form(cli):
    code, out, _ = cli("shapes", EXAMPLES / "dilated.yaml")
    assert code == 0
    assert "M - D*F + D" in out


def test_json_matches_design(cli):
    code, out, _ = cli("summary", EXAMPLES / "vgg16.yaml", "--format", "json")
    data = json.loads(out)
    assert data["total"]["params"] == 138_357_544
    assert data["total"]["trainable_params"] == 138_357_544
    assert data["total"]["non_trainable"] == 0
    assert data["total"]["macs"] == 15_470_264_320
    assert data["total"]["flops"] == 2 * 15_470_264_320
    assert data["total"]["output_shape"] == [1000]
    stage1 = next(layer for layer in data["layers"] if layer["name"] == "stage1")
    assert stage1 == {**stage1, "type": "stage", "depth": 0, "output_shape": [64, 112, 112],
                      "params": 38_720, "rf": [6, 6]}
    stage5 = next(layer for layer in data["layers"] if layer["name"] == "stage5")
    assert stage5["rf"] == [212, 212]


def test_symbolic_json_values_are_strings(cli):
    code, out, _ = cli("shapes", EXAMPLES / "dilated.yaml", "-f", "json")
    data = json.loads(out)
    assert data["symbols"] == {"M": None, "N": None, "F": None, "D": None}
    assert data["total"]["output_shape"] == [1, "M - D*F + D", "N - D*F + D"]


def test_set_binds_free_symbols(cli):
    code, out, _ = cli("shapes", EXAMPLES / "dilated.yaml", "--set", "M=32,N=20",
                       "--set", "F=3", "--set", "D=2", "-f", "json")
    assert json.loads(out)["total"]["output_shape"] == [1, 28, 16]  # 32 - 2·2, 20 - 2·2


def test_bad_input_exit_2_located(cli, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("input: [3, 32, 32]\nlayers:\n  - conv2d: {out: 8, kernal: 3}\n")
    code, out, err = cli("params", bad)
    assert code == 2
    assert err.strip() == (f"error: {bad}:3:22: conv2d: unknown argument 'kernal' — did you "
                           "mean 'kernel'?")


def test_console_script_runs_without_sympy():
    # A fully numeric spec must not import sympy (nor torch, nor numpy).
    code = ("import sys; from archcalc.cli import main; sys.argv=['archcalc','params',"
            f"{str(EXAMPLES / 'vgg16.yaml')!r}]\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "bad=[m for m in ('sympy','torch','numpy') if m in sys.modules]\n"
            "print('HEAVY', bad, file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT)
    assert "HEAVY []" in proc.stderr, proc.stderr
