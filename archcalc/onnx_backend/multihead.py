"""``nn.MultiheadAttention`` as torch.onnx writes it, recognised as one ``multiheadattention``.

torch.onnx writes the module's forward (torch/nn/functional.py,
multi_head_attention_forward) op by op in PyTorch's sequence-first layout: each batch-first
input [B, L, E] is transposed to [L, B, E] (with batch_first=True inside the module, with
the default batch_first=False by the caller's own ``x.transpose(0, 1)``) and projected by
MatMuls by weights (and the Adds of their biases): self-attention one [E, 3E]
(in_proj_weightᵀ); cross-attention, where the keys are the values and not the queries, the
queries by [E, E] and the keys by [E, 2E], or, with kdim = vdim ≠ E, by [kdim, E] twice
(q/k/v_proj_weight). q, k and v are split (Reshape, Unsqueeze, Transpose, Squeeze, Gather),
add_bias_kv appends bias_k and bias_v (Expand, Tile, Concat along the keys), each is viewed
as [L, B·H, d] and transposed to [B·H, L, d] (need_weights=False: on to [B, H, L, d] for
scaled_dot_product_attention's decomposition), scaled, Q·Kᵀ, Softmax, ·V, the heads merged
to [L·B, E], out_proj (Gemm), viewed as [L, B, E] and transposed back to [B, L, E].

Those ops move the batch axis, which no single layer may do; the region from the first
Transpose to the last is one layer when it is exactly that computation: its ops are those
above, every value in it is read only in it and it reads nothing from outside but its
inputs and weights, its projections are those above with biases on all or none, two
products of activations with a softmax between them, and its products' multiply-accumulates
sum to the layer's. Anything else (a mask, keys other than the values, the attention
weights used) is refused, naming what was found.
"""

from __future__ import annotations

from ..errors import SpecError
from .op_map import Layer, Unmapped, _bias_after, _opts, attr

SKIP = "skip"  # a node inside a recognised region: no layer, no value of its own

_SHAPE = {"Reshape", "Unsqueeze", "Squeeze", "Transpose", "Gather", "Slice", "Split",
          "Identity", "Cast", "Dropout"}  # reorder, split or pass the values on
_PASS = {"Identity", "Cast", "Dropout"}
_SWAP = [1, 0, 2]  # [B, L, E] ↔ [L, B, E]
_MOST_ENTRIES = 2  # the queries, and the keys (which are the values) when they differ


class NoMatch(Exception):
    """Not nn.MultiheadAttention's computation exactly (the message says what differs)."""


class _Outside(NoMatch):
    """A node of the region reads an activation from outside it (maybe the keys)."""

    def __init__(self, why: str, value: str):
        super().__init__(why)
        self.value = value


def _need(condition, why: str) -> None:
    if not condition:
        raise NoMatch(why)


def recognise(g) -> dict:
    """id(node) → its decision for every node of each recognised region: the last
    in-projection's node gives the ``multiheadattention`` layer, the others ``SKIP``; a
    region that opens as the module's does and is not its computation: its first node
    → ``Unmapped`` saying why."""
    decided: dict = {}
    for node in g.nodes:
        try:
            if id(node) in decided or not _opens(node, g):
                continue
            decided.update(_region(node, g))
        except NoMatch as e:
            if _softmax_after(node, g):  # else no attention: the op map refuses the Transpose
                decided[id(node)] = Unmapped(
                    f"Transpose with perm {_SWAP}, which moves the batch axis: it opens "
                    "nn.MultiheadAttention's ops, which import as self-attention or as "
                    f"cross-attention whose keys are its values, without masks, but {e}")
        except SpecError:
            continue  # a shape not inferred: the op map names it
    return decided


def _softmax_after(node, g, most: int = 64) -> bool:
    """Whether a Softmax is among the first ``most`` nodes that read what ``node`` gives."""
    frontier, seen = [node], set()
    while frontier and len(seen) < most:
        n = frontier.pop(0)
        if n.op_type == "Softmax":
            return True
        for o in n.output:
            for r in _readers(g, o):
                if id(r) not in seen:
                    seen.add(id(r))
                    frontier.append(r)
    return False


def _readers(g, value) -> list:
    return [r for r in g.readers.get(value, []) if r.op_type not in ("Shape", "Size")]


def _projections(node, g) -> list:
    """The MatMuls by a weight [F, n] that read a Transpose's output as [L, B, F], when
    they are all its readers; else []."""
    features = g.shape(node.input[0])[2]
    readers = _readers(g, node.output[0])
    ok = readers and all(
        r.op_type == "MatMul" and r.input[0] == node.output[0] and not g.is_act(r.input[1])
        and len(g.shape(r.input[1])) == 2 and g.shape(r.input[1])[0] == features
        for r in readers)
    return readers if ok else []


def _opens(node, g) -> bool:
    """A Transpose of [B, L, F] to [L, B, F] read only by MatMuls by weights."""
    if node.op_type != "Transpose" or not node.input or not g.is_act(node.input[0]):
        return False
    if list(attr(node, "perm", [])) != _SWAP or len(g.shape(node.input[0])) != 3:
        return False
    return bool(_projections(node, g))


def _macs(node, g) -> int:
    """A product's multiply-accumulates: output elements × the summed axis."""
    a = g.shape(node.input[0])
    k = a[0] if node.op_type == "Gemm" and attr(node, "transA", 0) else a[-1]
    return g.numel(node.output[0]) * k


def _region(start, g) -> dict:
    entries = [start]
    while True:
        try:
            return _match(entries, g)
        except _Outside as e:
            other = _entry_before(g, e.value)
            if other is None or other in entries or len(entries) == _MOST_ENTRIES:
                raise NoMatch(str(e)) from None
            entries.append(other)


def _walk_back(g, value, found, ops=None, steps: int = 32):
    """The first node, walking back from ``value`` through nodes of one activation input
    (of ``ops`` only, if given), for which ``found`` holds; None if there is none."""
    for _ in range(steps):
        node = g.producer.get(value)
        if node is None:
            return None
        if found(node):
            return node
        acts = [i for i in g.inputs_of(node) if i and g.is_act(i)]
        if len(acts) != 1 or ops is not None and node.op_type not in ops:
            return None
        value = acts[0]
    return None


def _entry_before(g, value):
    """The Transpose that opens another sequence's projections, found by walking back from
    ``value`` through the ops that reorder it and add a bias; None if there is none."""
    return _walk_back(g, value, lambda n: _opens(n, g),
                      _SHAPE | {"Add", "MatMul", "Concat", "Mul"}, steps=16)


class _Parts:
    """What a region's flood finds: its nodes and values, and each kind of node in it."""

    def __init__(self):
        self.inside, self.made, self.seen = [], set(), set()
        self.products, self.softmaxes, self.concats, self.out_proj = [], [], [], None

    def add(self, node):
        self.inside.append(node)
        self.seen.add(id(node))
        self.made.update(o for o in node.output if o)


def _match(entries, g) -> dict:
    parts, frontier, projections = _Parts(), [], []
    for entry in entries:
        parts.add(entry)
        for proj in _projections(entry, g):
            width = g.shape(proj.input[1])[1]
            bias = _bias_after(proj, g, width)
            projections.append((entry, proj, width, bias))
            for n in (proj, bias):
                if n is not None:
                    parts.add(n)
            frontier.append((bias or proj).output[0])
    _flood(frontier, parts, g)
    _need(parts.out_proj is not None, "no output projection [E, E] follows")
    for n in parts.inside:
        if n not in entries:
            outside = [i for i in g.inputs_of(n) if i and g.is_act(i) and i not in parts.made]
            if outside:
                raise _Outside(f"node '{n.name}' ({n.op_type}) also reads '{outside[0]}' from "
                               "outside it", outside[0])
    return _layer(entries, projections, parts, g)


def _flood(frontier, parts, g) -> None:
    """Every node that reads a value of the region, up to the output projection."""
    while frontier:
        value = frontier.pop()
        _need(value != g.output, "a value inside it is the model's output")
        for r in _readers(g, value):
            if id(r) in parts.seen:
                continue
            acts = [i for i in g.inputs_of(r) if i and g.is_act(i)]
            parts.add(r)
            if r.op_type in ("Gemm", "MatMul") and len(acts) == 1:
                _need(parts.out_proj is None and r.input[0] == value and
                      not g.is_act(r.input[1]),
                      f"node '{r.name}' ({r.op_type}) is a product by a weight after the "
                      "output projection")
                parts.out_proj = r
                continue  # the output projection: the end, found by _back
            if r.op_type == "MatMul":
                parts.products.append(r)
            elif r.op_type == "Softmax":
                parts.softmaxes.append(r)
            elif r.op_type == "Concat" and len(acts) == 1 and len(r.input) == 2:
                parts.concats.append(r)  # add_bias_kv: checked by _layer
            elif r.op_type in ("Mul", "Div"):
                other = [i for i in r.input if i not in acts]
                _need(len(other) == 1 and g.numel(other[0]) == 1 and
                      (r.op_type == "Mul" or r.input[0] == value),
                      f"node '{r.name}' ({r.op_type}) is no scale by one number")
            elif r.op_type not in _SHAPE:
                raise NoMatch(f"node '{r.name}' ({r.op_type}) is none of them (a mask, the "
                              "attention weights?)")
            for o in r.output:
                if o:
                    frontier.append(o)


def _bias_rows(g, value, embed) -> bool:
    """Whether ``value`` is a weight of E numbers repeated along the batch (bias_k or
    bias_v [1, 1, E] through Expand and Tile)."""
    for _ in range(4):
        if g.is_weight(value):
            return g.numel(value) == embed
        node = g.producer.get(value)
        if node is None or node.op_type not in ("Expand", "Tile", "Identity"):
            return False
        value = node.input[0]
    return False


def _layer(entries, projections, parts, g) -> dict:
    _need(parts.softmaxes, "it has no softmax")
    _need(len(parts.products) == 2 and len(parts.softmaxes) == 1,
          f"it has {len(parts.products)} products of activations and "
          f"{len(parts.softmaxes)} softmax, not Q·Kᵀ, one softmax and ·V")
    soft = parts.softmaxes[0]
    scores = g.producer.get(soft.input[0])
    _need(any(scores is p for p in parts.products), "the softmax is not of Q·Kᵀ")
    weighted = next(p for p in parts.products if p is not scores)
    rank = len(g.shape(soft.input[0]))
    _need(attr(soft, "axis", -1) % rank == rank - 1, "the softmax is not over the keys")
    source = weighted.input[0]
    while g.producer.get(source) is not None and g.producer[source].op_type in _PASS:
        source = g.producer[source].input[0]
    _need(source == soft.output[0], "the second product is not of the softmax's output")
    query = _entry_of(g, scores.input[0], entries)
    _need(query is not None, "the queries of Q·Kᵀ come from none of its inputs")
    x = query.input[0]
    _, length, embed = g.shape(x)
    keys = next((e for e in entries if e is not query), None)
    kv = keys.input[0] if keys is not None else x
    _, size, kdim = g.shape(kv)
    widths = sorted((w, e is query) for e, _p, w, _b in projections)
    if keys is None:
        want = [(3 * embed, True)]
    elif kdim == embed:
        want = sorted([(embed, True), (2 * embed, False)])
    else:
        want = sorted([(embed, True), (embed, False), (embed, False)])
    _need(widths == want, "its in-projections are not those of self-attention or of "
                          "cross-attention whose keys are its values")
    biases = {b is not None for *_, b in projections}
    _need(len(biases) == 1, "some in-projections have a bias and others not")
    extra = len(parts.concats)
    _need(extra in (0, 2) and all(
        any(_bias_rows(g, i, embed) for i in c.input if not g.is_act(i)) and
        attr(c, "axis", 0) == 0 for c in parts.concats),
        f"it concatenates {extra} values to the keys and values, not add_bias_kv's bias_k "
        "and bias_v")
    bias_kv = extra == 2
    heads = g.numel(scores.output[0]) // (length * (size + bias_kv))
    _need(heads * length * (size + bias_kv) == g.numel(scores.output[0]) and heads > 0 and
          embed % heads == 0,
          f"Q·Kᵀ {list(g.shape(scores.output[0]))} is not H × {length} × "
          f"{size + bias_kv} with H dividing E = {embed}")
    out_proj = parts.out_proj
    ws = g.shape(out_proj.input[1])
    _need(ws == (embed, embed), f"the output projection's weight is {list(ws)}, not "
                                f"[{embed}, {embed}]")
    if out_proj.op_type == "Gemm":
        _need(not attr(out_proj, "transA", 0), "the output projection is a Gemm with transA")
        out_bias = len(out_proj.input) > 2 and bool(out_proj.input[2])
        _need(not out_bias or g.numel(out_proj.input[2]) == embed,
              f"the output projection's bias is not of {embed}")
        last = out_proj
    else:
        add = _bias_after(out_proj, g, embed)
        out_bias, last = add is not None, add or out_proj
        if add is not None:
            parts.add(add)
    _need({out_bias} == biases, "one projection has a bias and another not")
    total = sum(_macs(n, g) for n in [p for _e, p, _w, _b in projections] +
                [scores, weighted, out_proj])
    want = 2 * length * embed * embed + 2 * size * kdim * embed + \
        2 * length * (size + bias_kv) * embed
    _need(total == want, f"its products count {total} MACs, not the {want} of L = {length}, "
                         f"S = {size}, E = {embed}")
    exit_ = _back(g, last, g.shape(x), parts.inside)
    args = dict(heads=heads, **_opts(bias=(out_bias, True), kdim=(kdim, embed),
                                     vdim=(kdim, embed), add_bias_kv=(bias_kv, False)))
    refs = []
    if keys is not None:
        args["kv"], refs = kv, ["kv"]
    layer = Layer("multiheadattention", args, [x], output=exit_, refs=refs)
    decided = {id(n): SKIP for n in parts.inside}
    order = {id(n): i for i, n in enumerate(g.nodes)}
    emit = max((p for _e, p, _w, _b in projections), key=lambda p: order[id(p)])
    decided[id(emit)] = [layer]  # after every input of the region is computed
    return decided


def _entry_of(g, value, entries):
    """Which of the region's opening Transposes ``value`` is computed from."""
    return _walk_back(g, value, lambda n: any(n is e for e in entries))


def _back(g, node, shape, inside) -> str:
    """The value after the output projection's views where a Transpose puts the batch
    first again (of ``shape``, the region's input), each read by the next alone."""
    for _ in range(8):
        value = node.output[0]
        readers = _readers(g, value)
        _need(value != g.output and len(readers) == 1 and
              readers[0].op_type in _SHAPE - {"Gather", "Slice", "Split"},
              "its output is not transposed back to the batch first")
        node = readers[0]
        inside.append(node)
        if node.op_type == "Transpose" and list(attr(node, "perm", [])) == _SWAP and \
                g.shape(node.output[0]) == shape:
            return node.output[0]
    raise NoMatch("its output is not transposed back to the batch first")
