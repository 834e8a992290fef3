"""list-layers: the registry as documentation that cannot drift from the code."""

from __future__ import annotations

from typing import Annotated

import typer

from . import common as c
from .app import app


@app.command("list-layers")
def list_layers(
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or markdown")] = "table",
) -> None:
    """Every layer type archcalc knows, with its arguments and what it counts.

    Example:

        archcalc list-layers --format markdown
    """
    c.guarded(_list)(fmt)


def _list(fmt: str) -> None:
    from ..layers import REGISTRY
    from ..layers.base import REQUIRED

    c.check_format(fmt, ("table", "markdown"))
    lines = []
    if fmt == "markdown":
        lines += ["| type | family | arguments (default) | counts |", "|---|---|---|---|"]
    for name in sorted(REGISTRY, key=lambda n: (REGISTRY[n].family, n)):
        rule = REGISTRY[name]
        args = ", ".join(k if a.default is REQUIRED else f"{k}={a.default}"
                         for k, a in rule.args.items())
        counts = "MACs" if rule.cost == "macs" else "no MACs"
        if fmt == "markdown":
            lines.append(f"| `{name}` | {rule.family} | {args.replace('|', '/')} | {counts}; "
                         f"{rule.doc} |")
        else:
            lines.append(f"{name:<20} {rule.family:<12} {args}")
    c.emit("\n".join(lines) + "\n")
