"""Ops archcalc cannot model (``unknown``): what ``archcalc import --allow-unknown`` writes
for a call it has no layer type for, so that the rest of the network is still counted.

Its output shape is declared (the traced one), its parameters are stated (those its module
owns: counted, because ``parameters()`` counts them too), and its MACs are not counted:
every report that shows a spec with such a layer says so (``note``).
"""

from __future__ import annotations

from ..dims import resolve
from .backward import backward_zero
from .base import Arg, Ctx, Out, fmt_shape, register_layer
from .saves import saves_nothing

ZERO = {"macs": "{type}: an op archcalc cannot model; its MACs are not counted"}


@register_layer("unknown", family="opaque", merge=True, zero=ZERO, args={
    "shape": Arg("shape", doc="the output shape without the batch axis (as traced)"),
    "op": Arg("text", "", doc="the op it stands for, as the importer named it"),
    "params": Arg("int", 0, min=0, doc="parameters it owns, counted as stated"),
    "with": Arg("refs", (), doc="further inputs it reads"),
})
def unknown(ctx: Ctx) -> Out:
    """An op archcalc cannot model: the declared shape, the stated params, MACs not counted."""
    shape = tuple(ctx.shape)
    if not shape or any(resolve(d >= 1) is False for d in shape):
        ctx.fail(f"the declared shape must be positive sizes, got {fmt_shape(shape)}")
    return Out(shape=shape, params=ctx.term("params", ctx.params), rf=(None,) * len(shape))


def note(records) -> str | None:
    """The line a report adds when layers are unknown: how many, and what is not counted."""
    names = [r.name for r in records if r.type == "unknown" and r.kind == "layer"]
    if not names:
        return None
    shown = ", ".join(names[:3]) + (", …" if len(names) > 3 else "")
    one = len(names) == 1
    return (f"{len(names)} layer{'' if one else 's'} imported as unknown ({shown}): MACs, "
            f"FLOPs and saved activations exclude {'it' if one else 'them'}; "
            f"{'its' if one else 'their'} params are as stated")


# The backward pass (archcalc/layers/backward.py): not modelled, so not counted either.
backward_zero("{type}: an op archcalc cannot model; its backward is not counted", "unknown")
# Kept for backward: not modelled either, so counted as nothing (the note says so).
saves_nothing("{type}: an op archcalc cannot model; what it keeps for backward is not "
              "counted", "unknown")
