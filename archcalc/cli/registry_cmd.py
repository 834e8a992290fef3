"""list-layers: the registry as documentation that cannot drift from the code."""

from __future__ import annotations

from typing import Annotated

import typer

from . import common as c
from .app import app


@app.command("list-layers")
def list_layers(
    fmt: Annotated[str, typer.Option("--format", "-f",
                                     help="table, markdown, latex, csv or json")] = "table",
) -> None:
    """Every layer type archcalc knows, with its arguments and what it counts.

    Example:

        archcalc list-layers --format markdown

        archcalc list-layers --format json
    """
    c.guarded(_list)(fmt)


FORMATS = ("table", "markdown", "latex", "csv", "json")


def counted(rule) -> tuple[str, str]:
    """What a type counts, as the reference writes it: its params and MACs formulas (with
    the default arguments), or 0 and the declared reason."""
    from ..layers.formulas import reference

    ref = reference(rule)
    params = ref["params"].get("formula", "0")  # the reason is "<type> has no parameters"
    macs = ref["macs"]["formula"] if "formula" in ref["macs"] else f"0 — {ref['macs']['zero']}"
    return params, macs


def _list(fmt: str) -> None:
    from ..layers import REGISTRY
    from ..layers.base import REQUIRED
    from ..report import writers

    c.check_format(fmt, FORMATS)
    own = {"json": lambda: _json(REGISTRY, REQUIRED),
           "markdown": lambda: _lines(REGISTRY, REQUIRED, markdown=True),
           "table": lambda: _lines(REGISTRY, REQUIRED, markdown=False)}
    c.emit(writers.write(None if fmt in own else _model(REGISTRY, REQUIRED), fmt, own=own))


def _sorted(registry) -> list:
    return sorted(registry, key=lambda n: (registry[n].family, n))


def _arguments(rule, required) -> str:
    return ", ".join(k if a.default is required else f"{k}={a.default}"
                     for k, a in rule.args.items())


def _lines(registry, required, markdown: bool) -> str:
    """The reference as aligned lines, or as the Markdown table docs/spec-format.md holds
    between its list-layers markers (its own layout: the docs compare it byte for byte)."""
    lines = []
    if markdown:
        lines += ["| type | family | arguments (default) | params | MACs | rule |",
                  "|---|---|---|---|---|---|"]
    for name in _sorted(registry):
        rule = registry[name]
        args = _arguments(rule, required)
        if markdown:
            params, macs = counted(rule)
            lines.append(f"| `{name}` | {rule.family} | {args.replace('|', '/')} | {params} | "
                         f"{macs} | {rule.doc} |")
        else:
            lines.append(f"{name:<20} {rule.family:<12} {args}")
    return "\n".join(lines) + "\n"


def _model(registry, required):
    """Every layer type as a row of a ``report.table.Table`` (LaTeX, CSV)."""
    from ..report.table import Column, Row, Table

    rows = [Row([name, registry[name].family, _arguments(registry[name], required),
                 *counted(registry[name]), registry[name].doc])
            for name in _sorted(registry)]
    return Table([Column("type"), Column("family"), Column("arguments (default)", split=True),
                  Column("params", split=True), Column("MACs", split=True),
                  Column("rule", split=True)], rows, title="Layer types")


def _json(registry, required) -> str:
    """Every layer type as an object: its family, what it counts ('macs' or 'none', and for
    params and macs the formula with the default arguments or the reason it is zero), its
    doc line,
    and each argument with its kind, whether it is required, its default and its choices."""
    from ..report.values import json_text

    def argument(name, a) -> dict:
        out = {"name": name, "kind": a.kind, "required": a.default is required}
        if a.default is not required:
            out["default"] = list(a.default) if isinstance(a.default, tuple) else a.default
        if a.choices:
            out["choices"] = list(a.choices)
        return out

    from ..layers.formulas import reference

    layers = [{"type": name, "family": rule.family, "counts": rule.cost, "doc": rule.doc,
               **reference(rule),
               "arguments": [argument(k, a) for k, a in rule.args.items()]}
              for name, rule in sorted(registry.items(), key=lambda kv: (kv[1].family, kv[0]))]
    return json_text({"layers": layers})
