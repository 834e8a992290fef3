"""Window partitions of vision transformers in a traced graph (``archcalc import torch``).

Swin cuts a channels-last map [B, H, W, C] into s×s windows that it folds into the batch
axis, a view, a permute and a view that the op map alone refuses (they move values across
the batch axis); MaxViT cuts [B, C, H, W] into windows and into a grid, n groups on an axis
of their own:

* ``x.view(B, H/s, s, W/s, s, C).permute(0, 1, 3, 2, 4, 5).reshape(B·n, s·s, C)``, n =
  (H/s)·(W/s) windows, is ``windowpartition {size: s}``; from [B, C, H, W],
  ``x.view(B, C, H/s, s, W/s, s).permute(0, 2, 4, 3, 5, 1).reshape(B, n, s·s, C)`` is a
  permute to channels last and the same; ``x.view(B, C, s, H/s, s, W/s).permute(0, 3, 5, 2,
  4, 1)`` (a group's positions H/s rows apart) is ``windowpartition {size: s, grid: true}``;
* the inverse views (the inverse permute between them) are ``windowmerge {size: s, height:
  H, width: W}`` (and ``grid: true``), then a permute back to channels first;
* PatchMerging's four 2×2 phases ``x[:, i::2, j::2]`` side by side on the channels,
  ``torch.cat`` of (0, 0), (1, 0), (0, 1), (1, 1), is ``pixelunshuffle {factor: 2}`` between
  two permutes (channels first and back): the same values in another channel order, which
  changes no count, as specs/swin_t.yaml writes it.

The views and the permute must be read only inside the pattern; anything else is left to
the op map, which refuses a view across the batch axis.
"""

from __future__ import annotations

import math
import operator

import torch

from .import_map import PREVIOUS, _shape

_RESHAPES = ("view", "reshape")
# (channels last, grid) → the permute that takes the split map to [B, H/s, W/s, s, s, C]
_ORDERS = {(True, False): (0, 1, 3, 2, 4, 5), (True, True): (0, 2, 4, 1, 3, 5),
           (False, False): (0, 2, 4, 3, 5, 1), (False, True): (0, 3, 5, 2, 4, 1)}


def _split(last, grid, b, nh, nw, s, c) -> tuple:
    """The map [B, H, W, C] (``last``) or [B, C, H, W] viewed with H = nh·s, W = nw·s split
    into windows (a window's rows are consecutive) or a grid (its rows nh apart)."""
    if last:
        return (b, s, nh, s, nw, c) if grid else (b, nh, s, nw, s, c)
    return (b, c, s, nh, s, nw) if grid else (b, c, nh, s, nw, s)


def _inverse(order) -> tuple:
    out = [0] * len(order)
    for i, d in enumerate(order):
        out[d] = i
    return tuple(out)


class _NoMatch(Exception):
    pass


def _need(condition) -> None:
    if not condition:
        raise _NoMatch


def annotate(traced) -> None:
    for node in traced.nodes:
        if traced.decided(node) or not traced.live(node):
            continue
        for match in (_partition, _merge, _phases):
            try:
                layer, absorbed = match(traced, node)
            except (_NoMatch, TypeError, ValueError, IndexError, KeyError, AttributeError):
                continue
            if any(traced.decided(n) for n in absorbed):
                continue
            for n in absorbed:
                traced.decide(n, None)
            traced.decide(node, layer)
            break


def _reshape(node) -> bool:
    return node.op == "call_method" and node.target in _RESHAPES or \
        node.op == "call_function" and node.target is torch.reshape


def _order(node):
    """The axes a ``permute`` gives (the batch axis included), else None."""
    if node.op == "call_method" and node.target == "permute" or \
            node.op == "call_function" and node.target is torch.permute:
        dims = node.args[1:] if not isinstance(node.args[1], (tuple, list)) else node.args[1]
        rank = len(_shape(node))
        return tuple(d % rank for d in dims)
    return None


def _only_read_by(traced, node, reader) -> None:
    _need(traced.tensor_users(node) == [reader])


def _partition(traced, node):
    """The map → [B·n, s·s, C] or [B, n, s·s, C] (the last view, ``node``): windowpartition,
    after a permute to channels last where the map is [B, C, H, W] (MaxViT)."""
    _need(_reshape(node))
    permuted = node.args[0]
    layouts = [k for k, order in _ORDERS.items() if _order(permuted) == order]
    _need(layouts)
    (last, grid), split = layouts[0], permuted.args[0]
    _need(_reshape(split))
    x = split.args[0]
    b, nh, nw, s, s2, c = _shape(permuted)
    _need(s == s2 and tuple(_shape(split)) == _split(last, grid, b, nh, nw, s, c))
    _need(tuple(_shape(x)) == ((b, nh * s, nw * s, c) if last else (b, c, nh * s, nw * s)))
    _need(tuple(_shape(node)) in ((b * nh * nw, s * s, c), (b, nh * nw, s * s, c)))
    _only_read_by(traced, split, permuted)
    _only_read_by(traced, permuted, node)
    layer = ("windowpartition", dict(size=s, **({"grid": True} if grid else {})))
    if last:
        return (*layer, [x]), [split, permuted]
    return [("permute", dict(dims=[1, 2, 0]), [x]), (*layer, [PREVIOUS])], [split, permuted]


def _merge(traced, node):
    """[B·n, s·s, C] or [B, n, s·s, C] → the map (the last view, ``node``): windowmerge,
    then a permute to channels first where the map is [B, C, H, W] (MaxViT)."""
    _need(_reshape(node))
    permuted = node.args[0]
    layouts = [k for k, order in _ORDERS.items() if _order(permuted) == _inverse(order)]
    _need(layouts)
    (last, grid), split = layouts[0], permuted.args[0]
    _need(_reshape(split))
    y = split.args[0]
    b, nh, nw, s, s2, c = _shape(split)
    _need(s == s2 and tuple(_shape(permuted)) == _split(last, grid, b, nh, nw, s, c))
    _need(tuple(_shape(y)) in ((b * nh * nw, s * s, c), (b, nh * nw, s * s, c)))
    h, w = nh * s, nw * s
    _need(tuple(_shape(node)) == ((b, h, w, c) if last else (b, c, h, w)))
    _only_read_by(traced, split, permuted)
    _only_read_by(traced, permuted, node)
    layer = ("windowmerge", dict(size=s, height=h, width=w, **({"grid": True} if grid else {})))
    if last:
        return (*layer, [y]), [split, permuted]
    return [(*layer, [y]), ("permute", dict(dims=[2, 0, 1]), [PREVIOUS])], [split, permuted]


_PHASES = ((0, 0), (1, 0), (0, 1), (1, 1))  # x[:, i::2, j::2], as torch.cat reads them


def _phases(traced, node):
    """torch.cat of the four 2×2 phases of a channels-last [B, H, W, C] on C."""
    _need(node.op == "call_function" and node.target is torch.cat)
    parts = list(node.args[0])
    dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim", 0)
    _need(len(parts) == 4 and dim % 4 == 3)
    x = parts[0].args[0]
    _need(len(_shape(x)) == 4 and _shape(x)[1] % 2 == 0 and _shape(x)[2] % 2 == 0)
    for part, (i, j) in zip(parts, _PHASES):
        _need(part.op == "call_function" and part.target is operator.getitem and
              part.args[0] is x)
        index = part.args[1]
        _need(isinstance(index, tuple) and len(index) == 3 and index[0] == slice(None))
        _need(index[1] == slice(i or None, None, 2) or index[1] == slice(i, None, 2))
        _need(index[2] == slice(j or None, None, 2) or index[2] == slice(j, None, 2))
        _only_read_by(traced, part, node)
    _need(math.prod(_shape(node)) == math.prod(_shape(x)))
    return [("permute", dict(dims=[2, 0, 1]), [x]),
            ("pixelunshuffle", dict(factor=2), [PREVIOUS]),
            ("permute", dict(dims=[1, 2, 0]), [PREVIOUS])], parts
