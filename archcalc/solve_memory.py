"""``memory`` in ``archcalc solve``'s relations: the whole network's total bytes, as the
memory verb counts them, under the memory options of the question.

The batch is a number (``--batch 32``; 1 when not given) or a symbol to solve for: a name the
spec does not give a symbol of its own (``--for B``, the batch's usual name, or ``--batch N
--for N``); ZeRO's device count likewise (``--devices N --for N``). With the batch a symbol,
the total is ``fixed + per_sample·B``, except where batch 1 keeps less (tensors that are views
at batch 1 and copies at a larger one, ``footprint.Memory.one_sample``): then the total at
B = 1 is that figure, and the relation reads the two apart.

Sizes in a relation may carry a unit (``memory <= 24GB``, ``3GiB``, ``1.5 TiB``): the
memory verb's units (KB/MB/GB/TB = 10³ᵏ bytes, KiB/MiB/GiB/TiB = 2¹⁰ᵏ), each replaced by its
whole number of bytes before the relation is read. A bare ``B`` is never a unit: it names the
batch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from .errors import SpecError, option

BATCH_NAME = "B"  # ``--for B`` solves for the batch when the spec has no symbol B
_MEMORY = re.compile(r"(?<![\w.])((?:[A-Za-z_][\w-]*\.)+)?memory\b")
_SIZE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)\b")


def uses_memory(wants) -> bool:
    """Whether any relation reads ``memory``."""
    return any(_MEMORY.search(w) for w in wants)


def with_bytes(text: str, relation: str) -> str:
    """``text`` (a side of ``relation``) with each size written with a unit (``24GB``,
    ``1.5 GiB``) as its bytes."""
    from .footprint import parse_size

    def replace(m):
        try:
            return str(parse_size(m.group(1) + m.group(2)))
        except SpecError as e:
            raise SpecError(f"{option('want', relation)}: {e.message}") from None

    return _SIZE.sub(replace, text)


def _name(value) -> str | None:
    """The name of a batch or device count given as a name (``B``, ``N``); None for a
    number."""
    if value is None or isinstance(value, int) or str(value).isdigit():
        return None
    return str(value)


@dataclass(frozen=True)
class MemoryQuery:
    """How to count ``memory``: ``compute(analysis, batch, devices)`` is footprint.compute
    with the caller's options bound (its errors in the caller's words); ``batch`` and
    ``devices`` a number or a name (the batch None: ``B`` when the question solves for a
    ``B`` the spec does not have, else 1)."""

    compute: Callable
    batch: Any = None
    devices: Any = 1

    def batch_for(self, names, symbols) -> Any:
        if self.batch is not None:
            return self.batch
        return BATCH_NAME if BATCH_NAME in names and BATCH_NAME not in symbols else 1

    def unknowns(self, names, symbols) -> dict:
        """name → sympy symbol: the batch and the device count where they are names, which
        relations may use and ``--for`` may solve for (the spec's own symbols excluded: the
        memory verb refuses a batch named as one of them)."""
        import sympy as sp

        out = {}
        for value in (self.batch_for(names, symbols), self.devices):
            name = _name(value)
            if name is not None and name not in symbols:
                out[name] = sp.Symbol(name, integer=True, positive=True)
        return out

    def form(self, analysis, names, symbols) -> tuple:
        """(closed form of the total bytes, its term that is 1 at batch 1 only or None,
        derivation lines) for the raw (unconverted) ``analysis``."""
        import sympy as sp

        from .dims import is_symbolic
        from .report.memory import setting
        from .report.values import expr_text

        batch = self.batch_for(names, symbols)
        m = self.compute(analysis, batch, self.devices)
        if m.notes:
            raise SpecError(f"{option('want')}: memory is not exact here: {m.notes[0]}")
        order = list(symbols) + [str(m.batch), str(m.devices)]
        parts = " + ".join(f"{what} {expr_text(v, order)}" for what, v in m.components)
        where = "per device, " if m.zero else ""
        lines = [f"memory = {expr_text(m.total_bytes, order)} bytes ({where}{parts}; "
                 f"{setting(m)})"]
        total = m.total_bytes
        if m.one_sample is not None and is_symbolic(m.batch):  # a number: compute's own
            b = sp.sympify(m.batch)
            lines.append(f"memory at {b} = 1 = {expr_text(m.one_sample, order)} bytes "
                         f"(less than the form above at {b} = 1, which holds from {b} = 2)")
            # the same total with the difference at B = 1 only: Max(0, 2 − B) is 1 there and
            # 0 for every B ≥ 2, and keeps the form in integer arithmetic
            ones = sp.Max(0, 2 - b)
            return total + (m.one_sample - (m.fixed + m.per_sample)) * ones, ones, lines
        return total, None, lines


def refused_at(at: str) -> SpecError:
    """``LAYER.memory``: memory is the whole network's."""
    return SpecError(f"{at}.memory: memory is the whole network's total bytes (the memory "
                     "verb's Total); write memory alone, as in 'memory <= 24GB'")
