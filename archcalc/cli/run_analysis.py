"""The analysis verbs' one body (summary, params, shapes, flops, rf): load, analyse, count
the training FLOPs if asked, write the report. typer's commands and the typer-free fast
path (fast.py) both call it."""

from __future__ import annotations

from .. import conventions
from . import runtime as c


def run_verb(verb: str, spec: str, set_, fmt: str, convention: str, depth, width, limit,
             free=None, train: bool = False, checkpoint=None) -> None:
    from ..analysis import analyse
    from ..report.render import render
    from ..spec.loader import load

    c.apply_limits(limit)
    conv = conventions.get(convention)
    fmt = c.check_format(fmt)
    analysis = conv.apply(analyse(load(spec, c.parse_set(set_, free))))
    counts = None
    if checkpoint and not train:
        from ..errors import SpecError

        raise SpecError(f"--checkpoint {','.join(checkpoint)} recounts training FLOPs: add "
                        "--train")
    if train:
        from ..errors import SpecError
        from ..training import training

        try:
            counts = training(analysis, checkpoint or ())
        except SpecError as e:
            if e.message.startswith("checkpoint "):
                raise SpecError(f"--{e.message}", e.loc) from None
            raise
    c.emit(render(analysis, verb, fmt, conv, width=width, max_depth=depth, train=counts))
