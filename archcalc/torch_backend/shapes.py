"""What verify decides about the PyTorch copies from the graph alone, before torch is
imported: the batch size of the forward pass, and whether the receptive-field copy may use
one channel."""

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
