"""Sliding-window arithmetic shared by convolutions and pools (PyTorch and Keras rules).

Formulas follow docs/pytorch-semantics.md §1: ATen's conv output size, the
pooling size with PyTorch's ceil-mode rule, and Keras's 'same' padding for any stride.
"""

from __future__ import annotations

from ..dims import ceildiv, dmax, floordiv, is_symbolic, resolve
from .terms import ceil_div, floor_div, minimum, value


def effective_kernel(k, d):
    """``d·(k − 1) + 1``: the span of a dilated kernel (plain values or terms)."""
    return d * (k - 1) + 1


def keras_same_pads(n, k_eff, s):
    """Keras/TF 'same': out = ceil(n/s); total pad T = max((out−1)·s + k_eff − n, 0), extra
    pixel at the end. Returns (left, right).

    For a free size the pads depend only on r = s·ceil(n/s) − n, the pixels that complete
    the last stride (0 ≤ r < s): T = max(r + k_eff − s, 0). When each side is affine in r
    over those s values (every stride 2; stride 1 has r = 0) it is written so, exactly, as
    ``a + b·r``: no floor of a floor, and the parity terms of a chain of strided layers
    cancel when the fields' starts are summed (r = s·out − n, and out is the next n).
    """
    out = ceildiv(n, s)
    if type(k_eff) is int and type(s) is int and getattr(n, "is_integer", False) \
            and is_symbolic(n):
        affine = _affine_in_remainder(k_eff, s)
        if affine is not None:
            r = s * out - n
            (l0, lb), (t0, tb) = affine
            left = l0 + lb * r
            return left, t0 + tb * r - left
    total = (out - 1) * s + k_eff - n  # ≥ k_eff − s, so the max only matters when k_eff < s
    if resolve(k_eff - s >= 0) is not True:
        total = dmax(total, 0)
    left = floordiv(total, 2)
    return left, total - left


def _affine_in_remainder(k_eff: int, s: int):
    """((a, b), (c, d)) with left = a + b·r and total = c + d·r for every remainder
    r = 0 … s − 1 of Keras 'same' padding (total = max(r + k_eff − s, 0), left = total//2),
    or None when either is not affine in r."""
    totals = [max(r + k_eff - s, 0) for r in range(s)]
    lines = []
    for values in ([t // 2 for t in totals], totals):
        step = values[1] - values[0] if s > 1 else 0
        if any(v != values[0] + step * r for r, v in enumerate(values)):
            return None
        lines.append((values[0], step))
    return tuple(lines)


def same_out(n, s):
    """Keras 'same' output size: ``ceil(n / s)`` (equal to the sliding formula with the
    padding above, written directly so closed forms stay short)."""
    return ceil_div(n, s)


def full_padding(kernel, dilation=1):
    """``padding: full``: ``d·(k − 1)`` on each side of every axis, so that every window
    overlapping the input is computed (``n + d·(k − 1)`` outputs at stride 1, as
    ``numpy.convolve``'s 'full' mode). PyTorch has no such string: the padding is written
    out, one value per axis when the kernel or the dilation is a list."""
    if not isinstance(kernel, tuple) and not isinstance(dilation, tuple):
        return dilation * (kernel - 1)
    n = max(len(x) if isinstance(x, tuple) else 1 for x in (kernel, dilation))
    ks = kernel if isinstance(kernel, tuple) and len(kernel) > 1 else \
        (kernel[0] if isinstance(kernel, tuple) else kernel,) * n
    ds = dilation if isinstance(dilation, tuple) and len(dilation) > 1 else \
        (dilation[0] if isinstance(dilation, tuple) else dilation,) * n
    return tuple(d * (k - 1) for k, d in zip(ks, ds))


def paddings(ctx, k_eff: tuple, strides: tuple) -> tuple:
    """(left, right) padding per spatial axis from ``padding``: ints, 'valid' or 'same'."""
    pad = ctx.a["padding"]
    if pad == "valid":
        return ((0, 0),) * ctx.nd
    if pad == "same":
        return tuple(keras_same_pads(n, k, s) for n, k, s in zip(ctx.spatial, k_eff, strides))
    return tuple((p, p) for p in ctx.per_axis("padding"))


def sliding_out(n, left, right, k_eff, s):
    """``floor((n + left + right − k_eff) / s) + 1`` (ATen ``_conv_output_size``); the same
    object for both sides is written ``2·p``."""
    pads = 2 * left if left is right else left + right
    return floor_div(n + pads - k_eff, s) + 1


def pool_out_ceil(n, p, k_eff, s):
    """Ceil-mode pooling size (ATen ``pooling_output_shape_pad_lr``): ``ceil((n + 2p −
    k_eff)/s) + 1``, minus one when the last window would start in the right padding.

    Written without a case split: the last window must start before ``n + p``, so
    ``out − 1 = min(ceil((n + 2p − k_eff)/s), floor((n + p − 1)/s))``. This is exact whenever
    ``p ≤ k_eff − 1``, which PyTorch's ``p ≤ k//2`` guarantees, and keeps symbolic closed forms
    free of Piecewise (which sympy simplifies very slowly).
    """
    first = ceil_div(n + 2 * p - k_eff, s)
    if resolve(value(k_eff) - value(p) - value(s) >= 0) is True:
        # The last window starts at (out − 1)·s ≤ n + p − 1 already: a multiple of s lies in
        # [n + 2p − k_eff, n + p − 1], which holds k_eff − p ≥ s integers. No min needed.
        return first + 1
    return minimum(first, floor_div(n + p - 1, s)) + 1
