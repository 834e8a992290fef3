"""solve: the values of chosen symbols for which stated relations hold (archcalc/inverse.py)."""

from __future__ import annotations

from typing import Annotated, List, Optional

import typer

from . import common as c
from . import memory_opts as mo
from .app import app

WantOpt = Annotated[List[str], typer.Option(
    "--want", "-w", metavar="RELATION",
    help="A relation to hold: quantities LAYER.shape[i], output.shape[i], LAYER.rf[i], rf, "
         "params, macs, flops, LAYER.params …, memory (the total bytes, as the memory verb "
         "counts them; sizes may carry a unit: 24GB, 3GiB), with =, !=, <, <=, >, >= "
         "(repeatable: all hold).")]
ForOpt = Annotated[str, typer.Option(
    "--for", metavar="NAME[,NAME]",
    help="The symbols to solve for (left free); with memory in a relation, B is the batch "
         "(unless the spec has a symbol B), as is a name given to --batch or --devices.")]
RangeOpt = Annotated[Optional[List[str]], typer.Option(
    "--range", "-r", metavar="NAME=START:STOP[:STEP]",
    help="The values tried for a symbol (default 1..1024 for one symbol, 1..64 each for "
         "several); for a real-valued symbol NAME=LOW:HIGH, every value between (default "
         "0 < w ≤ 2).")]
SolveBatchOpt = Annotated[Optional[str], typer.Option(
    "--batch", "-b", metavar="N|NAME",
    help="The batch memory counts: a number, or a name to solve for with --for (default 1, "
         "or B where --for names B and the spec has no symbol B; --set B=N says the same "
         "then).")]
FORMATS = ("table", "markdown", "csv", "json")


@app.command("solve")
def solve(spec: c.Spec, want: WantOpt, for_: ForOpt, range_: RangeOpt = None,
          smallest: Annotated[bool, typer.Option("--smallest", help="Report the smallest solution.")] = False,
          largest: Annotated[bool, typer.Option("--largest", help="Report the largest solution.")] = False,
          all_: Annotated[bool, typer.Option("--all", help="Report every solution (the default).")] = False,
          set_: c.SetOpt = None, fmt: Annotated[str, typer.Option("--format", "-f", help="table, markdown, csv (the solutions listed) or json.")] = "table",
          convention: c.ConventionOpt = "pytorch", limit: c.LimitOpt = None,
          batch: SolveBatchOpt = None, dtype: mo.DtypeOpt = "fp32",
          weights_dtype: mo.WeightsOpt = None, grads_dtype: mo.GradsOpt = None,
          master_dtype: mo.MasterOpt = None, activations_dtype: mo.ActOpt = None,
          mixed: mo.MixedOpt = False, train: mo.TrainOpt = False,
          optimizer: mo.OptimizerOpt = "adam", zero: mo.ZeroOpt = 0,
          devices: mo.DevicesOpt = "1", kernels: mo.KernelsOpt = "cpu",
          checkpoint: mo.CheckpointOpt = None) -> None:
    """Inverse questions: for which values of symbols do the relations hold? Exact.

    With every free symbol in --for, each integer point of the range is tested exactly
    (with the spec's own validity conditions); a periodic one-symbol answer is written as a
    family H = P·k + r. With other free symbols left, one symbol is solved for in closed form
    (sympy), e.g. the padding p = (k - 1)/2 that keeps the size.

    A real-valued symbol (a width multiplier w: {real: true}) is solved for alone, every
    other symbol bound: each count is a step function of w through make_divisible, floor,
    ceil, round and int, so the range is walked piece by piece between the exact (rational)
    breakpoints, and the answer is intervals of w with rational ends, checked with --set at
    each end and on either side.

    memory is the network's total bytes as the memory verb counts them, under its options
    (--batch, --dtype, --train, --optimizer, --zero …): --for B solves for the batch, e.g.
    the largest batch that trains in 24 GB (a spec's own symbol B is its own; then name the
    batch with --batch N and solve --for N).

    Examples:

        archcalc solve net.yaml --want "conv.shape[1] = H" --for p

        archcalc solve vgg.yaml --want "output.shape[1] = 7" --for H --range H=200:300

        archcalc solve net.yaml --want "params <= 5000000" --for w --largest

        archcalc solve mobilenet_v2.yaml --want "params < 5e6" --for w --range w=1:1.5

        archcalc solve alexnet.yaml --want "memory <= 3GiB" --for B --train --largest

    Exit codes: 0 a solution (or closed form) found; 1 no solution in the range; 2 bad
    input (a malformed relation, an unknown layer, quantity or symbol).
    """
    memory = (batch, dtype, weights_dtype, grads_dtype, master_dtype, activations_dtype, mixed,
              train, optimizer, zero, devices, kernels, checkpoint)
    c.guarded(_run)(spec, want, for_, range_, smallest, largest, all_, set_, fmt, convention,
                    limit, memory)


_MEMORY_FLAGS = ("--batch", "--dtype", "--weights-dtype", "--grads-dtype", "--master-dtype",
                 "--activations-dtype", "--mixed", "--train", "--optimizer", "--zero",
                 "--devices", "--kernels", "--checkpoint")


def _memory_query(want, memory, overrides: dict, declared: set):
    """The memory options as solve_memory.MemoryQuery, or None when no relation reads
    memory (then a memory option given is an error). ``--set B=N`` is the batch N where the
    spec has no symbol B, as in the memory verb (taken out of ``overrides``)."""
    from dataclasses import replace

    from ..solve_memory import MemoryQuery, uses_memory

    if not uses_memory(want):
        mo.refuse_unused(dict(zip(_MEMORY_FLAGS, memory)), "it applies where a --want "
                         "relation reads memory (e.g. --want 'memory <= 24GB')")
        return None
    batch, *rest = memory
    opts = mo.checked(*rest[:10], None, rest[10], rest[11])
    if mo.BATCH_SYMBOL in overrides and mo.BATCH_SYMBOL not in declared:
        batch = mo.batch_text(overrides.pop(mo.BATCH_SYMBOL), batch)
    if batch is not None:
        mo.batch_of(batch)  # a number or a name, else an error naming --batch
        batch = int(batch) if batch.isdigit() else batch

    def compute(analysis, batch_, devices_):
        return mo.compute(analysis, replace(opts, devices=str(devices_)),
                          mo.batch_of(str(batch_)))

    return MemoryQuery(compute, batch, opts.devices)


def _run(spec, want, for_, range_, smallest, largest, all_, set_, fmt, convention,
         limit, memory) -> None:
    from .. import conventions
    from .. import inverse as sv
    from .. import sweeping as sw
    from ..analysis import analyse
    from ..spec.loader import declared_symbols, load_string, real_symbols
    from ..spec.yamlsafe import load_text, read_file

    c.apply_limits(limit)
    conv = conventions.get(convention)
    fmt = c.check_format(fmt, FORMATS)
    if smallest + largest + all_ > 1:
        raise c.SpecError("give one of --smallest, --largest, --all")
    pick = "smallest" if smallest else "largest" if largest else "all"
    names = [n.strip() for n in for_.split(",") if n.strip()]
    if not names:
        raise c.SpecError("--for: name at least one symbol")
    text = read_file(spec)
    root = load_text(text, spec)
    reals = [n for n in names if n in real_symbols(root)]
    overrides = c.parse_set(set_)
    for name in names:
        if name in overrides:
            raise c.SpecError(f"--for {name}: also bound by --set; give one or the other")
    declared = declared_symbols(root)
    query = _memory_query(want, memory, overrides, declared)
    if reals:
        result = _solve_real(text, spec, root, names, reals, range_, overrides, conv, want,
                             pick, query)
        _emit(result, fmt, sv.to_markdown, result.csv)
        return
    ranges = []
    for text_ in range_ or []:
        ranges.append(sw.parse_range(text_, given=f"--range {text_}"))
    for name in names:
        if name in declared:  # else inverse.solve names it: the batch's, or unknown
            overrides[name] = None
    graph = load_string(text, spec, overrides, root=root, origins={n: "for" for n in names})
    result = sv.solve(analyse(graph), conv, want, names, ranges, pick, graph.name or spec,
                      query)
    _emit(result, fmt, sv.to_markdown, lambda: sv.to_csv(result))


def _solve_real(text, spec, root, names, reals, range_, overrides, conv, want, pick, query):
    """``--for w`` with ``w`` declared real-valued: the piecewise walk of inverse_real."""
    from .. import inverse_real as rv
    from ..spec.loader import load_string

    if len(names) != 1:
        raise c.SpecError(f"--for {', '.join(names)}: {reals[0]} is real-valued; a real "
                          "symbol is solved for alone (bind the others with --set)")
    interval = None
    for item in range_ or []:
        name, interval = rv.parse_interval(item)
        if name != names[0]:
            raise c.SpecError(f"--range {item}: not the symbol of --for ({names[0]})")
    origins = {names[0]: "for"}

    def load_at(extra):
        return load_string(text, spec, {**overrides, **extra}, root=root, origins=origins)

    return rv.solve(load_at, conv, want, names[0], interval, pick, spec, query)


def _emit(result, fmt, markdown, csv) -> None:
    if fmt == "json":
        from ..report.values import json_text

        c.emit(json_text(result.to_json(), indent=2))
    elif fmt == "markdown":
        c.emit(markdown(result))
    elif fmt == "csv":
        c.emit(csv())
    else:
        c.emit(result.text())
    if not result.found:
        raise typer.Exit(c.EXIT_MISMATCH)
