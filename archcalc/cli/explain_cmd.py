"""explain: each number of a layer, a block or the total, as formula = numbers = value."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .. import conventions
from . import common as c
from .app import app

MetricOpt = Annotated[Optional[str], typer.Option(
    "--metric", "-m", help="One of params, macs, flops, shape, rf (default: all), or train (the "
         "training FLOPs: forward, input and weight gradients).")]
LayerArg = Annotated[Optional[str], typer.Argument(
    help="A layer or block name (qualified, e.g. stage3.conv2d_1, or unique local); "
         "default: the whole network.", show_default=False)]


@app.command("explain")
def explain(spec: c.Spec, layer: LayerArg = None, metric: MetricOpt = None,
            set_: c.SetOpt = None, free: c.FreeOpt = None, fmt: c.FormatOpt = "table",
            convention: c.ConventionOpt = "pytorch", limit: c.LimitOpt = None) -> None:
    """Show how a number is computed: the formula, with numbers, and the value.

    A block or the total is shown as the sum of its parts; the receptive field as the
    recurrence step by step. Symbolic specs are explained in symbols.

    Examples:

        archcalc explain specs/vgg16.yaml stage3.conv2d_1 --metric params

        archcalc explain specs/vgg16.yaml stage5 --metric rf

    Exit codes: 0 ok, 2 bad input.
    """
    c.guarded(_run)(spec, layer, metric, set_, fmt, convention, limit, free)


def _run(spec, layer, metric, set_, fmt, convention, limit, free=None) -> None:
    from ..analysis import analyse
    from ..report.explain import check_metric, explain as explain_, render
    from ..spec.loader import load

    c.apply_limits(limit)
    fmt = c.check_format(fmt)
    conv = conventions.get(convention)
    check_metric(metric, "--metric")  # before the spec is read
    analysis = conv.apply(analyse(load(spec, c.parse_set(set_, free))))
    c.emit(render(explain_(analysis, layer, metric, conv), fmt, analysis.graph.name))
