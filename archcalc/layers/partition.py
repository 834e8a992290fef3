"""Window partitions of a channels-last feature map (Swin, MaxViT) and their inverse.

``windowpartition`` regroups [H, W, C] into [(H/wh)·(W/ww), wh·ww, C]: one row of tokens per
window, windows in row-major order, tokens row-major inside each window. The layouts are
torchvision's (pytorch/vision):

* window partition: torchvision/models/swin_transformer.py, ``shifted_window_attention``
  ("partition windows": ``view(B, H/wh, wh, W/ww, ww, C)``, ``permute(0, 1, 3, 2, 4, 5)``,
  ``reshape(B·nW, wh·ww, C)``), the same as torchvision/models/maxvit.py ``WindowPartition``
  with p = the window size;
* grid partition (``grid: true``): maxvit.py ``PartitionAttentionLayer`` with
  partition_type "grid": ``WindowPartition`` with p = H / partition_size followed by
  ``SwapAxes(-2, -3)``; a window then holds the gh·gw positions ``(a·H/gh + b, c·W/gw + d)``
  for fixed (b, d), strided across the whole map.

``windowmerge`` is the inverse (swin_transformer.py "reverse windows"; maxvit.py
``SwapAxes`` then ``WindowDepartition``).

Receptive fields: every output element is a copy of one input element, but the window and
token axes each mix H and W (a token's image row depends on both its window index and its
position in the window), which a per-axis field (size, jump, start) cannot follow: archcalc
reports no field along them, and keeps the channel axis's (none either, for channels).
"""

from __future__ import annotations

from ..dims import divides, eq, floordiv
from .base import Arg, Ctx, Out, fmt_shape, register_layer
from .saves import saves_nothing

ZERO = {"params": "{type} has no parameters", "macs": "data movement only (zero on purpose)"}

_SIZE = {"size": Arg("ints", min=1, doc="window [wh, ww] (one value: square)"),
         "grid": Arg("bool", False, doc="MaxViT's grid partition: windows of strided "
                                        "positions")}


def _size(ctx: Ctx) -> tuple:
    size = ctx.per_axis("size", 2)
    if len(size) != 2:
        ctx.fail(f"'size' has {len(size)} values; a window has two sides [wh, ww]")
    return size


@register_layer("windowpartition", family="partition", zero=ZERO, args=dict(_SIZE))
def windowpartition(ctx: Ctx) -> Out:
    """[H, W, C] → [(H/wh)·(W/ww), wh·ww, C]: non-overlapping windows (grid: strided)."""
    if len(ctx.x) != 3:
        ctx.fail(f"expects a channels-last map [H, W, C], got {fmt_shape(ctx.x)} "
                 f"(rank {len(ctx.x)}); permute [C, H, W] with dims [1, 2, 0] first")
    h, w, c = ctx.x
    wh, ww = _size(ctx)
    what = "grid" if ctx.grid else "window"
    ctx.require(divides(wh, h), f"height {h} is not divisible by the {what} height {wh}")
    ctx.require(divides(ww, w), f"width {w} is not divisible by the {what} width {ww}")
    windows = floordiv(h, wh) * floordiv(w, ww)
    return Out(shape=(windows, wh * ww, c), rf=(None, None, 2))


@register_layer("windowmerge", family="partition", zero=ZERO,
                args={"size": _SIZE["size"],
                      "height": Arg("int", min=1, doc="H of the merged map"),
                      "width": Arg("int", min=1, doc="W of the merged map"),
                      "grid": _SIZE["grid"]})
def windowmerge(ctx: Ctx) -> Out:
    """[(H/wh)·(W/ww), wh·ww, C] → [H, W, C]: the inverse of windowpartition (same grid)."""
    if len(ctx.x) != 3:
        ctx.fail(f"expects windows [nW, T, C], got {fmt_shape(ctx.x)} (rank {len(ctx.x)})")
    n_windows, tokens, c = ctx.x
    wh, ww = _size(ctx)
    h, w = ctx.height, ctx.width
    what = "grid" if ctx.grid else "window"
    ctx.require(divides(wh, h), f"height {h} is not divisible by the {what} height {wh}")
    ctx.require(divides(ww, w), f"width {w} is not divisible by the {what} width {ww}")
    ctx.require(eq(tokens, wh * ww),
                f"{tokens} tokens per window is not {what} {wh}·{ww} = {wh * ww}")
    expected = floordiv(h, wh) * floordiv(w, ww)
    ctx.require(eq(n_windows, expected),
                f"{n_windows} windows is not (height/{wh})·(width/{ww}) = {expected} for a "
                f"{h}×{w} map")
    return Out(shape=(h, w, c), rf=(None, None, 2))


# Kept for backward: a window partition or merge is a reshape and a permutation (a copy):
# its gradient needs only sizes.
saves_nothing("{type}'s gradient needs only sizes: nothing kept",
              "windowpartition", "windowmerge")
