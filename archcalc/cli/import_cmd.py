"""import torch and import onnx: a PyTorch module (built by the user's own code) or an ONNX
model file (read as data) as an archcalc spec."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from . import common as c
from .app import app

import_app = typer.Typer(help="Write a spec from a model of another framework.",
                         no_args_is_help=True)
app.add_typer(import_app, name="import")

TargetArg = Annotated[str, typer.Argument(
    help="PKG.MODULE:CALLABLE or FILE.py:CALLABLE that returns the nn.Module.",
    show_default=False)]
ArgsOpt = Annotated[Optional[str], typer.Option(
    "--args", help="The callable's arguments as JSON: an object (keywords) or a list.")]
InputOpt = Annotated[str, typer.Option(
    "--input", help="One sample's shape without the batch axis, e.g. 3,224,224.",
    show_default=False)]
FreeAxesOpt = Annotated[Optional[str], typer.Option(
    "--free", metavar="AXES",
    help="Input axes to write as free symbols (C, H, W; L for one axis; D, H, W for three), "
         "e.g. H,W: the results become closed forms in them.")]
ModelArg = Annotated[str, typer.Argument(help="An ONNX model file (.onnx).", show_default=False)]
OnnxInputOpt = Annotated[Optional[str], typer.Option(
    "--input", help="One sample's shape without the batch axis, e.g. 3,224,224 (needed when "
                    "the model's input sizes are not fixed).", show_default=False)]
TokensOpt = Annotated[bool, typer.Option(
    "--tokens", help="The input is token ids (int64; e.g. --input 128 for 128 tokens), for a "
                     "model that starts with an nn.Embedding; --free L leaves their number "
                     "free.")]
AllowUnknownOpt = Annotated[bool, typer.Option(
    "--allow-unknown",
    help="Import an op archcalc cannot map as an 'unknown' layer (its traced output shape, "
         "the parameters its module owns, no MACs) instead of refusing it; every report of "
         "the spec then says how many layers its counts exclude.")]
OutOpt = Annotated[Optional[str], typer.Option(
    "--output", "-o", help="Write the spec to this file (default: standard output).")]


@import_app.command("torch")
def torch_(target: TargetArg, input_: InputOpt = ..., args: ArgsOpt = None,
           free: FreeAxesOpt = None, tokens: TokensOpt = False,
           allow_unknown: AllowUnknownOpt = False,
           output: OutOpt = None) -> None:
    """Write a spec of a PyTorch module: import the module, call the callable, trace its
    forward with torch.fx (or, where fx cannot, with torch.export) and write each call as
    a layer, named by its module path.

    This runs your Python code (the import and the call), as running it yourself would;
    the spec verbs never run code. Layers keep PyTorch's vocabulary and only the arguments
    that differ from archcalc's defaults. Instances of one module class that differ only
    in numbers (channels, stride) share one block with parameters; consecutive equal ones
    are one repeat. An op archcalc cannot express is refused with the op and the module
    path, unless --allow-unknown.

    Example:

        archcalc import torch mypkg.models:resnet18 --input 3,224,224 -o resnet18.yaml

        archcalc import torch model.py:GPT --input 1024 --tokens -o gpt.yaml

    Exit codes: 0 ok, 2 bad input.
    """
    c.guarded(_run, timed=False)(target, input_, args, free, output, tokens, allow_unknown)


def _run(target, input_, args, free, output, tokens=False, allow_unknown=False) -> None:
    from ..torch_backend import check_installed

    check_installed()
    from ..torch_backend.importer import import_torch, parse_input

    shape = parse_input(input_)  # before the user's code runs
    text = import_torch(target, shape, args, tuple(free.split(",")) if free else (), tokens,
                        allow_unknown=allow_unknown)
    c.emit_to(text, output)


@import_app.command("onnx")
def onnx_(model: ModelArg, input_: OnnxInputOpt = None, free: FreeAxesOpt = None,
          output: OutOpt = None, limit: c.LimitOpt = None) -> None:
    """Write a spec of an ONNX model, read as data (nothing in it runs).

    The shapes come from onnx's shape inference at one sample of the input size; each node
    that computes on the input becomes a layer, named by its scope (torch.onnx's
    /layer1/layer1.0/conv1/Conv is layer1.0.conv1), numbered scopes blocks and repeats.

    Needs the onnx package (the onnx extra of archcalc), not PyTorch. Tensors stored
    outside the file (external data) are not read: only their shapes count. An op
    archcalc cannot express is refused with the op type and the node name.

    Example:

        archcalc import onnx resnet18.onnx --input 3,224,224 --free H,W -o resnet18.yaml

    Exit codes: 0 ok, 2 bad input.
    """
    c.guarded(_run_onnx)(model, input_, free, output, limit)


def _run_onnx(model, input_, free, output, limit) -> None:
    from ..onnx_backend import require_onnx

    c.apply_limits(limit)
    require_onnx()
    from ..onnx_backend.importer import import_onnx
    from ..onnx_backend.reader import parse_input

    shape = parse_input(input_) if input_ is not None else None
    text = import_onnx(model, shape, tuple(free.split(",")) if free else ())
    c.emit_to(text, output)
