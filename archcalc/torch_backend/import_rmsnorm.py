"""RMS norm written out, as HF transformers' LlamaRMSNorm and T5LayerNorm write it, as one
``rmsnorm`` layer (``archcalc import torch``).

``variance = x.float().pow(2).mean(-1, keepdim=True)``, ``x * torch.rsqrt(variance + eps)``,
cast back, and ``self.weight * …``: the ops of nn.RMSNorm over the last axis, its one
parameter the weight (none without it). Every value in between must be read only inside the
pattern; anything else is left to the other passes, op by op.
"""

from __future__ import annotations

import operator

import torch
from torch import nn

from .import_attention import _ADD, _MUL, CASTS, NoMatch, _need, _single_user, _uncast
from .import_map import _opts, _shape

_POW = (operator.pow, torch.pow)


def annotate(traced) -> None:
    for node in traced.nodes:
        if traced.decided(node) or not traced.live(node) or not _is(node, _POW, "pow"):
            continue
        try:
            last, layer, absorbed = _rms(traced, node)
        except (NoMatch, TypeError, ValueError, IndexError, KeyError, AttributeError):
            continue
        if any(traced.decided(n) for n in (*absorbed, last)):
            continue
        for n in absorbed:
            traced.decide(n, None)
        traced.decide(last, layer)


def _is(node, functions, method) -> bool:
    return node.op == "call_function" and node.target in functions or \
        node.op == "call_method" and node.target == method


def _rms(traced, power) -> tuple:
    """(the last node, the rmsnorm layer, the nodes it absorbs) from ``x.pow(2)``."""
    absorbed: list = []
    cast = power.args[0]
    x = _uncast(cast, absorbed)
    _need(traced.live(x) and power.args[1:] == (2,) and not power.kwargs)
    mean = _single_user(traced, power)
    dims = mean.kwargs.get("dim", mean.args[1] if len(mean.args) > 1 else None)
    rank = len(_shape(x))
    _need(_is(mean, (torch.mean,), "mean") and dims in (-1, rank - 1, (-1,), [-1])
          and mean.kwargs.get("keepdim", mean.args[2] if len(mean.args) > 2 else False))
    shifted = _single_user(traced, mean)
    _need(_is(shifted, _ADD, "add") and len(shifted.args) == 2)
    eps = shifted.args[1] if shifted.args[0] is mean else shifted.args[0]
    _need(isinstance(eps, (int, float)) and not isinstance(eps, bool) and eps >= 0)
    root = _single_user(traced, shifted)
    _need(_is(root, (torch.rsqrt,), "rsqrt"))
    scaled = _single_user(traced, root)
    _need(_is(scaled, _MUL, "mul") and root in scaled.args and len(scaled.args) == 2)
    other = scaled.args[1] if scaled.args[0] is root else scaled.args[0]
    _need(other is x or other is cast)
    inner = {power, cast, mean, shifted, root, scaled} - {x}
    for n in inner - {scaled}:  # every value in between read only inside the pattern
        _need(all(u in inner for u in traced.tensor_users(n)))
    absorbed += [power, mean, shifted, root]
    out, back = scaled, []
    users = traced.tensor_users(scaled)
    while len(users) == 1 and users[0].op == "call_method" and users[0].target in CASTS:
        back.append(out)
        out = users[0]
        users = traced.tensor_users(out)
    weight, owner = None, []
    if len(users) == 1 and _is(users[0], _MUL, "mul") and len(users[0].args) == 2:
        w = users[0].args[0] if users[0].args[1] is out else users[0].args[1]
        if getattr(w, "op", None) == "get_attr" and \
                isinstance(traced.attr(w.target), nn.Parameter) and \
                tuple(traced.attr(w.target).shape) == (_shape(x)[-1],) and \
                traced.tensor_users(w) == [users[0]]:
            weight = w
            back.append(out)
            absorbed.append(w)
            out = users[0]
            owner = [str(w.target).rpartition(".")[0]] if "." in str(w.target) else []
    absorbed += [n for n in back if n not in absorbed]
    absorbed = [n for n in absorbed if n is not out]
    layer = ("rmsnorm", _opts(affine=(weight is not None, True)), [x], *owner)
    return out, layer, absorbed
