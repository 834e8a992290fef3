"""YAML → a tree of located values, with no object construction and bounded expansion.

PyYAML composes the document (no constructors run), and this module walks the node graph
itself: only the plain tags (map, seq, str, int, float, bool, null) are accepted, aliases are
expanded with a node budget (so alias bombs stop), and every value keeps its line and column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .. import limits
from ..errors import Loc, SpecError

_PLAIN_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"


@dataclass(eq=False)
class Y:
    """One located YAML value: ``value`` is a dict of Y, a list of Y, or a plain scalar."""

    value: Any
    loc: Loc
    key_locs: dict = field(default_factory=dict)

    @property
    def is_map(self) -> bool:
        return isinstance(self.value, dict)

    @property
    def is_seq(self) -> bool:
        return isinstance(self.value, list)

    def plain(self) -> Any:
        """The value with locations stripped (for messages and tests)."""
        if self.is_map:
            return {k: v.plain() for k, v in self.value.items()}
        if self.is_seq:
            return [v.plain() for v in self.value]
        return self.value


def describe(v: Y) -> str:
    """What kind of value this is, for error messages."""
    if v.is_map:
        return "a mapping"
    if v.is_seq:
        return "a list"
    if v.value is None:
        return "nothing (null)"
    return f"{type(v.value).__name__} {v.value!r}"


class _Walker:
    def __init__(self, file: str):
        import yaml

        self.file = file
        self.budget = limits.current().max_yaml_nodes
        self.max_depth = limits.current().max_yaml_depth
        self.constructor = yaml.constructor.SafeConstructor()

    def loc(self, node) -> Loc:
        m = node.start_mark
        return Loc(self.file, m.line + 1, m.column + 1)

    def walk(self, node, depth: int) -> Y:
        self.budget -= 1
        if self.budget < 0:
            raise SpecError(
                f"the document expands to more than {limits.current().max_yaml_nodes} YAML "
                "nodes (an alias bomb?)",
                self.loc(node),
            )
        if depth > self.max_depth:
            raise SpecError(f"nesting is deeper than {self.max_depth} levels", self.loc(node))
        tag = node.tag
        if tag == _MAP:
            return self.mapping(node, depth)
        if tag == _SEQ:
            return Y([self.walk(item, depth + 1) for item in node.value], self.loc(node))
        if tag in _PLAIN_TAGS:
            return Y(self.constructor.construct_object(node), self.loc(node))
        raise SpecError(f"YAML tag '{tag}' is not allowed in a spec", self.loc(node))

    def mapping(self, node, depth: int) -> Y:
        out, key_locs = {}, {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise SpecError("YAML merge keys ('<<') are not supported", self.loc(key_node))
            key = self.walk(key_node, depth + 1)
            if not isinstance(key.value, (str, int)) or isinstance(key.value, bool):
                raise SpecError(f"a key must be a name, got {describe(key)}", key.loc)
            name = str(key.value)
            if name in out:
                raise SpecError(f"duplicate key '{name}'", key.loc)
            out[name] = self.walk(value_node, depth + 1)
            key_locs[name] = key.loc
        return Y(out, self.loc(node), key_locs)


def load_text(text: str, file: str) -> Y | None:
    """Compose one YAML document into located values (None for an empty document)."""
    import yaml

    Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        nodes = list(yaml.compose_all(text, Loader=Loader))
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        loc = Loc(file, mark.line + 1, mark.column + 1) if mark else Loc(file)
        raise SpecError(f"YAML syntax error: {e.problem or e.context}", loc) from None
    except yaml.YAMLError as e:
        raise SpecError(f"YAML error: {e}", Loc(file)) from None
    except RecursionError:
        raise SpecError("YAML nesting is too deep", Loc(file)) from None
    if len(nodes) > 1:
        raise SpecError("the file holds more than one YAML document", Loc(file))
    if not nodes or nodes[0] is None:
        return None
    try:
        return _Walker(file).walk(nodes[0], 0)
    except RecursionError:
        raise SpecError("YAML nesting is too deep", Loc(file)) from None


def read_file(path: str) -> str:
    """A spec file's text, refusing what is not a reasonably sized UTF-8 text file."""
    import os

    try:
        size = os.path.getsize(path)
        if size > limits.current().max_file_bytes:
            raise SpecError(
                f"file is {size} bytes; the limit is {limits.current().max_file_bytes}", Loc(path)
            )
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise SpecError("no such file", Loc(path)) from None
    except IsADirectoryError:
        raise SpecError("is a directory, not a spec file", Loc(path)) from None
    except OSError as e:
        raise SpecError(f"cannot read: {e.strerror}", Loc(path)) from None
    if b"\x00" in data:
        raise SpecError("not a text file (it contains NUL bytes)", Loc(path))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise SpecError(f"not UTF-8 text (bad byte at offset {e.start})", Loc(path)) from None
