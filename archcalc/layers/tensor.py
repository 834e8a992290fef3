"""Shape operations: flatten, reshape, permute, padding, cropping, resampling, shuffles."""

from __future__ import annotations

from ..dims import divides, eq, floordiv, is_symbolic, prod, resolve
from .backward import backward_zero
from .base import Arg, Ctx, Out, Window, fmt_shape, register_layer
from .costs import counts, counts_zero
from .saves import saves_nothing, view_of_input

# Why each metric without a formula is zero (checked by tests/test_explain.py).
ZERO = {"params": "{type} has no parameters", "macs": "data movement only (zero on purpose)"}


def _axis(ctx: Ctx, i: int, name: str) -> int:
    rank = len(ctx.x)
    if not -rank <= i < rank:
        ctx.fail(f"{name} {i} is out of range for a rank-{rank} input {fmt_shape(ctx.x)}")
    return i % rank


@register_layer("flatten", family="tensor", zero=ZERO,
                args={"start": Arg("int", 0), "end": Arg("int", -1)})
def flatten(ctx: Ctx) -> Out:
    """Merge axes start..end (no batch axis: the default flattens everything to [C·H·W])."""
    start, end = _axis(ctx, ctx.start, "start"), _axis(ctx, ctx.end, "end")
    if start > end:
        ctx.fail(f"start {ctx.start} comes after end {ctx.end}")
    merged = prod(ctx.x[start:end + 1])
    shape = (*ctx.x[:start], merged, *ctx.x[end + 1:])
    single = start == end
    rf = (*range(start), start if single else None, *range(end + 1, len(ctx.x)))
    return Out(shape=shape, rf=rf)


@register_layer("reshape", family="tensor", zero=ZERO,
                args={"shape": Arg("shape", doc="target shape without the batch axis; one -1")})
def reshape(ctx: Ctx) -> Out:
    """View the tensor with another shape of the same number of elements."""
    target = list(ctx.shape)
    total = prod(ctx.x)
    if target.count(-1) > 1:
        ctx.fail("only one -1 is allowed in a reshape")
    if any(d != -1 and resolve(d >= 1) is False for d in target):
        ctx.fail(f"sizes in a reshape must be positive (or one -1), got {target}")
    if -1 in target:
        known = prod([d for d in target if d != -1])
        ctx.require(divides(known, total),
                    f"cannot reshape {fmt_shape(ctx.x)} ({total} elements) to {target}")
        target[target.index(-1)] = floordiv(total, known)
    else:
        ctx.require(eq(prod(target), total),
                    f"cannot reshape {fmt_shape(ctx.x)} ({total} elements) to {list(ctx.shape)}")
    return Out(shape=tuple(target), rf=(None,) * len(target))


@register_layer("permute", family="tensor", zero=ZERO,
                args={"dims": Arg("shape", doc="new order of the axes (no batch axis)")})
def permute(ctx: Ctx) -> Out:
    """Reorder axes, e.g. [1, 2, 0] takes [C, H, W] to [H, W, C]."""
    order = list(ctx.dims)
    if sorted(order) != list(range(len(ctx.x))):
        ctx.fail(f"dims {order} is not a permutation of the {len(ctx.x)} axes of "
                 f"{fmt_shape(ctx.x)}")
    return Out(shape=tuple(ctx.x[i] for i in order), rf=tuple(order))


def _spatial_pairs(ctx: Ctx, value, name: str) -> tuple:
    """Padding as (before, after) per spatial axis from an int, a list, or a list of pairs."""
    n = len(ctx.x) - 1
    if not isinstance(value, (list, tuple)):
        return ((value, value),) * n
    if all(isinstance(v, (list, tuple)) for v in value):
        if len(value) != n or any(len(v) != 2 for v in value):
            ctx.fail(f"'{name}' needs {n} [before, after] pairs, one per spatial axis")
        return tuple(tuple(v) for v in value)
    if len(value) == 1:
        return ((value[0], value[0]),) * n
    if len(value) != n:
        ctx.fail(f"'{name}' has {len(value)} values; the input has {n} spatial axes")
    return tuple((v, v) for v in value)


@register_layer("zeropad", family="tensor", zero=ZERO,
                args={"padding": Arg("any", doc="int, one per axis, or [before, after] pairs")})
def zeropad(ctx: Ctx) -> Out:
    """Zero-pad the spatial axes: n → before + n + after."""
    pairs = _spatial_pairs(ctx, ctx.padding, "padding")
    for b, a in pairs:
        if not all(isinstance(v, int) or is_symbolic(v) for v in (b, a)):
            ctx.fail("padding values must be whole numbers")
        ctx.require(b >= 0, f"padding {b} is negative")
        ctx.require(a >= 0, f"padding {a} is negative")
    shape = (ctx.x[0], *(b + n + a for n, (b, a) in zip(ctx.spatial, pairs)))
    return Out(shape=shape, rf=(None, *(Window(1, 1, b) for b, _ in pairs)))


@register_layer("padchannels", family="tensor", zero=ZERO,
                args={"before": Arg("int", 0, min=0, doc="zero channels put before the input's"),
                      "after": Arg("int", 0, min=0, doc="zero channels put after them")})
def padchannels(ctx: Ctx) -> Out:
    """Zero-pad the channel axis: C → before + C + after (ResNet's parameter-free option-A
    shortcut, He et al. 2015 §4.2; PyTorch ``F.pad(x, (0, 0, 0, 0, before, after))``)."""
    if len(ctx.x) < 2:
        ctx.fail(f"expects a [C, *spatial] input, got {fmt_shape(ctx.x)}")
    return Out(shape=(ctx.before + ctx.x[0] + ctx.after, *ctx.x[1:]))


@register_layer("crop", family="tensor", zero=ZERO,
                args={"like": Arg("ref", None, doc="centre-crop to this named output's size"),
                      "size": Arg("ints", None, min=1, doc="or to this size")})
def crop(ctx: Ctx) -> Out:
    """Centre crop of the spatial axes: offset ⌊(n − m)/2⌋ (U-Net's skip connections)."""
    if (ctx.like is None) == (ctx.size is None):
        ctx.fail("give exactly one of 'like' and 'size'")
    n_sp = len(ctx.x) - 1
    if ctx.like is not None:
        target = tuple(ctx.like[1:])
        if len(target) != n_sp:
            ctx.fail(f"'like' output {fmt_shape(ctx.like)} has another rank than the input "
                     f"{fmt_shape(ctx.x)}")
    else:
        target = ctx.per_axis("size", n_sp)
    windows = []
    for n, m in zip(ctx.spatial, target):
        ctx.require(m <= n, f"cannot crop {n} to the larger size {m}")
        windows.append(Window(1, 1, -floordiv(n - m, 2)))
    return Out(shape=(ctx.x[0], *target), rf=(None, *windows))


def _scaled(n, scale):
    """PyTorch's interpolate size: the IEEE double product truncated (§1.7), not exact."""
    if is_symbolic(n) or is_symbolic(scale):
        import sympy as sp

        return sp.floor(n * sp.nsimplify(scale))
    return int(float(n) * float(scale))


_INT64_END = 2**63  # PyTorch's sizes are int64

_UPSAMPLE_AXES = {"linear": (1,), "bilinear": (2,), "bicubic": (2,), "trilinear": (3,)}


@register_layer("upsample", family="tensor", zero=ZERO,
                args={"scale": Arg("any", None, doc="factor, one or one per axis"),
                      "size": Arg("ints", None, min=1, doc="or the output size"),
                      "like": Arg("ref", None, doc="or the spatial size of this named output"),
                      "mode": Arg("str", "nearest", choices=(
                          "nearest", "linear", "bilinear", "bicubic", "trilinear", "area",
                          "nearest-exact")),
                      "align_corners": Arg("bool", None, nullable=True)})
def upsample(ctx: Ctx) -> Out:
    """Resize the spatial axes by ``scale`` (⌊n·scale⌋ in double precision) or to ``size``
    (``like``: a named output's spatial size, U-Net's decoder meeting its skip)."""
    n_sp = len(ctx.x) - 1
    wanted = _UPSAMPLE_AXES.get(ctx.mode, (1, 2, 3))
    if n_sp not in wanted:  # PyTorch: "Only 3D, 4D and 5D input Tensors supported" (batched)
        need = f"{wanted[0]} to {wanted[-1]}" if len(wanted) > 1 else str(wanted[0])
        ctx.fail(f"mode '{ctx.mode}' needs {need} spatial axes, got {n_sp}")
    if ctx.align_corners is not None and ctx.mode not in ("linear", "bilinear", "bicubic",
                                                          "trilinear"):
        ctx.fail(f"align_corners only applies to the modes linear, bilinear, bicubic and "
                 f"trilinear, not '{ctx.mode}' (PyTorch refuses it)")
    if sum(v is not None for v in (ctx.scale, ctx.size, ctx.like)) != 1:
        ctx.fail("give exactly one of 'scale', 'size' and 'like'")
    if ctx.like is not None:
        out = tuple(ctx.like[1:])
        if len(out) != n_sp:
            ctx.fail(f"'like' output {fmt_shape(ctx.like)} has another rank than the input "
                     f"{fmt_shape(ctx.x)}")
    elif ctx.size is not None:
        out = ctx.per_axis("size", n_sp)
    else:
        scales = ctx.per_axis("scale", n_sp)
        for sc in scales:
            if not is_symbolic(sc) and (isinstance(sc, bool) or not isinstance(sc, (int, float))
                                        or sc <= 0):
                ctx.fail(f"scale must be a positive number, got {sc!r}")
            if not is_symbolic(sc) and sc >= _INT64_END:
                ctx.fail(f"scale {sc} gives sizes past PyTorch's 64-bit sizes (below 2^63)")
        out = tuple(_scaled(n, sc) for n, sc in zip(ctx.spatial, scales))
        for n, o in zip(ctx.spatial, out):
            ctx.require(o >= 1, f"scaling size {n} gives output size {o}; it must be ≥ 1")
            if not is_symbolic(o) and o >= _INT64_END:  # PyTorch refuses the int64 cast
                ctx.fail(f"scaling size {n} gives output size {o}, past PyTorch's 64-bit "
                         "sizes (below 2^63)")
    return Out(shape=(ctx.x[0], *out), rf=(None,) * (n_sp + 1))


@register_layer("pixelshuffle", family="tensor", zero=ZERO, args={"factor": Arg("int", min=1)})
def pixelshuffle(ctx: Ctx) -> Out:
    """[C·r², H, W] → [C, H·r, W·r]."""
    ctx.expect_rank(3, "[C, H, W]")
    c, h, w = ctx.x
    r = ctx.factor
    ctx.require(divides(r * r, c), f"channels {c} are not divisible by factor² = {r * r}")
    return Out(shape=(floordiv(c, r * r), h * r, w * r), rf=(None, None, None))


@register_layer("pixelunshuffle", family="tensor", zero=ZERO, args={"factor": Arg("int", min=1)})
def pixelunshuffle(ctx: Ctx) -> Out:
    """[C, H·r, W·r] → [C·r², H, W]."""
    ctx.expect_rank(3, "[C, H, W]")
    c, h, w = ctx.x
    r = ctx.factor
    for n in (h, w):
        ctx.require(divides(r, n), f"spatial size {n} is not divisible by factor {r}")
    return Out(shape=(c * r * r, floordiv(h, r), floordiv(w, r)),
               rf=(None, Window(r, r, 0), Window(r, r, 0)))


@register_layer("channelshuffle", family="tensor", zero=ZERO, args={"groups": Arg("int", min=1)})
def channelshuffle(ctx: Ctx) -> Out:
    """Interleave channels across ``groups`` groups (ShuffleNet): same shape."""
    ctx.require(divides(ctx.groups, ctx.x[0]),
                f"groups {ctx.groups} does not divide the channels {ctx.x[0]}")
    return Out(shape=ctx.x)


@register_layer("indexchannels", family="tensor", zero=ZERO,
                args={"count": Arg("int", min=1, doc="channels selected (repeats allowed)")})
def indexchannels(ctx: Ctx) -> Out:
    """Select ``count`` channels by index (torch.index_select): [C, …] → [count, …].

    The index is learned or fixed, repeats allowed (CondenseNet's condensed layers), and
    kept as a buffer of ``count`` integers."""
    return Out(shape=(ctx.count, *ctx.x[1:]), buffers=ctx.term("count", ctx.count),
               rf=(None, *range(1, len(ctx.x))))


def _index(ctx: Ctx, i, n, name: str):
    """A Python index into an axis of size ``n``: a negative one counts from the end."""
    if is_symbolic(i) or i >= 0:
        return i
    ctx.require(-i <= n, f"{name} {i} is before the start of an axis of size {n}")
    return n + i


@register_layer("slice", family="tensor", zero=ZERO,
                args={"start": Arg("int", 0, doc="first index kept; negative: from the end"),
                      "stop": Arg("int", None, nullable=True,
                                  doc="one past the last index kept (default: the end)"),
                      "dim": Arg("int", 0, doc="axis (no batch axis); default channels")})
def slice_(ctx: Ctx) -> Out:
    """Keep indices start..stop−1 of one axis, as x[start:stop] (ShuffleNet's channel split)."""
    axis = _axis(ctx, ctx.dim, "dim")
    n = ctx.x[axis]
    start = _index(ctx, ctx.start, n, "start")
    stop = n if ctx.stop is None else _index(ctx, ctx.stop, n, "stop")
    ctx.require(stop <= n, f"stop {stop} is past the end of axis {axis} (size {n})")
    shown = n if ctx.stop is None else ctx.stop
    ctx.require(start < stop, f"start {ctx.start} is not before stop {shown} on an axis of "
                f"size {n}: nothing is kept")
    shape = tuple(stop - start if i == axis else d for i, d in enumerate(ctx.x))
    rf = None if axis == 0 else tuple(
        Window(1, 1, -start) if i == axis else i for i in range(len(ctx.x)))
    return Out(shape=shape, rf=rf)



@register_layer("roll", family="tensor", zero=ZERO,
                args={"shifts": Arg("ints", doc="places each axis moves (torch.roll's shifts)"),
                      "dims": Arg("ints", None, nullable=True,
                                  doc="axes rolled (no batch axis; negative from the end); "
                                      "default: the flattened tensor")})
def roll(ctx: Ctx) -> Out:
    """Cyclic shift, as torch.roll: same shape; no field along a rolled axis (it wraps)."""
    shifts = ctx.shifts if isinstance(ctx.shifts, tuple) else (ctx.shifts,)
    if ctx.dims is None:
        if len(shifts) != 1:  # torch: "shifts and dimensions must align"
            ctx.fail(f"{len(shifts)} shifts need as many 'dims' (without dims the flattened "
                     "tensor is rolled by one shift)")
        if resolve(eq(shifts[0] % prod(ctx.x), 0)) is True:
            return Out(shape=ctx.x)  # a whole number of turns: the identity
        return Out(shape=ctx.x, rf=(None,) * len(ctx.x))
    axes = ctx.dims if isinstance(ctx.dims, tuple) else (ctx.dims,)
    if len(axes) != len(shifts):
        ctx.fail(f"{len(shifts)} shifts and {len(axes)} dims: torch.roll needs one shift per "
                 "axis")
    net: dict = {}
    for shift, dim in zip(shifts, axes):
        axis = _axis(ctx, dim, "dims entry")
        net[axis] = net.get(axis, 0) + shift
    # torch.roll moves element i to (i + shift) mod n. Output unit j reads input
    # (j − shift) mod n: one position, but where it wraps the position jumps by n, which no
    # (size, jump, start) describes; a shift ≡ 0 (mod n) leaves the axis as it is.
    moved = {a for a, s in net.items() if resolve(eq(s % ctx.x[a], 0)) is not True}
    return Out(shape=ctx.x, rf=tuple(None if i in moved else i for i in range(len(ctx.x))))


# ---------------------------------------------------------------- other tools' counts
@counts("fvcore", "upsample")
def _fvcore_upsample(v):
    """upsample_nearest2d: output numel; upsample_bilinear2d: 4·output numel; others 0."""
    if v.spatial_rank != 2:
        return 0
    return {"nearest": 1, "bilinear": 4}.get(v.arg("mode"), 0) * v.n_out


# ptflops/pytorch_ops.py (0.7.5): module hook plus the patched F.interpolate.
@counts("ptflops", "upsample")
def _ptflops_upsample(v):
    """upsample_flops_counter_hook (output numel) + the patched F.interpolate (output)."""
    return 2 * v.n_out


# thop/vision/basic_hooks.py (0.1.1.post2209072238)
counts_zero("thop", "pixelshuffle", "zeropad")


@counts("thop", "upsample")
def _thop_upsample(v):
    """count_upsample: output numel × 1 (nearest), 5 (linear), 11 (bilinear), 259
    (bicubic); trilinear is not implemented (0)."""
    return {"nearest": 1, "linear": 5, "bilinear": 11, "bicubic": 259}.get(
        v.arg("mode"), 0) * v.n_out


# The backward pass (archcalc/layers/backward.py): no multiply-accumulates.
backward_zero(
    "a shape operation's backward moves, pads or sums the gradient back: no products",
    "flatten", "reshape", "permute", "zeropad", "padchannels", "crop", "upsample",
    "pixelshuffle", "pixelunshuffle", "channelshuffle", "slice", "roll", "indexchannels")

# ---------------------------------------------------------------- kept for backward
# The gradients of views, copies, constant pads, nearest/linear interpolation, shuffles and
# rolls need only sizes (derivatives.yaml: view, permute, slice, narrow, constant_pad_nd,
# upsample_*, roll, pixel_shuffle): nothing is kept.
saves_nothing("{type}'s gradient needs only sizes: nothing kept",
              "flatten", "reshape", "permute", "zeropad", "padchannels", "crop", "upsample",
              "pixelshuffle", "pixelunshuffle", "channelshuffle", "slice", "roll")
# index_select's gradient (derivatives.yaml: index_select_backward) needs the input's sizes
# and the index, a constant of the module: no activation is kept.
saves_nothing("{type}'s gradient needs only sizes and the index: nothing kept", "indexchannels")
view_of_input("view", "flatten", "reshape")
view_of_input("strided", "permute", "slice", "crop")
