"""Builders for embeddings (mirrors archcalc/layers/embedding.py)."""

from __future__ import annotations

from torch import nn

from ..registry import BuildCtx, builds


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
