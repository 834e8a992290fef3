"""What verify decides about the PyTorch copies from the graph alone, before torch is
imported: the batch size of the forward pass, whether the receptive-field copy may use
one channel, and whether the input is token ids (and their range)."""

from __future__ import annotations

BYTES_PER_ELEMENT = 8 * 3  # the receptive-field copy: float64 output, autograd's copy, gradient


def batch_size(graph) -> int:
    """1, or 2 when a batch norm without running statistics needs batch statistics."""
    for node in graph.nodes:
        if node.type.startswith("batchnorm") and not node.args.get("track_running_stats", True):
            return 2
    return 1


def narrow_safe(graph) -> bool:
    """True when a one-channel copy has the same spatial receptive fields as the network.

    The measurement sums the gradient over every channel of the measured output, so it is
    the union over channels; every layer that keeps all channels (convolutions with or
    without groups, shuffles, concatenations) has the same union at one channel. Layers
    that drop channels (a channel slice) or move channels into space (reshape, pixel
    shuffles), and products whose operands need not narrow alike (matmul, einsum), need
    the full width."""
    for node in graph.nodes[1:]:
        if node.type in ("pixelshuffle", "pixelunshuffle", "reshape", "matmul", "einsum"):
            return False
        if node.type == "slice" and (node.args.get("dim", 0) <= 0 or _has_permute(graph)):
            return False
    return True


def _has_permute(graph) -> bool:
    return any(node.type == "permute" for node in graph.nodes)


def reads_ids(graph) -> bool:
    """True when the network's input is token ids: the network has an embedding. No layer
    makes integer tensors, so an embedding reads the input itself or a shape operation of it
    (archcalc/layers/embedding.py)."""
    return any(node.type == "embedding" for node in graph.nodes)


def id_range(graph) -> int:
    """The ids verify feeds are drawn from 0..n−1, n the largest ``vocab`` of the network's
    embeddings (at a sample point every size is a number): the largest table is read across
    its rows, and each embedding's builder reads the ids modulo its own vocab, so that a
    smaller table sharing the input (BERT's token types, vocab 2) stays in range."""
    return max(int(node.args["vocab"]) for node in graph.nodes if node.type == "embedding")
