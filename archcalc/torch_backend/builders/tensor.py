"""Builders for shape operations (mirrors archcalc/layers/tensor.py)."""

from __future__ import annotations

import torch
from torch import nn

from ..modules import IndexChannels, Lambda, Pad
from ..registry import BuildCtx, Source, batch_dim, builds, call, exports
from ..registry import literal


@builds("flatten")
def flatten(b: BuildCtx) -> nn.Module:
    """Spec axes have no batch axis: start/end shift by one (negative ones stay)."""
    start, end = batch_dim(b.a["start"]), batch_dim(b.a["end"])
    return nn.Flatten(start, end)


@builds("reshape")
def reshape(b: BuildCtx) -> nn.Module:
    shape = tuple(b.a["shape"])
    return Lambda(lambda x: x.reshape(x.shape[0], *shape), f"shape={list(shape)}")


@builds("permute")
def permute(b: BuildCtx) -> nn.Module:
    order = (0, *(d + 1 for d in b.a["dims"]))
    return Lambda(lambda x: x.permute(*order), f"dims={list(order)}")


def _pairs(value, n: int) -> tuple:
    """zeropad's padding: an int, one per spatial axis, or [before, after] pairs."""
    if not isinstance(value, (list, tuple)):
        return ((value, value),) * n
    if all(isinstance(v, (list, tuple)) for v in value):
        return tuple(tuple(v) for v in value)
    if len(value) == 1:
        return ((value[0], value[0]),) * n
    return tuple((v, v) for v in value)


@builds("zeropad")
def zeropad(b: BuildCtx) -> nn.Module:
    return Pad(_pairs(b.a["padding"], b.nd))


@builds("padchannels")
def padchannels(b: BuildCtx) -> nn.Module:
    """Zero channels before and after the input's (ResNet's option-A shortcut)."""
    before, after = b.a["before"], b.a["after"]

    def pad(x):
        spatial = (0, 0) * (x.dim() - 2)  # F.pad lists the last axis first
        return nn.functional.pad(x, (*spatial, before, after))

    return Lambda(pad, f"before={before}, after={after}")


@builds("crop")
def crop(b: BuildCtx) -> nn.Module:
    """Centre crop to the referenced output's size (or ``size``): offset ⌊(n − m)/2⌋."""
    target = tuple(b.a["like"][1:]) if b.a["like"] is not None else b.per_axis("size")

    def centre(x):
        for axis, m in enumerate(target):
            n = x.shape[axis + 2]
            x = x.narrow(axis + 2, (n - m) // 2, m)
        return x

    return Lambda(centre, f"size={list(target)}")


def _upsample_size_scale(b: BuildCtx) -> tuple:
    """nn.Upsample's ``size`` and ``scale_factor`` from the spec's arguments: ``like`` gives
    the named output's spatial size."""
    scale = b.a["scale"]
    if isinstance(scale, (list, tuple)):
        scale = tuple(float(v) for v in (scale * b.nd if len(scale) == 1 else scale))
    elif scale is not None:
        scale = float(scale)
    size = None if b.a["size"] is None else b.per_axis("size")
    if b.a.get("like") is not None:
        size = tuple(b.a["like"][1:])
    return size, scale


@builds("upsample")
def upsample(b: BuildCtx) -> nn.Module:
    size, scale = _upsample_size_scale(b)
    return nn.Upsample(size=size, scale_factor=scale, mode=b.a["mode"],
                       align_corners=b.a["align_corners"])


@builds("pixelshuffle")
def pixelshuffle(b: BuildCtx) -> nn.Module:
    return nn.PixelShuffle(b.a["factor"])


@builds("pixelunshuffle")
def pixelunshuffle(b: BuildCtx) -> nn.Module:
    return nn.PixelUnshuffle(b.a["factor"])


@builds("channelshuffle")
def channelshuffle(b: BuildCtx) -> nn.Module:
    """ShuffleNet's shuffle: view as [g, C/g], transpose, flatten back (the one-channel
    copy keeps its single channel: a permutation of channels leaves their union as is)."""
    g = b.a["groups"]
    if b.narrow:
        return nn.Identity()

    def shuffle(x):
        n, c = x.shape[:2]
        return x.reshape(n, g, c // g, *x.shape[2:]).transpose(1, 2).reshape(x.shape)

    return Lambda(shuffle, f"groups={g}")


@builds("indexchannels")
def indexchannels(b: BuildCtx) -> nn.Module:
    """torch.index_select on the channel axis with the index i mod C (i < count), a buffer:
    any valid index gives the same shape and counts (the narrow copy keeps its one channel)."""
    count = b.a["count"]
    if b.narrow:
        return nn.Identity()

    return IndexChannels(torch.arange(count) % b.x[0])


@builds("slice")
def slice_(b: BuildCtx) -> nn.Module:
    """x[start:stop] along one axis (Python's index semantics, negatives from the end)."""
    dim, start, stop = batch_dim(b.a["dim"]), b.a["start"], b.a["stop"]

    def keep(x):
        axis = dim % x.dim()
        return x[(slice(None),) * axis + (slice(start, stop),)]

    return Lambda(keep, f"dim={dim}, start={start}, stop={stop}")


@builds("roll")
def roll(b: BuildCtx) -> nn.Module:
    """torch.roll on the spec's axes (shifted past the batch axis); without dims each
    sample's flattened tensor is rolled, never the batch."""
    shifts, dims = b.a["shifts"], b.a["dims"]
    shifts = tuple(shifts) if isinstance(shifts, (list, tuple)) else (shifts,)
    if dims is None:
        return Lambda(lambda x: x.flatten(1).roll(shifts[0], 1).view(x.shape),
                      f"shifts={shifts[0]}, flattened")
    dims = tuple(dims) if isinstance(dims, (list, tuple)) else (dims,)
    axes = tuple(batch_dim(d) for d in dims)
    return Lambda(lambda x: x.roll(shifts, axes), f"shifts={list(shifts)}, dims={list(axes)}")


@exports("flatten")
def export_flatten(b: BuildCtx) -> Source:
    return Source(call("nn.Flatten", start_dim=(batch_dim(b.a["start"]), 1),
                       end_dim=(batch_dim(b.a["end"]), -1)))


@exports("reshape")
def export_reshape(b: BuildCtx) -> Source:
    sizes = ", ".join(literal(v) for v in b.a["shape"])
    return Source(expr=f"{{0}}.reshape({{0}}.shape[0], {sizes})")


@exports("permute")
def export_permute(b: BuildCtx) -> Source:
    order = ", ".join(str(d) for d in (0, *(d + 1 for d in b.a["dims"])))
    return Source(expr=f"{{0}}.permute({order})")


@exports("zeropad")
def export_zeropad(b: BuildCtx) -> Source:
    flat = []
    for before, after in reversed(_pairs(b.a["padding"], b.nd)):  # F.pad: last axis first
        flat += [before, after]
    if b.nd in (1, 2, 3):
        return Source(call(f"nn.ZeroPad{b.nd}d", tuple(flat)))
    return Source(expr=f"F.pad({{0}}, {literal(tuple(flat))})")


@exports("padchannels")
def export_padchannels(b: BuildCtx) -> Source:
    pads = (0, 0) * b.nd + (b.a["before"], b.a["after"])
    return Source(expr=f"F.pad({{0}}, {literal(pads)})")


@exports("upsample")
def export_upsample(b: BuildCtx) -> Source:
    size, scale = _upsample_size_scale(b)
    return Source(call("nn.Upsample", size=(size, None), scale_factor=(scale, None),
                       mode=(b.a["mode"], "nearest"),
                       align_corners=(b.a["align_corners"], None)))


@exports("pixelshuffle")
def export_pixelshuffle(b: BuildCtx) -> Source:
    return Source(call("nn.PixelShuffle", b.a["factor"]))


@exports("pixelunshuffle")
def export_pixelunshuffle(b: BuildCtx) -> Source:
    return Source(call("nn.PixelUnshuffle", b.a["factor"]))


@exports("channelshuffle")
def export_channelshuffle(b: BuildCtx) -> Source:
    return Source(call("nn.ChannelShuffle", b.a["groups"]))


@exports("slice")
def export_slice(b: BuildCtx) -> Source:
    axis = batch_dim(b.a["dim"]) % (len(b.x) + 1)
    start = "" if b.a["start"] is None else str(b.a["start"])
    stop = "" if b.a["stop"] is None else str(b.a["stop"])
    return Source(expr="{0}[" + ":, " * axis + f"{start}:{stop}]")


@exports("roll")
def export_roll(b: BuildCtx) -> Source:
    shifts, dims = b.a["shifts"], b.a["dims"]
    shifts = tuple(shifts) if isinstance(shifts, (list, tuple)) else (shifts,)
    if dims is None:  # each sample flattened, rolled, and given its shape back
        return Source(expr=f"torch.roll({{0}}.flatten(1), {shifts[0]}, 1).view_as({{0}})")
    dims = tuple(dims) if isinstance(dims, (list, tuple)) else (dims,)
    axes = tuple(batch_dim(d) for d in dims)
    return Source(expr=f"torch.roll({{0}}, {literal(shifts)}, {literal(axes)})")


@exports("crop")
def export_crop(b: BuildCtx) -> Source:
    """The centre crop as a slice per spatial axis: offset ⌊(n − m)/2⌋, length m."""
    target = tuple(b.a["like"][1:]) if b.a["like"] is not None else b.per_axis("size")
    cuts = []
    for n, m in zip(b.x[1:], target):
        start = (n - m) // 2
        cuts.append(f"{start}:{start + m}")
    return Source(expr="{0}[:, :, " + ", ".join(cuts) + "]")


def channel_index(count: int, channels: int) -> str:
    """The fixed index of a channel selection: 0..count−1, modulo the channels when it is
    longer (any valid index gives the same shapes and counts)."""
    return f"torch.arange({count})" + (f" % {channels}" if count > channels else "")


@exports("indexchannels")
def export_indexchannels(b: BuildCtx) -> Source:
    """torch.index_select on the channels with the index kept as a buffer."""
    return Source(expr="{0}.index_select(1, {b})",
                  buffer=("index", channel_index(b.a["count"], b.x[0])))
