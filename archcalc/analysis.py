"""Walk the graph in order and compute, per layer and per group, the closed-form results.

Each node's rule gives its output shape, parameters, buffers, MACs and receptive-field step;
this module chains them, sums groups and totals, and simplifies symbolic results.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from . import dims, expr, limits, periodic
from .errors import LimitReached, SpecError, TimeLimitExceeded, Unbound, progress
from .graph import Graph
from .layers import REGISTRY, Window
from .layers.base import WEIGHT_SHAPES, Ctx, LayerError, Weight, fmt_shape
from .layers.base import UNION


class LayerFailure(SpecError):
    """A layer's rule refused its inputs: the message speaks of the numbers it got; ``node``
    and ``graph`` let an entry point name the condition that bound symbol values violate
    (``spec.conditions.restate``)."""

    def __init__(self, message: str, node, graph: Graph):
        super().__init__(message, node.loc, node.name)
        self.node, self.graph = node, graph


@dataclass(frozen=True)
class AxisRF:
    """Receptive field along one input axis: ``size`` input positions, ``jump`` (effective
    stride) between neighbouring output units, ``start`` = first input index of unit 0
    (negative when the field reaches into the padding)."""

    size: Any
    jump: Any
    start: Any


@dataclass(frozen=True)
class Record:
    name: str
    local: str
    type: str
    depth: int
    kind: str  # "layer" or "group"
    output_shape: tuple
    params: Any  # trainable parameters
    buffers: Any  # non-trainable state (BatchNorm running statistics)
    macs: Any
    activations: Any  # elements of the output
    rf: tuple | None  # AxisRF per spatial axis; None when the output has none
    loc: Any = None
    id: int = 0  # node id (layers) or group id (groups)
    times: Any = 1  # a repeat over a free symbol: its passes (the counts are of them all)

    @property
    def flops(self):
        return 2 * self.macs


@dataclass(frozen=True)
class Analysis:
    graph: Graph
    records: tuple  # display order: groups before their members
    layers: tuple  # one Record per node (index = node id; index 0 is the input)
    total: Record
    conditions: tuple  # (condition, message, loc) that must hold for the closed forms
    # Per node (index = node id), from the same walk: the rule's receptive-field step (None,
    # UNION, or per output axis a Window, an input axis index, or None), the field of every
    # output axis (None where it has none: channels, flattened axes), and per output axis the
    # network-input axis it follows (None where it follows none).
    steps: tuple = ()
    fields: tuple = ()
    sources: tuple = ()
    # The output node of each repeat over free symbols → [(group, the field before its
    # passes were counted)], innermost first: the field there after one pass.
    pass_fields: dict = field(default_factory=dict)
    counted_by: str | None = None  # the tool profile whose counts the records hold, if any

    @property
    def stated_conditions(self) -> tuple:
        """The conditions as a person states them: each once, a size's lower bounds reduced
        to the one that binds (archcalc/validity.py); equivalent to ``conditions``."""
        if "_stated" not in self.__dict__:  # frozen: cached beside the fields
            from .validity import stated

            self.__dict__["_stated"] = stated(self.conditions)
        return self.__dict__["_stated"]

    def axis_fields(self, node_id: int) -> tuple:
        """Per output axis of the node: (the network-input axis it follows, or None; its
        AxisRF, or None)."""
        return tuple(zip(self.sources[node_id], self.fields[node_id]))

    def resummed(self, layers) -> "Analysis":
        """This analysis with other per-layer records (one per node, the input first): the
        groups and the total summed again from them; fields and conditions kept."""
        layers = tuple(layers)
        groups = [group_record(self.graph, g, layers) for g in self.graph.groups]
        records = tuple(groups[i] if kind == "group" else layers[i]
                        for kind, i in self.graph.rows)
        return replace(self, records=records, layers=layers,
                       total=total_record(self.graph, layers))

    def record(self, name: str) -> Record | None:
        for r in self.records:
            if r.name == name or r.local == name:
                return r
        if name == "total":
            return self.total
        return None


def channels_last_hint(shape: tuple) -> str:
    """A hint for an error when the network's input looks channels-last ([227, 227, 3]): the
    spec's input is channels first, as in PyTorch."""
    if len(shape) >= 3 and all(isinstance(d, int) for d in shape) and shape[-1] in (1, 3, 4) \
            and min(shape[:-1]) > 4:
        first = [shape[-1], *shape[:-1]]
        return (f"; the network's input {fmt_shape(shape)} looks channels-last: a spec's input "
                f"is channels first, {fmt_shape(tuple(first))}, unless the spec says "
                "'layout: channels_last'")
    return ""


def analyse(graph: Graph) -> Analysis:
    """The one walk: each node's rule, in order, chained (see the module docstring)."""
    at = progress()  # the layer at hand, for a time-out's message
    try:
        return _walk(graph, at)
    finally:
        at.loc = None


def _walk(graph: Graph, at) -> Analysis:
    shapes: list = [graph.input_shape]
    rfs: list = [input_rf(graph.input_shape)]
    sources: list = [input_sources(graph.input_shape)]
    steps: list = [None]
    layers: list = [_record_for_input(graph)]
    conditions: list = list(graph.whole_values)  # the loader's: values that must be whole
    seen: set = set()
    bounds = (expr.int_bits_limit(), limits.current().max_form_size)  # read once, not per layer
    closing = repeats_closing(graph)
    pass_fields: dict = {}
    for node in graph.nodes[1:]:
        at.loc = node.loc
        rule = REGISTRY[node.type]
        ctx = rule_context(node, shapes, graph.nodes)
        try:
            out = rule.fn(ctx)
        except LayerError as e:
            raise LayerFailure(f"{node.type} '{node.local}': {e.message} (input "
                               f"{' and '.join(fmt_shape(s) for s in ctx.xs)})"
                               f"{channels_last_hint(graph.input_shape)}", node, graph) \
                from None
        except TimeLimitExceeded as e:
            e.loc = e.loc or node.loc  # say which layer the closed form exploded at
            raise
        except (TypeError, ValueError, ZeroDivisionError, ArithmeticError, RecursionError) as e:
            raise SpecError(f"{node.type} '{node.local}': cannot compute with these values "
                            f"({type(e).__name__}: {e})", node.loc) from None
        for c, m in ctx.conditions:  # once per layer (a square kernel gives H and W the same)
            if (c, node.loc) not in seen:
                seen.add((c, node.loc))
                conditions.append((c, f"{node.type} '{node.local}': {m}", node.loc))
        shape = tuple(dims.simplify(d) for d in out.shape)
        shapes.append(shape)
        rf = step_rf(out.rf, [rfs[i] for i in node.inputs], ctx.xs, shape)
        rfs.append(rf)
        sources.append(step_sources(out.rf, [sources[i] for i in node.inputs], shape))
        steps.append(out.rf)
        record = Record(
            node.name, node.local, node.type, node.depth, "layer", shape,
            dims.simplify(out.params), dims.simplify(out.buffers), dims.simplify(out.macs),
            dims.simplify(dims.prod(shape)), _spatial(rf), node.loc, node.id,
        )
        check_magnitude(record, f"{node.type} '{node.local}'", bounds)
        layers.append(record)
        for group in closing.get(node.id, ()):
            pass_fields.setdefault(node.id, []).append((group, _spatial(rfs[node.id])))
            rfs[node.id] = _after_passes(graph, group, shapes, rfs, conditions)
            layers[node.id] = replace(record, rf=_spatial(rfs[node.id]))
    groups = [group_record(graph, g, layers) for g in graph.groups]
    records = tuple(groups[i] if kind == "group" else layers[i] for kind, i in graph.rows)
    return Analysis(graph, records, tuple(layers), total_record(graph, layers),
                    tuple(conditions), tuple(steps), tuple(rfs), tuple(sources), pass_fields)


def rule_context(node, shapes: list, nodes: list) -> Ctx:
    """What a node's rule is called with, given the output shape of every node so far
    ('ref' arguments become the referenced shapes, 'weight' arguments the named layer's
    ``Weight``; ``nodes``: the graph's nodes). Verify and explain replay rules with it."""
    rule = REGISTRY[node.type]
    args = {k: _resolve_ref(v, rule.args[k].kind, shapes, nodes) if k in rule.args else v
            for k, v in node.args.items()}
    return Ctx(node.type, [shapes[i] for i in node.inputs], args, rule.nd)


def _resolve_ref(value, kind: str, shapes: list, nodes: list):
    if kind == "ref" and value is not None:
        return shapes[value]
    if kind == "refs":
        return tuple(shapes[v] for v in value)
    if kind == "weight" and value is not None:
        target = nodes[value]
        of = WEIGHT_SHAPES.get(target.type)
        shape = None if of is None else tuple(of(target.args, shapes[target.inputs[0]]))
        return Weight(target.type, target.local, shape)
    return value


def _record_for_input(graph: Graph) -> Record:
    shape = graph.input_shape
    record = Record("input", "input", "input", 0, "layer", shape, 0, 0, 0, dims.prod(shape),
                    _spatial(input_rf(shape)), graph.nodes[0].loc if graph.nodes else None)
    check_magnitude(record, "input")
    return record


def check_magnitude(record: Record, what: str, bounds: tuple | None = None) -> None:
    """Refuse a layer whose shape, parameters or MACs are integers too large to print (or
    closed forms with such coefficients), or closed forms that grew past ``max_form_size``
    (each layer's work grows with them): bad input, located at the layer."""
    bits, size = bounds or (expr.int_bits_limit(), limits.current().max_form_size)
    named = [("output shape", d) for d in record.output_shape]
    named += [("parameter count", record.params), ("buffer count", record.buffers),
              ("MAC count", record.macs), ("output element count", record.activations)]
    named += [("receptive field", v) for a in record.rf or () for v in (a.size, a.jump, a.start)]
    for name, value in named:
        if type(value) is int and value.bit_length() <= bits:
            continue  # the numeric path: one test per value
        if _bits(value) > bits:
            raise LimitReached(f"{what}: its {name} has more than {bits} bits",
                               "max_int_bits", record.loc)
        bound = size * 4 if name == "receptive field" else size  # sums: cheap to grow
        if dims.form_size(value, bound) > bound:
            free = ", ".join(sorted(str(s) for s in value.free_symbols))
            raise LimitReached(f"{what}: the closed form of its {name} in {free} has grown "
                               f"past {bound} symbols and operations", "max_form_size",
                               record.loc, bind=True)


def _bits(x: Any) -> int:
    if type(x) is int:
        return x.bit_length()
    if not dims.is_symbolic(x):
        return int(abs(x)).bit_length() if isinstance(x, int) else 0
    import sympy as sp

    return max((max(abs(r.p), abs(r.q)).bit_length() for r in x.atoms(sp.Rational)),
               default=0)


def group_record(graph: Graph, group, layers) -> Record:
    """A group's row: its members' counts summed (each as many times as it runs per pass of
    the group: a repeat over a free symbol counts its body that many times), its output
    layer's shape and field."""
    counted = graph.counted(group)
    record = _sum_record(group.name, group.local, group.type, group.depth, "group",
                         [layers[i] for i, _ in counted], layers[group.output], group.loc,
                         group.id, None if graph.passes() is None else [n for _, n in counted])
    return record if group.times == 1 else replace(record, times=group.times)


def total_record(graph: Graph, layers) -> Record:
    """The network's total: every layer's counts summed (each as many times as it runs), the
    output layer's shape and field."""
    passes = graph.passes()
    return _sum_record("total", "total", "total", -1, "group", layers[1:],
                       layers[graph.output], None, 0, passes and passes[1:])


def _sum_record(name, local, type_, depth, kind, members, output: Record, loc, id_,
                times=None) -> Record:
    def total(attr):
        values = [getattr(r, attr) for r in members] if times is None else \
            [n * getattr(r, attr) for r, n in zip(members, times)]
        return dims.simplified_sum(values)

    return Record(name, local, type_, depth, kind, output.output_shape, total("params"),
                  total("buffers"), total("macs"), total("activations"), output.rf, loc, id_)


# ---------------------------------------------------------------- repeats over free symbols
def repeats_closing(graph: Graph) -> dict:
    """Output node id → the repeats over free symbols that end there, innermost first."""
    out: dict = {}
    for group in sorted((g for g in graph.groups if g.times != 1), key=lambda g: -g.id):
        out.setdefault(group.output, []).append(group)
    return out


def _after_passes(graph: Graph, group, shapes: list, rfs: list, conditions: list) -> tuple:
    """The receptive field after ``group.times`` passes of a repeat whose first pass took the
    field ``rfs[group.source]`` to ``rfs[group.output]``: a pass that keeps the jump adds the
    same size and start offset every time; otherwise the axis has no closed form here."""
    before, after = shapes[group.source], shapes[group.output]
    where = f"repeat '{group.local}' over {group.times}"
    same = len(before) == len(after) and all(
        dims.resolve(dims.eq(a, b)) is not False for a, b in zip(before, after))
    if not same:
        raise Unbound(f"{where}: a pass takes {fmt_shape(before)} to {fmt_shape(after)}, and "
                      "a repeat over free symbols needs a body that keeps its input's shape",
                      group.loc)
    for a, b in zip(before, after):
        if dims.resolve(dims.eq(a, b)) is None:
            conditions.append((dims.eq(a, b), f"{where}: a pass keeps the size {a} (it gives "
                               f"{b})", group.loc))
    if dims.resolve(group.times >= 0) is None:
        conditions.append((group.times >= 0, f"{where}: the count is not negative", group.loc))
    n = group.times
    out = []
    for a0, a1 in zip(rfs[group.source], rfs[group.output]):
        if a0 is None or a1 is None or dims.resolve(dims.eq(a0.jump, a1.jump)) is not True:
            out.append(None)
            continue
        out.append(AxisRF(dims.simplify(a0.size + n * (a1.size - a0.size)), a0.jump,
                          dims.simplify(a0.start + n * (a1.start - a0.start))))
    return tuple(out)


# ---------------------------------------------------------------- receptive fields
def input_rf(shape: tuple) -> tuple:
    return (None, *(AxisRF(1, 1, 0) for _ in shape[1:])) if len(shape) > 1 else (None,)


def input_sources(shape: tuple) -> tuple:
    """The network input's axes follow themselves (the channel axis 0 follows none)."""
    return (None, *range(1, len(shape)))


def step_sources(step, ins: list, out_shape: tuple) -> tuple:
    """Per output axis, the network-input axis it follows, given the inputs' (the same
    cases as ``step_rf``; a merge's axis follows an input axis when every input agrees)."""
    main, rank = ins[0], len(out_shape)
    if step is None:
        return main if len(main) == rank else (None,) * rank
    if step == UNION:
        out = []
        for axis in range(rank):
            found = [s[axis - (rank - len(s))] for s in ins if axis - (rank - len(s)) >= 0]
            found = [f for f in found if f is not None]
            out.append(found[0] if found and len(set(found)) == 1 else None)
        return tuple(out)
    out = []
    for i, e in enumerate(step):
        if isinstance(e, Window):
            out.append(main[i] if i < len(main) else None)
        elif isinstance(e, int) and not isinstance(e, bool):
            out.append(main[e])
        else:
            out.append(None)
    return tuple(out)


def _spatial(rf: tuple) -> tuple | None:
    axes = tuple(a for a in rf if a is not None)
    return axes or None


def _window(a: AxisRF | None, w: Window) -> AxisRF | None:
    if a is None:
        return None
    return AxisRF(dims.simplify(a.size + (w.kernel - 1) * a.jump),
                  dims.simplify(a.jump * w.stride), dims.simplify(a.start - w.pad_left * a.jump))


def step_rf(step, in_rfs: list, in_shapes: list, out_shape: tuple) -> tuple:
    main = in_rfs[0]
    if step is None:
        return main if len(main) == len(out_shape) else (None,) * len(out_shape)
    if step == UNION:
        return _union(in_rfs, in_shapes, out_shape)
    out = []
    for i, e in enumerate(step):
        if isinstance(e, Window):
            out.append(_window(main[i], e) if i < len(main) else None)
        elif isinstance(e, int):
            out.append(main[e])
        else:
            out.append(None)
    return tuple(out)


def _union(in_rfs: list, in_shapes: list, out_shape: tuple) -> tuple:
    """The union of the inputs' fields per axis (misaligned paths give the union, not the
    largest path). An input broadcast along an axis (size 1) contributes its whole field."""
    rank = len(out_shape)
    out = []
    for axis in range(rank):
        fields = []
        for rf, shape in zip(in_rfs, in_shapes):
            j = axis - (rank - len(shape))
            if j < 0:
                continue
            a = rf[j]
            if a is not None and dims.resolve(dims.eq(shape[j], 1)) and \
                    dims.resolve(dims.eq(out_shape[axis], 1)) is not True:
                a = AxisRF(a.size, 0, a.start)
            fields.append(a)
        out.append(_merge_axis(fields))
    return tuple(out)


def _merge_axis(fields: list) -> AxisRF | None:
    if not fields or any(f is None for f in fields):
        return None
    whole = [f for f in fields if dims.resolve(dims.eq(f.jump, 0))]
    if whole:
        fields = whole
    jumps = {str(f.jump) for f in fields}
    if len(jumps) > 1:
        return None  # strides differ: no shift-invariant field
    start = _bound([f.start for f in fields], dims.dmin, periodic.least)
    end = _bound([f.start + f.size - 1 for f in fields], dims.dmax, periodic.greatest)
    return AxisRF(dims.simplify(end - start + 1), fields[0].jump, dims.simplify(start))


def _bound(values: list, plain, proved):
    """The least (or greatest) of the fields' starts (or ends): with free sizes, the one
    proved to bound the others at every size (Keras 'same' padding makes starts depend on
    each size's parity, which sympy's Min cannot order); else ``plain`` (Min or Max)."""
    if len(values) > 1 and any(dims.is_symbolic(v) for v in values):
        found = proved([dims.simplify(v) for v in values])
        if found is not None:
            return found
    return plain(*values)
