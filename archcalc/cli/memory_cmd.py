"""memory: bytes of parameters, gradients, optimizer states, KV cache and activations, per
layer and in total, and whether they fit a device (archcalc/memory.py)."""

from __future__ import annotations

from . import common as c
from . import memory_opts as o
from .app import app


@app.command("memory")
def memory(spec: c.Spec, set_: c.SetOpt = None, free: c.FreeOpt = None,
           batch: o.SweepBatchOpt = None, dtype: o.DtypeOpt = "fp32",
           weights_dtype: o.WeightsOpt = None, grads_dtype: o.GradsOpt = None,
           master_dtype: o.MasterOpt = None, activations_dtype: o.ActOpt = None,
           mixed: o.MixedOpt = False, train: o.TrainOpt = False,
           optimizer: o.OptimizerOpt = "adam", zero: o.ZeroOpt = 0, devices: o.DevicesOpt = "1",
           device_memory: o.DeviceMemoryOpt = None, kernels: o.KernelsOpt = "cpu",
           checkpoint: o.CheckpointOpt = None, units: o.UnitsOpt = "bytes",
           fmt: c.FormatOpt = "table", depth: c.DepthOpt = None, width: c.WidthOpt = 100,
           limit: c.LimitOpt = None) -> None:
    """Memory in bytes per layer and in total: parameters, gradients, optimizer states, KV
    cache, outputs; whether it fits a device, and the largest batch that does.

    Examples:

        archcalc memory specs/alexnet-paper.yaml --batch 128 --train --optimizer sgd-momentum --device-memory 3GiB

        archcalc memory specs/alexnet-paper.yaml --set B=128 --train --optimizer sgd-momentum --device-memory 3GiB

        archcalc memory specs/alexnet-paper.yaml --train --batch 1:256 --device-memory 3GiB

        archcalc memory specs/llama-7b.yaml --set L=4096 --dtype fp16

        archcalc memory specs/llama-7b.yaml --train --mixed --zero 3 --devices 64

        archcalc memory specs/gpt2.yaml --train --dtype fp16 --checkpoint block

    Inference: parameters, the KV cache of causal attention, and the peak of the outputs
    alive at once. Training: parameters, gradients, optimizer states (see docs/conventions.md,
    "Memory"). --checkpoint: the checkpointed groups keep only their inputs through the
    forward pass; the total counts the backward's peak, with the largest group recomputed.
    --batch START:STOP sweeps the batch (doubling; START:STOP:STEP adds STEP) and plots the
    total against the device's memory. Exit codes: 0 ok, 2 bad input.
    """
    c.guarded(_run)(spec, set_, free, batch, dtype, weights_dtype, grads_dtype, master_dtype,
                    activations_dtype, mixed, train, optimizer, zero, devices, device_memory,
                    kernels, units, fmt, depth, width, limit, checkpoint)


def _run(spec, set_, free, batch, dtype, weights_dtype, grads_dtype, master_dtype,
         activations_dtype, mixed, train, optimizer, zero, devices, device_memory, kernels,
         units, fmt, depth, width, limit, checkpoint=None) -> None:
    from ..analysis import analyse
    from ..report import memory as report

    c.apply_limits(limit)
    fmt = c.check_format(fmt)
    o.check_units(units)
    opts = o.checked(dtype, weights_dtype, grads_dtype, master_dtype, activations_dtype, mixed,
                     train, optimizer, zero, devices, device_memory, kernels, checkpoint)
    batches = None
    if batch is not None and ":" in batch:  # a batch-size sweep
        from ..report import memory_sweep

        batches = memory_sweep.parse_batches(batch)
    graph, batch = o.load_with_batch(spec, set_, free, batch)
    analysis = analyse(graph)
    b = 1 if batches else o.batch_of(batch)
    result = o.compute(analysis, opts, b)
    if batches:
        c.emit(memory_sweep.render(memory_sweep.sweep(result, batches), fmt, units, width))
    else:
        c.emit(report.render(result, fmt, units, width, depth))
