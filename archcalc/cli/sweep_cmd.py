"""sweep: a network's closed forms evaluated over a range of input sizes."""

from __future__ import annotations

from typing import Annotated, List, Optional

import typer

from . import common as c
from .app import app

OverOpt = Annotated[List[str], typer.Option(
    "--over", "-o", metavar="NAME=START:STOP[:STEP]",
    help="Sweep a free symbol over START..STOP inclusive (step 1 unless given); 'H,W=32:512' "
         "gives H and W the same values; several --over make a grid.")]
WhatOpt = Annotated[str, typer.Option(
    "--what", "-w", help="Comma-separated: shape, params, macs, flops.")]
RowsOpt = Annotated[int, typer.Option("--rows", help="Rows of the table (evenly spaced).")]
PlotOpt = Annotated[Optional[str], typer.Option(
    "--plot", metavar="FILE.png", help="Also draw the columns against the size (matplotlib).")]


FORMATS = ("table", "markdown", "latex", "csv", "json")


@app.command("sweep")
def sweep(spec: c.Spec, over: OverOpt, set_: c.SetOpt = None, what: WhatOpt = "shape,params,macs",
          fmt: Annotated[str, typer.Option("--format", "-f", help="table, markdown, latex, csv (every point) or json.")] = "table",
          convention: c.ConventionOpt = "pytorch", rows: RowsOpt = 20, plot: PlotOpt = None,
          limit: c.LimitOpt = None) -> None:
    """Output shape, parameters and MACs over a range of input sizes, exact, vectorised.

    The spec is analysed once with the swept sizes free; its closed forms are compiled to
    numpy and evaluated at every point (floors as integer division: exact integers). Points
    where a condition fails (kernel larger than the input …) are reported as invalid.

    Examples:

        archcalc sweep net.yaml --over H=32:2048

        archcalc sweep net.yaml --over H,W=32:2048:32 --what params,macs --format csv

        archcalc sweep net.yaml --over H=64:1024 --over W=64:1024:64 --plot macs.png
    """
    c.guarded(_run)(spec, over, set_, what, fmt, convention, rows, plot, limit)


def _run(spec, over, set_, what, fmt, convention, rows, plot, limit) -> None:
    from .. import conventions
    from .. import sweeping as sw
    from ..analysis import analyse
    from ..spec.loader import load

    c.apply_limits(limit)
    conv = conventions.get(convention)
    fmt = c.check_format(fmt, FORMATS)
    ranges = [sw.parse_range(text) for text in over]
    sw.check_points(ranges)  # before the spec is even read
    if rows < 1:
        raise c.SpecError("--rows must be at least 1")
    graph = load(spec, *sw.swept_overrides(ranges, c.parse_set(set_)))
    result = sw.sweep(analyse(graph), ranges, conv, [w.strip() for w in what.split(",") if w.strip()])
    order = list(graph.symbols)
    if plot:
        if len(ranges) > 1:
            raise c.SpecError("--plot draws one --over range (a line), not a grid")
        sw.plot(result, plot, graph.name)
    from ..report import writers

    own = {"csv": lambda: sw.to_csv(result), "json": lambda: sw.to_json(result, order)}
    c.emit(writers.write(sw.model(result, rows, order, graph.name) if fmt not in own else None,
                         fmt, own=own))
