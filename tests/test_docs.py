"""The docs cannot drift from the code: the spec-format reference holds the registry's own
listing, and every layer type appears in it."""

from __future__ import annotations

import re

from archcalc.layers import REGISTRY
from conftest import ROOT


def test_spec_format_layer_reference_is_the_registry(cli):
    text = (ROOT / "docs" / "spec-format.md").read_text()
    embedded = re.search(r"<!-- list-layers:begin -->\n(.*)<!-- list-layers:end -->", text,
                         re.S).group(1)
    code, listing, _ = cli("list-layers", "--format", "markdown")
    assert code == 0
    assert embedded == listing, "regenerate with: archcalc list-layers --format markdown"
    for name in REGISTRY:
        assert f"| `{name}` |" in embedded
