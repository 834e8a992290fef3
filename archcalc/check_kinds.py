"""Claims beyond counts and shapes: ``depth`` (weight layers on the longest path, as
``compare`` counts them), ``elements`` (of the output), ``spatial`` (the output's spatial
size: ``16x16``, or ``"256 pixels"`` for their product) and ``compare`` (a relation or a
ratio between two places, in this network or in another spec).

``compare`` is written ``{<metric>: <relation or ratio>, than: <place>}``: the relation is
``<``, ``>``, ``=``, ``<=``, ``>=`` (or fewer, less, cheaper, smaller, more, larger, same);
a ratio is left / right, as ``"1/23"`` (the right side is about 23 times the left: right when
right / left rounds or truncates to 23), ``"0.72"`` or ``"2x"``. The place is a layer, block
or ``total`` of this spec, or another spec by path (``../resnet50.yaml``, its total; or
``../resnet50.yaml:layer1``).
"""

from __future__ import annotations

import re
from fractions import Fraction

from . import claims, dims
from .frozen import frozen
from .errors import SpecError

NUMERIC = ("depth", "elements")
COMPARED = ("params", "trainable_params", "non_trainable_params", "macs", "flops", "depth",
            "elements")
RELATIONS = {"<": "<", ">": ">", "=": "=", "==": "=", "<=": "<=", ">=": ">=", "≤": "<=",
             "≥": ">=", "fewer": "<", "less": "<", "cheaper": "<", "smaller": "<",
             "more": ">", "larger": ">", "same": "="}
_SPEC_PATH = re.compile(r"^(?P<path>.+?\.ya?ml)(?::(?P<at>.+))?$")
_TIMES = re.compile(r"^(?P<n>[\d.]+) ?[x×]$")
_PIXELS = re.compile(r"^(?P<n>.+?) ?(?:pixels?|px)$", re.IGNORECASE)


def value(analysis, conv, kind, obj, metric):
    """The value of ``metric`` at a place, as the convention counts it."""
    from .report.compare import weight_depth
    from .report.explain import output_node, record_of

    if metric == "depth":
        return weight_depth(analysis, output_node(analysis, kind, obj).id)
    rec = record_of(analysis, kind, obj)
    if metric == "elements":
        return dims.prod(rec.output_shape)
    return conv.count(rec, metric, frozen(analysis, kind, obj))


def derivation(analysis, kind, obj, metric, at: str, order) -> list:
    from .report.compare import weight_depth
    from .report.explain import output_node, record_of
    from .report.values import expr_text, human

    rec = record_of(analysis, kind, obj)
    if metric == "depth":
        node = output_node(analysis, kind, obj)
        return [f"depth({at}) = {weight_depth(analysis, node.id)}: the convolution and linear "
                "layers on the longest path from the input (the number in 'VGG-16')"]
    if metric == "elements":
        factors = "·".join(expr_text(d, order) for d in rec.output_shape)
        return [f"elements({at}) = {factors} = {human(dims.prod(rec.output_shape), order)}"]
    spatial = rec.output_shape[1:]
    return [f"spatial({at}) = {'×'.join(expr_text(d, order) for d in spatial)} (the output "
            f"{'×'.join(expr_text(d, order) for d in rec.output_shape)} without its channels)"]


def grade_spatial(claimed, expected_shape: tuple, symbols: dict, conditions) -> tuple:
    """(right, expected text): a shape of the spatial axes, one number for every axis, or
    ``"N pixels"`` for their product."""
    from .report.values import expr_text, human

    spatial = tuple(expected_shape[1:])
    if not spatial:
        raise SpecError(f"the output {list(expected_shape)} has no spatial axes")
    text = "×".join(expr_text(d, ()) for d in spatial)
    if isinstance(claimed, str):
        m = _PIXELS.match(" ".join(claimed.split()))
        if m:
            pixels = dims.prod(spatial)
            return claims.parse_number(m["n"], symbols).matches(pixels, conditions), \
                f"{text} = {human(pixels, ())} pixels"
    value = claims.parse_rf(claimed, symbols, len(spatial))
    return claims.same_tuple(value, spatial, conditions), text


def parse_compare(node) -> tuple:
    """``{macs: "<", than: b}`` → (metric, claim node, than text)."""
    if not node.is_map:
        raise SpecError("'compare' is a mapping such as {params: \"<\", "
                        "than: other_layer}}", node.loc)
    keys = [k for k in node.value if k != "than"]
    if "than" not in node.value or len(keys) != 1 or keys[0] not in COMPARED:
        raise SpecError(f"'compare' needs one metric ({', '.join(COMPARED)}) "
                        "and 'than' (a layer, block, total, or another spec's path)", node.loc)
    than = node.value["than"]
    if not isinstance(than.value, str) or not than.value.isprintable() or \
            len(than.value) > 1_000:
        raise SpecError("'than' must be one line of text naming a layer, "
                        "block, total or spec", than.loc)
    return keys[0], node.value[keys[0]], than.value


def other_place(than: str) -> tuple:
    """(spec path or None, place) that ``than`` names."""
    m = _SPEC_PATH.match(than.strip())
    if m:
        return m["path"], (m["at"] or "total").strip()
    return None, than.strip()


def judge(claimed, left, right) -> tuple:
    """(right, how): whether ``left <relation> right`` or ``left / right ≈ ratio`` holds."""
    if dims.is_symbolic(left) or dims.is_symbolic(right):
        raise SpecError("a comparison needs numbers; bind the spec's symbols with 'set:'")
    left, right = Fraction(int(left)), Fraction(int(right))
    if isinstance(claimed, str) and claimed.strip().lower() in RELATIONS:
        rel = RELATIONS[claimed.strip().lower()]
        ok = {"<": left < right, ">": left > right, "=": left == right,
              "<=": left <= right, ">=": left >= right}[rel]
        return ok, ""
    if isinstance(claimed, bool) or not isinstance(claimed, (str, int, float)):
        raise SpecError("a comparison is a relation (<, >, =, <=, >=) or a ratio (\"1/23\", "
                        "\"0.72\", \"2x\")")
    text, _ = claims.without_approximation(" ".join(str(claimed).split()))
    num, slash, den = text.partition("/")
    times = _TIMES.match(text)
    if times:
        return _ratio(times["n"], left, right)
    if slash and num.strip() == "1":
        if left == 0:
            return False, ""
        return _ratio(den.strip(), right, left, text)  # "1/23": right / left is about 23
    if slash:
        try:
            want = Fraction(int(num), int(den))
            if want <= 0:
                raise ValueError(want)
        except (ValueError, ZeroDivisionError):
            raise SpecError(f"'{text}' is not a ratio (\"1/23\", \"0.72\", \"2x\")") from None
        return right != 0 and left / right == want, "exact"
    return _ratio(text, left, right)


def _ratio(text: str, num: Fraction, den: Fraction, shown: str = "") -> tuple:
    """Whether ``num / den`` is the number ``text`` at the precision written: an integer is
    given to its last digit (``23`` accepts 22.5 … 24)."""
    if den == 0:
        return False, ""
    number = claims.parse_number(text, {})
    if dims.is_symbolic(number.value) or number.value <= 0:
        raise SpecError(f"'{shown or text}' is not a ratio: a ratio is a positive number "
                        "(\"1/23\", \"0.72\", \"2x\")")
    if not number.unit and number.value == int(number.value):
        number = claims.Number(number.value, Fraction(1), text, len(str(int(number.value))))
    how = number.how(num / den)
    return how is not None, how or ""
