"""An ONNX model as an archcalc spec (``archcalc import onnx``).

The file is read as data (``reader.py``: bounded, nothing run, external data never
opened), its shapes inferred by onnx at one sample of the input size, and each node that
computes on the network's input becomes layers in PyTorch's vocabulary
(``op_map.py``; nn.MultiheadAttention's region, which moves the batch axis, as one layer:
``multihead.py``); nodes that only compute sizes or constants are no layers. Layers are
named by the node's scope: torch.onnx's ``/layer1/layer1.0/conv1/Conv`` is
``layer1.0.conv1``, and the children of a container (a scope ending in a number,
``layer1.0``) are the blocks the spec writer turns into block definitions and repeats.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import SpecError
from ..spec_writer import unique, write_spec
from .multihead import SKIP, recognise
from .op_map import Invalid, Unmapped, map_node
from .reader import Graph, parse_input, read_model


def import_onnx(path: str, input_shape=None, free: tuple = ()) -> str:
    """The spec (YAML text) of the ONNX model in ``path``, at inputs of ``input_shape`` (one
    sample without the batch axis; None: the model's own fixed sizes); ``free``: input axes
    (by name: C, H, W, D, L) written as free symbols."""
    shape = parse_input(input_shape) if isinstance(input_shape, str) else \
        (tuple(input_shape) if input_shape is not None else None)
    model, graph, items, output, _ = read_layers(path, shape)
    _check_free(free, len(graph.sample))
    name = model.graph.name
    if name in _EXPORTERS_DEFAULT or not name:
        name = Path(path).stem
    return write_spec(f"{Path(path).name} by archcalc import onnx", name, graph.sample, free,
                      items, output, Scopes())


_EXPORTERS_DEFAULT = {"main_graph", "torch_jit", "torch-jit-export"}  # torch.onnx's names


_AXES = {1: "C", 2: "C,L", 3: "C,H,W", 4: "C,D,H,W"}


def _check_free(free, rank: int) -> None:
    """--free names input axes: C, then L (one spatial axis), H, W or D, H, W."""
    axes = _AXES.get(rank, "C")
    unknown = sorted({f.strip() for f in free if f.strip()} - set(axes.split(",")))
    if unknown:
        raise SpecError(f"--free {','.join(unknown)}: the input's axes are {axes}")


def read_layers(path: str, shape: tuple | None):
    """(the model, its ``Graph``, the items for the spec writer, the output's name, ONNX
    value name -> the spec name of the layer that gives it)."""
    model = read_model(path)
    graph = Graph(model, path, shape)
    items, output, value_of = _items(graph)
    return model, graph, items, output, value_of


def scope_of(node_name: str) -> tuple:
    """(module path, op part) of a node name: torch.onnx's ``/layer1/layer1.0/conv1/Conv``
    is ("layer1.0.conv1", "Conv"), each scope a child of the one before (written as its
    local name, as its full path, or as a container's child after the container's local
    name: ``/mlp/mlp.0``); a name without scopes is its own op part."""
    parts = [p for p in str(node_name).split("/") if p]
    if not str(node_name).startswith("/") or len(parts) < 2:
        return "", "/".join(parts)
    path = ""
    for p in parts[:-1]:
        last = path.rsplit(".", 1)[-1]
        if not path or p.startswith(path + "."):
            path = p  # the full path: /layer1/layer1.0
        elif p.startswith(last + "."):
            path += p[len(last):]  # relative to its parent: /blocks.0/mlp/mlp.0
        else:
            path = f"{path}.{p}"
    return path, parts[-1]


def _items(graph: Graph) -> tuple:
    """(items for the spec writer, the output's name, ONNX value -> spec name)."""
    mapped = []  # (node, layers)
    done = set()  # values already given by an earlier node's layer (a fused bias Add)
    regions = recognise(graph)  # nn.MultiheadAttention's ops: one layer and the rest
    for node in graph.nodes:
        if not any(graph.is_act(i) for i in graph.inputs_of(node)) or \
                node.op_type in ("Shape", "Size"):
            continue  # sizes and constants: no layer
        if regions.get(id(node)) is SKIP:
            continue  # inside an attention region: its one layer gives the region's output
        if node.output and all(o in done or not o for o in node.output):
            continue
        try:
            layers = regions.get(id(node))
            if isinstance(layers, Unmapped):
                raise layers
            if layers is None:
                layers = map_node(node, graph)
        except Unmapped as e:
            raise SpecError(f"node '{node.name or '(unnamed)'}' ({node.op_type}): no archcalc "
                            f"layer for {e}", graph.loc) from None
        except Invalid as e:
            raise SpecError(f"node '{node.name or '(unnamed)'}' ({node.op_type}): {e}",
                            graph.loc) from None
        for layer in layers or ():
            done.update(layer.absorbs)
        mapped.append((node, layers))
    per_scope: dict = {}
    for node, layers in mapped:
        if layers:
            path = scope_of(node.name)[0]
            per_scope[path] = per_scope.get(path, 0) + 1
    inner = {path.rsplit(".", k)[0] for path in per_scope for k in range(1, path.count(".") + 1)}
    value_of = {graph.input: "input"}
    items, names = [], {}
    for node, layers in mapped:
        if not layers:  # no layer: the value passes through
            src = next(i for i in node.input if graph.is_act(i))
            for out in node.output:
                if out:
                    value_of[out] = value_of.get(src)
            continue
        path, op = scope_of(node.name)
        own = bool(path) and per_scope[path] == 1 and path not in inner  # a leaf module
        previous = None
        for k, layer in enumerate(layers):
            last = k == len(layers) - 1
            if own and last:
                base = path
            else:
                part = op.lower() if last and op else layer.type
                base = f"{path}.{part}" if path else (part or layer.type)
            name = unique(base or node.op_type.lower(), names)
            inputs = [previous if v is None else value_of.get(v) for v in layer.inputs]
            args = {k: value_of.get(v) if k in layer.refs else v
                    for k, v in layer.args.items()}  # a layer read by name
            if any(v is None for v in inputs) or any(args[k] is None for k in layer.refs):
                raise SpecError(f"node '{node.name}' ({node.op_type}) reads a value computed "
                                "before the network's input is", graph.loc)
            items.append(dict(name=name, type=layer.type, args=args, inputs=inputs,
                              owner=path, module=own and last, refs=layer.refs))
            previous = name
            if layer.output:
                value_of[layer.output] = name
            for out in layer.absorbs:
                value_of[out] = name
        if node.output and node.output[0] not in value_of and \
                not any(layer.output for layer in layers):  # else the layers say what
            value_of[node.output[0]] = previous
    return items, value_of.get(graph.output), value_of


class Scopes:
    """Blocks of a torch.onnx graph from its scopes alone: the shallowest scope on a path
    that ends in a number (a child of an nn.Sequential or nn.ModuleList: ``layer1.0``,
    ``blocks.3``) and is not itself followed by a number (a container of containers),
    named after its container (the class is not in the file)."""

    def block_of(self, owner: str) -> str | None:
        parts = owner.split(".") if owner else []
        for i in range(1, len(parts)):
            if parts[i].isdigit() and not (i + 1 < len(parts) and parts[i + 1].isdigit()):
                return ".".join(parts[:i + 1])  # a container's child that is no container
        return None

    def kind(self, path: str) -> str:
        parent = path.rsplit(".", 1)[0]
        return parent.rsplit(".", 1)[-1] or "block"
