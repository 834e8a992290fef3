"""The memory options that several verbs share (memory, and summary's and compare's memory
columns): one definition of each, the checks of their values, and the batch, read from
``--batch`` or from ``--set B=…`` / ``--free B`` when the spec has no symbol of its own
named B."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, List, Optional

import typer

from . import common as c
from ..errors import SpecError

BATCH_SYMBOL = "B"  # --set B=128 is the batch, unless the spec has a symbol B of its own

BatchOpt = Annotated[Optional[str], typer.Option(
    "--batch", "-b", metavar="N|NAME",
    help="Batch size: a number, or a name (B) that stays a free symbol in the closed forms "
         "(default 1; --set B=N and --free B say the same when the spec has no symbol B).")]
MemoryOpt = Annotated[bool, typer.Option(
    "--memory", help="Add memory in bytes (the memory verb's figures; its options --batch, "
                     "--dtype, --train, --optimizer, --device-memory … apply).")]
SweepBatchOpt = Annotated[Optional[str], typer.Option(
    "--batch", "-b", metavar="N|NAME|START:STOP[:STEP]",
    help="Batch size: a number, or a name (B) that stays a free symbol in the closed forms "
         "(default 1; --set B=N and --free B say the same when the spec has no symbol B); "
         "START:STOP sweeps it, doubling from START (START:STOP:STEP: adding STEP).")]
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
    "--devices", metavar="N|NAME",
    help="Devices ZeRO partitions over: a number or a name (not one of the spec's symbols).")]
DeviceMemoryOpt = Annotated[Optional[str], typer.Option(
    "--device-memory", metavar="SIZE",
    help="A device's memory, e.g. 3GiB, 24GB, 80GiB (B, KB/MB/GB/TB, KiB/MiB/GiB/TiB): says "
         "whether it fits and the largest batch that does.")]
KernelsOpt = Annotated[str, typer.Option(
    "--kernels", help="Whose kernels keep the tensors for backward: cpu, or cuda (bool dropout "
                      "masks, layer norm's float32 statistics at 16 bits).")]
CheckpointOpt = Annotated[Optional[List[str]], typer.Option(
    "--checkpoint", metavar="NAME",
    help="With --train: activation checkpointing of a block type of the spec's blocks (every "
         "use) or a group's qualified name: it keeps only its input, and its forward runs "
         "again in backward. Repeatable, or a comma list.")]
UnitsOpt = Annotated[str, typer.Option(
    "--units", "-u", help="bytes (exact, the default), iec (KiB, MiB, GiB) or si (KB, MB, GB).")]


@dataclass(frozen=True)
class Options:
    """The memory options of one command, checked: a precision, the optimizer, ZeRO, the
    devices' text and the device's size in bytes (None: not given)."""

    precision: Any
    train: bool
    optimizer: str
    zero: int
    devices: str
    device_memory: int | None
    kernels: str = "cpu"  # whose kernels keep the tensors for backward
    checkpoint: tuple = ()  # checkpointed block types or group names


def checked(dtype, weights_dtype, grads_dtype, master_dtype, activations_dtype, mixed, train,
            optimizer, zero, devices, device_memory, kernels: str = "cpu",
            checkpoint=None) -> Options:
    """The options checked in the command's words (each error names its flag)."""
    from .. import footprint as mem
    from ..errors import did_you_mean

    for flag, value in (("--dtype", dtype), ("--weights-dtype", weights_dtype),
                        ("--grads-dtype", grads_dtype), ("--master-dtype", master_dtype),
                        ("--activations-dtype", activations_dtype)):
        if value is not None and value not in mem.DTYPE_BYTES:
            raise SpecError(f"{flag} {value}: choose from {', '.join(mem.DTYPE_BYTES)}"
                            f"{did_you_mean(value, list(mem.DTYPE_BYTES))}")
    if optimizer not in mem.OPTIMIZER_STATES:
        raise SpecError(f"--optimizer {optimizer}: choose from "
                        f"{', '.join(mem.OPTIMIZER_STATES)}"
                        f"{did_you_mean(optimizer, list(mem.OPTIMIZER_STATES))}")
    if zero not in mem.ZERO_STAGES:
        raise SpecError(f"--zero {zero}: choose from 0, 1, 2, 3")
    if zero and not train:
        raise SpecError(f"--zero {zero} partitions what training keeps: add --train")
    if kernels not in mem.KERNELS:
        raise SpecError(f"--kernels {kernels}: choose from {', '.join(mem.KERNELS)} (a GPU's: "
                        "cuda)")
    if checkpoint and not train:
        raise SpecError(f"--checkpoint {','.join(checkpoint)} changes what training keeps "
                        "for the backward pass: add --train")
    size = None
    if device_memory is not None:
        try:
            size = mem.parse_size(device_memory)
        except SpecError as e:
            raise SpecError(f"--device-memory {device_memory}: {e.message}") from None
    try:
        mem.devices_value(devices)
    except SpecError as e:
        raise SpecError(f"--devices {e.message.split(' ', 1)[1]}") from None
    prec = mem.precision(dtype, weights=weights_dtype, grads=grads_dtype, master=master_dtype,
                         activations=activations_dtype, mixed=mixed)
    return Options(prec, train, optimizer, zero, devices, size, kernels,
                   tuple(checkpoint or ()))


def check_units(units: str) -> str:
    from ..report import memory as report

    try:
        return report.check_units(units)
    except ValueError as e:
        raise SpecError(f"--units {units}: {str(e).split(': ', 1)[1]}") from None


def load_with_batch(spec: str, set_, free, batch):
    """(graph, batch text): the spec loaded with the --set and --free values, and the batch.

    ``--set B=N`` (``--free B``) is the batch N (a free batch B) when the spec has no symbol
    named B; when it has one, the value is that symbol's and the batch is ``--batch``'s.
    ``--batch`` and a batch given as B are one value: both given and different is an error."""
    from ..spec.loader import load

    overrides = c.parse_set(set_, free)
    if BATCH_SYMBOL not in overrides:
        return load(spec, overrides), batch or "1"
    value = overrides.pop(BATCH_SYMBOL)
    graph = load(spec, overrides)
    if BATCH_SYMBOL in graph.symbols:  # the spec's own B: the value is its
        return load(spec, {**overrides, BATCH_SYMBOL: value}), batch or "1"
    return graph, batch_text(value, batch)


def batch_text(value, batch) -> str:
    """The batch when B's ``value`` (None: ``--free B``) is the batch; ``--batch`` given too
    must say the same."""
    given = f"--free {BATCH_SYMBOL}" if value is None else f"--set {BATCH_SYMBOL}={value}"
    if value is None:
        text = BATCH_SYMBOL
    elif isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        text = str(value)
    else:
        raise SpecError(f"{given}: the batch is a positive whole number")
    if batch is not None and batch != text:
        raise SpecError(f"--batch {batch} and {given}: both give the batch; give one of them")
    return text


def batch_of(text: str):
    """The batch as footprint takes it, an error naming --batch."""
    from .. import footprint as mem

    try:
        return mem.batch_value(text)
    except SpecError as e:
        raise SpecError(f"--batch {e.message.split(' ', 1)[1]}") from None


# each memory option's default: given otherwise, it asks for memory
DEFAULTS = {"--batch": None, "--dtype": "fp32", "--weights-dtype": None, "--grads-dtype": None,
            "--master-dtype": None, "--activations-dtype": None, "--mixed": False,
            "--train": False, "--optimizer": "adam", "--zero": 0, "--devices": "1",
            "--device-memory": None, "--kernels": "cpu", "--checkpoint": None}


def refuse_unused(given: dict, advice: str) -> None:
    """An error naming the first memory option of ``given`` (flag → value) that is not its
    default, for a command that counts no memory: '--train is a memory option: ADVICE'."""
    for flag, value in given.items():
        if value != DEFAULTS[flag]:
            raise SpecError(f"{flag} is a memory option: {advice}")


def checked_if(memory: bool, batch, *options):
    """A command's memory options as given (batch first), or None without --memory; an
    option given without --memory is an error."""
    if memory:
        return (batch, *options)
    flags = ("--batch", "--dtype", "--weights-dtype", "--grads-dtype", "--master-dtype",
             "--activations-dtype", "--mixed", "--train", "--optimizer", "--zero", "--devices",
             "--device-memory")
    refuse_unused(dict(zip(flags, (batch, *options))), "add --memory")
    return None


def batch_for(graph, overrides: dict, batch):
    """The batch of one of several specs: --batch, else a --set B / --free B value the spec
    does not take as its own symbol B, else 1."""
    if BATCH_SYMBOL in graph.symbols or BATCH_SYMBOL not in overrides:
        return batch_of(batch or "1")
    return batch_of(batch_text(overrides[BATCH_SYMBOL], batch))


def compute(analysis, opts: Options, batch):
    """footprint.compute under the checked options, its errors naming flags."""
    from .. import footprint as mem

    try:
        return mem.compute(analysis, batch=batch, precision_=opts.precision, train=opts.train,
                           optimizer=opts.optimizer, zero=opts.zero, devices=opts.devices,
                           device_memory=opts.device_memory, kernels=opts.kernels,
                           checkpoint=opts.checkpoint)
    except SpecError as e:
        if e.message.startswith("checkpoint "):
            raise SpecError(f"--{e.message}", e.loc) from None
        if e.message.startswith(("batch ", "devices ")):
            flag, rest = e.message.split(" ", 1)
            raise SpecError(f"--{flag} {rest}") from None
        raise
