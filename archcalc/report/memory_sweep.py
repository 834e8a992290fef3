"""A batch-size sweep of the memory verb: the total bytes at each batch of a range, and a
plain-text bar chart of them with the device's memory marked, as a ``Table`` for the
writers (the chart under the text table), or as its JSON object (docs/json-format.md,
"memory sweep").

Every total is ``fixed + per_sample · B`` (archcalc/footprint.py), so the sweep evaluates
that line at each batch; it needs numbers for every other size of the spec."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..dims import is_symbolic
from ..errors import SpecError, option, printable
from . import writers
from .memory import both, scaled
from .table import Column, Row, Table

MAX_POINTS = 1000
BAR = 48  # characters of the longest bar
_RANGE = re.compile(r"([0-9]{1,18}):([0-9]{1,18})(?::([0-9]{1,18}))?")


def parse_batches(text: str) -> tuple:
    """``START:STOP`` → START, 2·START, 4·START … up to STOP (and STOP itself when the
    doubling passes it); ``START:STOP:STEP`` → START, START + STEP … up to STOP."""
    m = _RANGE.fullmatch(text.strip())
    wanted = "expected START:STOP or START:STOP:STEP in positive whole numbers, e.g. 1:256"
    if m is None:
        raise SpecError(f"{option('batch', text[:40])}: {wanted}")
    start, stop = int(m.group(1)), int(m.group(2))
    step = None if m.group(3) is None else int(m.group(3))
    if start < 1 or step == 0:
        raise SpecError(f"{option('batch', text)}: {wanted}")
    if stop < start:
        raise SpecError(f"{option('batch', text)}: STOP {stop} is below START {start}")
    if step is not None and (stop - start) // step + 1 > MAX_POINTS:
        raise SpecError(f"{option('batch', text)}: more than {MAX_POINTS} batches; take a larger step")
    if step is not None:
        return tuple(range(start, stop + 1, step))
    out = [start]
    while out[-1] * 2 <= stop:
        out.append(out[-1] * 2)
    if out[-1] != stop:
        out.append(stop)
    return tuple(out)


@dataclass(frozen=True)
class Sweep:
    """The total bytes per batch of one configuration (``memory`` computed at batch 1)."""

    memory: object
    points: tuple  # (batch, total bytes, fits or None)


def sweep(m, batches) -> Sweep:
    """The totals of ``m`` (any batch: its line ``fixed + per_sample·B`` is what is read,
    and at batch 1 its own total where tensors that batch 1 views are copies at a larger
    batch)."""
    if is_symbolic(m.fixed) or is_symbolic(m.per_sample):
        raise SpecError(f"{option('batch', 'START:STOP')}: the sweep needs a number for every "
                        f"free size of the spec ({option('set', 'NAME=VALUE')})")
    fixed, per = int(m.fixed), int(m.per_sample)
    cap = m.device_memory
    exact = not (m.train and not m.saved_available)  # else the totals are lower bounds
    points = []
    for b in batches:
        total = fixed + per * b
        if b == 1 and m.one_sample is not None:
            total = int(m.one_sample)
        fits = None if cap is None else (total <= cap if exact or total > cap else None)
        points.append((b, total, fits))
    return Sweep(m, tuple(points))


def chart(s: Sweep, units: str = "bytes") -> list[str]:
    """One line per batch: the batch, a bar of its total (█ up to the device's memory, ░
    beyond it), ┃ where the device's memory is, and the total."""
    cap = s.memory.device_memory
    full = max([t for _, t, _ in s.points] + ([cap] if cap else [])) or 1
    cells = lambda v: (v * BAR + full // 2) // full  # noqa: E731 - bar length, rounded
    mark = None if cap is None else cells(cap)
    label = units if units != "bytes" else "iec"
    width = max(len(f"{b:,}") for b, _, _ in s.points)
    lines = []
    for b, total, _ in s.points:
        n = cells(total)
        bar = []
        for i in range(BAR + 1):
            if i == mark:
                bar.append("┃")
            elif i < n:
                bar.append("█" if mark is None or i < mark else "░")
            else:
                bar.append(" ")
        lines.append(f"{b:>{width},} │{''.join(bar).rstrip()} {scaled(total, label)}")
    if cap is not None:
        lines.append(f"{'':>{width}} │{' ' * mark}┃ device memory {scaled(cap, label)}; "
                     "░: over it")
    return lines


def _footer(s: Sweep) -> list[str]:
    m = s.memory
    what = "training" if m.train else "inference"
    lines = [f"{printable(m.analysis.graph.name)}, {what}: {int(m.fixed):,} + "
             f"{int(m.per_sample):,}·B bytes at batch B"]
    if m.device_memory is not None:
        lines.append(f"Device memory {both(m.device_memory)}")
        if m.largest_batch is not None:
            lines.append(f"Largest batch that fits: {m.largest_batch:,}")
    lines += [f"Note: {n}" for n in m.notes]
    return lines


def model(s: Sweep, units: str = "bytes") -> Table:
    """The totals as a table (no title: its footnote names the network)."""
    m = s.memory
    has_fit = m.device_memory is not None
    verdict = {True: "yes", False: "no", None: "?"}
    rows = [Row([f"{b:,}", scaled(t, units), *([verdict[f]] if has_fit else [])])
            for b, t, f in s.points]

    def machine():
        for b, t, f in s.points:
            yield [str(b), str(t), *(["" if f is None else str(f).lower()] if has_fit else [])]
    return Table(
        columns=[Column("Batch", right=True), Column("Total bytes", right=True),
                 *([Column("Fits", centre=True)] if has_fit else [])],
        rows=rows, footnotes=_footer(s),
        raw_header=["batch", "total_bytes", *(["fits"] if has_fit else [])],
        machine=machine, summary=_footer(s)[0])


def to_json(s: Sweep) -> dict:
    """The sweep's object (docs/json-format.md, "memory sweep")."""
    m = s.memory
    return {
        "name": m.analysis.graph.name,
        "train": m.train,
        "fixed_bytes": int(m.fixed), "per_sample_bytes": int(m.per_sample),
        "device_memory": None if m.device_memory is None else {
            "bytes": m.device_memory, "largest_batch": m.largest_batch},
        "points": [{"batch": b, "total_bytes": t, "fits": f} for b, t, f in s.points],
        "notes": list(m.notes),
    }


def render(s: Sweep, fmt: str, units: str = "bytes", width: int = 100) -> str:
    if fmt == "json":
        return writers.write(None, fmt, to_json(s))
    text = writers.write(model(s, units), fmt, width=width)
    if fmt != "table":
        return text
    return text.rstrip("\n") + "\n\n" + "\n".join(chart(s, units)) + "\n"
