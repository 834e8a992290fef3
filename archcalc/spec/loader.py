"""Spec file → Graph: validates the YAML against the format and expands every structure.

Knows the layer types' argument lists (to validate them) but no formula. Every error names
the file, line and column of the offending value.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import Any

from .. import dims, expr, layout, limits
from ..errors import LimitReached, Loc, SpecError, Unbound, did_you_mean, progress
from ..graph import Graph, Group, Node
from ..layers import REGISTRY
from ..layers import window
from ..layers.base import REQUIRED, Arg
from . import approximations
from .yamlsafe import Y, describe, load_text, read_file

TOP_KEYS = ("name", "description", "input", "layout", "symbols", "blocks", "layers",
            "approximations")
STRUCTURE_KEYS = {
    "repeat": ("repeat", "layers", "name", "from"),
    "branches": ("branches", "merge", "name", "from", "dim"),
}
MERGES = ("concat", "add", "mul")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_SYMBOL = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def _quote(text: str, width: int = 60) -> str:
    """An expression for a message: quoted, and shortened when it is long."""
    return repr(text if len(text) <= width else text[:width - 3] + "...")


_TORCH_NAMES = {  # PyTorch's argument names → the spec's short names (None: inferred)
    "out_channels": "out", "out_features": "out", "output_size": "out", "kernel_size": "kernel",
    "num_groups": "groups", "normalized_shape": "shape", "scale_factor": "scale",
    "negative_slope": "slope", "upscale_factor": "factor",
    "in_channels": None, "in_features": None, "num_features": None, "num_channels": None,
    "in": None, "cin": None, "c_in": None, "input_channels": None, "inputs": None,
}


def _torch_hint(key: str, known) -> str:
    if key not in _TORCH_NAMES:
        return ""
    short = _TORCH_NAMES[key]
    if short is None:
        return (" (the input's channels and features are inferred from the incoming shape: "
                "leave it out)")
    return f" — the spec calls it '{short}'" if short in known else ""


def _keras_batch(node: Y) -> bool:
    """Whether an input is written as Keras prints it, the batch axis first as null."""
    return node.is_seq and len(node.value) > 1 and node.value[0].value is None


def _trainable(node: Y, kind: str) -> bool:
    if not isinstance(node.value, bool):
        raise SpecError(f"{kind}: 'trainable' must be true or false, got {describe(node)}",
                        node.loc)
    return node.value


def _rank_hint(kind: str, input_rank: int) -> str:
    """For a type PyTorch names by its spatial axes (``batchnorm`` → batchnorm1d/2d/3d): the
    one that fits the network's input, and what each takes."""
    family = [f"{kind}{n}d" for n in (1, 2, 3) if f"{kind}{n}d" in REGISTRY]
    if not family:
        return ""
    spatial = min(max(input_rank - 1, 1), 3)
    best = f"{kind}{spatial}d" if f"{kind}{spatial}d" in family else family[0]
    takes = {1: "[C, L]", 2: "[C, H, W]", 3: "[C, D, H, W]"}
    listing = ", ".join(f"{f} for {takes[int(f[-2])]}" for f in family)
    return f" — did you mean '{best}'? (the number counts spatial axes: {listing})"


class SymbolError(SpecError):
    """A value given for a symbol that the spec cannot take, as data: which ``symbol``, which
    ``value``, what is wrong (``problem``: 'unknown', no such symbol; 'not_a_size', a free
    size given something other than a positive whole number; 'not_positive', a real-valued
    symbol given something other than a positive number), the spec's ``declared``
    symbols, and where the value came from (``origin``: 'cli' unless told, 'sheet', or
    whatever the caller says). Its own message names no flag; ``worded(flag)`` says how the
    value was given (``--set`` for the CLI, ``set`` for a sheet)."""

    def __init__(self, symbol: str, value: Any, problem: str, declared: tuple, loc: Loc,
                 origin: str = "cli"):
        self.symbol, self.value, self.problem = symbol, value, problem
        self.declared, self.origin = tuple(declared), origin
        super().__init__(self.worded("symbol"), loc)

    def worded(self, flag: str) -> str:
        """The message, naming ``flag`` as where the value came from."""
        given = self.symbol if self.problem == "unknown" else f"{self.symbol}={self.value}"
        return f"{flag} {given}: {self.trouble()}"

    def trouble(self) -> str:
        """What is wrong with the value, in words that name no flag."""
        if self.problem == "unknown":
            have = ", ".join(self.declared) or "none"
            return (f"the spec has no symbol '{self.symbol}'"
                    f"{did_you_mean(self.symbol, self.declared)} (its symbols: {have})")
        if self.problem == "not_positive":
            return f"'{self.symbol}' is a real-valued symbol in this spec; give a positive number"
        if self.problem == "negative":
            return f"'{self.symbol}' is a whole number ≥ 0 in this spec (min: 0); give one"
        return f"'{self.symbol}' is a free size in this spec; give a positive whole number"


def load(path: str, overrides: dict | None = None, origins: dict | None = None) -> Graph:
    """Load a spec file; ``overrides`` maps symbol names to values (``--set H=299``);
    ``origins`` as in ``load_string``."""
    return load_string(read_file(path), path, overrides, origins=origins)


def load_string(text: str, file: str = "<spec>", overrides: dict | None = None,
                root: Y | None = None, origins: dict | None = None) -> Graph:
    """Build the graph of a spec's text; ``root``: the text already read as YAML;
    ``origins``: symbol name → where its override came from ('cli' unless told, 'sheet'),
    carried by a SymbolError."""
    root = root if root is not None else load_text(text, file)
    if root is None:
        raise SpecError("the spec is empty: expected a mapping with 'input' and 'layers'",
                        Loc(file, 1, 1))
    return _Builder(file, origins).build(root, overrides or {}, text)


def build(root: Y, file: str, overrides: dict | None = None,
          origins: dict | None = None) -> Graph:
    """The graph of a spec already read as YAML with no text of its own (a model written
    inside an answer sheet): as ``load_string``, without the text to build it again."""
    return _Builder(file, origins).build(root, overrides or {})


def _symbols_node(root: Y | None) -> dict:
    """A spec tree's ``symbols`` mapping (name → node), read before any graph is built; the
    build checks it. Empty where there is none or it is no mapping."""
    node = root.value.get("symbols") if root is not None and root.is_map else None
    return node.value if node is not None and node.is_map else {}


def declared_symbols(root: Y | None) -> set:
    """The names a spec's ``symbols`` declare (``solve`` tells a batch named B from a
    symbol of the spec's own)."""
    return set(_symbols_node(root))


def real_symbols(root: Y | None) -> set:
    """The names a spec's ``symbols`` declare real-valued (``w: {real: true, …}``), read from
    the tree before any graph is built (``solve`` treats them apart); the build checks the
    declarations."""
    return {key for key, value in _symbols_node(root).items()
            if value.is_map and getattr(value.value.get("real"), "value", None) is True}


def rebuild(graph: Graph, overrides: dict) -> Graph:
    """The graph of the same spec with other ``overrides`` (None leaves a symbol free),
    built from the text ``graph`` was parsed from: the file is neither read nor parsed again."""
    return load_string(graph.source, graph.file, overrides, root=graph.spec)


@dataclass
class _Scope:
    prefix: str  # "" at top level, "stage1." inside the group stage1
    parent: "_Scope | None"
    env: dict  # symbol name -> value, for expressions
    names: dict = field(default_factory=dict)  # local name -> (node id, defining loc)
    counters: dict = field(default_factory=dict)
    depth: int = 0
    group: int | None = None

    def lookup(self, name: str):
        scope = self
        while scope is not None:
            if name in scope.names:
                return scope.names[name][0]
            scope = scope.parent
        return None

    def within(self, group: int) -> bool:
        """Whether this scope lies inside the group ``group``."""
        scope = self
        while scope is not None:
            if scope.group == group:
                return True
            scope = scope.parent
        return False

    def visible(self) -> list:
        out, scope = [], self
        while scope is not None:
            out.extend(scope.names)
            scope = scope.parent
        return out


class _Builder:
    def __init__(self, file: str, origins: dict | None = None):
        self.file = file
        self.origins = origins or {}  # symbol name → where its override came from
        self.nodes: list[Node] = []
        self.groups: list[Group] = []
        self.rows: list = []
        self.qualified: dict[str, int] = {}
        self.blocks: dict[str, Y] = {}
        self.calls: list[str] = []
        self.nesting = 0  # lists of layers open (inside blocks, repeats and branches)
        self.closed_passes: list[int] = []  # groups of repeats over free symbols
        self.conditions: list = []  # (condition, message, loc) on values in free symbols
        self.max_nodes = limits.current().max_nodes
        self.input_rank = 3  # the network input's axes, for hints (set once it is read)
        self.reals: set[str] = set()  # symbols declared real-valued ({real: true})
        self.zeros: set[str] = set()  # whole-number symbols that may be 0 ({min: 0})
        self.progress = progress()  # the value or layer at hand, for a time-out's message

    # ----------------------------------------------------------------- top level
    def build(self, root: Y, overrides: dict, source: str | None = None) -> Graph:
        """The graph of ``root``; ``source``: the text it was parsed from (a spec read from
        text keeps it, and the ``--set`` values that bound its symbols)."""
        try:
            return self._build(root, overrides, source)
        finally:
            self.progress.loc = None

    def _build(self, root: Y, overrides: dict, source: str | None) -> Graph:
        if not root.is_map:
            raise SpecError(f"a spec must be a mapping with 'input' and 'layers', got "
                            f"{describe(root)}", root.loc)
        for key, loc in root.key_locs.items():
            if key not in TOP_KEYS:
                raise SpecError(f"unknown top-level key '{key}'{did_you_mean(key, TOP_KEYS)}",
                                loc)
        for key in ("input", "layers"):
            if key not in root.value:
                raise SpecError(f"missing '{key}'", root.loc)
        name = root.value.get("name")
        if name is not None and (name.is_map or name.is_seq):
            raise SpecError(f"'name' must be text, got {describe(name)}", name.loc)
        title = str(name.value) if name is not None and name.value is not None else self.file
        if name is not None and (not title.isprintable() or len(title) > 200):
            raise SpecError("'name' must be one line of printable text (at most 200 "
                            "characters)", name.loc)
        symbols = self.symbols(root.value.get("symbols"), overrides)
        env = dict(symbols)
        self.global_env = env
        shape = self.input_shape(root.value["input"], env)
        keras = _keras_batch(root.value["input"])  # [null, 224, 224, 3]: Keras's order
        written_in = layout.read(root.value.get("layout")) if "layout" in root.value or \
            not keras else layout.CHANNELS_LAST
        if written_in == layout.CHANNELS_LAST:  # analysed channels first, as everywhere
            shape = layout.to_first(shape)
        self.input_rank = len(shape)
        self.blocks = self.read_blocks(root.value.get("blocks"))
        top = _Scope("", None, env)
        self.nodes.append(Node(0, "input", "input", "input", {}, (), 0, root.value["input"].loc))
        top.names["input"] = (0, None)
        out = self.items(root.value["layers"], top, 0)
        if out == 0:
            raise SpecError("'layers' is empty", root.value["layers"].loc)
        bound = {k: v for k, v in overrides.items() if v is not None} if source is not None \
            else {}
        estimates = approximations.read(root.value.get("approximations"),
                                        lambda node, what: self.value(node, env, what))
        return Graph(title, self.file, shape, symbols, self.nodes, self.groups, self.rows, out,
                     written_in, source, bound, root if source is not None else None,
                     estimates, self.distinct_conditions())

    def distinct_conditions(self) -> tuple:
        """The recorded conditions, each once (where it first arose: a symbol h = d/2 and
        every argument that uses h give the same condition)."""
        seen: dict = {}
        for entry in self.conditions:
            seen.setdefault(entry[0], entry)
        return tuple(seen.values())

    def symbols(self, node: Y | None, overrides: dict) -> dict:
        declared: dict[str, Any] = {}
        if node is not None and node.value is not None:
            if not node.is_map:
                raise SpecError(f"'symbols' must be a mapping of name: default, got "
                                f"{describe(node)}", node.loc)
            for key, value in node.value.items():
                loc = node.key_locs[key]
                if not _SYMBOL.match(key) or key in expr.FUNCTIONS:
                    raise SpecError(f"'{key}' cannot be a symbol name", loc)
                if value.is_map:  # {real: true, default: 1.0} or {min: 0, default: …}
                    value = self.symbol_mapping(key, value)
                if key in overrides:
                    declared[key] = overrides[key]
                    if key in self.reals:
                        self.check_real_override(key, overrides[key], tuple(node.value))
                    elif value.value is None:
                        self.check_size_override(key, overrides[key], tuple(node.value))
                elif value.value is None:
                    declared[key] = None
                else:  # a default may be an expression of the symbols before it, free or not
                    declared[key] = self.number(value, dict(declared), what=f"symbol {key}")
                    if dims.is_integer_valued(declared[key]) is None:
                        self.conditions.append((dims.whole(declared[key]),
                                                f"symbol {key}: {declared[key]} is a whole "
                                                "number", loc))
                if declared[key] is None:  # free: a positive whole number (or real)
                    import sympy as sp

                    if key in self.reals:
                        declared[key] = sp.Symbol(key, positive=True, real=True)
                    elif key in self.zeros:
                        declared[key] = sp.Symbol(key, integer=True, nonnegative=True)
                    else:
                        declared[key] = sp.Symbol(key, integer=True, positive=True)
        for key in overrides:
            if key not in declared:
                raise SymbolError(key, overrides[key], "unknown", tuple(declared),
                                  Loc(self.file), self.origins.get(key, "cli"))
        return declared

    def symbol_mapping(self, key: str, node: Y) -> Y:
        """A symbol declared by a mapping: ``{real: true, default: 1.0}`` (a width
        multiplier, real-valued) or ``{min: 0, default: …}`` (a whole number that may be 0,
        such as a padding); its default node (absent: free) is returned."""
        for k, kloc in node.key_locs.items():
            if k not in ("real", "default", "min"):
                raise SpecError(f"symbol {key}: unknown key '{k}'"
                                f"{did_you_mean(k, ('real', 'default', 'min'))} (a symbol is "
                                "name: default, name: {real: true, default: 1.0} or name: "
                                "{min: 0, default: null})", kloc)
        if "min" not in node.value:
            return self.real_symbol(key, node)
        low = node.value["min"]
        if "real" in node.value:
            raise SpecError(f"symbol {key}: 'min' is for a whole-number symbol; a real-valued "
                            "one is positive", low.loc)
        if isinstance(low.value, bool) or low.value not in (0, 1):
            raise SpecError(f"symbol {key}: min is 0 (a whole number that may be 0) or 1 (the "
                            f"default: positive), got {describe(low)}", low.loc)
        if low.value == 0:
            self.zeros.add(key)
        default = node.value.get("default", Y(None, node.loc))
        if default.is_map or default.is_seq or isinstance(default.value, bool):
            raise SpecError(f"symbol {key}: the default must be a number or an expression, "
                            f"got {describe(default)}", default.loc)
        return default

    def real_symbol(self, key: str, node: Y) -> Y:
        """A symbol declared ``{real: true, default: 1.0}`` (a width multiplier): recorded as
        real-valued; its default node (absent: a free real symbol) is returned."""
        real = node.value.get("real")
        if real is None or real.value is not True:
            got = f", got {describe(real)}" if real is not None else ""
            raise SpecError(f"symbol {key}: a mapping declares a real-valued symbol and needs "
                            f"'real: true'{got} (a whole-number symbol is name: default)",
                            real.loc if real is not None else node.loc)
        self.reals.add(key)
        default = node.value.get("default", Y(None, node.loc))
        if default.value is not None and (isinstance(default.value, bool) or
                                          default.is_map or default.is_seq):
            raise SpecError(f"symbol {key}: the default of a real symbol must be a number, "
                            f"got {describe(default)}", default.loc)
        return default

    def check_real_override(self, key: str, value: Any, declared: tuple) -> None:
        """A real-valued symbol may be bound to any positive finite number (--set w=0.75)."""
        if value is None:
            return
        if isinstance(value, bool) or not isinstance(value, dims.NUMBER_TYPES) or \
                not value > 0:
            raise SymbolError(key, value, "not_positive", declared, Loc(self.file),
                              self.origins.get(key, "cli"))

    def real_hint(self, node: Y) -> str:
        """For a size that is not whole: the real-valued symbols its expression uses, and the
        functions that make a whole number of it."""
        if not self.reals or not isinstance(node.value, str):
            return ""
        try:
            used = sorted(expr.names(expr.parse(node.value)) & self.reals)
        except SpecError:
            return ""
        if not used:
            return ""
        which = ", ".join(used)
        return (f" ({which} {'is' if len(used) == 1 else 'are'} real-valued: make a whole "
                "number with round, floor, ceil, int or make_divisible)")

    def check_size_override(self, key: str, value: Any, declared: tuple) -> None:
        """A free symbol stands for a size: --set may bind it to a positive whole number only
        (one declared ``min: 0`` to 0 too)."""
        if value is None:
            return
        low = 0 if key in self.zeros else 1
        if dims.is_integer_valued(value) is not True or value < low:
            raise SymbolError(key, value, "negative" if low == 0 else "not_a_size", declared,
                              Loc(self.file), self.origins.get(key, "cli"))

    def input_shape(self, node: Y, env: dict) -> tuple:
        if not node.is_seq or not node.value:
            raise SpecError(f"'input' must be a non-empty list of sizes such as [3, 224, 224] "
                            f"(channels first, no batch axis), got {describe(node)}", node.loc)
        if len(node.value) > limits.current().max_rank:
            raise SpecError(f"'input' has {len(node.value)} axes; the limit is "
                            f"{limits.current().max_rank}", node.loc)
        sizes = node.value[1:] if _keras_batch(node) else node.value
        return tuple(self.size(v, env, "input size") for v in sizes)

    def read_blocks(self, node: Y | None) -> dict:
        if node is None or node.value is None:
            return {}
        if not node.is_map:
            raise SpecError(f"'blocks' must be a mapping of block definitions, got "
                            f"{describe(node)}", node.loc)
        for name, body in node.value.items():
            loc = node.key_locs[name]
            if not _NAME.match(name) or "." in name:
                raise SpecError(f"block name '{name}' must be a name such as "
                                "inception or stage_2 (letters, digits, '_' and '-')", loc)
            if name in REGISTRY or name in STRUCTURE_KEYS:
                raise SpecError(f"block '{name}' has the name of a built-in layer type", loc)
            if not body.is_map or "layers" not in body.value:
                raise SpecError(f"block '{name}' must be a mapping with 'layers' (and "
                                "optional 'params')", body.loc)
            for key, kloc in body.key_locs.items():
                if key not in ("params", "layers", "description"):
                    raise SpecError(f"block '{name}': unknown key '{key}'"
                                    f"{did_you_mean(key, ('params', 'layers'))}", kloc)
        return dict(node.value)

    # ----------------------------------------------------------------- values
    def value(self, node: Y, env: dict, what: str) -> Any:
        """A number, or a symbol name / expression string evaluated in ``env``."""
        v = node.value
        if isinstance(v, bool) or v is None or node.is_map or node.is_seq:
            raise SpecError(f"{what}: expected a number or an expression, got {describe(node)}",
                            node.loc)
        if isinstance(v, float) and not math.isfinite(v):
            raise SpecError(f"{what}: expected a finite number, got {v}", node.loc)
        if isinstance(v, (int, float)):
            return v
        self.progress.loc = node.loc
        try:
            result = expr.evaluate_text(str(v), env)
        except SpecError as e:
            raise SpecError(f"{what}: in expression {_quote(str(v))}: {e.message}",
                            node.loc) from None
        if isinstance(result, tuple):
            raise SpecError(f"{what}: '{v}' is a list; expected a single number", node.loc)
        return result

    def number(self, node: Y, env: dict, what: str) -> Any:
        v = self.value(node, env, what)
        if dims.is_integer_valued(v) is False and not isinstance(v, float):
            raise SpecError(f"{what}: {v} is not a whole number", node.loc)
        return int(v) if isinstance(v, dims.NUMBER_TYPES) and dims.is_integer_valued(v) else v

    def integer(self, node: Y, env: dict, what: str, minimum: int | None = None) -> Any:
        return self.whole(self.value(node, env, what), node, what, minimum)

    def whole(self, v: Any, node: Y, what: str, minimum: int | None = None) -> Any:
        """``v`` checked to be a whole number (at least ``minimum``); errors point at ``node``."""
        ok = dims.is_integer_valued(v)
        if ok is False:
            raise SpecError(f"{what} must be a whole number, got {v}{self.real_hint(node)}",
                            node.loc)
        if ok is None and any(not s.is_integer for s in v.free_symbols):
            raise SpecError(f"{what} must be a whole number, got {v}{self.real_hint(node)}",
                            node.loc)
        if ok is None:  # d_model/n_head with free symbols: whole only for some values
            self.conditions.append((dims.whole(v), f"{what} {v} is a whole number", node.loc))
        if ok is True and not dims.is_symbolic(v):
            v = int(v)
        if minimum is not None:
            if dims.resolve(v >= minimum) is False:
                bound = "positive" if minimum == 1 else f"at least {minimum}"
                raise SpecError(f"{what} must be {bound}, got {v}", node.loc)
        return v

    def size(self, node: Y, env: dict, what: str) -> Any:
        return self.integer(node, env, what, minimum=1)

    # ----------------------------------------------------------------- items
    def items(self, node: Y, scope: _Scope, current: int) -> int:
        if not node.is_seq:
            raise SpecError(f"expected a list of layers, got {describe(node)}", node.loc)
        self.nesting += 1
        limit = limits.current().max_block_depth
        if self.nesting > limit:
            raise LimitReached(f"blocks, repeats and branches nest more than {limit} deep",
                               "max_block_depth", node.loc)
        for item in node.value:
            current = self.item(item, scope, current)
        self.nesting -= 1
        return current

    def item(self, item: Y, scope: _Scope, current: int) -> int:
        self.progress.loc = item.loc
        if isinstance(item.value, str):
            return self.call(item.value, None, item, item.loc, scope, current)
        if not item.is_map or not item.value:
            raise SpecError(f"a layer must be a type name or a one-key mapping "
                            f"'type: {{args}}', got {describe(item)}", item.loc)
        keys = list(item.value)
        for structure, allowed in STRUCTURE_KEYS.items():
            if structure in item.value:
                for key in keys:
                    if key not in allowed:
                        raise SpecError(f"{structure}: unknown key '{key}'"
                                        f"{did_you_mean(key, allowed)}", item.key_locs[key])
                return getattr(self, structure)(item, scope, current)
        if len(keys) != 1:
            raise SpecError(f"a layer is a one-key mapping 'type: {{args}}', got keys "
                            f"{', '.join(keys)} (indent the arguments under the type?)",
                            item.loc)
        kind = keys[0]
        return self.call(kind, item.value[kind], item, item.key_locs[kind], scope, current)

    def call(self, kind: str, args: Y | None, item: Y, loc: Loc, scope: _Scope, current: int):
        if kind in REGISTRY:
            return self.layer(kind, args, item, loc, scope, current)
        if kind in self.blocks:
            return self.block(kind, args, loc, scope, current)
        choices = list(REGISTRY) + list(self.blocks) + list(STRUCTURE_KEYS)
        hint = _rank_hint(kind.lower(), self.input_rank) or did_you_mean(kind, choices) or \
            did_you_mean(kind.lower(), choices)
        raise SpecError(f"unknown layer type '{kind}'"
                        f"{hint or ' (archcalc list-layers shows every type)'}", loc)

    def arg_map(self, kind: str, args: Y | None, loc: Loc) -> Y:
        if args is None or args.value is None:
            return Y({}, loc)
        if not args.is_map:
            raise SpecError(f"{kind}: arguments must be a mapping such as {{out: 64}}, got "
                            f"{describe(args)}", args.loc)
        return args

    def take_name(self, args: Y, kind: str) -> str | None:
        node = args.value.get("name")
        if node is None:
            return None
        if not isinstance(node.value, str) or not _NAME.match(node.value):
            raise SpecError(f"{kind}: 'name' must be a name such as conv1 or layer2.0, got "
                            f"{describe(node)}", node.loc)
        if node.value == "input":
            raise SpecError(f"{kind}: 'input' is reserved and cannot be a name (it names the "
                            "network's input)", node.loc)
        return node.value

    def take_from(self, args: Y, scope: _Scope, current: int, kind: str) -> int:
        node = args.value.get("from")
        return current if node is None else self.ref(node, scope, f"{kind}: from")

    def ref(self, node: Y, scope: _Scope, what: str) -> int:
        if not isinstance(node.value, str):
            raise SpecError(f"{what}: expected the name of an earlier output, got "
                            f"{describe(node)}", node.loc)
        name = node.value
        found = scope.lookup(name)
        if found is None:
            found = self.qualified.get(name)
        if found is None:
            raise SpecError(f"{what}: no earlier output is named '{name}'"
                            f"{did_you_mean(name, scope.visible())}", node.loc)
        for g in self.closed_passes:
            group = self.groups[g]
            if group.first <= found <= group.last and found != group.output \
                    and not scope.within(g):
                raise SpecError(f"{what}: '{name}' is inside '{group.local}', a repeat over "
                                f"'{group.times}' whose passes are not built one by one; "
                                "refer to the repeat's output (its name) instead", node.loc)
        return found

    def layer(self, kind: str, args: Y | None, item: Y, loc: Loc, scope: _Scope, current: int):
        rule = REGISTRY[kind]
        args = self.arg_map(kind, args, loc)
        name = self.take_name(args, kind)
        source = self.take_from(args, scope, current, kind)
        values, refs = {}, []
        for key, node in args.value.items():
            if key in ("name", "from"):
                continue
            if key == "trainable":  # Keras: a frozen layer's parameters are non-trainable
                values[key] = _trainable(node, kind)
                continue
            if key not in rule.args:
                raise SpecError(f"{kind}: unknown argument '{key}'"
                                f"{_torch_hint(key, rule.args) or did_you_mean(key, rule.args)}",
                                args.key_locs[key])
            values[key] = self.arg(kind, key, rule.args[key], node, scope)
            if rule.args[key].kind in ("ref", "refs") and values[key] is not None:
                refs.extend(values[key] if isinstance(values[key], tuple) else [values[key]])
        for key, spec in rule.args.items():
            if key not in values:
                if spec.default is REQUIRED:
                    raise SpecError(f"{kind}: missing argument '{key}'"
                                    f"{' (' + spec.doc + ')' if spec.doc else ''}", loc)
                values[key] = spec.default
        if values.get("padding") == "full":
            values["padding"] = self.full_padding(kind, rule, values, args.value["padding"])
        inputs = (source, *values.get("with", ())) if rule.merge else (source,)
        inputs += tuple(values[k] for k, a in rule.args.items()  # refs read as tensors
                        if a.tensor and values[k] is not None)
        return self.add_node(kind, name, values, inputs, scope, loc, item)

    def full_padding(self, kind: str, rule, values: dict, node: Y) -> Any:
        """``padding: full`` written out, ``d·(k − 1)`` per axis; a pool's must be at most
        half its kernel, as PyTorch requires of any pool padding."""
        pad = window.full_padding(values["kernel"], values.get("dilation", 1))
        if rule.family == "pool":
            kernel = values["kernel"] if isinstance(values["kernel"], tuple) else \
                (values["kernel"],)
            pads = pad if isinstance(pad, tuple) else (pad,) * len(kernel)
            for k, p in zip(kernel * len(pads) if len(kernel) == 1 else kernel, pads):
                if dims.resolve(2 * p <= k) is False:
                    raise SpecError(f"{kind}: padding 'full' is {p} per side for kernel {k}, "
                                    "more than half the kernel (PyTorch allows a pool padding "
                                    "of at most kernel//2): full padding fits a pool only with "
                                    "kernel 1, or kernel 2 without dilation", node.loc)
        return pad

    def arg(self, kind: str, key: str, spec: Arg, node: Y, scope: _Scope) -> Any:
        what = f"{kind}: '{key}'"
        env = scope.env
        if node.value is None:
            if spec.nullable or spec.default is None:
                return None
            raise SpecError(f"{what} cannot be empty (null)", node.loc)
        k = spec.kind
        if k == "int":
            return self.integer(node, env, what, spec.min)
        if k in ("ints", "padding"):
            if k == "padding" and node.value in ("same", "valid", "full"):
                return node.value
            if isinstance(node.value, str) and node.value.lower() in ("same", "valid", "full"):
                if node.value != node.value.lower():
                    raise SpecError(f"{what}: write '{node.value.lower()}' in lower case",
                                    node.loc)
                if key == "padding":  # numbers only, as for PyTorch's transposed convolutions
                    raise SpecError(f"{what}: '{node.value}' is not available for {kind}, whose "
                                    "padding is a number (or one per axis), as in PyTorch",
                                    node.loc)
                raise SpecError(f"{what}: '{node.value}' is a kind of padding, not a value of "
                                f"'{key}'", node.loc)
            if k == "padding" and isinstance(node.value, str) and \
                    node.value.strip().isidentifier() and node.value.strip() not in env:
                raise SpecError(f"{what} must be a number, a list, 'same', 'valid' or 'full', "
                                f"got {describe(node)}"
                                f"{did_you_mean(node.value, ['same', 'valid', 'full', *env])}",
                                node.loc)
            passed = env.get(node.value.strip()) if isinstance(node.value, str) else None
            if isinstance(passed, tuple):  # a block parameter given a list: kernel: k, k = [1, 7]
                return tuple(self.whole(v, node, what, spec.min) for v in passed)
            if node.is_seq:
                if not node.value:
                    raise SpecError(f"{what}: empty list", node.loc)
                if spec.nullable:
                    return tuple(None if v.value is None else self.integer(v, env, what, spec.min)
                                 for v in node.value)
                return tuple(self.integer(v, env, what, spec.min) for v in node.value)
            return self.integer(node, env, what, spec.min)
        if k == "float":
            v = self.value(node, env, what)
            if dims.is_symbolic(v):
                raise SpecError(f"{what} must be a number, not a symbolic expression", node.loc)
            try:
                return float(v)
            except OverflowError:
                raise SpecError(f"{what} is beyond the range of floating-point numbers (about "
                                "±1.8e308)", node.loc) from None
        if k == "bool":
            if isinstance(node.value, bool):
                return node.value
            if not isinstance(node.value, (str, int)) or node.is_map or node.is_seq or \
                    isinstance(node.value, str) and node.value.strip().isidentifier() and \
                    node.value.strip() not in env:
                raise SpecError(f"{what} must be true or false, got {describe(node)}", node.loc)
            # a switch: a symbol or expression that is 0 or 1 (bias: use_bias, --set use_bias=0)
            v = self.value(node, env, what)
            if dims.is_symbolic(v):
                raise Unbound(f"{what} '{node.value}' is a switch (true or false, 0 or 1) and "
                              "must be a number", node.loc)
            if v not in (0, 1):
                got = v if str(node.value).strip() == str(v) else f"{node.value} = {v}"
                raise SpecError(f"{what} must be true or false (or a value of 0 or 1), got "
                                f"{got}", node.loc)
            return bool(v)
        if k == "str":
            if node.value not in spec.choices:
                raise SpecError(f"{what} must be one of {', '.join(spec.choices)}, got "
                                f"{describe(node)}{did_you_mean(str(node.value), spec.choices)}",
                                node.loc)
            return node.value
        if k == "text":
            if not isinstance(node.value, str):
                raise SpecError(f"{what} must be a string, got {describe(node)}", node.loc)
            return node.value
        if k in ("ref", "weight"):
            return self.ref(node, scope, what)
        if k == "refs":
            nodes = node.value if node.is_seq else [node]
            return tuple(self.ref(n, scope, what) for n in nodes)
        if k == "shape":
            if not node.is_seq:
                raise SpecError(f"{what} must be a list, got {describe(node)}", node.loc)
            return tuple(self.integer(v, env, what) for v in node.value)
        return self.any_value(node, env, what)

    def any_value(self, node: Y, env: dict, what: str) -> Any:
        if node.is_seq:
            return tuple(self.any_value(v, env, what) for v in node.value)
        if node.is_map:
            raise SpecError(f"{what}: unexpected mapping", node.loc)
        v = self.value(node, env, what)
        if isinstance(v, float) and v.is_integer() and isinstance(node.value, str):
            return int(v)
        return dims.as_number(v) if not isinstance(v, float) else v

    # ----------------------------------------------------------------- graph building
    def add_node(self, kind, name, args, inputs, scope: _Scope, loc: Loc, item: Y | None) -> int:
        if len(self.nodes) > self.max_nodes:
            raise LimitReached(f"the network expands to more than {self.max_nodes} layers",
                               "max_nodes", loc)
        local = name or self.auto_name(scope, kind)
        node_id = len(self.nodes)
        self.define(scope, local, node_id, loc if name else None, item)
        qualified = self.unique(scope.prefix + local, node_id)
        self.nodes.append(Node(node_id, kind, qualified, local, args, tuple(inputs),
                               scope.depth, loc, name is not None, scope.group))
        self.rows.append(("node", node_id))
        return node_id

    def auto_name(self, scope: _Scope, kind: str) -> str:
        while True:
            scope.counters[kind] = scope.counters.get(kind, 0) + 1
            local = f"{kind}_{scope.counters[kind]}"
            if local not in scope.names:
                return local

    def define(self, scope: _Scope, local: str, target: int, loc: Loc | None, item) -> None:
        """Record a name; a user name given twice is an error unless a repeat re-runs it."""
        if loc is not None and local in scope.names:
            _, first = scope.names[local]
            if first is not None and first != loc:
                raise SpecError(f"duplicate name '{local}' (first defined at line {first.line}, "
                                f"column {first.col})", loc)
        scope.names[local] = (target, loc)

    def unique(self, qualified: str, target: int) -> str:
        """A qualified name not used yet (a repeat re-running a named layer gets _2, _3 …)."""
        name, n = qualified, 1
        while name in self.qualified:
            n += 1
            name = f"{qualified}_{n}"
        self.qualified[name] = target
        return name

    def open_group(self, kind: str, name: str | None, scope: _Scope, loc: Loc, label: str):
        local = name or self.auto_name(scope, label)
        group = Group(len(self.groups), kind, self.unique(scope.prefix + local, -1), local,
                      scope.depth, loc, first=len(self.nodes), named=name is not None,
                      parent=scope.group)
        self.groups.append(group)  # replaced when it closes, with its last node and output
        self.rows.append(("group", group.id))
        if name:
            self.define(scope, local, -1, loc, None)  # resolved to the output on close
        inner = _Scope(group.name + ".", scope, scope.env, depth=scope.depth + 1, group=group.id)
        return group, inner

    def close_group(self, group: Group, scope: _Scope, out: int) -> int:
        group = self.groups[group.id] = replace(group, last=len(self.nodes) - 1, output=out)
        self.qualified[group.name] = out
        if group.local in scope.names:
            scope.names[group.local] = (out, scope.names[group.local][1])
        else:
            scope.names[group.local] = (out, None)
        if group.last < group.first:
            raise SpecError(f"'{group.local}' contains no layers", group.loc)
        return out

    def block(self, kind: str, args: Y | None, loc: Loc, scope: _Scope, current: int) -> int:
        if kind in self.calls:
            chain = " → ".join([*self.calls[self.calls.index(kind):], kind])
            raise SpecError(f"block '{kind}' calls itself ({chain})", loc)
        if len(self.calls) >= limits.current().max_block_depth:
            raise SpecError(f"blocks nest more than {limits.current().max_block_depth} deep", loc)
        body = self.blocks[kind]
        params = self.block_params(kind, body)
        args = self.arg_map(kind, args, loc)
        name = self.take_name(args, kind)
        source = self.take_from(args, scope, current, kind)
        env = dict(self.global_env)  # lexical: a block sees the spec's symbols and its params
        frozen = "trainable" in args.value and not _trainable(args.value["trainable"], kind)
        tensors = {}  # parameters given a layer's name: the block refers to that output
        for key, node in args.value.items():
            if key in ("name", "from", "trainable"):
                continue
            if key not in params:
                raise SpecError(f"block '{kind}': unknown parameter '{key}'"
                                f"{did_you_mean(key, params)}", args.key_locs[key])
            if self.names_output(node, scope):
                tensors[key] = self.ref(node, scope, f"{kind}: '{key}'")
                env[key] = expr.OutputName(node.value.strip())
                continue
            if isinstance(node.value, str) and _SYMBOL.match(node.value.strip()) and \
                    node.value.strip() not in scope.env:
                raise SpecError(f"{kind}: '{key}': '{node.value}' is neither a symbol nor an "
                                "earlier output"
                                f"{did_you_mean(node.value, [*scope.env, *scope.visible()])}",
                                node.loc)
            env[key] = self.any_value(node, scope.env, f"{kind}: '{key}'")
        for key, default in params.items():
            if key not in args.value:
                if default is REQUIRED:
                    raise SpecError(f"block '{kind}': missing parameter '{key}'", loc)
                env[key] = default
        group, inner = self.open_group(kind, name, scope, loc, kind)
        inner.env = env
        for key, target in tensors.items():  # from:, with:, like: inside see the output
            inner.names[key] = (target, None)
        self.calls.append(kind)
        first = len(self.nodes)
        out = self.items(body.value["layers"], inner, source)
        self.calls.pop()
        for node in self.nodes[first:] if frozen else ():
            node.args["trainable"] = False
        return self.close_group(group, scope, out)

    def names_output(self, node: Y, scope: _Scope) -> bool:
        """Whether a block argument names an earlier output (``skip: d3``) rather than a
        value: a plain name that is no symbol or parameter in the caller's scope."""
        v = node.value
        if not isinstance(v, str) or not _NAME.match(v.strip()):
            return False
        if v.strip() in scope.env:  # a value, unless it is a tensor parameter passed on
            return isinstance(scope.env[v.strip()], expr.OutputName)
        return scope.lookup(v.strip()) is not None or v.strip() in self.qualified

    def block_params(self, kind: str, body: Y) -> dict:
        node = body.value.get("params")
        if node is None or node.value is None:
            return {}
        if node.is_seq:
            names = [v.value for v in node.value]
            for v in node.value:
                if not isinstance(v.value, str) or not _SYMBOL.match(v.value):
                    raise SpecError(f"block '{kind}': a parameter must be a name, got "
                                    f"{describe(v)}", v.loc)
            return {n: REQUIRED for n in names}
        if node.is_map:
            return {k: REQUIRED if v.value is None
                    else self.any_value(v, {}, f"block '{kind}': parameter '{k}'")
                    for k, v in node.value.items()}
        raise SpecError(f"block '{kind}': 'params' must be a list of names, got "
                        f"{describe(node)}", node.loc)

    def repeat_count(self, node: Y, scope: _Scope) -> tuple:
        """``repeat: n`` or ``repeat: {count: n, index: i}``: (the count's node, the index's
        name or None)."""
        if not node.is_map:
            return node, None
        for key, kloc in node.key_locs.items():
            if key not in ("count", "index"):
                raise SpecError(f"repeat: unknown key '{key}'"
                                f"{did_you_mean(key, ('count', 'index'))} (repeat: n, or "
                                "repeat: {count: n, index: i})", kloc)
        if "count" not in node.value:
            raise SpecError("repeat: missing 'count' (repeat: {count: n, index: i})", node.loc)
        index = node.value.get("index")
        if index is None:
            return node.value["count"], None
        if not isinstance(index.value, str) or not _SYMBOL.match(index.value) or \
                index.value in expr.FUNCTIONS:
            raise SpecError(f"repeat: 'index' must be a name such as i, got {describe(index)}",
                            index.loc)
        if index.value in scope.env:
            raise SpecError(f"repeat: index '{index.value}' is already a symbol or parameter "
                            "here; choose another name", index.loc)
        return node.value["count"], index

    def repeat(self, item: Y, scope: _Scope, current: int) -> int:
        count_node, index = self.repeat_count(item.value["repeat"], scope)
        count = self.integer(count_node, scope.env, "repeat", minimum=0)
        if dims.is_symbolic(count):
            if index is not None:
                raise Unbound(f"repeat: index '{index.value}' differs from pass to pass, so the "
                              f"passes must be built one by one, but the count {count} is "
                              "free", index.loc)
            return self.repeat_symbolic(item, count, scope, current)
        if count > limits.current().max_repeat:
            raise LimitReached(f"repeat {count} is above the limit "
                               f"{limits.current().max_repeat}", "max_repeat", count_node.loc)
        if "layers" not in item.value:
            raise SpecError("repeat: missing 'layers'", item.loc)
        body = item.value["layers"]
        source = self.take_from(item, scope, current, "repeat")
        name = self.take_name(item, "repeat")
        if count == 0:  # left out: a name given to it stands for what it would have received
            if name:
                self.define(scope, name, source, item.loc, None)
                self.qualified.setdefault(scope.prefix + name, source)
            return source
        inner, group = scope, None
        if name:
            group, inner = self.open_group("repeat", name, scope, item.loc, "repeat")
        out, env = source, inner.env
        for i in range(count):
            before = len(self.nodes)
            if index is not None:  # the pass's index, seen by the body's expressions only
                inner.env = {**env, index.value: i}
            try:
                out = self.items(body, inner, out)
            finally:
                inner.env = env
            if len(self.nodes) == before:
                break  # a pass that adds no layer: every other pass would do the same
            if i == 0 and len(self.nodes) + (count - 1) * (len(self.nodes) - before) \
                    > self.max_nodes:
                raise LimitReached(f"repeat {count} × {len(self.nodes) - before} layers "
                                   f"expands the network beyond {self.max_nodes} layers",
                                   "max_nodes", count_node.loc)
        if group is not None:
            return self.close_group(group, scope, out)
        return out

    def repeat_symbolic(self, item: Y, count, scope: _Scope, current: int) -> int:
        """A repeat over a free symbol: the body built once, in a group that stands for
        ``count`` passes (the analysis requires that a pass keeps its input's shape)."""
        if "layers" not in item.value:
            raise SpecError("repeat: missing 'layers'", item.loc)
        source = self.take_from(item, scope, current, "repeat")
        name = self.take_name(item, "repeat")
        group, inner = self.open_group("repeat", name, scope, item.loc, "repeat")
        self.groups[group.id] = group = replace(group, times=count, source=source)
        out = self.items(item.value["layers"], inner, source)
        if len(self.nodes) == group.first:  # an empty body: the identity, any number of times
            self.groups.pop()
            self.rows.remove(("group", group.id))
            if name:
                scope.names[name] = (source, scope.names[name][1])
                self.qualified[group.name] = source
            return source
        self.closed_passes.append(group.id)
        return self.close_group(group, scope, out)

    def branches(self, item: Y, scope: _Scope, current: int) -> int:
        paths = item.value["branches"]
        if not paths.is_seq or not paths.value:
            raise SpecError("branches: expected a list of branches, each a list of layers",
                            paths.loc)
        merge = item.value.get("merge")
        if merge is None:
            raise SpecError(f"branches: missing 'merge' ({' | '.join(MERGES)})", item.loc)
        if merge.value not in MERGES:
            raise SpecError(f"branches: merge must be one of {', '.join(MERGES)}, got "
                            f"{describe(merge)}{did_you_mean(str(merge.value), MERGES)}",
                            merge.loc)
        source = self.take_from(item, scope, current, "branches")
        name = self.take_name(item, "branches")
        inner, group = scope, None
        if name:
            group, inner = self.open_group("branches", name, scope, item.loc, "branches")
        outs = []
        for path in paths.value:
            if path.value is None:
                outs.append(source)
                continue
            outs.append(self.items(path, inner, source))
        args = {"with": (), **({"dim": 0} if merge.value == "concat" else {})}
        if "dim" in item.value:
            if merge.value != "concat":
                raise SpecError("branches: 'dim' only applies to merge: concat",
                                item.key_locs["dim"])
            args["dim"] = self.integer(item.value["dim"], scope.env, "branches: 'dim'")
        out = self.add_node(merge.value, None, args, outs, inner, merge.loc, None)
        return self.close_group(group, scope, out) if group is not None else out
