"""YAML → a tree of located values, with no object construction and bounded work.

The document is read as a stream of parser events (libyaml when available) and the tree is
built here, iteratively: no constructor of PyYAML ever runs, and nothing recurses on the
document's nesting (libyaml's own composer recurses in C and crashes on deep input). Only the
plain tags (map, seq, str, int, float, bool, null) are accepted; nesting stops at
``max_yaml_depth`` at the first event that goes deeper; aliases are charged the full size of
what they stand for, so alias bombs stop at ``max_yaml_nodes`` without being expanded; every
value keeps its line and column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .. import limits
from ..errors import LimitReached, Loc, SpecError

_Y = "tag:yaml.org,2002:"
_PLAIN_TAGS = {_Y + t for t in ("str", "int", "float", "bool", "null")}
_MAP = _Y + "map"
_SEQ = _Y + "seq"
_MERGE = _Y + "merge"
_TIMESTAMP = _Y + "timestamp"


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
    text = repr(v.value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(v.value).__name__} {text}"


def short_tag(tag: str) -> str:
    """``tag:yaml.org,2002:python/object`` → ``!!python/object`` (as written in the file)."""
    return "!!" + tag[len(_Y):] if tag.startswith(_Y) else tag


@dataclass(eq=False)
class _Open:
    """A mapping or list being read: its items so far, its location, its size in nodes."""

    value: Any
    loc: Loc
    anchor: str | None
    key_locs: dict = field(default_factory=dict)
    key: Y | None = None  # a mapping's key waiting for its value
    size: int = 1


class _Builder:
    def __init__(self, file: str):
        import yaml

        self.yaml = yaml
        self.file = file
        lim = limits.current()
        self.max_nodes = lim.max_yaml_nodes
        self.max_depth = lim.max_yaml_depth
        self.max_int_bits = lim.max_int_bits
        self.budget = self.max_nodes
        self.resolver = yaml.resolver.Resolver()
        self.constructor = yaml.constructor.SafeConstructor()
        self.anchors: dict[str, tuple[Y, int]] = {}
        self.stack: list[_Open] = []
        self.root: Y | None = None
        self.documents = 0

    def loc(self, event) -> Loc:
        m = event.start_mark
        return Loc(self.file, m.line + 1, m.column + 1)

    def charge(self, n: int, event) -> None:
        self.budget -= n
        if self.budget < 0:
            raise LimitReached(f"the document expands to more than {self.max_nodes} YAML "
                               "nodes", "max_yaml_nodes", self.loc(event),
                               aside="an alias bomb? ")

    def feed(self, event) -> None:
        yaml = self.yaml
        if isinstance(event, yaml.DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                raise SpecError("the file holds more than one YAML document (a second '---')",
                                self.loc(event))
        elif isinstance(event, yaml.ScalarEvent):
            self.charge(1, event)
            self.done(self.scalar(event), 1, event.anchor, event)
        elif isinstance(event, yaml.AliasEvent):
            if event.anchor not in self.anchors:
                raise SpecError(f"alias '*{event.anchor}' refers to no anchor defined before it",
                                self.loc(event))
            value, size = self.anchors[event.anchor]
            self.charge(size, event)
            self.done(value, size, None, event)
        elif isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            self.charge(1, event)
            self.check_tag(event, _SEQ if isinstance(event, yaml.SequenceStartEvent) else _MAP)
            if len(self.stack) >= self.max_depth:
                raise LimitReached(f"nesting is deeper than {self.max_depth} levels",
                                   "max_yaml_depth", self.loc(event))
            empty = [] if isinstance(event, yaml.SequenceStartEvent) else {}
            self.stack.append(_Open(empty, self.loc(event), event.anchor))
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            node = self.stack.pop()
            self.done(Y(node.value, node.loc, node.key_locs), node.size, node.anchor, event)

    def check_tag(self, event, default: str) -> None:
        tag = event.tag
        if tag is not None and tag not in ("!", default):
            raise SpecError(f"YAML tag '{short_tag(tag)}' is not allowed (archcalc's files hold "
                            "only mappings, lists, numbers, strings, booleans and null)",
                            self.loc(event))

    def scalar(self, event) -> Y:
        yaml = self.yaml
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.resolver.resolve(yaml.ScalarNode, event.value, event.implicit)
            if tag == _MERGE:
                raise SpecError("YAML merge keys ('<<') are not supported", self.loc(event))
            if tag not in _PLAIN_TAGS:
                tag = _Y + "str"  # a bare date or '=' is text in a spec, not a datetime
        if tag == _MERGE:
            raise SpecError("YAML merge keys ('<<') are not supported", self.loc(event))
        if tag not in _PLAIN_TAGS:
            self.check_tag(event, "")
        node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
        if tag == _Y + "int":
            digits = sum(c.isalnum() for c in event.value)
            if digits * 4 > self.max_int_bits + 64:
                raise SpecError(f"number is too large (more than {self.max_int_bits} bits)",
                                self.loc(event))
        try:
            value = self.constructor.construct_object(node)
        except (ValueError, OverflowError, yaml.YAMLError) as e:
            raise SpecError(f"cannot read {event.value[:40]!r} as {short_tag(tag)}: "
                            f"{str(e).splitlines()[0][:80]}", self.loc(event)) from None
        if isinstance(value, int) and not isinstance(value, bool) and \
                value.bit_length() > self.max_int_bits:
            raise SpecError(f"number is too large (more than {self.max_int_bits} bits)",
                            self.loc(event))
        return Y(value, self.loc(event))

    def done(self, value: Y, size: int, anchor: str | None, event) -> None:
        """A complete node: remember its anchor and hand it to the enclosing one."""
        if anchor is not None:
            self.anchors[anchor] = (value, size)
        if not self.stack:
            self.root = value
            return
        parent = self.stack[-1]
        parent.size += size
        if isinstance(parent.value, list):
            parent.value.append(value)
        elif parent.key is None:
            if not isinstance(value.value, (str, int)) or isinstance(value.value, bool):
                raise SpecError(f"a key must be a name, got {describe(value)}", value.loc)
            parent.key = value
        else:
            name = str(parent.key.value)
            if name in parent.value:
                first = parent.key_locs[name]
                raise SpecError(f"duplicate key '{name}' (first at line {first.line}, column "
                                f"{first.col})", parent.key.loc)
            parent.value[name] = value
            parent.key_locs[name] = parent.key.loc
            parent.key = None


def _reader_loc(text: str, file: str, position: int) -> Loc:
    before = text[:position]
    line = before.count("\n") + 1
    return Loc(file, line, position - (before.rfind("\n") + 1) + 1)


def load_text(text: str, file: str) -> Y | None:
    """Read one YAML document into located values (None for an empty document).

    libyaml reads fast but has limits of its own that differ between releases (newer ones
    refuse nesting past 1,000 levels while scanning ahead, before archcalc sees the events
    that break its own limit). So when libyaml refuses a document, it is read again with
    PyYAML's pure-Python parser, which has no such limit: archcalc's own limits then fire
    where they apply, a document that only libyaml refused loads (``--limit`` raises
    archcalc's limits, and only those), and a document both refuse is reported as libyaml
    described it."""
    import yaml

    first = None
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        try:
            return _parse(yaml, text, file, fast)
        except _LibraryError as e:
            first = e
    try:
        return _parse(yaml, text, file, yaml.SafeLoader)
    except _LibraryError as e:
        raise (first or e).error from None


class _LibraryError(Exception):
    """The YAML library refused the document; ``error`` is archcalc's located message."""

    def __init__(self, error: SpecError):
        super().__init__(str(error))
        self.error = error


def _parse(yaml, text: str, file: str, Loader) -> Y | None:
    """One pass of ``Loader``'s parser; archcalc's own refusals are SpecErrors, the library's
    are _LibraryErrors carrying the message to show."""
    builder = _Builder(file)
    try:
        for event in yaml.parse(text, Loader=Loader):
            builder.feed(event)
    except yaml.reader.ReaderError as e:
        c = e.character
        code = ord(c) if isinstance(c, str) else c
        what = f"character U+{code:04X}" if isinstance(code, int) else "character"
        raise _LibraryError(SpecError(f"YAML cannot contain the {what} ({e.reason})",
                                      _reader_loc(text, file, e.position))) from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        loc = Loc(file, mark.line + 1, mark.column + 1) if mark else Loc(file)
        problem = e.problem or e.context or "cannot parse"
        context = ""
        if e.context and e.context_mark and e.problem:
            m = e.context_mark
            context = f" ({e.context} at line {m.line + 1}, column {m.column + 1})"
        raise _LibraryError(SpecError(f"YAML syntax error: {problem}{context}", loc)) from None
    except yaml.YAMLError as e:
        raise _LibraryError(SpecError(f"YAML error: {str(e).splitlines()[0]}",
                                      Loc(file))) from None
    return builder.root


def _regular_file(path: str) -> None:
    """Refuse, before opening, what is not a plain file: reading a FIFO or a terminal would
    wait for ever, and a device has no end (symbolic links are followed)."""
    import os
    import stat

    mode = os.stat(path).st_mode
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(path)
    what = ("a named pipe (FIFO)" if stat.S_ISFIFO(mode) else
            "a socket" if stat.S_ISSOCK(mode) else
            "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file")
    raise SpecError(f"is {what}, not a spec file (archcalc reads specs from regular files)",
                    Loc(path))


def read_file(path: str) -> str:
    """A spec file's text, refusing what is not a reasonably sized UTF-8 text file."""
    import os

    try:
        _regular_file(path)
        size = os.path.getsize(path)
        if size > limits.current().max_file_bytes:
            raise LimitReached(
                f"file is {size} bytes; the limit is {limits.current().max_file_bytes}",
                "max_file_bytes", Loc(path)
            )
        with open(path, "rb") as f:
            # at most what the file holds: a huge --limit must not allocate its size
            data = f.read(min(limits.current().max_file_bytes, size) + 1)
    except FileNotFoundError:
        raise SpecError("no such file", Loc(path)) from None
    except IsADirectoryError:
        raise SpecError("is a directory, not a spec file", Loc(path)) from None
    except OSError as e:
        raise SpecError(f"cannot read: {e.strerror}", Loc(path)) from None
    if len(data) > limits.current().max_file_bytes:
        raise SpecError(f"file is larger than the limit {limits.current().max_file_bytes} bytes",
                        Loc(path))
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise SpecError("UTF-16 text: save the file as UTF-8", Loc(path, 1, 1))
    if b"\x00" in data:
        offset = data.index(b"\x00")
        text = data[:offset].decode("utf-8", "replace")
        raise SpecError(f"not a text file (NUL byte at offset {offset})",
                        _reader_loc(text, path, len(text)))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        text = data[:e.start].decode("utf-8", "replace")
        raise SpecError(f"not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start})",
                        _reader_loc(text, path, len(text))) from None
