"""Builders for embeddings (mirrors archcalc/layers/embedding.py)."""

from __future__ import annotations

import torch
from torch import nn

from ..registry import BuildCtx, Source, batch_dim, builds, call, exports


class Lookup(nn.Module):
    """nn.Embedding reading the ids modulo its vocab: verify draws one tensor of ids for
    the whole network (archcalc/torch_backend/shapes.py, id_range), which embeddings of
    different vocabularies may share (BERT's token-type table has 2 rows). The remainder is
    not a matrix product: FlopCounterMode counts nothing for it, nor for the lookup."""

    def __init__(self, table: nn.Embedding):
        super().__init__()
        self.table = table

    @property
    def weight(self) -> nn.Parameter:
        """The table, [vocab, dim] (what a linear layer tied to it shares)."""
        return self.table.weight

    def forward(self, ids):
        return self.table(ids % self.table.num_embeddings)


@builds("embedding")
def embedding(b: BuildCtx) -> nn.Module:
    return Lookup(nn.Embedding(b.a["vocab"], b.a["dim"], padding_idx=b.a["padding_idx"]))


class LearnedTensor(nn.Module):
    """x + p, x · p (broadcasting; p has no batch axis, so it aligns with x's trailing
    axes), or torch.cat([p, x]) / torch.cat([x, p]) along ``dim`` with p expanded over the
    batch (torchvision's VisionTransformer: class_token.expand(n, -1, -1)). ``prefix``: the
    axis of p cut to x's size along ``dim`` before it is used (positions 0..n−1)."""

    def __init__(self, shape, op: str, dim: int, position: str, prefix: int | None,
                 init: str):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(shape) if init == "zeros" else
                                   torch.randn(shape) * 0.02)
        self.op, self.dim, self.position, self.prefix = op, dim, position, prefix

    def forward(self, x):
        p = self.weight
        if self.prefix is not None:
            p = p.narrow(self.prefix, 0, x.shape[self.dim])
        if self.op == "add":
            return x + p
        if self.op == "mul":
            return x * p
        p = p.expand(x.shape[0], *p.shape)
        return torch.cat([p, x] if self.position == "before" else [x, p], dim=self.dim)


@builds("parameter")
def parameter(b: BuildCtx) -> nn.Module:
    """In the receptive-field copies add and mul are the identity (element-wise: each unit
    keeps its input's field) and a concatenated tensor takes the input's sizes off the
    concatenation axis (a narrow copy has fewer channels)."""
    shape, op = tuple(b.a["shape"]), b.a["op"]
    rank = len(b.x)
    axis = b.a["dim"] % rank
    if b.linear or b.narrow:
        if op != "concat":
            return nn.Identity()
        shape = tuple(shape[axis] if i == axis else n for i, n in enumerate(b.x))
    prefix = axis - (rank - len(shape)) if b.a["rows"] == "prefix" else None
    return LearnedTensor(shape, op, batch_dim(axis), b.a["position"], prefix, b.a["init"])


@exports("embedding")
def export_embedding(b: BuildCtx) -> Source:
    """nn.Embedding; a table smaller than the network's id range (BERT's token types read
    from the same ids) reads them modulo its vocab, as the builder does."""
    vocab = b.a["vocab"]
    layer = call("nn.Embedding", vocab, b.a["dim"], padding_idx=(b.a["padding_idx"], None))
    small = b.id_range is not None and vocab < b.id_range
    return Source(layer, f"{{m}}({{0}} % {vocab})" if small else None)


@exports("parameter")
def export_parameter(b: BuildCtx) -> Source:
    """An nn.Parameter added, multiplied, or concatenated expanded over the batch
    (torchvision's class_token.expand(n, -1, -1)); ``rows: prefix`` as a slice of its
    first n entries."""
    shape, op = tuple(b.a["shape"]), b.a["op"]
    sizes = ", ".join(str(n) for n in shape)
    init = f"torch.zeros({sizes})" if b.a["init"] == "zeros" else f"torch.randn({sizes}) * 0.02"
    rank = len(b.x)
    axis = b.a["dim"] % rank
    p = "{m}"
    if b.a["rows"] == "prefix":
        prefix = axis - (rank - len(shape))
        p += "[" + ":, " * prefix + f":{b.x[axis]}]"
    if op == "add":
        expr = "{0} + " + p
    elif op == "mul":
        expr = "{0} * " + p
    else:
        p = f"{p}.expand({{0}}.shape[0]{', -1' * len(shape)})"
        items = f"{p}, {{0}}" if b.a["position"] == "before" else f"{{0}}, {p}"
        expr = f"torch.cat([{items}], dim={batch_dim(axis)})"
    return Source(f"nn.Parameter({init})", expr)
