"""Embeddings: lookup tables read with integer ids (``nn.Embedding``).

The input of an embedding is a tensor of token ids (any shape, no batch axis), the
network's input (``input: [L]``) or a shape operation of it; each id selects one row of the
table, so ``[..] → [.., D]``. Counts follow torch 2.13 (torch/nn/modules/sparse.py, class
Embedding): the weight is ``Parameter(torch.empty((num_embeddings, embedding_dim)))``
(sparse.py:165), V·D parameters, the padding row included (it is zeroed, not removed,
sparse.py:183-186); the forward pass is ``F.embedding``, a gather: no multiply-accumulates
(FlopCounterMode, torch/utils/flop_counter.py, registers no formula for aten.embedding).

A lookup has no gradient with respect to its ids, so nothing downstream of an embedding has
a receptive field on the network's input: every output axis is marked as following none.

``parameter`` is a learned tensor (an ``nn.Parameter`` of the given shape, ∏shape
parameters) combined with the input: added or multiplied with PyTorch broadcasting, or
concatenated along one axis (a class token put first, as torchvision's VisionTransformer
does, ``torch.cat([class_token, x], dim=1)``). ``rows: prefix`` uses only its first n
entries along one axis, n the input's size there: GPT-2's and BERT's position tables
(``nn.Embedding(n_ctx, D)`` read at ``arange(L)``), whose L may be any length up to n_ctx.
"""

from __future__ import annotations

from ..dims import eq, prod, resolve
from .base import Arg, Ctx, Out, Window, fmt_shape, register_layer, weight_shape
from .costs import counts, counts_zero, record_params
from .saves import INT64, kept_input, kept_new, saves
from .terms import named

ZERO_MACS = {"macs": "a lookup (a gather of rows): no multiply-accumulates (zero on purpose)"}
ZERO_MACS_TENSOR = {"macs": "an element-wise add or mul, or a concatenation: no "
                            "multiply-accumulates (zero on purpose)"}


@register_layer(
    "embedding", family="embedding", zero=ZERO_MACS,
    args={"vocab": Arg("int", min=1, doc="num_embeddings: the ids are 0..vocab−1"),
          "dim": Arg("int", min=1, doc="embedding_dim: the features of each row"),
          "padding_idx": Arg("int", None, doc="a row kept at zero (−vocab ≤ padding_idx < "
                                              "vocab); still a parameter")},
)
def embedding(ctx: Ctx) -> Out:
    """Lookup table [..] ids → [.., D] (nn.Embedding): params V·D; MACs 0 (a gather)."""
    v, d = ctx.term("V", ctx.vocab), ctx.term("D", ctx.dim)
    pad = ctx.padding_idx
    if pad is not None:
        # sparse.py:152-158: "Padding_idx must be within num_embeddings"
        ctx.require(pad < ctx.vocab, f"padding_idx = {pad} is not below vocab = {ctx.vocab}")
        ctx.require(pad >= -ctx.vocab,
                    f"padding_idx = {pad} is below -vocab (vocab = {ctx.vocab})")
    rank = len(ctx.x) + 1
    return Out(shape=(*ctx.x, named("D", d)), params=v * d, rf=(None,) * rank)


@weight_shape("embedding")
def _embedding_weight(args: dict, x: tuple) -> tuple:
    """nn.Embedding.weight: [num_embeddings, embedding_dim] (sparse.py:165); a linear layer
    tied to it maps D features to V."""
    return (args["vocab"], args["dim"])


@register_layer(
    "parameter", family="embedding", zero=ZERO_MACS_TENSOR,
    args={"shape": Arg("shape", doc="the learned tensor's shape (no batch axis), aligned with "
                                    "the input's trailing axes"),
          "op": Arg("str", "add", choices=("add", "concat", "mul"),
                    doc="x + p, torch.cat of p and x along dim, or x · p"),
          "dim": Arg("int", 0, doc="concat: the axis (no batch axis); rows: prefix: the axis "
                                   "the table is cut along"),
          "position": Arg("str", "before", choices=("before", "after"),
                          doc="concat: p before x (a class token first) or after it"),
          "rows": Arg("str", "all", choices=("all", "prefix"),
                      doc="prefix: only the first n entries of the table along dim, n the "
                          "input's size there (positions 0..n−1 of a longer table)"),
          "init": Arg("str", "zeros", choices=("zeros", "normal"),
                      doc="the values PyTorch starts from (no count depends on them)")},
)
def parameter(ctx: Ctx) -> Out:
    """A learned tensor added, multiplied or concatenated (class token, positions): ∏shape."""
    x, table = tuple(ctx.x), tuple(ctx.shape)
    if any(resolve(d >= 1) is False for d in table):
        ctx.fail(f"a learned tensor's sizes must be positive, got {fmt_shape(table)}")
    if len(table) > len(x):
        ctx.fail(f"a learned tensor {fmt_shape(table)} has more axes than its input "
                 f"{fmt_shape(x)} (it is aligned with the input's trailing axes)")
    params = ctx.term("∏shape", prod(table))
    rank, lead = len(x), len(x) - len(table)
    if not -rank <= ctx.dim < rank:
        ctx.fail(f"dim {ctx.dim} is out of range for a rank-{rank} input {fmt_shape(x)}")
    axis = ctx.dim % rank
    used = list(table)
    if ctx.rows == "prefix":
        if axis < lead:
            ctx.fail(f"rows: prefix cuts axis {axis} of the input, which the learned tensor "
                     f"{fmt_shape(table)} does not have")
        n, have = x[axis], table[axis - lead]
        ctx.require(n <= have, f"the input has {n} entries along axis {axis}, more than the "
                               f"{have} rows of the table {fmt_shape(table)}")
        used[axis - lead] = n
    if ctx.op == "concat":
        if len(table) != rank:
            ctx.fail(f"concat needs a learned tensor of the input's rank {rank}, got "
                     f"{fmt_shape(table)}")
        for i in range(rank):
            if i != axis and resolve(eq(used[i], x[i])) is not True:
                ctx.require(eq(used[i], x[i]),
                            f"cannot concatenate {fmt_shape(used)} and {fmt_shape(x)} along "
                            f"axis {axis}: axis {i} differs ({used[i]} and {x[i]})")
        shape = tuple(used[i] + x[i] if i == axis else x[i] for i in range(rank))
        step = tuple(Window(1, 1, used[axis]) if i == axis and ctx.position == "before" else i
                     for i in range(rank))
        return Out(shape=shape, params=params, rf=step)
    shape, step = [], []
    for i, n in enumerate(x):
        t = used[i - lead] if i >= lead else 1
        if resolve(eq(t, 1)) is True or resolve(eq(t, n)) is True:
            shape.append(n)
            step.append(i)
        elif resolve(eq(n, 1)) is True:  # the input broadcast along the table's axis
            shape.append(t)
            step.append(None)
        else:
            ctx.require(eq(t, n), f"cannot {ctx.op} {fmt_shape(used)} to {fmt_shape(x)}: axis "
                                  f"{i} has sizes {t} and {n}")
            shape.append(n)
            step.append(i)
    return Out(shape=tuple(shape), params=params, rf=tuple(step))


# ---------------------------------------------------------------- other tools' counts
# FlopCounterMode (torch/utils/flop_counter.py): no formula for aten.embedding: zero.
counts_zero("flopcounter", "embedding")
# torchinfo: a non-conv layer adds each weight and bias numel × batch (as for linear).
counts("torchinfo", "embedding")(record_params)


# ---------------------------------------------------------------- kept for backward
# tools/autograd/derivatives.yaml, embedding: the weight's gradient reads the ids (int64),
# kept when the table is trainable. Each embedding is taken to read its own ids tensor
# (BERT's token types are a second input; verify's copy reads the ids modulo the vocab,
# a new tensor per table).
@saves("embedding")
def _embedding_keeps(v) -> list:
    return [kept_new(v.elements(v.x), INT64)] if v.trainable else []


@saves("parameter")
def _parameter_keeps(v) -> list:
    """Adding or concatenating a learned tensor keeps nothing; multiplying by it keeps the
    input (for the tensor's gradient)."""
    return [kept_input()] if v.arg("op") == "mul" and v.trainable else []
