"""docs/architecture.md stays true: every module path it names exists, and the properties it
states about the graph, the analysis and their imports hold."""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "architecture.md"
SPEC = ROOT / "examples" / "vgg16.yaml"


def _named_paths() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    return sorted(set(re.findall(r"\b((?:archcalc|tests|tools|docs)/[\w/<>.-]+\.(?:py|md))",
                                 text)))


def test_the_doc_names_modules():
    assert len(_named_paths()) > 40  # the module table alone names every module


@pytest.mark.parametrize("path", _named_paths())
def test_every_named_path_exists(path):
    if "<family>" in path:  # a pattern: at least one file must match it
        assert list(ROOT.glob(path.replace("<family>", "*"))), path
    else:
        assert (ROOT / path).is_file(), f"docs/architecture.md names {path}, which is missing"


def test_every_module_is_in_the_table():
    text = DOC.read_text(encoding="utf-8")
    for f in sorted((ROOT / "archcalc").rglob("*.py")):
        rel = f.relative_to(ROOT).as_posix()
        if f.name in ("__main__.py",) or rel.endswith("/__init__.py") and rel != \
                "archcalc/__init__.py":
            continue
        assert f"`{rel}`" in text, f"{rel} has no line in docs/architecture.md"


def _imports(module: str) -> set[str]:
    """The archcalc modules ``module`` imports, at any level of the file (function-level
    imports included), as dotted names."""
    path = ROOT / (module.replace(".", "/") + ".py")
    package = module.rsplit(".", 1)[0].split(".")
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            name = ".".join(base + ([node.module] if node.module else []))
            out.add(name)
            out.update(f"{name}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def test_the_analysis_imports_neither_the_conditions_nor_the_loader():
    found = _imports("archcalc.analysis")
    assert not {"archcalc.spec.conditions", "archcalc.spec.loader"} & found, found


def test_a_layer_failure_is_data_and_each_entry_point_words_it(cli, monkeypatch):
    """The analysis raises the failure once, on numbers (no second analysis inside it);
    the CLI says --set, the API says set=."""
    import archcalc
    from archcalc import analysis as walk
    from archcalc.analysis import LayerFailure
    from archcalc.spec.loader import load_string

    text = "symbols: {H: null}\ninput: [1, H, H]\nlayers:\n  - conv2d: {out: 2, kernel: 3}\n"
    walks = []
    real = walk._walk
    monkeypatch.setattr(walk, "_walk", lambda *a: walks.append(1) or real(*a))
    with pytest.raises(LayerFailure) as caught:
        walk.analyse(load_string(text, "net.yaml", {"H": 2}))
    assert len(walks) == 1 and caught.value.node.type == "conv2d"
    assert "--set" not in caught.value.message and "set=" not in caught.value.message
    with pytest.raises(archcalc.SpecError) as caught:
        archcalc.analyse(text, set={"H": 2})
    assert caught.value.message.startswith("conv2d 'conv2d_1': set={'H': 2} violates H >= 3"), \
        caught.value.message


def test_the_graph_is_frozen_and_carries_what_the_loader_knew():
    from archcalc.analysis import analyse
    from archcalc.spec.loader import load

    graph = load(str(SPEC))
    with pytest.raises(dataclasses.FrozenInstanceError):
        graph.name = "other"  # type: ignore[misc]
    assert graph.source == SPEC.read_text(encoding="utf-8")
    analysis = analyse(graph)
    assert not hasattr(graph, "conditions")  # what the analysis finds stays in the Analysis
    assert isinstance(analysis.conditions, tuple)


def test_nodes_and_groups_refuse_assignment():
    from archcalc.spec.loader import load

    graph = load(str(ROOT / "examples" / "resnet-stage.yaml"))
    assert graph.groups, "the example must have groups"
    with pytest.raises(dataclasses.FrozenInstanceError):
        graph.nodes[1].name = "other"  # type: ignore[misc]
    group = graph.groups[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        group.last = 0  # type: ignore[misc]
    assert group.first <= group.last and group.first <= group.output <= group.last


def test_the_analysis_keeps_steps_fields_and_axis_sources():
    """One walk keeps what verify and explain read: a 3x3 stride-2 conv on [1, 9, 9] follows
    input axes 1 and 2 with r = 3, j = 2, start = -1 (padding 1); flatten follows none."""
    from archcalc.analysis import AxisRF, analyse
    from archcalc.layers import Window
    from archcalc.spec.loader import load_string

    a = analyse(load_string("input: [1, 9, 9]\nlayers:\n  - conv2d: {out: 2, kernel: 3, "
                            "stride: 2, padding: 1}\n  - flatten: {}\n"))
    assert a.axis_fields(1) == ((None, None), (1, AxisRF(3, 2, -1)), (2, AxisRF(3, 2, -1)))
    assert all(isinstance(e, Window) for e in a.steps[1][1:])
    assert a.axis_fields(2) == ((None, None),)
    assert len(a.steps) == len(a.fields) == len(a.sources) == len(a.graph.nodes)


def test_verify_parses_the_spec_once(monkeypatch, tmp_path):
    """Each sample point builds the graph from the tree already parsed: five points, one
    parse (the conditions C ≥ 1 and H ≥ 3 keep every drawn point valid)."""
    pytest.importorskip("torch")
    from archcalc import verification
    from archcalc.spec import loader, yamlsafe

    spec = tmp_path / "free.yaml"
    spec.write_text("symbols: {H: null}\ninput: [1, H, H]\nlayers:\n  - conv2d: {out: 2, kernel: 3}\n",
                    encoding="utf-8")
    parses = []
    real = yamlsafe.load_text
    monkeypatch.setattr(loader, "load_text", lambda *a: parses.append(a) or real(*a))
    result = verification.verify(str(spec), samples=5, rf="off")
    assert len(parses) == 1
    assert result.ok and result.checked > 0


def test_compare_parses_each_spec_once(monkeypatch, cli):
    from archcalc.spec import loader, yamlsafe

    parses = []
    real = yamlsafe.load_text
    for module in (loader, yamlsafe):  # the loader holds its own reference
        monkeypatch.setattr(module, "load_text", lambda *a: parses.append(a[1]) or real(*a))
    a, b = str(ROOT / "examples" / "vgg16.yaml"), str(ROOT / "examples" / "dense-block.yaml")
    code, _, err = cli("compare", a, b, "--set", "k0=64,k=32")
    assert code == 0, err
    assert sorted(parses) == sorted([a, b])


def test_a_symbol_error_carries_its_data_and_the_cli_words_the_flag(cli):
    """The loader's error says which symbol and value; sweep names its own flag for it."""
    from archcalc.spec.loader import SymbolError, load

    dense = str(ROOT / "examples" / "dense-block.yaml")  # symbols k0, k (free), H: 56
    with pytest.raises(SymbolError) as caught:
        load(dense, {"q": 3})
    e = caught.value
    assert (e.symbol, e.value, e.problem, e.origin) == ("q", 3, "unknown", "cli")
    assert e.declared == ("k0", "k", "H")
    with pytest.raises(SymbolError) as caught:
        load(dense, {"k": 0})  # a free size must be a positive whole number
    assert (caught.value.symbol, caught.value.problem) == ("k", "not_a_size")
    assert "--set" not in e.message  # the library names no flag; the CLI does
    code, _, err = cli("summary", dense, "--set", "q=3")
    assert code == 2
    assert err.startswith(f"error: {dense}: --set q: the spec has no symbol 'q'"), err
    code, _, err = cli("sweep", dense, "--over", "q=1:3")
    assert code == 2
    assert err.startswith(f"error: {dense}: --over q: the spec has no symbol 'q'"), err
