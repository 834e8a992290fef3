"""check: grade answer sheets against the closed forms."""

from __future__ import annotations

from typing import Annotated, List

import typer

from . import common as c
from .app import app

Sheets = Annotated[List[str], typer.Argument(
    help="Answer sheets (YAML): spec or model, optional set/convention, answers.",
    show_default=False)]


@app.command("check")
def check(sheets: Sheets, set_: c.SetOpt = None, fmt: c.FormatOpt = "table",
          limit: c.LimitOpt = None) -> None:
    """Grade answer sheets: each claim ✓ or ✗, with the derivation of the wrong ones.

    Each wrong count also names the counting convention that would make it right; several
    sheets give a grade table.

    A claim may be exact (138357544, "138,357,544"), rounded with a decimal prefix
    ("138M", "15.5 G", "1.2K": right when the exact value rounds to it at the precision
    written) or an expression in the spec's symbols ("2*H*W", "[C, H/2, W/2]").

    Examples:

        archcalc check homework/alice.yaml

        archcalc check homework/*.yaml --format markdown

    Exit codes: 0 every claim right, 1 some claim wrong, 2 bad input.
    """
    c.guarded(_run)(sheets, set_, fmt, limit)


def _run(sheets, set_, fmt, limit) -> None:
    from ..check import check_sheet, render

    c.apply_limits(limit)
    fmt = c.check_format(fmt)
    overrides = c.parse_set(set_)
    results = [check_sheet(path, overrides) for path in sheets]
    c.emit(render(results, fmt))
    if any(not r.correct for s in results for r in s.results):
        raise typer.Exit(c.EXIT_MISMATCH)
