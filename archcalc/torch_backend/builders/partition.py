"""Builders for window partitions (mirrors archcalc/layers/partition.py).

Written from torchvision's code, not from the rule: Swin's partition and reverse
(torchvision/models/swin_transformer.py, shifted_window_attention) and MaxViT's grid
(torchvision/models/maxvit.py, WindowPartition with p = H / partition_size, then
SwapAxes(-2, -3)), on a batched channels-last tensor [B, H, W, C].
"""

from __future__ import annotations

from torch import nn

from ..modules import Lambda
from ..registry import BuildCtx, Source, builds, exports


def _size(b: BuildCtx) -> tuple:
    size = b.a["size"]
    if not isinstance(size, (list, tuple)):
        return size, size
    return (size[0], size[0]) if len(size) == 1 else tuple(size)


@builds("windowpartition")
def windowpartition(b: BuildCtx) -> nn.Module:
    wh, ww = _size(b)
    grid = b.a["grid"]

    def partition(x):
        n, h, w, c = x.shape
        if grid:  # window (b, d) holds rows a·(H/gh) + b and columns c·(W/gw) + d
            x = x.reshape(n, wh, h // wh, ww, w // ww, c).permute(0, 2, 4, 1, 3, 5)
        else:
            x = x.reshape(n, h // wh, wh, w // ww, ww, c).permute(0, 1, 3, 2, 4, 5)
        return x.reshape(n, (h // wh) * (w // ww), wh * ww, c)

    return Lambda(partition, f"size=[{wh}, {ww}], grid={grid}")


@builds("windowmerge")
def windowmerge(b: BuildCtx) -> nn.Module:
    wh, ww = _size(b)
    h, w, grid = b.a["height"], b.a["width"], b.a["grid"]

    def merge(x):
        n, c = x.shape[0], x.shape[-1]
        if grid:
            x = x.reshape(n, h // wh, w // ww, wh, ww, c).permute(0, 3, 1, 4, 2, 5)
        else:
            x = x.reshape(n, h // wh, w // ww, wh, ww, c).permute(0, 1, 3, 2, 4, 5)
        return x.reshape(n, h, w, c)

    return Lambda(merge, f"size=[{wh}, {ww}], height={h}, width={w}, grid={grid}")


@exports("windowpartition")
def export_windowpartition(b: BuildCtx) -> Source:
    """[B, H, W, C] → [B, windows, wh·ww, C] as the builder's reshape and permute."""
    wh, ww = _size(b)
    h, w, c = b.x
    windows = (h // wh) * (w // ww)
    if b.a["grid"]:
        split, order = f"{wh}, {h // wh}, {ww}, {w // ww}", "0, 2, 4, 1, 3, 5"
    else:
        split, order = f"{h // wh}, {wh}, {w // ww}, {ww}", "0, 1, 3, 2, 4, 5"
    return Source(expr=f"{{0}}.reshape(-1, {split}, {c}).permute({order})"
                       f".reshape(-1, {windows}, {wh * ww}, {c})")


@exports("windowmerge")
def export_windowmerge(b: BuildCtx) -> Source:
    """[B, windows, wh·ww, C] → [B, H, W, C], the partition undone."""
    wh, ww = _size(b)
    h, w, c = b.a["height"], b.a["width"], b.x[-1]
    order = "0, 3, 1, 4, 2, 5" if b.a["grid"] else "0, 1, 3, 2, 4, 5"
    return Source(expr=f"{{0}}.reshape(-1, {h // wh}, {w // ww}, {wh}, {ww}, {c})"
                       f".permute({order}).reshape(-1, {h}, {w}, {c})")
