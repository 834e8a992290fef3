"""check: grade answer sheets against the closed forms."""

from __future__ import annotations

from typing import Annotated, List, Optional

import typer

from . import common as c
from .app import app

Sheets = Annotated[List[str], typer.Argument(
    help="Answer sheets (YAML): spec or model, optional set/convention, answers.",
    show_default=False)]
SpecRootOpt = Annotated[Optional[List[str]], typer.Option(
    "--spec-root", metavar="DIR",
    help="A folder (or one file) a sheet's 'spec:' may name, besides the sheet's own folder "
         "(repeatable).")]
GradebookOpt = Annotated[Optional[str], typer.Option(
    "--gradebook", metavar="FILE",
    help="Write the class's gradebook to FILE (CSV; JSON when FILE ends in .json; '-': CSV "
         "on stdout instead of the report): a row per sheet and claim with its points, "
         "totals per student, and per question the share right and the most common wrong "
         "answer.")]


@app.command("check")
def check(sheets: Sheets, set_: c.SetOpt = None, fmt: c.FormatOpt = "table",
          spec_root: SpecRootOpt = None, gradebook: GradebookOpt = None,
          limit: c.LimitOpt = None) -> None:
    """Grade answer sheets: each claim ✓ or ✗, with the derivation of the wrong ones.

    Each wrong count also names the counting convention that would make it right; several
    sheets give a grade table.

    A claim may be exact (138357544, "138,357,544"), approximate with a decimal prefix or
    word ("138M", "~23M", "15.5 G", "about 60 million": right when the exact value rounds or
    truncates to it at the precision written; the sheet's 'prefix: binary' makes K = 1024)
    or an expression in the spec's symbols ("2*H*W", "[C, H/2, W/2]"), compared where the
    spec's recorded conditions hold.

    Shapes are channels first unless the sheet or the answer says 'layout: channels_last'
    (a Keras tuple, "(None, 55, 55, 96)", always is). Besides counts, shapes and fields, an
    answer may claim spatial, elements, depth, non_trainable_params, or compare two places
    ({params: "<", than: other_layer_or_spec.yaml}).

    A sheet's 'spec:' (and a compared spec) is read only inside the sheet's own folder or a
    --spec-root, and only if it is a regular file.

    Examples:

        archcalc check homework/alice.yaml

        archcalc check homework/*.yaml --spec-root specs --format markdown

        archcalc check homework/*.yaml --spec-root specs --gradebook grades.csv

    Exit codes: 0 every claim right; 1 some claim wrong or unreadable (an unreadable claim
    is a row that says why, and the rest is graded); 2 some sheet cannot be read at all
    (one 'error:' line on stderr per such sheet, the other sheets still graded) or a bad
    command line.
    """
    c.guarded(_run)(sheets, set_, fmt, spec_root, gradebook, limit)


def _run(sheets, set_, fmt, spec_root, gradebook, limit) -> None:
    import os
    import sys

    from ..grading import check_sheet, render, unreadable
    from ..errors import SpecError

    c.apply_limits(limit)
    fmt = c.check_format(fmt)
    overrides = c.parse_set(set_)
    roots = spec_root or []
    for root in roots:
        if not os.path.exists(root):
            raise SpecError(f"--spec-root {root}: no such folder or file")
    results, failed, analysed = [], False, {}
    for path in sheets:
        try:
            results.append(check_sheet(path, overrides, roots, analysed))
        except SpecError as e:
            e = c.in_cli_words(e)
            print(f"error: {e}", file=sys.stderr)
            results.append(unreadable(path, e))
            failed = True
    if gradebook == "-":  # the gradebook is the output
        from .. import gradebook as gb

        c.emit(gb.csv_text(results))
    elif gradebook is not None:
        _write_gradebook(gradebook, results)
    if gradebook != "-" and any(not s.error for s in results):
        c.emit(render(results, fmt, gradebook is not None))
    if failed:
        raise typer.Exit(c.EXIT_BAD_INPUT)
    if any(not r.correct for s in results for r in s.results):
        raise typer.Exit(c.EXIT_MISMATCH)


def _write_gradebook(path: str, results: list) -> None:
    """The gradebook, written whole (a sheet that cannot be read is one of its rows)."""
    from .. import gradebook as gb
    from ..grading import json_text
    from ..errors import SpecError

    text = json_text(gb.to_json(results)) if path.endswith(".json") else gb.csv_text(results)
    try:
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
    except OSError as e:
        raise SpecError(f"--gradebook {path}: cannot write it ({e.strerror or e})") from None
