"""The Python API (docs/api.md): its examples run as written, and what they promise holds
on every zoo spec — the API's numbers are the CLI's JSON."""

from __future__ import annotations

import doctest
import json
import os
import re

import pytest

import archcalc
from conftest import EXAMPLES, ROOT, SPECS

DOC = ROOT / "docs" / "api.md"


def test_the_documented_examples_run(monkeypatch):
    """Every ``>>>`` example of docs/api.md, run from the repository's root."""
    monkeypatch.chdir(ROOT)
    text = re.sub(r"^```\w*$", "", DOC.read_text(), flags=re.M)  # fences end an example
    test = doctest.DocTestParser().get_doctest(text, {}, "api.md", str(DOC), 0)
    assert len(test.examples) >= 20
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.summarize(verbose=False).failed == 0


@pytest.mark.parametrize("path", sorted(SPECS.glob("*.yaml"))[::4] + [EXAMPLES / "dilated.yaml"],
                         ids=lambda p: p.stem)
def test_to_dict_is_the_cli_json(cli, path):
    code, out, _ = cli("summary", path, "--format", "json")
    assert code == 0
    a = archcalc.analyse(path)
    assert a.to_dict() == json.loads(out)
    assert a.table("json") == out
    data = json.loads(out)
    assert [layer.name for layer in a.layers] == [r["name"] for r in data["layers"]]
    if isinstance(data["total"]["params"], int):
        assert a.total.params == data["total"]["params"]
        assert a.total.macs == data["total"]["macs"]


def test_the_three_kinds_of_spec_agree():
    path = EXAMPLES / "inception.yaml"
    text = path.read_text()
    import yaml

    by_path, by_text = archcalc.analyse(path), archcalc.analyse(text)
    by_dict = archcalc.analyse(yaml.safe_load(text))
    # Inception (3a): 163,328 weights + 368 biases (tests/test_spec_examples.py's derivation).
    assert by_path.total.params == by_text.total.params == by_dict.total.params == 163_696
    assert archcalc.analyse(os.fspath(path)).total.macs == by_path.total.macs


def test_lookup_and_errors():
    a = archcalc.analyse(EXAMPLES / "vgg16.yaml")
    assert a["fc8"].params == 4096 * 1000 + 1000  # 4,097,000
    with pytest.raises(KeyError, match="did you mean 'fc8'"):
        a["fc9"]
    with pytest.raises(TypeError):
        archcalc.analyse(42)
    with pytest.raises(archcalc.SpecError) as e:
        archcalc.analyse("input: [3]\nlayers:\n  - bogus\n")
    assert (e.value.file, e.value.line, e.value.column) == ("<text>", 3, 5)


def test_set_binds_symbols_and_rejects_what_the_cli_rejects():
    a = archcalc.analyse(EXAMPLES / "dilated.yaml", set={"M": 32, "N": 20, "F": "3", "D": 2})
    assert a.total.params == 3 * 3 + 1  # one 3x3 kernel + bias
    with pytest.raises(archcalc.SpecError):
        archcalc.analyse(EXAMPLES / "dilated.yaml", set={"M": 3, "N": 20, "F": 3, "D": 2})
    # the values --set refuses: past float's range, not finite, not an expression
    for value in ("(2**64)**17/3", "1e999", "3 +"):
        with pytest.raises(archcalc.SpecError):
            archcalc.analyse(EXAMPLES / "dilated.yaml", set={"M": value})


def test_notebook_display():
    a = archcalc.analyse(EXAMPLES / "dilated.yaml", set={"M": 32, "N": 20, "F": 3, "D": 2})
    assert a._repr_markdown_() == a.table("markdown")
    html = a._repr_html_()
    assert "<table>" in html and "dilated" in html and "4032" in html


def test_verify_through_the_api():
    pytest.importorskip("torch")
    result = archcalc.verify(archcalc.analyse(EXAMPLES / "dilated.yaml",
                                              set={"M": 12, "N": 9, "F": 3, "D": 2}))
    assert result.ok and result.checked > 0


def test_the_package_version_is_the_distribution_version():
    from importlib.metadata import version

    assert archcalc.__version__ == version("archcalc")


def test_api_names_are_not_shadowed_by_modules():
    """Importing every module of the package leaves archcalc.check/verify/analyse the API's
    functions (a submodule of the same name would replace them on import)."""
    import importlib
    import pkgutil

    for info in pkgutil.walk_packages(archcalc.__path__, "archcalc."):
        if not info.name.startswith(("archcalc.torch_backend", "archcalc.__main__")):
            importlib.import_module(info.name)
    from archcalc import api

    for name in archcalc.__all__:
        if name not in ("SpecError", "__version__"):
            assert getattr(archcalc, name) is getattr(api, name), name


def test_frozen_layers_count_as_the_json_counts_them(tmp_path):
    spec = tmp_path / "frozen.yaml"
    spec.write_text("input: [3, 8, 8]\nlayers:\n  - conv2d: {out: 4, kernel: 3, trainable: false}\n"
                    "  - batchnorm2d\n  - flatten\n  - linear: {out: 2}\n")
    a = archcalc.analyse(spec)
    # conv 4·3·9 + 4 = 112 (frozen); BN 2·4 = 8 params + 8 running statistics;
    # linear (4·6·6 = 144) → 2: 144·2 + 2 = 290. Trainable 8 + 290 = 298; non-trainable 112 + 8.
    assert (a.total.params, a.total.trainable_params, a.total.non_trainable) == (410, 298, 120)
    for layer, row in zip(a.layers, a.to_dict()["layers"]):
        assert (layer.trainable_params, layer.non_trainable) == \
            (row["trainable_params"], row["non_trainable"])


SWEPT = ROOT / "examples" / "solve" / "vgg16-free-size.yaml"


def test_sweep_is_the_cli_sweep(cli):
    """archcalc.sweep gives what ``archcalc sweep`` prints, in every format."""
    s = archcalc.sweep(SWEPT, "H=16:300:7", what="shape,params,macs,flops")
    for fmt in ("json", "csv", "markdown", "latex", "table"):
        code, out, _ = cli("sweep", SWEPT, "--over", "H=16:300:7", "--what",
                           "shape,params,macs,flops", "-f", fmt)
        assert code == 0
        assert s.table(fmt) + "\n" == out or s.table(fmt) == out, fmt
    code, out, _ = cli("sweep", SWEPT, "--over", "H=16:300:7", "--what",
                       "shape,params,macs,flops", "-f", "json")
    assert s.to_dict() == json.loads(out)


def test_sweep_points_equal_the_analysis_at_each_point():
    """Each swept point is the numeric analysis with the size bound (--set H=...)."""
    s = archcalc.sweep(SWEPT, {"H": range(20, 300, 37)}, what="params,macs")
    assert s.inputs["H"] == list(range(20, 300, 37))
    for h, ok, params, macs in zip(s.inputs["H"], s.valid, s.columns["params"],
                                   s.columns["macs"]):
        if not ok:
            with pytest.raises(archcalc.SpecError):
                archcalc.analyse(SWEPT, set={"H": h})
            continue
        total = archcalc.analyse(SWEPT, set={"H": h}).total
        assert (params, macs) == (total.params, total.macs), h


def test_sweep_ranges_in_every_form_agree():
    texts = archcalc.sweep(SWEPT, ["H=32:96:32"], what="macs")
    mapping = archcalc.sweep(SWEPT, {"H": (32, 96, 32)}, what=["macs"])
    ranged = archcalc.sweep(SWEPT, {"H": range(32, 97, 32)}, what="macs")
    assert texts.columns == mapping.columns == ranged.columns
    assert texts.inputs == {"H": [32, 64, 96]}
    with pytest.raises(archcalc.SpecError):
        archcalc.sweep(SWEPT, {"H": range(5, 5)})
    with pytest.raises(ValueError):
        texts.table("html")
