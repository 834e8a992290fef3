"""Strides of a tensor through the views PyTorch's matmul and einsum take (permute,
diagonal, unsqueeze, expand) and whether a reshape of it is a view or a copy: what decides
which storage their bmm keeps for backward.

Sizes are ints; a free size is given a generic value (a distinct prime, so larger than one
and unlike any other), which is the case the closed forms describe (as everywhere, a free
size is taken to be more than 1). ``reshape_view`` is ATen's computeStride
(aten/src/ATen/TensorUtils.cpp): the new shape's strides when the reshape can be a view,
else None; ``iterator_order`` is TensorIterator's reorder_dimensions
(aten/src/ATen/TensorIterator.cpp), the order of axes in memory a new element-wise result
takes from its operands.
"""

from __future__ import annotations

from typing import Optional

from .. import dims

_PRIMES = (1009, 1013, 1019, 1021, 1031, 1033, 1039, 1049, 1051, 1061, 1063, 1069)


def generic(n) -> int:
    """A size as a number: itself, or its expression at generic values of its symbols."""
    if isinstance(n, int):
        return n
    import sympy  # only free sizes reach here: the numeric path never imports it

    expr = sympy.sympify(n)
    symbols = sorted(expr.free_symbols, key=str)
    value = expr.subs({s: _PRIMES[i % len(_PRIMES)] + 12 * (i // len(_PRIMES))
                       for i, s in enumerate(symbols)})
    return int(value)


def numbers(shape) -> tuple:
    return tuple(generic(n) for n in shape)


def contiguous(shape: tuple) -> tuple:
    """Row-major strides of ``shape``."""
    out, step = [], 1
    for n in reversed(shape):
        out.append(step)
        step *= max(n, 1)
    return tuple(reversed(out))


def is_contiguous(shape: tuple, strides: tuple) -> bool:
    """PyTorch's is_contiguous: axes of size 1 are ignored."""
    step = 1
    for n, s in zip(reversed(shape), reversed(strides)):
        if n != 1:
            if s != step:
                return False
            step *= n
    return True


def reshape_view(shape: tuple, strides: tuple, new: tuple) -> Optional[tuple]:
    """ATen's computeStride: the strides of ``new`` as a view of the tensor, or None when
    the reshape must copy."""
    if not shape:
        return tuple(1 for _ in new)
    out = [0] * len(new)
    view_d = len(new) - 1
    base = strides[-1]
    tensor_numel = view_numel = 1
    for d in range(len(shape) - 1, -1, -1):
        tensor_numel *= shape[d]
        if d == 0 or (shape[d - 1] != 1 and strides[d - 1] != tensor_numel * base):
            while view_d >= 0 and (view_numel < tensor_numel or new[view_d] == 1):
                out[view_d] = view_numel * base
                view_numel *= new[view_d]
                view_d -= 1
            if view_numel != tensor_numel:
                return None
            if d > 0:
                base = strides[d - 1]
                tensor_numel = view_numel = 1
    return None if view_d != -1 else tuple(out)


def iterator_order(shape: tuple, operands: list) -> list:
    """The axes of an element-wise result from the innermost in memory outwards, as
    TensorIterator orders them by its operands' strides (``operands``: each one's strides,
    0 where it broadcasts; the first operand that tells two axes apart decides)."""
    def swap(d0: int, d1: int) -> int:
        for strides in operands:
            s0, s1 = strides[d0], strides[d1]
            if s0 == 0 or s1 == 0:
                continue
            if s0 < s1:
                return -1
            if s0 > s1:
                return 1
            if shape[d0] > shape[d1]:
                return 1
        return 0

    ndim = len(shape)
    perm = list(range(ndim - 1, -1, -1))  # innermost first
    for i in range(1, ndim):
        d1 = i
        for d0 in range(i - 1, -1, -1):
            comparison = swap(perm[d0], perm[d1])
            if comparison > 0:
                perm[d0], perm[d1] = perm[d1], perm[d0]
                d1 = d0
            elif comparison < 0:
                break
    return perm


def strides_in_order(shape: tuple, order: list) -> tuple:
    """Dense strides of ``shape`` laid out with ``order``'s axes innermost first."""
    out, step = [0] * len(shape), 1
    for d in order:
        out[d] = step
        step *= max(shape[d], 1)
    return tuple(out)


def is_one(n) -> bool:
    return dims.resolve(dims.eq(n, 1)) is True
