"""The analysis verbs' one body (summary, params, shapes, flops, rf): load, analyse, count
the training FLOPs if asked, write the report. typer's commands and the typer-free fast
path (fast.py) both call it."""

from __future__ import annotations

from .. import conventions
from . import runtime as c


def run_verb(verb: str, spec: str, set_, fmt: str, convention: str, depth, width, limit,
             free=None, train: bool = False, checkpoint=None, mem=None,
             units: str = "bytes") -> None:
    """``train``/``checkpoint``: the flops verb's training FLOPs; ``mem``: summary's
    ``--memory`` and the memory verb's options (cli/memory_opts.py), ``units`` theirs."""
    from ..analysis import analyse
    from ..report.render import render
    from ..spec.loader import load

    c.apply_limits(limit)
    conv = conventions.get(convention)
    fmt = c.check_format(fmt)
    footprint = None
    if mem is not None:  # summary's memory options: None without --memory (checked)
        from . import memory_opts as o

        mem = o.checked_if(*mem)
    if mem is not None:  # summary --memory: the batch may come as --set B
        o.check_units(units)
        opts = o.checked(*mem[1:])
        graph, batch = o.load_with_batch(spec, set_, free, mem[0])
        raw = analyse(graph)
        footprint = o.compute(raw, opts, o.batch_of(batch))
        analysis = conv.apply(raw)
    else:
        if units != "bytes":
            raise c.SpecError("--units is a memory option: add --memory")
        analysis = conv.apply(analyse(load(spec, c.parse_set(set_, free))))
    counts = None
    if checkpoint and not train:
        raise c.SpecError(f"--checkpoint {','.join(checkpoint)} recounts training FLOPs: add "
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
    c.emit(render(analysis, verb, fmt, conv, width=width, max_depth=depth, train=counts,
                  memory=footprint, units=units))
