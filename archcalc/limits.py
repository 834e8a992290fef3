"""Bounds that keep untrusted spec files from hanging the machine or exhausting memory.

Each can be raised from the command line (``--limit NAME=VALUE``) or the Python API
(``limits={...}``); docs/robustness.md lists them. The limits in force live in a context
variable: ``with applied(max_nodes=10**6):`` changes them for one block, in one thread.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int = 1_000_000  # size of one spec file
    max_model_bytes: int = 1_000_000_000  # size of one ONNX model file (archcalc import onnx)
    max_yaml_nodes: int = 50_000  # YAML nodes, each alias counted as what it stands for
    max_yaml_depth: int = 64  # nesting of YAML mappings and lists
    max_expr_chars: int = 1_000  # one expression string
    max_expr_depth: int = 40  # nesting of one expression
    max_expr_terms: int = 10_000  # terms of a symbolic power once expanded ((A+B)**n)
    max_int_bits: int = 4_096  # an integer in the file or produced by an expression
    max_form_size: int = 150  # symbols, numbers and operations of one layer's closed form
    max_repeat: int = 100_000  # one repeat count
    max_nodes: int = 50_000  # layers in the expanded graph (the largest zoo spec has ~900)
    max_block_depth: int = 64  # blocks, repeats and branches nested inside each other
    max_rank: int = 6  # axes of a tensor shape
    max_seconds: int = 60  # wall-clock time of one command (symbolic closed forms can explode)
    max_sweep_points: int = 1_000_000  # points of one sweep grid (a few hundred bytes each)
    max_solve_pieces: int = 5_000  # pieces of a real symbol's range solve builds (one each)
    max_verify_bytes: int = 1_000_000_000  # tensors verify holds at once (estimated first)
    max_verify_macs: int = 200_000_000_000  # MACs verify runs on a real device (all points)
    max_verify_points: int = 100  # points at which verify checks a spec with free symbols
    max_verify_layers: int = 2_000  # layers verify builds in PyTorch, all points together
    max_rf_work: int = 3_000_000_000  # work of verify's receptive-field passes (about 1 ns each)


_CURRENT: ContextVar[Limits] = ContextVar("archcalc_limits", default=Limits())


def current() -> Limits:
    """The limits in force in the running context (the defaults unless changed there)."""
    return _CURRENT.get()


def changed(**changes: int) -> Limits:
    """The current limits with some replaced (by field name); an unknown name is bad input."""
    names = {f.name for f in fields(Limits)}
    for name in changes:
        if name not in names:
            from .errors import SpecError, did_you_mean

            raise SpecError(f"unknown limit '{name}'{did_you_mean(name, names)}")
    return replace(current(), **changes)


@contextmanager
def applied(**changes: int):
    """Run a block with some limits changed; they are restored when it ends."""
    token = _CURRENT.set(changed(**changes))
    try:
        yield _CURRENT.get()
    finally:
        _CURRENT.reset(token)


def install(**changes: int) -> Limits:
    """Change some limits for the rest of the running context. The CLI runs each command in
    a context of its own (``contextvars.copy_context``), so they end with the command."""
    lim = changed(**changes)
    _CURRENT.set(lim)
    return lim
