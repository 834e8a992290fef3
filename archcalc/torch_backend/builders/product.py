"""Builders for products of tensors (mirrors archcalc/layers/product.py).

Every operand carries the batch axis here. matmul aligns the two operands' ranks by
inserting size-1 axes after the batch axis (as broadcasting the unbatched tensors would
align them), then calls torch.matmul; einsum gives the batch axis a letter the equation does
not use and calls torch.einsum with it in front of every operand and of the output.
"""

from __future__ import annotations

import string

import torch
from torch import nn

from ..registry import BuildCtx, Source, builds, exports, literal


def _lift(x, rank: int):
    """[B, *s] → [B, 1, …, 1, *s] of ``rank`` + 1 axes."""
    return x.reshape(x.shape[0], *(1,) * (rank - (x.dim() - 1)), *x.shape[1:])


class MatMul(nn.Module):
    def __init__(self, transpose: bool):
        super().__init__()
        self.transpose = transpose

    def forward(self, x, other):
        if self.transpose:
            other = other.transpose(-1, -2)
        rank = max(x.dim(), other.dim()) - 1
        return torch.matmul(_lift(x, rank), _lift(other, rank))

    def extra_repr(self) -> str:
        return f"transpose={self.transpose}"


def batched_equation(equation: str) -> str:
    """The equation with the batch axis in front of every operand and of the output, under a
    letter it does not use; an implicit output made explicit as torch forms it."""
    text = equation.replace(" ", "")
    lhs, arrow, rhs = text.partition("->")
    if not arrow:  # torch's implicit output: the ellipsis, then the labels seen once,
        counts = {c: lhs.count(c) for c in lhs if c.isalpha()}  # in ASCII order
        rhs = ("..." if "..." in lhs else "") + \
            "".join(sorted(c for c, n in counts.items() if n == 1))
    batch = next(c for c in string.ascii_letters if c not in text)
    return ",".join(batch + op for op in lhs.split(",")) + "->" + batch + rhs


class Einsum(nn.Module):
    def __init__(self, equation: str):
        super().__init__()
        self.equation = batched_equation(equation)

    def forward(self, *xs):
        return torch.einsum(self.equation, *xs)

    def extra_repr(self) -> str:
        return repr(self.equation)


@builds("matmul")
def matmul(b: BuildCtx) -> nn.Module:
    return MatMul(b.a["transpose"])


@builds("einsum")
def einsum(b: BuildCtx) -> nn.Module:
    return Einsum(b.a["equation"])


@exports("matmul")
def export_matmul(b: BuildCtx) -> Source:
    """``a @ b`` (``b.transpose(-2, -1)`` with ``transpose``); an operand of lower rank gets
    size-1 axes after the batch axis, as MatMul aligns them."""
    rank = max(len(x) for x in b.xs)
    other = "{1}.transpose(-2, -1)" if b.a["transpose"] else "{1}"
    first = "{0}" + ".unsqueeze(1)" * (rank - len(b.xs[0]))
    other += ".unsqueeze(1)" * (rank - len(b.xs[1]))
    return Source(expr=f"{first} @ {other}")


@exports("einsum")
def export_einsum(b: BuildCtx) -> Source:
    operands = ", ".join(f"{{{i}}}" for i in range(len(b.xs)))
    return Source(expr=f"torch.einsum({literal(batched_equation(b.a['equation']))}, "
                       f"{operands})")
