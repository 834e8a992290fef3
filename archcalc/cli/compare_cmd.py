"""compare: one row per model, or two models layer by layer."""

from __future__ import annotations

from typing import Annotated, List, Optional

import typer

from .. import conventions
from . import common as c
from . import memory_opts as o
from .app import app

Specs = Annotated[List[str], typer.Argument(help="Spec files to compare.", show_default=False)]
ColumnsOpt = Annotated[Optional[str], typer.Option(
    "--columns", help="Comma-separated: input, params, trainable, macs, flops, activations, "
                      "rf, depth, output (default: input,params,macs,flops,rf,depth).")]
UnitsOpt = Annotated[str, typer.Option(
    "--units", "-u", help="exact (138,357,544), si (138.36M: decimal K/M/G/T), K, M, G or T "
                          "(fixed), sci (1.38e+08).")]
PerLayerOpt = Annotated[bool, typer.Option(
    "--per-layer", help="Two models side by side, row by row (use --depth to align blocks).")]
StandaloneOpt = Annotated[bool, typer.Option(
    "--standalone/--fragment",
    help="LaTeX: a complete document that pdflatex compiles as is (default), or only the "
         "table, to \\input from a report whose preamble loads booktabs.")]
CaptionOpt = Annotated[Optional[str], typer.Option("--caption", help="LaTeX table caption.")]


@app.command("compare")
def compare(specs: Specs, columns: ColumnsOpt = None, units: UnitsOpt = "exact",
            fmt: c.FormatOpt = "table", per_layer: PerLayerOpt = False,
            set_: c.SetOpt = None, free: c.FreeOpt = None,
            convention: c.ConventionOpt = "pytorch", depth: c.DepthOpt = None, width: c.WidthOpt = 100,
            standalone: StandaloneOpt = True, caption: CaptionOpt = None,
            limit: c.LimitOpt = None, memory: o.MemoryOpt = False, batch: o.BatchOpt = None,
            dtype: o.DtypeOpt = "fp32", weights_dtype: o.WeightsOpt = None,
            grads_dtype: o.GradsOpt = None, master_dtype: o.MasterOpt = None,
            activations_dtype: o.ActOpt = None, mixed: o.MixedOpt = False,
            train: o.TrainOpt = False, optimizer: o.OptimizerOpt = "adam",
            zero: o.ZeroOpt = 0, devices: o.DevicesOpt = "1",
            device_memory: o.DeviceMemoryOpt = None) -> None:
    """Compare architectures: one row per model, or two models layer by layer.

    Columns are selectable; --per-layer puts two models side by side. --set and --free apply
    to every spec that has the symbol.

    Examples:

        archcalc compare specs/alexnet-paper.yaml specs/vgg16.yaml specs/lenet5.yaml

        archcalc compare specs/*.yaml --columns params,macs --units si --format latex

        archcalc compare specs/vgg16.yaml specs/resnet18.yaml --per-layer --depth 0

        archcalc compare specs/alexnet-paper.yaml specs/vgg16.yaml --memory --train --batch 64 --device-memory 24GiB

    Depth is the most convolution/linear layers on any path (the 16 of VGG-16); RF is the
    receptive field of the last feature map (before global pooling). --memory adds each
    model's memory total in bytes (the memory verb's options; with --device-memory whether it
    fits and the largest batch that does); --set B=N is then the batch of each spec without a
    symbol B of its own. Exit codes: 0 ok, 2 bad input.
    """
    mem = (memory, batch, dtype, weights_dtype, grads_dtype, master_dtype, activations_dtype,
           mixed, train, optimizer, zero, devices, device_memory)
    c.guarded(_run)(specs, columns, units, fmt, per_layer, set_, convention, depth, width,
                    standalone, caption, limit, free, mem)


def _run(specs, columns, units, fmt, per_layer, set_, convention, depth, width, standalone,
         caption, limit, free=None, mem=None) -> None:
    from ..analysis import analyse
    from ..errors import SpecError
    from ..report import compare as cmp

    c.apply_limits(limit)
    fmt = c.check_format(fmt)
    units = cmp.check_units(units)
    keys = cmp.parse_columns(columns)
    conv = conventions.get(convention)
    overrides = c.parse_set(set_, free)
    mem = o.checked_if(*mem) if mem is not None else None
    opts = o.checked(*mem[1:]) if mem is not None else None
    if opts is not None:
        keys = cmp.with_memory(keys, opts.device_memory is not None)
    models = []
    for path in specs:
        graph = _load_with(path, overrides)
        analysis = analyse(graph)
        footprint = None
        if opts is not None:
            footprint = o.compute(analysis, opts, o.batch_for(graph, overrides, mem[0]))
        models.append(cmp.Model(path, conv.apply(analysis), conv, footprint))
    if per_layer:
        if len(models) != 2:
            raise SpecError(f"--per-layer compares exactly two models, got {len(models)}")
        c.emit(cmp.per_layer(models[0], models[1], fmt, units, depth, width, standalone))
        return
    c.emit(cmp.render(models, keys, fmt, units, width, standalone, caption))


def _load_with(path: str, overrides: dict):
    """The spec's graph, binding only the symbols it declares (a --set for another model is
    no error); the file is read and parsed once."""
    from ..spec.loader import load_string
    from ..spec.yamlsafe import load_text, read_file

    text = read_file(path)
    root = load_text(text, path)
    declared = set()
    if overrides and root is not None and root.is_map and "symbols" in root.value and \
            root.value["symbols"].is_map:
        declared = set(root.value["symbols"].value)
    return load_string(text, path, {k: v for k, v in overrides.items() if k in declared},
                       root=root)
