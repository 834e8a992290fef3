"""Export back and import again: every zoo spec, written as PyTorch source by archcalc export
pytorch and that file imported by archcalc import torch (its ``build()``), analyses to the
spec's own params and MACs. The exported file is the user's code here, run as they would
run it; the language models are exported at small sizes (their symbols bound below), so
that building them takes no gigabytes."""

from __future__ import annotations

import pytest

from conftest import ROOT

torch = pytest.importorskip("torch")

from archcalc.analysis import analyse  # noqa: E402
from archcalc.spec.loader import load, load_string  # noqa: E402
from archcalc.torch_backend.export import export_pytorch  # noqa: E402
from archcalc.torch_backend.importer import import_torch  # noqa: E402

SPECS = sorted((ROOT / "specs").glob("*.yaml"))

# the language models' sizes for the round trip (each spec's own symbols), and their ids
SMALL = {
    "gpt2": dict(L=16, n_layer=2, d_model=64, n_head=4, n_ctx=32, vocab=100),
    "bert-base": dict(L=16, layers=2, hidden=64, heads=4, ffn=128, vocab=100, positions=32),
    "t5-small": dict(L=16, T=8, D=64, H=4, DK=16, F=128, N=2),
    "llama-7b": dict(L=16, D=64, N=2, H=4, F=128, V=100),
    "mistral-7b": dict(L=16, D=64, N=2, H=4, KV=2, F=128, V=100),
}


@pytest.mark.parametrize("spec", SPECS, ids=[p.stem for p in SPECS])
def test_an_exported_spec_imports_to_its_counts(spec, tmp_path):
    analysis = analyse(load(str(spec), SMALL.get(spec.stem, {})))
    source = tmp_path / f"{spec.stem.replace('-', '_')}.py"
    source.write_text(export_pytorch(analysis), encoding="utf-8")
    text = import_torch(f"{source}:build", tuple(analysis.graph.input_shape),
                        tokens=spec.stem in SMALL)
    got = analyse(load_string(text, "reimported.yaml"))
    assert (got.total.params, got.total.macs, got.total.output_shape) == \
        (analysis.total.params, analysis.total.macs, analysis.total.output_shape)
