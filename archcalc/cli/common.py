"""Options shared by every verb (typer's); what runs around every command, the one place
where errors become exit codes, is runtime.py, read from here too."""

from __future__ import annotations

from typing import Annotated, List, Optional

import typer

from ..errors import SpecError, TimeLimitExceeded  # noqa: F401  (as above)
from .runtime import (  # noqa: F401  (the commands read them from here)
    EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_MISMATCH, EXIT_OK, FLAGS, MAX_LIMIT, _DOING,
    discard_stdout, _limit_flag, _stop_timer, _worded, apply_limits, check_format, doing,
    emit, emit_to, fail, guarded, in_cli_words, parse_assignments, parse_set, time_limit, write_all)

Spec = Annotated[str, typer.Argument(help="A YAML layer-spec file.", show_default=False)]
SetOpt = Annotated[Optional[List[str]], typer.Option(
    "--set", "-s", metavar="NAME=VALUE",
    help="Bind a symbol: override its default or give a free symbol a value "
         "(repeatable; 'H=299,W=299' also works).")]
FreeOpt = Annotated[Optional[List[str]], typer.Option(
    "--free", metavar="NAME",
    help="Leave a symbol free even though the spec gives it a default, so that the results "
         "are closed forms in it (repeatable; 'n_layer,d_model' also works).")]
FormatOpt = Annotated[str, typer.Option(
    "--format", "-f", help="Output format: table, markdown, latex, csv or json.")]
ConventionOpt = Annotated[str, typer.Option(
    "--convention", "-c",
    help="Counting convention: pytorch (params = parameters(); FLOPs = 2×MACs), keras "
         "(BatchNorm moving statistics counted as non-trainable params), or what a tool "
         "reports: flopcounter, fvcore, ptflops, ptflops-aten, thop, torchinfo; megatron "
         "(causal attention's products halved, as Megatron-LM counts) "
         "(see docs/conventions.md).")]
DepthOpt = Annotated[Optional[int], typer.Option(
    "--depth", "-d", help="Show rows down to this nesting depth (0 = top level only).")]
WidthOpt = Annotated[int, typer.Option("--width", help="Table width in columns.")]
LimitOpt = Annotated[Optional[List[str]], typer.Option(
    "--limit", metavar="NAME=N",
    help="Raise a safety limit, e.g. max_nodes=5000000 (see docs/robustness.md).")]


