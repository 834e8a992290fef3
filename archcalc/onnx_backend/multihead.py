"""``nn.MultiheadAttention`` as torch.onnx writes it, recognised as one ``multiheadattention``.

torch.onnx writes the module's forward (torch/nn/functional.py,
multi_head_attention_forward) op by op in PyTorch's sequence-first layout: the batch-first
input [B, L, E] is transposed to [L, B, E] (with batch_first=True inside the module, with
the default batch_first=False by the caller's own ``x.transpose(0, 1)``), projected by one
MatMul by in_proj_weightᵀ [E, 3E] (and the Add of in_proj_bias), split into q, k and v
(Reshape, Unsqueeze, Transpose, Squeeze, Gather), each viewed as [L, B·H, d] and transposed
to [B·H, L, d] (need_weights=False: on to [B, H, L, d] for scaled_dot_product_attention's
decomposition), scaled, Q·Kᵀ, Softmax, ·V, the heads merged to [L·B, E], out_proj (Gemm),
viewed as [L, B, E] and transposed back to [B, L, E]. Those ops move the batch axis, which
no single layer may do; the region from the first Transpose to the last is one layer when
it is exactly that computation: its ops are those above, every value in it is read only in
it, it has one in-projection [E, 3E] and one output projection [E, E] (biases both or
neither), two products of activations with a softmax between them, and its products'
multiply-accumulates sum to the layer's. Anything else (a mask, add_bias_kv, keys other
than the queries, the attention weights used) is refused, naming what was found.
"""

from __future__ import annotations

from ..errors import SpecError
from .op_map import Layer, Unmapped, _bias_after, _opts, attr

SKIP = "skip"  # a node inside a recognised region: no layer, no value of its own

_SHAPE = {"Reshape", "Unsqueeze", "Squeeze", "Transpose", "Gather", "Slice", "Split",
          "Identity", "Cast", "Dropout"}  # reorder, split or pass the values on
_PASS = {"Identity", "Cast", "Dropout"}
_SWAP = [1, 0, 2]  # [B, L, E] ↔ [L, B, E]


class NoMatch(Exception):
    """Not nn.MultiheadAttention's computation exactly (the message says what differs)."""


def _need(condition, why: str) -> None:
    if not condition:
        raise NoMatch(why)


def recognise(g) -> dict:
    """id(node) → its decision for every node of each recognised region: the
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
            decided[id(node)] = Unmapped(
                f"Transpose with perm {_SWAP}, which moves the batch axis: it opens "
                f"nn.MultiheadAttention's ops, which import only as self-attention without "
                f"masks, but {e}")
        except SpecError:
            continue  # a shape not inferred: the op map names it
    return decided


def _readers(g, value) -> list:
    return [r for r in g.readers.get(value, []) if r.op_type not in ("Shape", "Size")]


def _opens(node, g) -> bool:
    """A Transpose of [B, L, E] to [L, B, E] read by one MatMul by a constant [E, 3E]."""
    if node.op_type != "Transpose" or not node.input or not g.is_act(node.input[0]):
        return False
    if list(attr(node, "perm", [])) != _SWAP or len(g.shape(node.input[0])) != 3:
        return False
    embed = g.shape(node.input[0])[2]
    readers = _readers(g, node.output[0])
    if len(readers) != 1 or readers[0].op_type != "MatMul":
        return False
    proj = readers[0]
    return proj.input[0] == node.output[0] and not g.is_act(proj.input[1]) and \
        g.shape(proj.input[1]) == (embed, 3 * embed)


def _macs(node, g) -> int:
    """A product's multiply-accumulates: output elements × the summed axis."""
    a = g.shape(node.input[0])
    k = a[0] if node.op_type == "Gemm" and attr(node, "transA", 0) else a[-1]
    return g.numel(node.output[0]) * k


def _region(entry, g) -> dict:
    x = entry.input[0]
    _, length, embed = g.shape(x)
    proj = _readers(g, entry.output[0])[0]
    bias_in = _bias_after(proj, g, 3 * embed)
    inside = [entry, proj] + ([bias_in] if bias_in else [])
    made = {o for n in inside for o in n.output if o}
    products, softmaxes, out_proj = [], [], None
    frontier, seen = [(bias_in or proj).output[0]], {id(n) for n in inside}
    while frontier:
        value = frontier.pop()
        _need(value != g.output, "a value inside it is the model's output")
        for r in _readers(g, value):
            if id(r) in seen:
                continue
            seen.add(id(r))
            acts = [i for i in g.inputs_of(r) if i and g.is_act(i)]
            inside.append(r)
            if r.op_type in ("Gemm", "MatMul") and len(acts) == 1:
                _need(out_proj is None and r.input[0] == value and not g.is_act(r.input[1]),
                      f"node '{r.name}' ({r.op_type}) is a product by a weight after the "
                      "output projection")
                out_proj = r
                continue  # the output projection: the end below
            if r.op_type == "MatMul":
                products.append(r)
            elif r.op_type == "Softmax":
                softmaxes.append(r)
            elif r.op_type in ("Mul", "Div"):
                other = [i for i in r.input if i not in acts]
                _need(len(other) == 1 and g.numel(other[0]) == 1 and
                      (r.op_type == "Mul" or r.input[0] == value),
                      f"node '{r.name}' ({r.op_type}) is no scale by one number")
            elif r.op_type not in _SHAPE:
                raise NoMatch(f"node '{r.name}' ({r.op_type}) is none of them (a mask, "
                              "add_bias_kv, the attention weights?)")
            for o in r.output:
                if o:
                    made.add(o)
                    frontier.append(o)
    _need(out_proj is not None, "no output projection [E, E] follows")
    for n in inside[1:]:
        outside = [i for i in g.inputs_of(n) if i and g.is_act(i) and i not in made]
        _need(not outside, f"node '{n.name}' ({n.op_type}) also reads '{outside[0]}' from "
                           "outside it" if outside else "")
    _need(len(products) == 2 and len(softmaxes) == 1,
          f"it has {len(products)} products of activations and {len(softmaxes)} "
          "softmax, not Q·Kᵀ, one softmax and ·V")
    soft = softmaxes[0]
    scores = g.producer.get(soft.input[0])
    _need(any(scores is p for p in products), "the softmax is not of Q·Kᵀ")
    weighted = next(p for p in products if p is not scores)
    rank = len(g.shape(soft.input[0]))
    _need(attr(soft, "axis", -1) % rank == rank - 1, "the softmax is not over the keys")
    source = weighted.input[0]
    while g.producer.get(source) is not None and g.producer[source].op_type in _PASS:
        source = g.producer[source].input[0]
    _need(source == soft.output[0], "the second product is not of the softmax's output")
    heads = g.numel(scores.output[0]) // (length * length)
    _need(heads * length * length == g.numel(scores.output[0]) and heads > 0 and
          embed % heads == 0, f"Q·Kᵀ {list(g.shape(scores.output[0]))} is not H × {length} "
                              f"× {length} with H dividing E = {embed}")
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
            inside.append(add)
    _need(out_bias == (bias_in is not None), "one projection has a bias and the other not")
    total = sum(_macs(n, g) for n in (proj, scores, weighted, out_proj))
    want = 4 * length * embed * embed + 2 * length * length * embed
    _need(total == want, f"its products count {total} MACs, not the {want} of L = {length}, "
                         f"E = {embed}")
    exit_ = _back(g, last, g.shape(x), inside)
    layer = Layer("multiheadattention", dict(heads=heads, **_opts(bias=(out_bias, True))),
                  [x], output=exit_)
    decided = {id(n): SKIP for n in inside}
    decided[id(proj)] = [layer]
    return decided


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

