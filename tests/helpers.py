"""Small helpers for tests: load and analyse a spec from text or a path."""

from __future__ import annotations

import textwrap

from archcalc.analysis import analyse
from archcalc.spec.loader import load, load_string


def analyse_text(text: str, **overrides):
    return analyse(load_string(textwrap.dedent(text), "test.yaml", overrides))


def analyse_file(path, **overrides):
    return analyse(load(str(path), overrides))


def sym(*names: str):
    import sympy as sp

    out = [sp.Symbol(n, integer=True, positive=True) for n in names]
    return out[0] if len(out) == 1 else out
