"""summary, params, shapes, flops, rf: one analysis, different columns."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from . import common as c
from . import memory_opts as o
from . import run_analysis
from .app import app

_EXAMPLES = {
    "summary": "archcalc summary specs/vgg16.yaml\n\n    archcalc summary specs/resnet50.yaml --depth 1"
               "\n\n    archcalc summary specs/alexnet-paper.yaml --memory --train --batch 128",
    "params": "archcalc params specs/vgg16.yaml\n\n    archcalc params specs/densenet121.yaml --convention keras",
    "shapes": "archcalc shapes examples/dilated.yaml\n\n    archcalc shapes specs/unet.yaml --set H=512",
    "flops": "archcalc flops specs/resnet50.yaml --format markdown\n\n    archcalc flops specs/vgg16.yaml --train",
    "rf": "archcalc rf specs/vgg16.yaml\n\n    archcalc rf net.yaml --format json",
}
_WHAT = {
    "summary": "Everything per layer: output shape, parameters, MACs and receptive field.",
    "params": "Parameters per layer and in total (trainable; buffers shown apart).",
    "shapes": "Output shape of every layer, as numbers or closed forms in the spec's symbols.",
    "flops": "Multiply-accumulates (MACs) and FLOPs (= 2 × MACs) per layer and in total.",
    "rf": "Receptive field per layer: size, jump (effective stride) and start, per axis.",
}


TrainOpt = Annotated[bool, typer.Option(
    "--train", help="Training FLOPs: forward, input gradients, weight gradients and their "
                    "sum per layer, as PyTorch's autograd computes them (frozen layers: "
                    "trainable: false).")]


def _make(verb: str):
    def command(spec: c.Spec, set_: c.SetOpt = None, free: c.FreeOpt = None,
                fmt: c.FormatOpt = "table", convention: c.ConventionOpt = "pytorch",
                depth: c.DepthOpt = None, width: c.WidthOpt = 100,
                limit: c.LimitOpt = None) -> None:
        c.guarded(run_analysis.run_verb)(verb, spec, set_, fmt, convention, depth, width,
                                         limit, free)

    def flops(spec: c.Spec, set_: c.SetOpt = None, free: c.FreeOpt = None,
              fmt: c.FormatOpt = "table", convention: c.ConventionOpt = "pytorch",
              depth: c.DepthOpt = None, width: c.WidthOpt = 100,
              limit: c.LimitOpt = None, train: TrainOpt = False,
              checkpoint: o.CheckpointOpt = None) -> None:
        c.guarded(run_analysis.run_verb)(verb, spec, set_, fmt, convention, depth, width,
                                         limit, free, train, checkpoint)

    def summary(spec: c.Spec, set_: c.SetOpt = None, free: c.FreeOpt = None,
                fmt: c.FormatOpt = "table", convention: c.ConventionOpt = "pytorch",
                depth: c.DepthOpt = None, width: c.WidthOpt = 100,
                limit: c.LimitOpt = None, memory: o.MemoryOpt = False,
                batch: o.BatchOpt = None, dtype: o.DtypeOpt = "fp32",
                weights_dtype: o.WeightsOpt = None, grads_dtype: o.GradsOpt = None,
                master_dtype: o.MasterOpt = None, activations_dtype: o.ActOpt = None,
                mixed: o.MixedOpt = False, train: o.TrainOpt = False,
                optimizer: o.OptimizerOpt = "adam", zero: o.ZeroOpt = 0,
                devices: o.DevicesOpt = "1", device_memory: o.DeviceMemoryOpt = None,
                units: o.UnitsOpt = "bytes") -> None:
        mem = (memory, batch, dtype, weights_dtype, grads_dtype, master_dtype,
               activations_dtype, mixed, train, optimizer, zero, devices, device_memory)
        c.guarded(run_analysis.run_verb)(verb, spec, set_, fmt, convention, depth, width,
                                         limit, free, False, None, mem, units)

    if verb == "flops":
        command = flops
    if verb == "summary":
        command = summary

    command.__doc__ = (f"{_WHAT[verb]}\n\nExamples:\n\n    {_EXAMPLES[verb]}\n\n"
                       "Conventions: params as PyTorch's parameters(); MACs = multiply-"
                       "accumulates of convolutions and linear layers, bias excluded; "
                       "FLOPs = 2 × MACs."
                       + (" --memory adds bytes columns: parameters, output and, with --train, "
                          "saved for backward (the memory verb's options apply)."
                          if verb == "summary" else "")
                       + " Exit codes: 0 ok, 2 bad input.")
    command.__name__ = verb
    app.command(verb)(command)


for _verb in ("summary", "params", "shapes", "flops", "rf"):
    _make(_verb)
