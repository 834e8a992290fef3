"""The CLI's main promises: numbers, formats, exit codes, one-line errors, the version."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

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


def test_version(cli):
    import archcalc

    code, out, err = cli("--version")
    assert (code, out, err) == (0, f"archcalc {archcalc.__version__}\n", "")


@pytest.mark.parametrize("args, command", [
    (("params",), "archcalc params"),  # a missing argument
    (("params", "x.yaml", "--no-such-option"), "archcalc params"),
    (("sweep", "x.yaml"), "archcalc sweep"),  # a missing required option
    (("summary", "x.yaml", "--depth", "deep"), "archcalc summary"),  # not a number
    (("no-such-command",), "archcalc"),
])
def test_usage_errors_are_one_line(cli, args, command):
    """A mistake the option parser finds reads like every other error: one line on stderr,
    naming the command and where its help is, exit 2 (the parser's own words in between)."""
    code, out, err = cli(*args)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and err.startswith(f"error: {command}: ")
    assert err.endswith(f" (see '{command} --help')\n")


def test_usage_error_one_line_in_a_real_process():
    proc = subprocess.run([sys.executable, "-m", "archcalc", "compare"], capture_output=True,
                          text=True, cwd=ROOT)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: archcalc compare: ")


def test_no_arguments_still_shows_help(cli):
    code, out, err = cli()
    assert code == 2 and "Commands" in out + err and "summary" in out + err


def test_help_paragraphs_wrap_to_the_terminal():
    """A command's docstring is written in lines of 90 columns; --help joins each
    paragraph's lines so that the terminal wraps them (typer keeps a docstring's line
    breaks after its first paragraph, which at 80 columns left a stub of a line after each
    one), and keeps an indented example on its own lines."""
    import os

    env = dict(os.environ, COLUMNS="200", TERM="dumb", NO_COLOR="1")
    proc = subprocess.run([sys.executable, "-m", "archcalc", "import", "torch", "--help"],
                          capture_output=True, text=True, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr
    lines = [" ".join(line.split()) for line in proc.stdout.splitlines()]
    assert "This runs your Python code (the import and the call), as running it yourself " \
           "would; the spec verbs never run code. Layers keep PyTorch's vocabulary and only " \
           "the arguments that differ from archcalc's defaults." in " ".join(lines)
    joined = next(line for line in lines if line.startswith("This runs your Python code"))
    assert "the spec verbs never run code" in joined  # one paragraph, one line at 200
    assert "archcalc import torch model.py:GPT --input 1024 --tokens -o gpt.yaml" in lines


def test_list_layers_json_is_the_registry(cli):
    from archcalc.layers import REGISTRY
    from archcalc.layers.base import REQUIRED

    code, out, _ = cli("list-layers", "--format", "json")
    assert code == 0
    layers = {layer["type"]: layer for layer in json.loads(out)["layers"]}
    assert set(layers) == set(REGISTRY)
    conv = layers["conv2d"]
    assert (conv["family"], conv["counts"]) == (REGISTRY["conv2d"].family, "macs")
    args = {a["name"]: a for a in conv["arguments"]}
    assert list(args) == list(REGISTRY["conv2d"].args)
    assert args["out"]["required"] and "default" not in args["out"]
    assert args["stride"] == {"name": "stride", "kind": "ints", "required": False, "default": 1}
    assert args["padding_mode"]["choices"] == list(REGISTRY["conv2d"].args["padding_mode"].choices)
    required = {k for k, a in REGISTRY["linear"].args.items() if a.default is REQUIRED}
    assert {a["name"] for a in layers["linear"]["arguments"] if a["required"]} == required


@pytest.mark.parametrize("option", ["--depth", "--width"])
def test_five_thousand_digit_number_option_is_one_line(option):
    """Past Python's 4,300-digit int() limit: the typer-free parser leaves it to typer,
    which reports it as a usage error (it used to end in a traceback)."""
    proc = subprocess.run([sys.executable, "-m", "archcalc", "params", str(EXAMPLES / "vgg16.yaml"),
                           option, "9" * 5000], capture_output=True, text=True, cwd=ROOT)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: archcalc params: ")


def test_ctrl_c_ends_the_same_on_both_paths(cli, monkeypatch):
    """Ctrl-C: exit 130 (128 + SIGINT) from the typer-free parser and from typer alike."""
    from archcalc.cli import fast, run_analysis

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(run_analysis, "run_verb", interrupted)
    with pytest.raises(SystemExit) as exit_:
        fast.run(["params", str(EXAMPLES / "vgg16.yaml")])
    assert exit_.value.code == 130
    assert cli("params", EXAMPLES / "vgg16.yaml")[0] == 130


def test_list_layers_says_what_each_type_counts(cli):
    """The reference's params and MACs come from the rules' terms or declared reasons."""
    code, out, _ = cli("list-layers", "--format", "json")
    assert code == 0
    layers = {layer["type"]: layer for layer in json.loads(out)["layers"]}
    assert layers["conv2d"]["params"] == {"formula": "(k_h·k_w·C_in/groups + 1)·C_out"}
    assert layers["linear"]["macs"] == {"formula": "∏leading·in·out"}
    assert layers["relu"]["params"] == {"zero": "relu has no parameters"}
    assert layers["rmsnorm"]["params"] == {"formula": "∏normalized_shape"}
    assert all(set(layer[m]) in ({"formula"}, {"zero"}) for layer in layers.values()
               for m in ("params", "macs"))
    assert all(layer[m] != {"zero": "see the rule"} for layer in layers.values()
               for m in ("params", "macs"))
