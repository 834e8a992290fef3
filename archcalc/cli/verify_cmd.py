"""verify: the closed forms against the same network built and measured in PyTorch."""

from __future__ import annotations

import dataclasses
import json
from typing import Annotated, List, Optional

import typer

from . import common as c
from .app import app

DeviceOpt = Annotated[str, typer.Option(
    "--device", help="auto (CUDA when available, else CPU), cuda, cpu, or meta (shapes, "
                     "params and FLOPs without computing values: for very large inputs).")]
SamplesOpt = Annotated[int, typer.Option(
    "--samples", "-n", min=1, help="Random valid points at which specs with free symbols "
                                   "are checked.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed for the random points.")]
RfOpt = Annotated[str, typer.Option(
    "--rf", help="Receptive fields: auto (as many as fit in max_rf_work), on (all), or off.")]
TrainOpt = Annotated[bool, typer.Option(
    "--train", help="Also measure the backward pass and compare training FLOPs.")]
RangeOpt = Annotated[Optional[List[str]], typer.Option(
    "--range", "-r", metavar="NAME=LO:HI",
    help="Draw a free symbol from LO..HI (repeatable; 'H=32:512,W=32:512' also works). "
         "Default: 20 values from the least at which the spec's conditions on it hold.")]

SavedOpt = Annotated[bool, typer.Option(
    "--saved", help="Also compare the bytes autograd keeps for backward (float32, a "
                    "training-mode pass of --saved-batch samples), per layer and in total.")]
SavedBatchOpt = Annotated[int, typer.Option(
    "--saved-batch", min=1, help="The batch of the --saved comparison.")]
CheckpointOpt = Annotated[Optional[List[str]], typer.Option(
    "--checkpoint", metavar="NAME",
    help="With --saved or --train: run these block types or groups in reentrant "
         "torch.utils.checkpoint and compare the bytes kept and the training FLOPs with "
         "recomputation. Repeatable, or a comma list.")]

_DEVICES = ("auto", "cuda", "cpu", "meta")
FORMATS = ("table", "markdown", "latex", "csv", "json")


@app.command("verify")
def verify_command(spec: c.Spec, set_: c.SetOpt = None, free: c.FreeOpt = None,
                   device: DeviceOpt = "auto",
                   samples: SamplesOpt = 5, seed: SeedOpt = 0, rf: RfOpt = "auto",
                   range_: RangeOpt = None, fmt: c.FormatOpt = "table",
                   width: c.WidthOpt = 120, limit: c.LimitOpt = None,
                   train: TrainOpt = False, saved: SavedOpt = False,
                   saved_batch: SavedBatchOpt = 2,
                   checkpoint: CheckpointOpt = None) -> None:
    """Prove the closed forms: build the network in PyTorch and compare, layer by layer.

    Checks each layer's output shape (forward hooks), parameters and buffers
    (parameters()/buffers(), BatchNorm's num_batches_tracked not counted), FLOPs
    (FlopCounterMode = 2 × MACs) and receptive field (the input region where the gradient
    of the centre output unit is non-zero, on a copy with constant positive weights,
    average pooling, no activations or normalisation). Free symbols are bound to --samples
    random valid values (seeded), drawn where the spec's conditions hold (--range to
    choose), and the closed form is checked at each point. The work is bounded up front
    (--limit max_verify_bytes, max_verify_macs, max_verify_points, max_verify_layers,
    max_rf_work; see docs/robustness.md).

    Examples:

        archcalc verify specs/vgg16.yaml

        archcalc verify examples/dilated.yaml --samples 20

        archcalc verify examples/dilated.yaml --range M=32:512,N=32:512

        archcalc verify specs/resnet18.yaml --train

    With --train, each layer's backward FLOPs (one backward pass of out.sum(), frozen
    layers' parameters with requires_grad=False) and the total training FLOPs are compared
    too (archcalc flops --train). With --checkpoint NAME the network runs those groups in
    reentrant torch.utils.checkpoint: the bytes kept through the forward pass (--saved) and
    the total training FLOPs with recomputation (--train) are compared.

    Exit codes: 0 every value matches, 1 a mismatch, 2 bad input or PyTorch missing.
    """
    code = c.guarded(_run)(spec, set_, device, samples, seed, rf, range_, fmt, width, limit,
                           free, train, saved, saved_batch, checkpoint)
    raise typer.Exit(code)


def _run(spec, set_, device, samples, seed, rf, range_, fmt, width, limit, free=None,
         train: bool = False, saved=False, saved_batch=2, checkpoint=None) -> int:
    from ..errors import SpecError, did_you_mean
    from ..verification import verify

    c.apply_limits(limit)
    c.check_format(fmt, FORMATS)
    if device not in _DEVICES:
        raise SpecError(f"--device {device}: choose from {', '.join(_DEVICES)}"
                        f"{did_you_mean(device, _DEVICES)}")
    if rf not in ("auto", "on", "off"):
        raise SpecError(f"--rf {rf}: choose from auto, on, off")
    if checkpoint and not (saved or train):
        raise SpecError(f"--checkpoint {','.join(checkpoint)} is compared with the bytes kept "
                        "for backward or the training FLOPs: add --saved or --train")
    try:
        result = verify(spec, c.parse_set(set_, free), device=device, samples=samples,
                        seed=seed, rf=rf, ranges=parse_ranges(range_), train=train,
                        saved=saved, saved_batch=saved_batch, checkpoint=checkpoint or ())
    except SpecError as e:
        if e.message.startswith("checkpoint "):
            raise SpecError(f"--{e.message}", e.loc) from None
        raise
    from ..report import writers

    own = {"json": lambda: json.dumps(result.to_json(), indent=2) + "\n",
           "table": lambda: table(result, width)}
    c.emit(writers.write(None if fmt in own else model(result), fmt, own=own))
    return c.EXIT_OK if result.ok else c.EXIT_MISMATCH


def parse_ranges(items) -> dict:
    """--range values: NAME=LO:HI, whole numbers 1 ≤ LO ≤ HI < 2^63."""
    from ..errors import SpecError

    out = {}
    for name, text in c.parse_assignments(items, "--range").items():
        lo, sep, hi = text.partition(":")
        lo, hi = lo.strip(), hi.strip()
        if not sep or not lo.isdigit() or not hi.isdigit() or not lo.isascii() or \
                not hi.isascii() or len(lo) > 19 or len(hi) > 19:
            raise SpecError(f"--range {name}={text}: expected LO:HI, two whole numbers "
                            "(e.g. H=32:512)")
        lo, hi = int(lo), int(hi)
        if not 1 <= lo <= hi < 2**63:
            raise SpecError(f"--range {name}={text}: need 1 ≤ LO ≤ HI (sizes are positive)")
        out[name] = (lo, hi)
    return out


# ---------------------------------------------------------------- the table
_COLUMNS = (("shape", "Output shape"), ("params", "Params"), ("buffers", "Buffers"),
            ("flops", "FLOPs"), ("backward", "Backward FLOPs"), ("train", "Training FLOPs"),
            ("rf", "Receptive field"), ("saved", "Saved for backward"),
            ("cuda_allocated", "CUDA allocated"))


def _columns(result) -> list:
    """(metric, header) of the columns shown: buffers only when some layer has them."""
    shown_buffers = any(r.metric == "buffers" and (r.expected or r.measured)
                        for r in result.results)
    metrics = {r.metric for r in result.results}
    return [(m, h) for m, h in _COLUMNS if (m != "buffers" or shown_buffers) and
            (m not in ("backward", "train", "saved", "cuda_allocated") or m in metrics)]


def _text(metric: str, value) -> str:
    from ..report.values import human

    if value is None:
        return "none"
    if metric == "shape":
        return "[" + ", ".join(str(d) for d in value) + "]"
    if metric == "rf":
        return "×".join("?" if ax is None else str(ax[1] - ax[0] + 1) for ax in value)
    if isinstance(value, int):
        return human(value)
    return str(value)


def _rf_region(value) -> str:
    if value is None:
        return "nothing"
    return " × ".join("?" if ax is None else f"{ax[0]}–{ax[1]}" for ax in value)


def _cell(check) -> str:
    if check is None:
        return "n/a"
    if check.match and check.metric == "rf" and check.expected != check.measured:
        return f"{_text('rf', check.measured)} within {_text('rf', check.expected)} ✓"
    if check.match:
        return f"{_text(check.metric, check.expected)} ✓"
    if check.metric == "rf":
        return f"{_rf_region(check.expected)} ✗ torch {_rf_region(check.measured)}"
    return f"{_text(check.metric, check.expected)} ✗ torch {_text(check.metric, check.measured)}"


def _points(result) -> list:
    """The checks grouped by point, each point's checks grouped by layer (in order)."""
    points: dict = {}
    for r in result.results:
        key = tuple(sorted(r.symbols.items()))
        points.setdefault(key, {}).setdefault(r.layer, {})[r.metric] = r
    return list(points.items())


def table(result, width: int = 120) -> str:
    """The text report (``text_blocks``) as the text writer lays it out."""
    from ..report import writers

    return writers.write_blocks(text_blocks(result), "table", width, gap=False)


def text_blocks(result) -> list:
    """The text report as blocks: its heading; the closed forms (when symbols were
    sampled); a table per point; the notes and the verdict, each on one line, under the
    last table."""
    from ..errors import printable
    from ..report.table import Column, Lists, Row, Table

    columns = _columns(result)
    blocks = [Lists([(printable(f"{result.name}: closed form vs PyTorch ({result.device})"),
                      [])])]
    if result.formulas:  # names never wrap here; the closed forms may
        head = [Column("Layer", wrap=False), *(Column(h, split=True) for _, h in columns)]
        rows = [Row([printable(x) for x in
                     [layer, *(texts.get(m) or "n/a" for m, _ in columns)]])
                for layer, texts in result.formulas]
        blocks.append(Table(head, rows, title="closed forms, checked at each point below"))
    head = [Column("Layer", split=True),  # long names wrap; numbers are never cut
            *(Column(h, right=h in ("Params", "Buffers"), wrap=False) for _, h in columns)]
    for key, layers in _points(result):
        rows = [Row([printable(x) for x in _row(layer, checks, columns)])
                for layer, checks in layers.items()]
        blocks.append(Table(head, rows, title=("at " + ", ".join(f"{k}={v}" for k, v in key))
                            if key else None))
    footer = [printable(line) for line in _footer(result)]
    if isinstance(blocks[-1], Table):
        blocks[-1] = dataclasses.replace(blocks[-1], footnotes=footer, wrap_footnotes=False)
    else:  # nothing was checked: the footer alone
        blocks.append(Lists([("\n".join(footer), [])]))
    return blocks


def model(result):
    """Every point's checks as one ``report.table.Table`` (a column for the point when
    symbols were sampled), the notes and the verdict as footnotes: for Markdown, LaTeX and
    CSV."""
    from ..errors import printable
    from ..report.table import Column, Row, Table

    columns = _columns(result)
    points = _points(result)
    sampled = any(key for key, _ in points)
    rows, machine = [], []
    for key, layers in points:
        at = [", ".join(f"{k}={v}" for k, v in key)] if sampled else []
        for layer, checks in layers.items():
            cells = _row(layer, checks, columns)
            rows.append(Row([printable(x) for x in [cells[0], *at, *cells[1:]]]))
            machine.append([printable(x) for x in [layer, *at, *_raw(checks, columns)]])
    head = [Column("Layer", split=True), *([Column("At")] if sampled else []),
            *(Column(h, right=h in ("Params", "Buffers")) for _, h in columns)]
    raw_header = ["layer", *(["at"] if sampled else []),
                  *(f"{m}{part}" for m, _ in columns for part in ("", "_torch", "_match"))]
    return Table(head, rows, raw_header=raw_header, machine=lambda: machine,
                 title=printable(f"{result.name}: closed form vs PyTorch "
                                             f"({result.device})"),
                 footnotes=[printable(line) for line in _footer(result)])


def _raw(checks: dict, columns) -> list:
    """A row's machine form: per metric the closed form's value, PyTorch's, and 1/0."""
    bad = checks.get("torch")
    out = []
    for m, _ in columns:
        check = checks.get(m)
        if check is None:
            out += ["", str(bad.measured) if bad is not None and m == "shape" else "",
                    "0" if bad is not None else ""]
            continue
        numbers = ("params", "buffers", "flops", "backward", "train", "saved",
                   "cuda_allocated")
        text = (lambda v: "" if v is None else str(v)) if m in numbers \
            else (lambda v: "" if v is None else _text(m, v).replace("×", "x"))
        out += [text(check.expected), text(check.measured), str(int(bool(check.match)))]
    return out


def _row(layer: str, checks: dict, columns) -> list:
    if "torch" in checks:
        bad = checks["torch"]
        return [layer, f"✗ PyTorch refused this layer: {bad.measured}", *([""] * (len(columns) - 1))]
    cells = [_cell(checks.get(m)) for m, _ in columns]
    if "rf" not in checks and "shape" in checks and not checks["shape"].match:
        cells[[m for m, _ in columns].index("rf")] = "not compared"  # no unit to pick
    return [layer, *cells]


def _footer(result) -> list:
    lines = ["✓ = the closed form equals what PyTorch measured: shape from a forward hook, "
             "params from parameters(), FLOPs from FlopCounterMode, receptive field (the "
             "input region, clipped to the input) from the gradient of one output unit near "
             "the centre."]
    if any(r.metric == "train" for r in result.results):
        lines.append("Backward FLOPs: FlopCounterMode over each layer's share of the backward "
                     "pass of out.sum() (frozen layers' parameters requires_grad=False); "
                     "training FLOPs: forward and backward of the whole network.")
    for n in result.notes:
        lines.append(f"Note: {n}.")
    grouped: dict = {}  # one line per distinct note, naming the layers it applies to
    for r in result.results:
        if r.note:
            grouped.setdefault((r.metric, r.note), []).append(r.layer)
    for (metric, note), layers in grouped.items():
        if len(layers) == 1:
            lines.append(f"Note: {layers[0]} {metric}: {note}.")
        else:
            named = ", ".join(layers) if len(layers) <= 3 else \
                f"{layers[0]}, {layers[1]}, … {layers[-1]}"
            lines.append(f"Note: {metric} of {len(layers)} layers ({named}): {note}.")
    if result.checked == 0:
        lines.append("Nothing was checked ✗")
    elif result.ok:
        lines.append(f"All {result.checked} checks match ✓")
    else:
        lines.append(f"{result.mismatches} of {result.checked} checks do not match ✗:")
        for r in result.results:
            if not r.match:
                at = (" at " + ", ".join(f"{k}={v}" for k, v in r.symbols.items())
                      if r.symbols else "")
                show = _rf_region if r.metric == "rf" else (lambda v, m=r.metric: _text(m, v))
                lines.append(f"  ✗ {r.layer} {r.metric}{at}: closed form {show(r.expected)}, "
                             f"PyTorch {show(r.measured)}")
    return lines
