"""Grade answer sheets: every claimed number against the closed form, with derivations.

A sheet (YAML) names a spec (``spec:``, relative to the sheet) or holds one inline
(``model:``), may bind symbols (``set:``) and pick a convention, and lists ``answers``:
``{at: <layer, block or total>, params: …, trainable_params: …, macs: …, flops: …,
output_shape: …, rf: …}``. Each claim is right or wrong (claims.py says how rounded and
symbolic claims compare); a wrong one carries the correct value, its derivation, and — for
counts — the counting convention under which the claim would have been right. A claim that
cannot be read is graded as not right, with the reason, and the rest of the sheet is
graded; a sheet that cannot be read at all is reported as such (``SheetResult.error``).

Sheets come from students: ``spec:`` is only read inside the sheet's own folder and the
roots given with ``--spec-root``, only when it is a regular file, and the contents of a file
that is not a spec are never quoted; every sheet string that is shown is validated or escaped.
"""

from __future__ import annotations

import math
import os
import stat
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from . import check_kinds, claims, conventions, dims, layout
from .errors import Loc, SpecError, did_you_mean, option, printable
from .report.values import as_written, expr_text, human, json_value, shape_text

SHEET_KEYS = ("name", "spec", "model", "set", "convention", "prefix", "layout", "answers")
PREFIX_CHOICES = ("decimal", "binary")
ENTRY_KEYS = {"at", "layout", "points", "spec"}  # the keys of an answer that are not claims
MAX_POINTS = 10**6  # what one claim may be worth
METRICS = ("params", "trainable_params", "non_trainable_params", "macs", "flops",
           "output_shape", "rf", "spatial", "elements", "depth", "compare")
_EXPLAIN_METRIC = {"params": "params", "trainable_params": "params",
                   "non_trainable_params": "params", "macs": "macs",
                   "flops": "flops", "output_shape": "shape", "rf": "rf", "spatial": "shape",
                   "elements": "shape", "depth": "shape", "compare": "shape"}
MAX_TEXT = 200  # characters of a sheet's name (as of a spec's)
MAX_PATH = 1_000  # characters of a spec path or an 'at' (qualified names can be long)
DERIVATION_HEAD, DERIVATION_TAIL = 2, 30  # lines of a long derivation that are shown
MAX_LINE = 2_000  # characters of one derivation line (a sum over 5,000 layers is longer)
RF_REPLAYED = 300  # layers whose receptive-field steps a derivation computes in full
MAX_CLAIMS = 500  # claims on one sheet (an entry without one counts as one)
MAX_HINTS = 20  # unknown names per sheet that are compared with every name for a hint


@dataclass
class Result:
    index: int  # 1-based entry number on the sheet
    at: str
    metric: str
    claimed: Any  # as written on the sheet
    expected: Any  # JSON value (int, string for closed forms, list for shapes/rf)
    correct: bool
    expected_text: str = ""
    derivation: list = field(default_factory=list)
    note: str = ""
    loc: Loc | None = None
    error: str = ""  # why the claim cannot be read ("file:line:col: message")
    how: str = ""  # a right approximate claim: "rounded" or "truncated"
    digits: int = 0  # ... at this many significant digits
    verdict: str = ""  # ... in words: "23,834,568 truncated to 2 significant digits"
    points: Any = 1  # what the claim is worth (the entry's 'points:', 1 unless it says)

    def to_json(self) -> dict:
        out = {"index": self.index, "at": self.at, "metric": self.metric,
               "claimed": _finite(self.claimed), "expected": self.expected,
               "correct": self.correct}
        if self.how:
            out["how"], out["digits"] = self.how, self.digits
        if self.error:
            out["error"] = self.error
        if not self.correct:
            out["derivation"] = self.derivation
            if self.note:
                out["note"] = self.note
        return out


def _finite(value):
    """A claim as JSON can hold it: ``.inf`` and ``.nan`` as the text YAML writes them
    (strict JSON has no Infinity or NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if value != value else (".inf" if value > 0 else "-.inf")
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


@dataclass
class SheetResult:
    path: str
    name: str
    spec: str = ""
    convention: str = ""
    results: list = field(default_factory=list)
    error: str = ""  # why the sheet cannot be read at all ("file:line:col: message")
    spec_id: str = ""  # the spec file, resolved (the sheet's own path for an inline model)

    @property
    def right(self) -> int:
        return sum(r.correct for r in self.results)

    @property
    def score(self) -> str:
        return "—" if self.error else f"{self.right}/{len(self.results)}"

    @property
    def entries(self) -> int:
        return max((r.index for r in self.results), default=0)

    def to_json(self) -> dict:
        if self.error:
            return {"path": self.path, "name": self.name, "error": self.error}
        return {"path": self.path, "name": self.name, "spec": self.spec,
                "convention": self.convention, "score": self.score,
                "right": self.right, "total": len(self.results),
                "results": [r.to_json() for r in self.results]}


def unreadable(path: str, error: SpecError) -> SheetResult:
    """The report of a sheet that cannot be read: its file name and the reason."""
    return SheetResult(printable(path), _stem(path), error=str(error))


def _stem(path: str) -> str:
    return printable(os.path.splitext(os.path.basename(path))[0])


# ---------------------------------------------------------------- reading a sheet
def check_sheet(path: str, overrides: dict | None = None, roots=(),
                analysed: dict | None = None) -> SheetResult:
    """Grade one sheet. ``roots``: folders (or files) besides the sheet's own folder that
    its ``spec:`` may name; ``analysed``: the analyses of specs already read in this run,
    by file and binding (a class's sheets name the same spec). A sheet that cannot be read
    raises SpecError."""
    from .spec.yamlsafe import load_text, read_file

    root = load_text(read_file(path), path)
    if root is None or not root.is_map:
        raise SpecError("an answer sheet is a mapping with 'spec' (or 'model') and 'answers'",
                        Loc(path, 1, 1))
    for key in root.value:
        if key not in SHEET_KEYS:
            raise SpecError(f"unknown key '{key}' in the answer sheet"
                            f"{did_you_mean(key, SHEET_KEYS)}; expected {', '.join(SHEET_KEYS)}",
                            root.key_locs.get(key))
    conv = _convention(root.value.get("convention"))
    binary = _prefix(root.value.get("prefix"))
    shapes_in = layout.read(root.value["layout"]) if "layout" in root.value else None
    sheet_name = _shown(root.value["name"], "the sheet's 'name'") if "name" in root.value \
        else _stem(path)
    answers = root.value.get("answers")
    if answers is None or not answers.is_seq:
        raise SpecError("'answers' must be a list of {at: …, <metric>: …} entries",
                        answers.loc if answers is not None else Loc(path, 1, 1))
    claimed = sum(max(1, len(e.value) - len(ENTRY_KEYS & set(e.value)))
                  if e.is_map else 1 for e in answers.value)
    if claimed > MAX_CLAIMS:
        raise SpecError(f"the sheet makes {claimed:,} claims; a sheet holds at most "
                        f"{MAX_CLAIMS:,}", answers.loc)
    set_node = root.value.get("set")
    overrides = overrides or {}
    own = {k: v for k, v in _set_values(set_node).items() if k not in overrides}
    try:
        raw, spec_name = _analyse_model(root, path, {**own, **overrides},
                                        roots, {} if analysed is None else analysed,
                                        dict.fromkeys(own, "sheet"))
    except SpecError as e:
        raise _sheet_set_error(e, set_node, overrides) from None
    spec_file = raw.graph.file if "spec" in root.value else None
    how = (conv.name, spec_file, binary, shapes_in or layout.of(raw.graph))
    shared = analysed if analysed is not None and spec_file is not None else {}
    graders = shared.setdefault(("graders", id(raw)), (raw, {}))[1]  # raw kept: id stays its
    if how not in graders:  # a class's sheets share one grader: conventions applied once
        graders[how] = _Grader(raw, conv, spec_file, binary, how[3])
    grader = graders[how]
    grader._misses = 0
    grader.open_other = lambda written, node: _other_spec(written, node, path, roots, shared,
                                                          conv)
    grader.open_raw = lambda written, node: _other_raw(written, node, path, roots, shared)
    out = SheetResult(printable(path), sheet_name, spec_name, conv.name,
                      spec_id=os.path.realpath(spec_file or path))
    for index, entry in enumerate(answers.value, 1):
        out.results.extend(grader.entry(index, entry))
    return out


def _shown(node, what: str, limit: int = MAX_TEXT) -> str:
    """A sheet string that will be shown: one line of printable text, not too long."""
    if node.is_map or node.is_seq or node.value is None or isinstance(node.value, bool):
        raise SpecError(f"{what} must be text", node.loc)
    text = str(node.value)
    if not text.isprintable() or len(text) > limit:
        raise SpecError(f"{what} must be one line of printable text (at most {limit:,} "
                        "characters)", node.loc)
    return text


def _convention(node) -> conventions.Convention:
    if node is None:
        return conventions.DEFAULT
    if not isinstance(node.value, str):
        raise SpecError(f"'convention' must be one of {', '.join(conventions.CONVENTIONS)}",
                        node.loc)
    try:
        return conventions.get(node.value)
    except SpecError as e:
        raise e.located(node.loc) from None


def _prefix(node) -> bool:
    """Whether the sheet's K, M, G mean 1024-powers (``prefix: binary``)."""
    if node is None:
        return False
    if node.value not in PREFIX_CHOICES:
        raise SpecError("'prefix' must be decimal (K = 1000, the default) or binary "
                        "(K = 1024)", node.loc)
    return node.value == "binary"


def _points(node, metrics: list) -> dict:
    """What each claim of an answer is worth: ``points: 2`` (each claim) or ``points:
    {params: 2, macs: 1}``; 1 when the answer does not say."""
    if node is None:
        return {}
    if node.is_map:
        for key, v in node.value.items():
            if key not in metrics:
                raise SpecError(f"'points' names '{key}', which this answer does not claim "
                                f"(it claims {', '.join(metrics) or 'nothing'})",
                                node.key_locs[key])
        return {key: _worth(v) for key, v in node.value.items()}
    worth = _worth(node)
    return {m: worth for m in metrics}


def _worth(node):
    v = node.value
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or \
            not 0 <= v <= MAX_POINTS or node.is_map or node.is_seq:
        raise SpecError(f"'points' must be a number from 0 to {MAX_POINTS:,} (or a mapping "
                        "of claim to points, e.g. {params: 2, macs: 1})", node.loc)
    return int(v) if float(v).is_integer() else v


def _set_values(node) -> dict:
    if node is None:
        return {}
    if not node.is_map:
        raise SpecError("'set' must map symbol names to values, e.g. {H: 224}", node.loc)
    out = {}
    for name, v in node.value.items():
        if isinstance(v.value, bool) or not isinstance(v.value, (int, float)) or \
                not math.isfinite(v.value):
            raise SpecError(f"set {name}: expected a finite number", v.loc)
        out[name] = v.value
    return out


def _sheet_set_error(error: SpecError, set_node, overrides: dict) -> SpecError:
    """A spec's complaint about a value that came from the sheet's ``set:`` (not from the
    command line's --set) restated as an error in the sheet, at that value."""
    if set_node is None or not set_node.is_map:
        return error
    from .spec.conditions import SetViolation, plain_values, restate
    from .spec.loader import SymbolError

    ours = {k for k in set_node.value if k not in overrides}
    if isinstance(error, SymbolError):
        if error.origin != "sheet":
            return error
        loc = set_node.key_locs[error.symbol] if error.problem == "unknown" else \
            set_node.value[error.symbol].loc
        return SpecError(error.worded("set"), loc)
    error = restate(error)
    if not isinstance(error, SetViolation) or not all(k in ours for k in error.values):
        return error
    sets = plain_values(error.values)
    if error.condition is None:
        return SpecError(error.worded(lambda v: f"set {sets}"), error.loc)
    return SpecError(f"set {sets} violates {error.condition}: {error.detail} (at "
                     f"{error.head}, {error.loc})", set_node.value[next(iter(error.values))].loc)


def _analyse_model(root, path: str, binding: dict, roots, analysed: dict,
                   origins: dict | None = None):
    """The analysis of the sheet's spec or inline model, and how the sheet names it;
    ``origins``: which of ``binding``'s symbols the sheet's own ``set:`` gave."""
    from .analysis import analyse
    from .spec.loader import build

    spec, model = root.value.get("spec"), root.value.get("model")
    if (spec is None) == (model is None):
        raise SpecError("give exactly one of 'spec' (a path relative to the sheet) and 'model' "
                        "(an inline spec)", root.loc)
    if spec is not None:
        written = _shown(spec, "'spec'", MAX_PATH)
        target = _confined(spec, path, written, roots)
        key = (os.path.realpath(target), target, tuple(sorted(binding.items())))
        if key not in analysed:
            analysed[key] = analyse(_load_spec(target, spec, binding, origins))
        return analysed[key], written
    if not model.is_map:
        raise SpecError("'model' must be a spec mapping (name, input, layers)", model.loc)
    return analyse(build(model, path, binding, origins)), "(inline model)"


def _other_raw(written: str, node, path: str, roots, analysed: dict):
    """The analysis of another spec an answer names (``spec:`` in an answer, ``than:`` in a
    ``compare``): read as the sheet's own ``spec:`` is, inside the same folders, with its
    own defaults."""
    from .analysis import analyse

    from .errors import LimitReached, Unbound

    target = _confined(node, path, written, roots)
    key = (os.path.realpath(target), target, ())
    if key not in analysed:
        try:
            analysed[key] = analyse(_load_spec(target, node, {}))
        except LimitReached as e:  # becomes the text of an answer's result: its advice
            # stays an option, worded by the caller
            raise SpecError(e.worded(option("set"), lambda n: option("limits", n)), e.loc,
                            e.layer) from None
        except Unbound as e:
            raise SpecError(e.worded(option("set")), e.loc, e.layer) from None
    return key, analysed[key]


def _other_spec(written: str, node, path: str, roots, analysed: dict, conv):
    """``_other_raw`` as the sheet's convention counts it."""
    key, _ = _other_raw(written, node, path, roots, analysed)
    applied = ("applied", key, conv.name)
    if applied not in analysed:
        analysed[applied] = conv.apply(analysed[key])
    return analysed[applied]


def _confined(spec, path: str, written: str, roots) -> str:
    """The file ``spec:`` names, once it is known to lie inside the sheet's own folder or a
    ``--spec-root`` (symbolic links resolved) and to be a regular file."""
    target = os.path.join(os.path.dirname(path), written)
    real = os.path.realpath(target)
    allowed = [os.path.realpath(os.path.dirname(os.path.abspath(path))),
               *(os.path.realpath(r) for r in roots)]
    if not any(real == r or real.startswith(r.rstrip(os.sep) + os.sep) for r in allowed):
        raise SpecError(f"spec '{written}' is outside the folders this sheet may read (its "
                        f"own folder; widen with {option('spec_roots', 'DIR')})", spec.loc)
    try:
        mode = os.stat(real).st_mode
    except OSError:
        raise SpecError(f"spec file '{written}' not found (looked for {target})",
                        spec.loc) from None
    if stat.S_ISDIR(mode):
        raise SpecError(f"spec '{written}' is a folder, not a spec file", spec.loc)
    if not stat.S_ISREG(mode):
        raise SpecError(f"spec '{written}' is not a regular file (a device, FIFO or socket)",
                        spec.loc)
    return target


def _load_spec(target: str, spec, binding: dict, origins: dict | None = None):
    """Load the spec a sheet names. A file that is not a spec is refused without quoting
    it: a sheet must not make archcalc show the contents of other files."""
    from .spec.loader import load_string
    from .spec.yamlsafe import load_text, read_file

    text = read_file(target)
    try:
        root = load_text(text, target)
    except SpecError as e:
        if "'" not in e.message and '"' not in e.message:
            raise  # archcalc's own limits and syntax errors quote nothing of the file
        raise SpecError(f"cannot read the spec named by the answer sheet at {spec.loc} "
                        "('archcalc summary' on the file says why)", e.loc) from None
    if root is None or not root.is_map or not ({"input", "layers"} & set(root.value)):
        raise SpecError(f"not an archcalc spec (a mapping with 'input' and 'layers'), named "
                        f"by the answer sheet at {spec.loc}", Loc(target, 1, 1))
    return load_string(text, target, binding, root, origins)


# ---------------------------------------------------------------- grading
class _Grader:
    def __init__(self, raw, conv, spec_file: str | None, binary: bool = False,
                 shapes_in: str = layout.CHANNELS_FIRST):
        self.raw = raw
        self.binary = binary
        self.layout = shapes_in  # the order the sheet writes shapes in
        self.conv = conv
        self.spec_file = spec_file  # None for an inline model
        self.analysis = conv.apply(raw)
        self.order = list(raw.graph.symbols)
        self.symbols = dict(raw.graph.symbols)
        self.conditions = [c for c, _, _ in raw.conditions]
        self._applied: dict = {}
        self._derived: dict = {}
        self._others: dict = {}  # graders of other specs that answers name
        self._misses = 0  # names not found, each looked for among every name for a hint
        self.names: dict = {}  # qualified name → ("group", Group) or ("node", Node)
        for grp in raw.graph.groups:
            self.names.setdefault(grp.name, ("group", grp))
        for node in raw.graph.nodes[1:]:
            self.names.setdefault(node.name, ("node", node))
        self.locals = {x.local for x in (*raw.graph.groups, *raw.graph.nodes[1:])}

    def entry(self, index: int, entry, nested: bool = False) -> list:
        """The results of one entry: a row per claim; what cannot be read is a row that
        says why (graded as not right), so the rest of the sheet is still graded. An entry
        with its own ``spec:`` is about that network, graded by a grader of its own."""
        claims_ = [(k, v) for k, v in entry.value.items() if k not in ENTRY_KEYS] \
            if entry.is_map else []
        if entry.is_map and "spec" in entry.value and not nested:
            node = entry.value["spec"]
            try:
                written = _shown(node, f"answer {index}: 'spec'", MAX_PATH)
                other = self.other_grader(written, node)
            except SpecError as e:
                if not e.message.startswith(f"answer {index}"):
                    e = SpecError(f"answer {index}: {e.message}", e.loc or node.loc)
                at = entry.value.get("at")
                return self.unreadable(index, "?" if at is None else as_written(at.plain()),
                                       claims_, e)
            rows = other.entry(index, entry, nested=True)
            for r in rows:
                r.at = f"{written}:{r.at}"
            return rows
        if not entry.is_map or "at" not in entry.value:
            error = SpecError(f"answer {index}: expected a mapping with 'at' and one or more "
                              f"of {', '.join(METRICS)}", entry.loc)
            return self.unreadable(index, "?", claims_ or [("?", entry)], error)
        at_node = entry.value["at"]
        try:
            at = _shown(at_node, f"answer {index}: 'at'", MAX_PATH)
            kind, obj = self.find(at)
        except SpecError as e:
            if not e.message.startswith(f"answer {index}: "):
                e = SpecError(f"answer {index}: {e.message}")
            return self.unreadable(index, as_written(at_node.plain()), claims_,
                                   e.located(at_node.loc))
        try:
            shapes_in = layout.read(entry.value["layout"]) if "layout" in entry.value \
                else self.layout
            points = _points(entry.value.get("points"), [k for k, _ in claims_])
        except SpecError as e:
            return self.unreadable(index, at, claims_, SpecError(
                f"answer {index}: {e.message}", e.loc))
        if not claims_:
            return self.unreadable(index, at, [], SpecError(
                f"answer {index}: no claim; add one of {', '.join(METRICS)}", entry.loc))
        out = []
        for key, claim in claims_:
            if key not in METRICS:
                error = SpecError(f"answer {index}: unknown metric '{key}'"
                                  f"{did_you_mean(key, METRICS)}; choose from "
                                  f"{', '.join(METRICS)}", entry.key_locs.get(key))
                out += self.unreadable(index, at, [(key, claim)], error)
                continue
            out.append(self.grade(index, at, kind, obj, key, claim, shapes_in))
        for r in out:
            r.points = points.get(r.metric, 1)
        return out

    def other_grader(self, written: str, node) -> "_Grader":
        """A grader for another spec, under this sheet's convention, prefixes and layout."""
        key, raw = self.open_raw(written, node)
        found = self._others.get((key, self.conv.name))
        if found is None:
            found = self._others[(key, self.conv.name)] = _Grader(
                raw, self.conv, written, self.binary, self.layout)
        found.open_other, found.open_raw = self.open_other, self.open_raw
        return found

    def find(self, at: str):
        """What ``at`` names, as report.explain.find says; a qualified name is looked up
        directly, and only the first MAX_HINTS names not found get a "did you mean" (each
        compares the name with every layer's)."""
        from .report.explain import find

        if at in self.names and at not in ("", "total"):
            return self.names[at]
        if self._misses >= MAX_HINTS:
            if at not in ("", "total", "input") and at not in self.locals:
                raise SpecError(f"no layer or block named '{at}'")
        self._misses += 1
        return find(self.analysis, at)

    def unreadable(self, index: int, at: str, claims_: list, error: SpecError) -> list:
        rows = claims_ or [("?", None)]
        return [Result(index, at, as_written(key, MAX_TEXT), None if claim is None else
                       claim.plain(), None, False, "", error=str(error),
                       loc=None if claim is None else claim.loc) for key, claim in rows]

    def grade(self, index, at, kind, obj, metric, claim,
              shapes_in: str = layout.CHANNELS_FIRST) -> Result:
        from .report.explain import record_of

        claimed = claim.plain()
        rec = record_of(self.analysis, kind, obj)
        number = None
        if metric in ("spatial", "compare"):
            return self.grade_other(index, at, kind, obj, metric, claim)
        if metric == "output_shape":
            keras = layout.keras_tuple(claimed)
            if keras is not None:
                shapes_in = layout.CHANNELS_LAST
            return self.grade_shape(index, at, (kind, obj), rec.output_shape, claim, shapes_in,
                                    claimed if keras is None else keras)
        if metric == "rf":
            expected = None if rec.rf is None else tuple(a.size for a in rec.rf)
            text = "—" if expected is None else \
                _axes_text([expr_text(v, self.order) for v in expected])
        elif metric in check_kinds.NUMERIC:
            expected = check_kinds.value(self.analysis, self.conv, kind, obj, metric)
            text = human(expected, self.order)
        else:
            expected = self.conv.count(rec, metric, self.frozen(kind, obj))
            text = human(expected, self.order)
        result = Result(index, at, metric, claimed, json_value(expected, self.order), False,
                        text, loc=claim.loc)
        try:
            if metric == "rf":
                axes = len(expected) if expected is not None else 1
                value = claims.parse_rf(claimed, self.symbols, axes)
                result.correct = claims.same_tuple(value, expected, self.conditions)
            else:
                number = claims.parse_number(claimed, self.symbols, self.binary)
                how = number.how(expected, self.conditions)
                result.correct = how is not None
                if how in ("rounded", "truncated"):
                    result.how, result.digits = how, number.digits
                    result.verdict = number.verdict(expected, self.order)
        except SpecError as e:
            result.error = str(SpecError(f"answer {index} ({metric}): {e.message}", claim.loc))
        if number is not None and not result.correct and metric not in check_kinds.NUMERIC:
            result.note = self.hint(kind, obj, metric, number)
        if not result.correct:
            result.derivation = self.derive(at, kind, obj, metric)
            if metric in ("trainable_params", "non_trainable_params"):
                result.derivation = [*result.derivation, self.split_line(at, kind, obj)]
        return result

    def split_line(self, at, kind, obj) -> str:
        """How the parameters at a place split into trainable and non-trainable."""
        from .report.explain import record_of

        rec = record_of(self.analysis, kind, obj)
        frozen = self.frozen(kind, obj)
        parts = [f"{human(frozen, self.order)} in layers with trainable: false"]
        if self.conv.params_include_buffers:
            parts.append(f"{human(rec.buffers, self.order)} BatchNorm moving mean and variance")
        return f"non-trainable({at}) = {' + '.join(parts)}; trainable({at}) = " \
            f"{human(rec.params, self.order)} − {human(frozen, self.order)} = " \
            f"{human(rec.params - frozen, self.order)}"

    def grade_other(self, index, at, kind, obj, metric, claim) -> Result:
        """A ``spatial`` or ``compare`` claim (check_kinds.py says how they read)."""
        from .report.explain import record_of

        result = Result(index, at, metric, claim.plain(), None, False, loc=claim.loc)
        try:
            if metric == "spatial":
                shape = record_of(self.analysis, kind, obj).output_shape
                result.expected = json_value(tuple(shape[1:]), self.order)
                result.correct, result.expected_text = check_kinds.grade_spatial(
                    claim.plain(), shape, self.symbols, self.conditions)
                lines = check_kinds.derivation(self.analysis, kind, obj, metric, at,
                                               self.order)
            else:
                lines = self.grade_compare(index, at, kind, obj, claim, result)
        except SpecError as e:
            result.error = str(SpecError(f"answer {index} ({metric}): {e.message}",
                                         e.loc if e.loc is not None else claim.loc))
            return result
        if not result.correct:
            result.derivation = lines
        return result

    def grade_compare(self, index, at, kind, obj, claim, result) -> list:
        metric, said, than = check_kinds.parse_compare(claim)
        spec, place = check_kinds.other_place(than)
        try:
            if spec is None:
                other, (okind, oobj) = self.analysis, self.find(place)
            else:
                other = self.open_other(spec, claim.value["than"])
                from .report.explain import find
                okind, oobj = find(other, place)
        except SpecError as e:
            raise SpecError(f"'than: {than}': {e.message}", claim.value["than"].loc) from None
        left = check_kinds.value(self.analysis, self.conv, kind, obj, metric)
        right = check_kinds.value(other, self.conv, okind, oobj, metric)
        result.metric = f"compare {metric}"
        try:
            result.correct, how = check_kinds.judge(said.plain(), left, right)
        except SpecError as e:
            raise SpecError(e.message, said.loc) from None
        if how in ("rounded", "truncated"):
            result.how = how
        ratio = Fraction(int(left), int(right)) if right else None
        relation = "<" if left < right else (">" if left > right else "=")
        result.expected = {"left": json_value(left, self.order),
                           "right": json_value(right, self.order), "relation": relation,
                           "ratio": None if ratio is None else round(float(ratio), 6)}
        ratio_text = "" if not ratio else f"; left/right = {float(ratio):.4g}" if ratio >= 1 \
            else f"; left/right = 1/{float(1 / ratio):.4g}"
        result.expected_text = f"{human(left, self.order)} {relation} " \
            f"{human(right, self.order)}{ratio_text}"
        return [f"{metric}({at}) = {human(left, self.order)}",
                f"{metric}({than}) = {human(right, self.order)}",
                f"{metric}({at}) {relation} {metric}({than}){ratio_text}"]

    def grade_shape(self, index, at, where, expected, claim, shapes_in: str,
                    written) -> Result:
        """An output shape claim, read in the order ``shapes_in`` (a Keras tuple is channels
        last); a wrong one that is right in the other order says so."""
        last = shapes_in == layout.CHANNELS_LAST
        text = shape_text(layout.shown(expected, shapes_in), self.order) + \
            (" (channels last)" if last and len(expected) > 1 else "")
        result = Result(index, at, "output_shape", claim.plain(),
                        json_value(layout.shown(expected, shapes_in), self.order), False, text,
                        loc=claim.loc)
        try:
            value = claims.parse_shape(written, self.symbols)
        except SpecError as e:
            result.error = str(SpecError(f"answer {index} (output_shape): {e.message}",
                                         claim.loc))
            value = None
        if value is not None:
            first = layout.to_first(value) if last else value
            result.correct = claims.same_tuple(first, expected, self.conditions)
            other = value if last else layout.to_first(value)
            if not result.correct and len(value) > 1 and \
                    claims.same_tuple(other, expected, self.conditions):
                result.note = ("right in channels-first order [C, H, W]; this claim is read "
                               "channels last" if last else "right in channels-last order "
                               "(H×W×C); say 'layout: channels_last' on the sheet or the "
                               "answer to read shapes that way")
        if not result.correct:
            result.derivation = self.derive(at, *where, "output_shape")
        return result

    def derive(self, at, kind, obj, metric) -> list:
        """The derivation of the correct value (once per place and metric: a class may all
        be wrong about the same total), at most ``DERIVATION_HEAD + DERIVATION_TAIL + 1``
        lines of at most ``MAX_LINE`` characters."""
        key = (kind, getattr(obj, "id", None),
               metric if metric in check_kinds.NUMERIC else _EXPLAIN_METRIC[metric])
        if key not in self._derived:
            lines = [line if len(line) <= MAX_LINE else line[:MAX_LINE - 1] + "…"
                     for line in self.derivation(at, kind, obj, metric)]
            if len(lines) > DERIVATION_HEAD + DERIVATION_TAIL + 1:
                hidden = len(lines) - DERIVATION_HEAD - DERIVATION_TAIL
                lines = [*lines[:DERIVATION_HEAD], f"… {hidden:,} more lines "
                         f"({self.explain_command(at, metric)} shows them all)",
                         *lines[-DERIVATION_TAIL:]]
            self._derived[key] = lines
        return self._derived[key]

    def explain_command(self, at: str, metric: str) -> str:
        """How to see the whole derivation, in the caller's words (a command, an API call)."""
        from .errors import explain_option, spoken

        spec = self.spec_file if self.spec_file is not None else "SPEC"
        return spoken(explain_option(spec, at, _EXPLAIN_METRIC[metric]))

    def derivation(self, at, kind, obj, metric) -> list:
        from .report.explain import explain_record

        if metric in check_kinds.NUMERIC:
            return check_kinds.derivation(self.analysis, kind, obj, metric, at, self.order)
        if metric == "rf":
            lines = self.last_rf_steps(kind, obj, at)
            if lines is not None:
                return lines
        ex = explain_record(self.analysis, kind, obj, _EXPLAIN_METRIC[metric], self.conv)
        return [line.text() for line in ex.lines]

    def last_rf_steps(self, kind, obj, at: str) -> list | None:
        """A receptive field through more than ``RF_REPLAYED`` layers by its last
        ``DERIVATION_TAIL`` steps, replaying only their rules (None for a shorter one): the
        whole recurrence through 5,000 layers, for each of 100 wrong answers, is too slow
        to compute and too long to read."""
        from .report import explain as ex

        node = ex.output_node(self.analysis, kind, obj)
        ancestors = sorted(ex.ancestors(self.analysis.graph, node.id))
        if self.analysis.layers[node.id].rf is None or \
                len(ancestors) <= RF_REPLAYED:
            return None
        steps: list = []
        for i in reversed(ancestors):
            n = self.analysis.graph.nodes[i]
            if i == node.id or ex.rule_step(self.analysis, n) is not None:
                steps[:0] = [line.text() for line in ex.rf_step(self.analysis, n, self.order)]
                if len(steps) >= DERIVATION_TAIL:
                    break
        return [f"rf({node.name}): the last {len(steps)} steps of the recurrence through "
                f"{len(ancestors):,} layers ({self.explain_command(at, 'rf')} shows them all)",
                *steps]

    # ------------------------------------------------------------ convention hints
    def applied(self, conv):
        if conv.name not in self._applied:
            self._applied[conv.name] = conv.apply(self.raw)
        return self._applied[conv.name]

    def hint(self, kind, obj, metric, number) -> str:
        """Which other convention (or MACs/FLOPs mix-up) makes a wrong count right."""
        from .report.explain import record_of

        rec = record_of(self.analysis, kind, obj)
        if metric == "flops" and number.matches(rec.macs, self.conditions):
            return (f"matches the MAC count; FLOPs = {self.conv.flops_per_mac} × MACs = "
                    f"{human(self.conv.flops_per_mac * rec.macs, self.order)}")
        if metric == "macs" and number.matches(self.conv.flops_per_mac * rec.macs, self.conditions):
            return "matches the FLOPs (2 × MACs), not the MACs"
        matches = []  # (convention name, note)
        for conv in conventions.CONVENTIONS.values():
            if conv.name == self.conv.name:
                continue
            other = record_of(self.applied(conv), kind, obj)
            if metric in ("params", "trainable_params", "non_trainable_params"):
                frozen = self.frozen(kind, obj)
                value = conv.count(other, metric, frozen)
                if dims.eq(value, self.conv.count(rec, metric, frozen)) is not True and \
                        number.matches(value, self.conditions):
                    matches.append((conv.name, self.params_note(conv, kind, obj, value)))
                continue
            printed = other.macs * (conv.flops_per_mac if conv.reports == "flops" else 1)
            doubled = conv.flops_per_mac * other.macs
            if number.matches(printed, self.conditions):
                matches.append((conv.name, self.ops_note(conv, kind, obj, printed, metric)))
            elif conv.reports == "macs" and metric == "flops" and number.matches(doubled, self.conditions):
                matches.append((conv.name, self.ops_note(conv, kind, obj, other.macs, metric) +
                                f"; doubled to FLOPs: {human(doubled, self.order)}"))
        if not matches:
            return ""
        others = [name for name, _ in matches[1:]]
        return matches[0][1] + (f" (at the precision written, also {', '.join(others)})"
                                if others else "")

    def frozen(self, kind, obj):
        """The parameters of the layers at this place that say ``trainable: false``."""
        return check_kinds.frozen(self.raw, kind, obj)

    def scope(self, kind, obj) -> list:
        g = self.raw.graph
        if kind == "total":
            return g.nodes[1:]
        if kind == "group":
            return g.nodes[obj.first:obj.last + 1]
        return [obj]

    def differences(self, conv, kind, obj, attr: str) -> str:
        """Per layer type, what ``conv`` counts beyond (or below) archcalc's default."""
        applied = self.applied(conv)
        by_type: dict = {}
        for node in self.scope(kind, obj):
            d = dims.simplify(getattr(applied.layers[node.id], attr) -
                              getattr(self.raw.layers[node.id], attr))
            if dims.resolve(dims.eq(d, 0)) is not True:
                by_type[node.type] = dims.simplify(by_type.get(node.type, 0) + d)
        parts = [f"{t} {'+' if not dims.is_symbolic(v) and v > 0 else ''}{human(v, self.order)}"
                 for t, v in by_type.items()]
        return ", ".join(parts)

    def ops_note(self, conv, kind, obj, value, metric) -> str:
        what = conv.printed_as or conv.name
        diff = self.differences(conv, kind, obj, "macs")
        base = f"matches {conv.name}'s count {human(value, self.order)} ({what})"
        if conv.reports == "flops":
            base += ", which is 2 × MACs"
        if diff:
            base += f"; relative to the MACs it counts {diff}"
        return base

    def params_note(self, conv, kind, obj, value) -> str:
        if conv.params_include_buffers:
            return (f"matches the {conv.name} count {human(value, self.order)}, which includes "
                    "the BatchNorm moving mean and variance as non-trainable parameters")
        diff = self.differences(conv, kind, obj, "params")
        return f"matches {conv.name}'s parameter count {human(value, self.order)}" + \
            (f" ({diff})" if diff else "")


# ---------------------------------------------------------------- rendering
def _axes_text(parts: list) -> str:
    return parts[0] if len(set(parts)) == 1 else "×".join(parts)


def render(sheets: list, fmt: str, gradebook: bool = False) -> str:
    """The report, with every character that could drive a terminal escaped (the sheet's
    strings are validated, but claims and file names are shown as written). ``gradebook``:
    with the class's totals and per-question statistics (JSON and the text table)."""
    from . import gradebook as gb

    if fmt == "json":
        data = {"sheets": [s.to_json() for s in sheets]}
        if gradebook:
            data["gradebook"] = gb.to_json(sheets)
        return json_text(data)
    from .report import writers

    if fmt == "csv":
        text = writers.csv_text(model(sheets))
    else:
        text = writers.write_blocks(text_blocks(sheets) if fmt == "table" else blocks(sheets),
                                    fmt)
    if gradebook and fmt == "table":
        text += "\n" + "\n".join(gb.text_lines(sheets)) + "\n"
    return "\n".join(printable(line) for line in text.split("\n"))


def json_text(data) -> str:
    """Strict JSON with non-printable characters escaped."""
    import json

    return _json_safe(json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False)) + "\n"


def _json_safe(text: str) -> str:
    """JSON text with every non-printable character inside its strings written as a
    ``\\uXXXX`` escape (json leaves C1 controls, bidirectional overrides and unpaired
    surrogates from non-UTF-8 file names as they are)."""
    if all(line.isprintable() for line in text.split("\n")):
        return text

    def escape(c: str) -> str:
        if c == "\n" or c.isprintable():
            return c
        code = ord(c)
        if code > 0xFFFF:
            code -= 0x10000
            return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
        return f"\\u{code:04x}"

    return "".join(escape(c) for c in text)


def _claimed_text(r: Result) -> str:
    return "" if r.claimed is None else as_written(r.claimed)


def _claim_lines(s: SheetResult) -> list:
    """A sheet's claims as text lines: mark, index, place, claim, and what was wrong."""
    out = []
    for r in s.results:
        mark = "✓" if r.correct else "✗"
        line = f"{mark} {r.index:>2}. {r.at}  {r.metric} = {_claimed_text(r)}" \
            if r.metric != "?" else f"{mark} {r.index:>2}. {r.at if r.at != '?' else ''}" \
            f"{_claimed_text(r)}"
        if r.correct:
            out.append(f"{line}   ({r.verdict})" if r.verdict else line)
            continue
        if r.error:
            out.append(f"{line}   → cannot read this claim: {r.error}")
            if r.expected_text:
                out.append(f"      correct: {r.expected_text}")
        else:
            out.append(f"{line}   → correct: {r.expected_text}")
        out.extend(f"      {d}" for d in r.derivation)
        if r.note:
            out.append(f"      note: {r.note}")
    return out


def _heading(s: SheetResult) -> str:
    if s.error:
        return f"{s.path}: cannot read this sheet: {s.error}"
    return f"{s.path}: {s.name} (spec {s.spec}, convention {s.convention}) — score {s.score}"


def text_blocks(sheets: list) -> list:
    """The text report: each sheet's claims as a titled list, then the grade table."""
    from .report.table import Lists

    blocks = [Lists([(_heading(s), [] if s.error else _claim_lines(s))]) for s in sheets]
    return blocks + ([grade_table(sheets)] if len(sheets) > 1 else [])


def blocks(sheets: list) -> list:
    """The typeset report (Markdown, LaTeX): per sheet a table of its claims and the
    derivations of the wrong ones, then the grade table."""
    from .report.table import Column, Lists, Row, Table

    out = []
    columns = [Column("#", right=True), Column("At"), Column("Metric"),
               Column("Claimed", right=True), Column("Correct value", right=True),
               Column("Mark", centre=True)]
    for s in sheets:
        if s.error:
            out.append(Lists([(_heading(s), [])]))
            continue
        rows = [Row([str(r.index), r.at, r.metric, _claimed_text(r), r.expected_text,
                     _mark(r)]) for r in s.results]
        out.append(Table(columns, rows, title=_heading(s), caption=f"{s.name}: score {s.score}"))
        wrong = [(f"Claim {r.index} ({r.at} {r.metric}) is not right",
                  ([f"cannot read this claim: {r.error}"] if r.error else []) +
                  list(r.derivation) + ([f"note: {r.note}"] if r.note else []))
                 for r in s.results if not r.correct]
        if wrong:
            out.append(Lists(wrong))
    return out + ([grade_table(sheets)] if len(sheets) > 1 else [])


def _mark(r: Result) -> str:
    if r.correct:
        return f"✓ {r.how}" if r.how else "✓"
    return "✗ (unreadable)" if r.error else "✗"


def _entry_marks(s: SheetResult, n: int) -> list:
    marks = []
    for i in range(1, n + 1):
        rs = [r for r in s.results if r.index == i]
        if not rs:
            marks.append("")
        elif all(r.correct for r in rs):
            marks.append("✓")
        elif not any(r.correct for r in rs):
            marks.append("✗")
        else:
            marks.append(f"{sum(r.correct for r in rs)}/{len(rs)}")
    return marks


def grade_table(sheets: list):
    """Several sheets' grades: a row per sheet, a column per entry, the score."""
    from .report.table import Column, Row, Table

    n = max(s.entries for s in sheets)
    columns = [Column("sheet", split=True), *(Column(str(i), right=True)
                                              for i in range(1, n + 1)),
               Column("score", right=True)]
    rows = [Row([printable(x) for x in [s.name, *_entry_marks(s, n), s.score]])
            for s in sheets]
    return Table(columns, rows, title="Grades",
                 footnotes=["entry: ✓ all claims right, ✗ none, k/n partly; — the sheet "
                            "cannot be read"])


CSV_COLUMNS = ("sheet", "index", "at", "metric", "claimed", "expected", "correct", "note")


def model(sheets: list):
    """Every claim of every sheet as a row of a ``report.table.Table`` (a sheet that cannot
    be read as one row saying why): check's CSV."""
    from .report.table import Column, Row, Table

    rows = []
    for s in sheets:
        if s.error:
            rows.append(Row([s.path, "", "", "", "", "", "0", f"cannot read this sheet: {s.error}"]))
        for r in s.results:
            note = f"cannot read this claim: {r.error}" if r.error else (r.note or r.verdict)
            rows.append(Row([s.path, str(r.index), r.at, r.metric, _claimed_text(r),
                             r.expected_text, str(int(r.correct)), note or ""]))
    return Table([Column(h) for h in CSV_COLUMNS], rows)
