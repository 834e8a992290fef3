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
"""

from __future__ import annotations

from .base import Arg, Ctx, Out, register_layer
from .costs import counts, counts_zero, record_params
from .terms import named

ZERO_MACS = {"macs": "a lookup (a gather of rows): no multiply-accumulates (zero on purpose)"}


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


# ---------------------------------------------------------------- other tools' counts
# FlopCounterMode (torch/utils/flop_counter.py): no formula for aten.embedding: zero.
counts_zero("flopcounter", "embedding")
# torchinfo: a non-conv layer adds each weight and bias numel × batch (as for linear).
counts("torchinfo", "embedding")(record_params)
