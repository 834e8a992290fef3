"""export pytorch: a spec as readable PyTorch source (one nn.Module class per block)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from . import common as c
from .app import app

export_app = typer.Typer(help="Write a spec as source of another framework.",
                         no_args_is_help=True)
app.add_typer(export_app, name="export")

OutOpt = Annotated[Optional[str], typer.Option(
    "--output", "-o", help="Write the source to this file (default: standard output).")]


@export_app.command("pytorch")
def pytorch(spec: c.Spec, output: OutOpt = None, set_: c.SetOpt = None,
            limit: c.LimitOpt = None) -> None:
    """Write the spec as PyTorch source: one nn.Module class per block, the spec's layer
    names as attributes, a build() function and INPUT_SHAPE (and INPUT_DTYPE for token
    ids).

    Every layer type is exported; the classes torch.nn lacks (general attention, stochastic
    depth) are defined in the file, which needs torch alone. Every size must be a number
    (give free symbols values with --set); a channels-last spec is refused.

    Example:

        archcalc export pytorch specs/resnet18.yaml -o resnet18.py

    Exit codes: 0 ok, 2 bad input.
    """
    c.guarded(_run)(spec, output, set_, limit)


def _run(spec, output, set_, limit) -> None:
    from ..analysis import analyse
    from ..spec.loader import load
    from ..torch_backend import check_installed

    c.apply_limits(limit)
    check_installed()
    from ..torch_backend.export import export_pytorch

    text = export_pytorch(analyse(load(spec, c.parse_set(set_))))
    c.emit_to(text, output)
