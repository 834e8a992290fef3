"""memory: bytes of parameters, gradients, optimizer states, KV cache and activations, per
layer and in total, and whether they fit a device (archcalc/memory.py)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from . import common as c
from .app import app

BatchOpt = Annotated[str, typer.Option(
    "--batch", "-b", metavar="N|NAME",
    help="Batch size: a number, or a name (B) that stays a free symbol in the closed forms.")]
DtypeOpt = Annotated[str, typer.Option(
    "--dtype", help="Element type of everything: fp32, tf32 (stored in 4 bytes), bf16, fp16, "
                    "fp8 or int8.")]
WeightsOpt = Annotated[Optional[str], typer.Option(
    "--weights-dtype", help="Element type of the weights (default --dtype).")]
GradsOpt = Annotated[Optional[str], typer.Option(
    "--grads-dtype", help="Element type of the gradients (default the weights').")]
MasterOpt = Annotated[Optional[str], typer.Option(
    "--master-dtype", help="An optimizer's master copy of the weights, in this type (its states "
                           "too); default none.")]
ActOpt = Annotated[Optional[str], typer.Option(
    "--activations-dtype", help="Element type of the activations (default --dtype).")]
MixedOpt = Annotated[bool, typer.Option(
    "--mixed", help="ZeRO's mixed precision: fp16 weights, gradients and activations, an fp32 "
                    "master copy and fp32 optimizer states.")]
TrainOpt = Annotated[bool, typer.Option(
    "--train", help="Training: gradients and optimizer states too (frozen layers have none).")]
OptimizerOpt = Annotated[str, typer.Option(
    "--optimizer", help="sgd (no state), sgd-momentum (1 state per parameter), adam or adamw "
                        "(2).")]
ZeroOpt = Annotated[int, typer.Option(
    "--zero", help="ZeRO stage 0-3: partition optimizer states (1), gradients (2) and "
                   "parameters (3) over --devices.")]
DevicesOpt = Annotated[str, typer.Option(
    "--devices", metavar="N|NAME", help="Devices ZeRO partitions over: a number or a name.")]
DeviceMemoryOpt = Annotated[Optional[str], typer.Option(
    "--device-memory", metavar="SIZE",
    help="A device's memory, e.g. 3GiB, 24GB, 80GiB (B, KB/MB/GB/TB, KiB/MiB/GiB/TiB): says "
         "whether it fits and the largest batch that does.")]
KernelsOpt = Annotated[str, typer.Option(
    "--kernels", help="Whose kernels keep the tensors for backward: cpu, or cuda (bool dropout "
                      "masks, layer norm's float32 statistics at 16 bits).")]
CheckpointOpt = Annotated[Optional[list[str]], typer.Option(
    "--checkpoint", metavar="NAME",
    help="Activation checkpointing (with --train): a block type of the spec's blocks (every "
         "use) or a group's qualified name; repeatable, or a comma list.")]
UnitsOpt = Annotated[str, typer.Option(
    "--units", "-u", help="bytes (exact, the default), iec (KiB, MiB, GiB) or si (KB, MB, GB).")]


@app.command("memory")
def memory(spec: c.Spec, set_: c.SetOpt = None, free: c.FreeOpt = None,
           batch: BatchOpt = "1", dtype: DtypeOpt = "fp32", weights_dtype: WeightsOpt = None,
           grads_dtype: GradsOpt = None, master_dtype: MasterOpt = None,
           activations_dtype: ActOpt = None, mixed: MixedOpt = False, train: TrainOpt = False,
           optimizer: OptimizerOpt = "adam", zero: ZeroOpt = 0, devices: DevicesOpt = "1",
           device_memory: DeviceMemoryOpt = None, kernels: KernelsOpt = "cpu",
           checkpoint: CheckpointOpt = None, units: UnitsOpt = "bytes",
           fmt: c.FormatOpt = "table", depth: c.DepthOpt = None, width: c.WidthOpt = 100,
           limit: c.LimitOpt = None) -> None:
    """Memory in bytes per layer and in total: parameters, gradients, optimizer states, KV
    cache, outputs; whether it fits a device, and the largest batch that does.

    Examples:

        archcalc memory specs/alexnet-paper.yaml --batch 128 --train --optimizer sgd-momentum --device-memory 3GiB

        archcalc memory specs/llama-7b.yaml --set L=4096 --dtype fp16

        archcalc memory specs/llama-7b.yaml --train --mixed --zero 3 --devices 64

        archcalc memory specs/gpt2.yaml --train --dtype fp16 --checkpoint block

    Inference: parameters, the KV cache of causal attention, and the peak of the outputs
    alive at once. Training: parameters, gradients, optimizer states (see docs/conventions.md,
    "Memory"). --checkpoint: the checkpointed groups keep only their inputs through the
    forward pass; the total counts the backward's peak, with the largest group recomputed.
    Exit codes: 0 ok, 2 bad input.
    """
    c.guarded(_run)(spec, set_, free, batch, dtype, weights_dtype, grads_dtype, master_dtype,
                    activations_dtype, mixed, train, optimizer, zero, devices, device_memory,
                    kernels, units, fmt, depth, width, limit, checkpoint)


def _run(spec, set_, free, batch, dtype, weights_dtype, grads_dtype, master_dtype,
         activations_dtype, mixed, train, optimizer, zero, devices, device_memory, kernels,
         units, fmt, depth, width, limit, checkpoint=None) -> None:
    from .. import footprint as mem
    from ..analysis import analyse
    from ..errors import SpecError
    from ..report import memory as report
    from ..spec.loader import load

    c.apply_limits(limit)
    fmt = c.check_format(fmt)
    try:
        report.check_units(units)
    except ValueError as e:
        raise SpecError(f"--units {units}: {str(e).split(': ', 1)[1]}") from None
    for flag, value in (("--dtype", dtype), ("--weights-dtype", weights_dtype),
                        ("--grads-dtype", grads_dtype), ("--master-dtype", master_dtype),
                        ("--activations-dtype", activations_dtype)):
        if value is not None and value not in mem.DTYPE_BYTES:
            raise SpecError(f"{flag} {value}: choose from {', '.join(mem.DTYPE_BYTES)}"
                            f"{_did_you_mean(value, list(mem.DTYPE_BYTES))}")
    if optimizer not in mem.OPTIMIZER_STATES:
        raise SpecError(f"--optimizer {optimizer}: choose from "
                        f"{', '.join(mem.OPTIMIZER_STATES)}"
                        f"{_did_you_mean(optimizer, list(mem.OPTIMIZER_STATES))}")
    if zero not in mem.ZERO_STAGES:
        raise SpecError(f"--zero {zero}: choose from 0, 1, 2, 3")
    if kernels not in mem.KERNELS:
        raise SpecError(f"--kernels {kernels}: choose from {', '.join(mem.KERNELS)} (a GPU's: "
                        "cuda)")
    if zero and not train:
        raise SpecError(f"--zero {zero} partitions what training keeps: add --train")
    if checkpoint and not train:
        raise SpecError(f"--checkpoint {','.join(checkpoint)} changes what training keeps "
                        "for the backward pass: add --train")
    size = None
    if device_memory is not None:
        try:
            size = mem.parse_size(device_memory)
        except SpecError as e:
            raise SpecError(f"--device-memory {device_memory}: {e.message}") from None
    prec = mem.precision(dtype, weights=weights_dtype, grads=grads_dtype, master=master_dtype,
                         activations=activations_dtype, mixed=mixed)
    analysis = analyse(load(spec, c.parse_set(set_, free)))
    try:
        b = mem.batch_value(batch)
        mem.devices_value(devices)
    except SpecError as e:
        flag = "--batch" if e.message.startswith("batch") else "--devices"
        raise SpecError(f"{flag} {e.message.split(' ', 1)[1]}") from None
    try:
        result = mem.compute(analysis, batch=b, precision_=prec, train=train,
                             optimizer=optimizer, zero=zero, devices=devices,
                             device_memory=size, kernels=kernels,
                             checkpoint=checkpoint or ())
    except SpecError as e:
        if e.message.startswith("checkpoint "):
            raise SpecError(f"--{e.message}", e.loc) from None
        if e.message.startswith(("batch ", "devices ")):
            flag, rest = e.message.split(" ", 1)
            raise SpecError(f"--{flag} {rest}") from None
        raise
    c.emit(report.render(result, fmt, units, width, depth))


def _did_you_mean(value: str, choices: list) -> str:
    from ..errors import did_you_mean

    return did_you_mean(value, choices)
