"""An ONNX file read as data, for ``archcalc import onnx``.

The file is read with a size bound (``max_model_bytes``) and parsed as a protobuf message,
which constructs no objects and runs nothing; tensors stored outside the file (external
data) are never opened, since only their shapes are needed. The graph's one input is fixed
to one sample of the given size and onnx's own shape inference gives every value's shape;
``Graph`` is what the op map reads: shapes, which values come from the input (activations),
which are the model's weights, and the values of small constants.
"""

from __future__ import annotations

import os
import stat

from .. import limits
from ..errors import LimitReached, Loc, SpecError
from . import require_onnx

_SHAPE_OPS = {"Shape", "Size"}  # read an activation, give sizes: not activations
# ops that give the same values in another shape: a weight through them is still the weight
_VIEWS = {"Unsqueeze", "Squeeze", "Reshape", "Flatten", "Cast", "Identity"}
_SMALL = 4096  # elements of a constant kept for shape inference (sizes, scales, axes)
_EXTERNAL = 1  # TensorProto.DataLocation.EXTERNAL


def read_model(path: str):
    """The ModelProto of an ONNX file, refusing what is not a regular file of bounded size
    holding an ONNX graph."""
    onnx = require_onnx()
    loc = Loc(str(path))
    try:
        mode = os.stat(path).st_mode
        if stat.S_ISDIR(mode):
            raise SpecError("is a directory, not an ONNX model", loc)
        if not stat.S_ISREG(mode):
            raise SpecError("is not a regular file (archcalc reads models from regular "
                            "files)", loc)
        size = os.path.getsize(path)
        cap = limits.current().max_model_bytes
        if size > cap:
            raise LimitReached(f"file is {size} bytes; the limit is {cap}", "max_model_bytes",
                               loc)
        with open(path, "rb") as f:
            data = f.read(min(cap, size) + 1)
    except FileNotFoundError:
        raise SpecError("no such file", loc) from None
    except OSError as e:
        raise SpecError(f"cannot read: {e.strerror}", loc) from None
    if len(data) > cap:
        raise SpecError(f"file is larger than the limit {cap} bytes", loc)
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except Exception:  # noqa: BLE001 - protobuf's DecodeError and its relatives
        raise SpecError("not an ONNX model (the file does not parse as one)", loc) from None
    if model.ir_version <= 0 or not model.graph.node:
        raise SpecError("not an ONNX model (no graph with nodes in it)", loc)
    if len(model.graph.node) > limits.current().max_nodes:
        raise LimitReached(f"the graph has {len(model.graph.node)} nodes; the limit is "
                           f"{limits.current().max_nodes}", "max_nodes", loc)
    return model


def parse_input(text: str) -> tuple:
    """``3,224,224`` as a shape of positive whole numbers (no batch axis)."""
    parts = [p.strip() for p in str(text).split(",")]
    if not parts or not all(p.isascii() and p.isdigit() and int(p) > 0 for p in parts):
        raise SpecError(f"--input {text}: expected positive whole numbers separated by "
                        "commas, e.g. 3,224,224 (one sample, without the batch axis)")
    return tuple(int(p) for p in parts)


class Graph:
    """The model's graph as the op map reads it, shapes inferred at ``sample`` (one sample
    without the batch axis; None: the model's own sizes)."""

    def __init__(self, model, path: str, sample: tuple | None):
        self.path = str(path)
        self.loc = Loc(self.path)
        graph = model.graph
        self.nodes = list(graph.node)
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
                          1)
        self.weights = {t.name: t for t in graph.initializer}
        self.constants = {}  # Constant nodes' outputs: name -> the node
        self.alias = {}  # an Identity of a weight or constant -> what it copies
        for node in self.nodes:
            if node.op_type == "Constant" and node.output:
                self.constants[node.output[0]] = node
        inputs = [v for v in graph.input if v.name not in self.weights]
        if len(inputs) != 1:
            names = ", ".join(v.name for v in inputs) or "none"
            raise SpecError(f"the model has {len(inputs)} inputs ({names}); a spec has one "
                            "input", self.loc)
        self.input = inputs[0].name
        self.output = graph.output[0].name if graph.output else None
        self.acts = {self.input}
        self.readers: dict = {}
        self.producer = {o: node for node in self.nodes for o in node.output if o}
        self.implicit = {}  # a node with subgraphs (If, Loop): the outer values they read
        for node in self.nodes:
            inner = _subgraph_reads(node)
            if inner:
                self.implicit[id(node)] = inner
            for name in self.inputs_of(node):
                self.readers.setdefault(name, []).append(node)
            if node.op_type == "Identity" and node.input and \
                    self._fixed(node.input[0]):
                self.alias[node.output[0]] = self.alias.get(node.input[0], node.input[0])
            elif node.op_type not in _SHAPE_OPS and \
                    any(i in self.acts for i in self.inputs_of(node)):
                self.acts.update(o for o in node.output if o)
        self.folded: dict = {}  # size computations' values (``fold``)
        self.sample, self.shapes = _infer(model, self, inputs[0], sample)

    def inputs_of(self, node) -> list:
        """The values a node reads: its inputs and those its subgraphs read from outside."""
        return [*node.input, *self.implicit.get(id(node), ())]

    def _fixed(self, name: str) -> bool:
        name = self.alias.get(name, name)
        return name in self.weights or name in self.constants

    # ---------------------------------------------------------------- what a value is
    def is_act(self, name: str) -> bool:
        """Computed from the network's input (a tensor the spec's layers carry)."""
        return name in self.acts

    def is_weight(self, name: str) -> bool:
        """One of the model's initializers (its parameters), directly or through Identity,
        through ops that view it in another shape (Unsqueeze, Reshape, …: an exporter that
        does not fold constants writes GroupNorm's scale so), or through an Expand that
        changes nothing at batch one (a class token expanded to the batch:
        ``cls.expand(B, -1, -1)``)."""
        name = self.alias.get(name, name)
        if name in self.weights:
            return True
        node = self.producer.get(name)
        if node is not None and node.op_type in _VIEWS and node.input and \
                all(self._fixed(i) or self.producer.get(i) is not None and not self.is_act(i)
                    for i in node.input[1:] if i):
            return self.is_weight(node.input[0])  # a weight viewed: GroupNorm's [C, 1, 1]
        if node is None or node.op_type != "Expand" or not self.is_weight(node.input[0]):
            return False
        try:
            return self.shape(name) == self.shape(node.input[0])
        except SpecError:
            return False

    def is_constant(self, name: str) -> bool:
        """A fixed tensor: an initializer or a Constant node's output."""
        return bool(name) and self._fixed(name)

    def shape(self, name: str) -> tuple:
        """The value's full ONNX shape (the batch axis first), as whole numbers."""
        name_ = self.alias.get(name, name)
        if name_ in self.weights:
            return tuple(int(d) for d in self.weights[name_].dims)
        if name_ in self.folded:
            return tuple(self.folded[name_].shape)
        if name_ in self.constants:
            tensor = _constant_node_tensor(self.constants[name_], "", self)
            return tuple(int(d) for d in tensor.dims)
        got = self.shapes.get(name)
        if got is None or any(d is None for d in got):
            raise SpecError(f"ONNX shape inference left the shape of '{name}' unknown "
                            "(a size computed from data at run time?)", self.loc)
        return got

    def numel(self, name: str) -> int:
        n = 1
        for d in self.shape(name):
            n *= d
        return n

    def value(self, name: str, what: str) -> list:
        """A constant's values as a flat list (sizes, scales, axes); ``what`` says what
        needs it (for the error)."""
        return self.array(name, what).reshape(-1).tolist()

    def array(self, name: str, what: str):
        """A small constant as a numpy array: stored in the file (never outside it), or
        computed from such constants and sizes (``fold``)."""
        from onnx import numpy_helper

        key = self.alias.get(name, name)
        if key in self.folded:
            return self.folded[key]
        tensor = self.weights.get(key)
        if tensor is None and key in self.constants:
            tensor = _constant_node_tensor(self.constants[key], what, self)
        if tensor is None:
            folded = fold(self, key, what, {})
            if folded is None:
                raise SpecError(f"{what} needs '{name}' as a constant (it is computed from "
                                "the network's input)", self.loc)
            return folded
        if tensor.data_location == _EXTERNAL:
            raise SpecError(f"{what} needs the values of '{name}', which are stored outside "
                            "the model file (external data is not read)", self.loc)
        n = 1
        for d in tensor.dims:
            n *= d
        if n > _SMALL:
            raise SpecError(f"{what} reads '{name}', a constant of {n} elements (at most "
                            f"{_SMALL})", self.loc)
        return numpy_helper.to_array(tensor)


def fold(graph: Graph, name: str, what: str, seen: dict):
    """The value of a small constant computed in the graph from fixed tensors and sizes
    (torch.onnx writes a slice's bounds as Unsqueeze of a Constant, a reshape's target as a
    Concat of sizes), as a numpy array (kept in ``graph.folded``), or None when it depends
    on the network's input or on a size not known yet."""
    from .folding import evaluate

    if name in graph.folded:
        return graph.folded[name]
    if name in seen:
        return seen[name]
    seen[name] = None
    if not name or graph.is_act(name):
        return None
    key = graph.alias.get(name, name)
    try:
        if key in graph.weights or key in graph.constants:
            return graph.array(key, what)
        node = graph.producer.get(key)
        if node is None:
            return None
        if node.op_type in ("Shape", "Size"):
            got = evaluate(node, [graph.shape(node.input[0])], graph.opset)
        else:
            ins = [fold(graph, i, what, seen) if i else None for i in node.input]
            if any(v is None for i, v in zip(node.input, ins) if i):
                return None
            got = evaluate(node, ins, graph.opset)
    except (SpecError, ValueError, IndexError, TypeError, ZeroDivisionError):
        return None  # a size not known yet, a large or external constant, a bad value
    if got is None or got.size > _SMALL:
        return None
    graph.folded[key] = got
    return got


def _constant_node_tensor(node, what, graph):
    """A Constant node's value as a TensorProto."""
    from onnx import helper

    for a in node.attribute:
        v = helper.get_attribute_value(a)
        if a.name == "value":
            return v
        if a.name in ("value_float", "value_floats"):
            return helper.make_tensor("v", 1, [] if a.name == "value_float" else [len(v)],
                                      [v] if a.name == "value_float" else list(v))
        if a.name in ("value_int", "value_ints"):
            return helper.make_tensor("v", 7, [] if a.name == "value_int" else [len(v)],
                                      [v] if a.name == "value_int" else list(v))
    raise SpecError(f"{what} needs the value of the Constant node '{node.name}', which holds "
                    "no number", graph.loc)


def _subgraph_reads(node) -> list:
    """Names read inside a node's subgraphs (If's branches, Loop's body), all levels deep;
    the outer values among them are the node's implicit inputs."""
    reads, stack = [], [a for a in node.attribute if a.g.node or a.graphs]
    while stack:
        a = stack.pop()
        for g in ([a.g] if a.g.node else []) + list(a.graphs):
            for n in g.node:
                reads.extend(i for i in n.input if i)
                stack.extend(b for b in n.attribute if b.g.node or b.graphs)
    return reads


def _sample(graph: Graph, input_info, sample) -> tuple:
    """One sample's shape: the given one, checked against the model's fixed sizes, or the
    model's own when all are fixed."""
    dims = input_info.type.tensor_type.shape.dim
    given = [d.dim_value if d.HasField("dim_value") else None for d in dims]
    if not given:
        raise SpecError(f"the input '{input_info.name}' has no shape in the model",
                        graph.loc)
    model_sample = given[1:]
    shown = ", ".join("?" if d is None else str(d) for d in given)
    if sample is None:
        if any(d is None for d in model_sample):
            raise SpecError(f"the input '{input_info.name}' has sizes not fixed in the model "
                            f"([{shown}]); give one sample's shape with --input", graph.loc)
        return tuple(model_sample)
    sample = tuple(sample)
    if len(sample) != len(model_sample) or any(
            d is not None and d != s for d, s in zip(model_sample, sample)):
        raise SpecError(f"--input {','.join(map(str, sample))} does not fit the model's input "
                        f"'{input_info.name}' [{shown}] (the batch axis first)", graph.loc)
    return sample


def _infer(model, graph: Graph, input_info, sample):
    """(the sample shape, value name -> shape) from onnx's shape inference on a copy of the
    graph whose input is one sample of ``sample``, whose large weights are typed inputs
    (their shapes, not their data), and whose size computations are replaced by their
    values (``fold``: onnx's inference does not follow every one), again until no new
    value is found."""
    sample = _sample(graph, input_info, sample)
    shapes: dict = {}
    graph.shapes = shapes
    for _ in range(4):  # constants, then sizes read from shapes, then sizes of those
        shapes = _inferred(model, graph, input_info, sample)
        graph.shapes = shapes
        before = len(graph.folded)
        for node in graph.nodes:
            for out in node.output:
                if out and not graph.is_act(out) and out not in graph.folded and \
                        node.op_type != "Constant" and not graph.is_constant(out):
                    fold(graph, out, "", {})
        if len(graph.folded) == before:
            break
    return sample, shapes


def _inferred(model, graph: Graph, input_info, sample) -> dict:
    onnx = require_onnx()
    from onnx import numpy_helper

    light = onnx.ModelProto()
    light.ir_version = model.ir_version
    light.opset_import.extend(model.opset_import)
    light.functions.extend(model.functions)
    g = light.graph
    g.node.extend(n for n in model.graph.node
                  if not (n.output and all(o in graph.folded for o in n.output if o)))
    g.output.extend(model.graph.output)
    fixed = onnx.ValueInfoProto()
    fixed.CopyFrom(input_info)
    for d, n in zip(fixed.type.tensor_type.shape.dim, (1, *sample)):
        d.Clear()
        d.dim_value = n
    g.input.append(fixed)
    for t in model.graph.initializer:
        n = 1
        for d in t.dims:
            n *= d
        if n <= _SMALL and t.data_location != _EXTERNAL:
            g.initializer.append(t)
        else:
            g.input.append(onnx.helper.make_tensor_value_info(t.name, t.data_type, t.dims))
    for name, value in graph.folded.items():
        g.initializer.append(numpy_helper.from_array(value, name))
    try:
        inferred = onnx.shape_inference.infer_shapes(light, check_type=False,
                                                     strict_mode=True, data_prop=True)
    except Exception as e:  # noqa: BLE001 - onnx's InferenceError and ValidationError
        first = (str(e).strip().splitlines() or [""])[0][:200]
        raise SpecError(f"ONNX shape inference failed on an input of shape "
                        f"{[1, *sample]}: {first}", graph.loc) from None
    shapes = {}
    for v in (*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output):
        t = v.type.tensor_type
        if t.HasField("shape"):
            shapes[v.name] = tuple(d.dim_value if d.HasField("dim_value") else None
                                   for d in t.shape.dim)
    for name, value in graph.folded.items():
        shapes[name] = tuple(value.shape)
    return shapes
