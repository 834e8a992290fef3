"""Nothing a spec contains runs code: YAML tags and expressions that would create a file if
they were constructed or evaluated leave no file, and end in exit code 2.

Each payload is first shown to be live (an unsafe YAML load or ``eval`` really does create
the file), so the test would catch a loader that constructed tags or evaluated text.
"""

from __future__ import annotations

import os

import pytest
import yaml

VERBS = ("summary", "params", "shapes", "flops", "rf", "explain")


def _tag_payloads(target: str) -> dict[str, str]:
    touch = f"touch {target}"
    write = f"open({target!r}, 'w').close()"
    return {
        "apply-os-system-top": f"!!python/object/apply:os.system [{touch!r}]\n",
        "apply-os-system-input": f"input: !!python/object/apply:os.system [{touch!r}]\n"
                                 "layers: [relu]\n",
        "apply-os-system-layer": f"input: [3]\nlayers:\n"
                                 f"  - !!python/object/apply:os.system [{touch!r}]\n",
        "apply-os-system-arg": f"input: [3]\nlayers:\n  - linear: "
                               f"{{out: !!python/object/apply:os.system [{touch!r}]}}\n",
        "apply-eval": f"input: [3]\nlayers:\n  - !!python/object/apply:builtins.eval "
                      f"[{write!r}]\n",
        "apply-exec-key": f"? !!python/object/apply:builtins.exec [{write!r}]\n: 1\n",
        "apply-subprocess": f"input: [3]\nsymbols:\n  H: !!python/object/apply:subprocess.call "
                            f"[[touch, {target!r}]]\nlayers: [relu]\n",
        "anchored-then-aliased": f"x: &p !!python/object/apply:os.system [{touch!r}]\n"
                                 "input: [3]\nlayers: [relu]\n",
    }


def _expression_payloads(target: str) -> dict[str, str]:
    return {
        "import-system": f"__import__('os').system('touch {target}')",
        "open-write": f"open('{target}', 'w')",
        "lambda-call": f"(lambda: __import__('os').system('touch {target}'))()",
        "exec": f"exec(\"open('{target}', 'w')\")",
        "eval": f"eval(\"open('{target}', 'w')\")",
        "subclasses": "().__class__.__bases__[0].__subclasses__()",
        "builtins": f"__builtins__['open']('{target}', 'w')",
    }


def _expression_specs(expression: str) -> dict[str, str]:
    """The same expression in every place a spec evaluates one."""
    quoted = '"' + expression.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return {
        "argument": f"input: [3]\nlayers:\n  - linear: {{out: {quoted}}}\n",
        "input-size": f"input: [3, {quoted}]\nlayers: [relu]\n",
        "symbol-default": f"symbols: {{H: {quoted}}}\ninput: [3, H]\nlayers: [relu]\n",
        "repeat-count": f"input: [3]\nlayers:\n  - repeat: {quoted}\n    layers: [relu]\n",
        "block-parameter": f"blocks:\n  b: {{params: [c], layers: [{{linear: {{out: c}}}}]}}\n"
                           f"input: [3]\nlayers:\n  - b: {{c: {quoted}}}\n",
    }


def test_tag_payloads_are_live(tmp_path):
    """Control: PyYAML's unsafe loader really runs the tag payloads."""
    target = tmp_path / "pwned"
    yaml.unsafe_load(_tag_payloads(str(target))["apply-os-system-top"])
    assert target.exists()
    target.unlink()
    yaml.unsafe_load(_tag_payloads(str(target))["apply-eval"])
    assert target.exists()


def test_expression_payloads_are_live(tmp_path):
    """Control: Python's eval really runs the expression payloads."""
    target = tmp_path / "pwned"
    eval(_expression_payloads(str(target))["import-system"])  # noqa: S307 - the control
    assert target.exists()


@pytest.mark.parametrize("name", list(_tag_payloads("x")))
def test_yaml_tags_construct_nothing(cli, tmp_path, name):
    target = tmp_path / "pwned"
    spec = tmp_path / "spec.yaml"
    spec.write_text(_tag_payloads(str(target))[name])
    for verb in VERBS:
        code, out, err = cli(verb, str(spec))
        assert code == 2, (verb, err)
        assert err.startswith(f"error: {spec}:") and "is not allowed (archcalc's files hold" in err
        assert not target.exists(), f"{verb} ran a YAML tag"


@pytest.mark.parametrize("where", list(_expression_specs("x")))
@pytest.mark.parametrize("name", list(_expression_payloads("x")))
def test_expressions_evaluate_nothing(cli, tmp_path, name, where):
    target = tmp_path / "pwned"
    spec = tmp_path / "spec.yaml"
    text = _expression_specs(_expression_payloads(str(target))[name])[where]
    spec.write_text(text)
    code, out, err = cli("summary", str(spec))
    assert code == 2, err
    assert err.startswith(f"error: {spec}:"), err
    assert err.count("\n") == 1
    assert not target.exists()


@pytest.mark.parametrize("name", list(_expression_payloads("x")))
def test_set_values_evaluate_nothing(cli, tmp_path, name):
    target = tmp_path / "pwned"
    spec = tmp_path / "spec.yaml"
    spec.write_text("symbols: {H: null}\ninput: [3, H]\nlayers: [relu]\n")
    payload = _expression_payloads(str(target))[name]
    code, out, err = cli("summary", str(spec), "--set", "H=" + payload)
    assert code == 2, err
    assert err.startswith("error: --set "), err  # a comma splits the value: still refused
    assert not target.exists()
    assert not os.path.exists("pwned")
