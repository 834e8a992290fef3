"""Channels-last shapes: H×W×C as Keras and much course material write them.

archcalc analyses every network channels first ([C, H, W], as PyTorch does); a spec or an
answer sheet that says ``layout: channels_last`` has its shapes read and written in the
other order, converted only at those edges. A Keras shape tuple, ``(None, 55, 55, 96)``
(the batch axis first, as ``None``), is channels last wherever it is written.
"""

from __future__ import annotations

from typing import Any

from .errors import SpecError

CHANNELS_FIRST, CHANNELS_LAST = "channels_first", "channels_last"
LAYOUTS = (CHANNELS_FIRST, CHANNELS_LAST)


def read(node) -> str:
    """The layout a ``layout:`` entry names (channels first when there is none)."""
    if node is None:
        return CHANNELS_FIRST
    if node.value not in LAYOUTS:
        raise SpecError(f"'layout' must be {CHANNELS_FIRST} ([C, H, W], the default) or "
                        f"{CHANNELS_LAST} ([H, W, C], as Keras writes shapes)", node.loc)
    return node.value


def of(graph) -> str:
    """The layout a spec's shapes are written in."""
    return getattr(graph, "layout", CHANNELS_FIRST)


def to_first(shape: tuple) -> tuple:
    """[H, W, C] → [C, H, W]; a shape of one axis (features) is the same in both."""
    return (shape[-1], *shape[:-1]) if len(shape) > 1 else tuple(shape)


def to_last(shape: tuple) -> tuple:
    """[C, H, W] → [H, W, C]."""
    return (*shape[1:], shape[0]) if len(shape) > 1 else tuple(shape)


def shown(shape: tuple, layout: str) -> tuple:
    """A channels-first shape in the order ``layout`` writes it."""
    return to_last(shape) if layout == CHANNELS_LAST else tuple(shape)


def keras_tuple(raw: Any):
    """``(None, 55, 55, 96)`` or ``[null, 55, 55, 96]`` → ``[55, 55, 96]`` (the batch axis
    dropped), or None when ``raw`` is not written that way."""
    if isinstance(raw, list) and len(raw) > 1 and raw[0] is None:
        return raw[1:]
    if isinstance(raw, str):
        text = raw.strip()
        if text[:1] in "([" and text[1:].lstrip()[:4].lower() == "none":
            rest = text[1:].lstrip()[4:].lstrip()
            if rest[:1] == ",":
                return text[0] + rest[1:].lstrip()
    return None
