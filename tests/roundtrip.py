"""Round trips of ``archcalc import torch`` with free input sizes against a hand-written
spec whose input is made free (benchmarks/generate.py's free_input)."""

from __future__ import annotations

import sys
from pathlib import Path

import sympy

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from generate import free_input  # noqa: E402

from archcalc.analysis import analyse  # noqa: E402
from archcalc.spec.loader import load_string  # noqa: E402
from archcalc.torch_backend.importer import import_torch  # noqa: E402


def free_round_trip(target, shape, spec_path):
    """Import ``target`` traced at ``shape`` with H, W free; the analysis of the spec at
    ``spec_path`` with its input made free: (the imported text, its analysis, the spec's)."""
    text = import_torch(target, shape, None, free=("H", "W"))
    assert f"input: [{shape[0]}, H, W]" in text
    got = analyse(load_string(text, "imported-free.yaml"))
    source = spec_path.read_text(encoding="utf-8")
    return text, got, analyse(load_string(free_input(source), f"{spec_path.stem}-free.yaml"))


def same_closed_form(got, want) -> bool:
    """The same polynomial of floors and ceilings in H and W (each side's symbols read as
    the same positive integers)."""
    return sympy.simplify(_shared(got) - _shared(want)) == 0


def at_size(expr, h: int, w: int):
    """A closed form in H and W at H = h, W = w."""
    expr = sympy.sympify(expr)
    return expr.subs({s: {"H": h, "W": w}[s.name] for s in expr.free_symbols})


_NAMES = {n: sympy.Symbol(n, positive=True, integer=True) for n in "HW"}


def _shared(expr):
    expr = sympy.sympify(expr)
    return expr.subs({s: _NAMES[s.name] for s in expr.free_symbols})

