"""What the saved-tensor tests share: the closed form of the bytes kept for backward against
PyTorch's saved-tensor hooks (per layer and in total), and hypothesis's filter of drawn
networks. Imported only by tests that have torch."""

from __future__ import annotations

import torch
from hypothesis import assume

from archcalc.activations import saved
from archcalc.analysis import analyse
from archcalc.errors import SpecError
from archcalc.spec.loader import load_string
from archcalc.torch_backend.saved import measure_saved


def assert_saved_exact(a, batch: int, dtype=torch.float32, nbytes: int = 4):
    """The modelled bytes equal the measured ones per layer and in total (layers marked
    ``trainable: false`` frozen in both); the model's result."""
    graph = a.graph
    expected = saved(a, nbytes, batch)
    frozen = frozenset(n.id for n in graph.nodes[1:] if n.args.get("trainable") is False)
    measured = measure_saved(graph, batch, dtype=dtype, frozen=frozen)
    assert expected.per_layer == {n.name: measured.per_node.get(n.id, 0)
                                  for n in graph.nodes[1:]}
    assert expected.total == measured.total
    return expected


def drawn(text: str):
    """The analysis of a drawn network; one whose sizes a layer refuses, or whose kept
    tensors are not modelled at batch 2, is not drawn."""
    try:
        a = analyse(load_string(text))
        saved(a, 4, 2)
    except SpecError:
        assume(False)
    return a
