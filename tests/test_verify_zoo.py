"""``verify`` over every spec in specs/ and examples/ (new specs are picked up by the glob).
The meta device gives shapes, params and FLOPs without computing values, so the big models
stay fast; receptive fields are measured on the CPU, within the default work bound."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from archcalc.verification import verify  # noqa: E402
from conftest import EXAMPLES, SPECS  # noqa: E402

SPEC_FILES = sorted(SPECS.glob("*.yaml")) + sorted(EXAMPLES.glob("*.yaml"))


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_spec_verifies(path):
    result = verify(str(path), device="meta", samples=2)
    bad = [r for r in result.results if not r.match]
    assert bad == [], bad[:5]
    metrics = {r.metric for r in result.results}
    assert {"shape", "params", "buffers", "flops"} <= metrics
    # a one-channel copy measures every field within the default work bound; a full-width
    # one (ShuffleNet v2's channel split) may be measured in part, and says so
    from archcalc.spec.loader import load
    from archcalc.torch_backend.shapes import narrow_safe

    partial = [n for n in result.notes if "measured for the first" in n]
    assert not partial or not narrow_safe(load(str(path)))


def test_zoo_is_not_empty():
    assert len(SPEC_FILES) >= 6
