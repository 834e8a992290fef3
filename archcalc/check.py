"""Grade answer sheets: every claimed number against the closed form, with derivations.

A sheet (YAML) names a spec (``spec:``, relative to the sheet) or holds one inline
(``model:``), may bind symbols (``set:``) and pick a convention, and lists ``answers``:
``{at: <layer, block or total>, params: …, trainable_params: …, macs: …, flops: …,
output_shape: …, rf: …}``. Each claim is right or wrong (claims.py says how rounded and
symbolic claims compare); a wrong one carries the correct value, its derivation, and — for
counts — the counting convention under which the claim would have been right.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from . import claims, conventions, dims
from .errors import Loc, SpecError, did_you_mean
from .report.values import expr_text, human, json_value, shape_text

SHEET_KEYS = ("name", "spec", "model", "set", "convention", "answers")
METRICS = ("params", "trainable_params", "macs", "flops", "output_shape", "rf")
_EXPLAIN_METRIC = {"params": "params", "trainable_params": "params", "macs": "macs",
                   "flops": "flops", "output_shape": "shape", "rf": "rf"}


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

    def to_json(self) -> dict:
        out = {"index": self.index, "at": self.at, "metric": self.metric,
               "claimed": self.claimed, "expected": self.expected, "correct": self.correct}
        if not self.correct:
            out["derivation"] = self.derivation
            if self.note:
                out["note"] = self.note
        return out


@dataclass
class SheetResult:
    path: str
    name: str
    spec: str
    convention: str
    results: list = field(default_factory=list)

    @property
    def right(self) -> int:
        return sum(r.correct for r in self.results)

    @property
    def score(self) -> str:
        return f"{self.right}/{len(self.results)}"

    @property
    def entries(self) -> int:
        return max((r.index for r in self.results), default=0)

    def to_json(self) -> dict:
        return {"path": self.path, "name": self.name, "spec": self.spec,
                "convention": self.convention, "score": self.score,
                "right": self.right, "total": len(self.results),
                "results": [r.to_json() for r in self.results]}


# ---------------------------------------------------------------- reading a sheet
def check_sheet(path: str, overrides: dict | None = None) -> SheetResult:
    from .analysis import analyse
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
    conv_node = root.value.get("convention")
    conv = conventions.get(conv_node.value) if conv_node is not None else conventions.DEFAULT
    binding = {**_set_values(root.value.get("set")), **(overrides or {})}
    graph, spec_name = _load_model(root, path, binding)
    raw = analyse(graph)
    sheet_name = root.value["name"].value if "name" in root.value else \
        os.path.splitext(os.path.basename(path))[0]
    grader = _Grader(raw, conv)
    out = SheetResult(path, str(sheet_name), spec_name, conv.name)
    answers = root.value.get("answers")
    if answers is None or not answers.is_seq:
        raise SpecError("'answers' must be a list of {at: …, <metric>: …} entries",
                        answers.loc if answers is not None else Loc(path, 1, 1))
    for index, entry in enumerate(answers.value, 1):
        out.results.extend(grader.entry(index, entry))
    return out


def _set_values(node) -> dict:
    if node is None:
        return {}
    if not node.is_map:
        raise SpecError("'set' must map symbol names to values, e.g. {H: 224}", node.loc)
    out = {}
    for name, v in node.value.items():
        if isinstance(v.value, bool) or not isinstance(v.value, (int, float)):
            raise SpecError(f"set {name}: expected a number, got {v.value!r}", v.loc)
        out[name] = v.value
    return out


def _load_model(root, path: str, binding: dict):
    from .spec.loader import _Builder, load

    spec, model = root.value.get("spec"), root.value.get("model")
    if (spec is None) == (model is None):
        raise SpecError("give exactly one of 'spec' (a path relative to the sheet) and 'model' "
                        "(an inline spec)", root.loc)
    if spec is not None:
        if not isinstance(spec.value, str):
            raise SpecError("'spec' must be a path", spec.loc)
        target = os.path.join(os.path.dirname(path), spec.value)
        if not os.path.exists(target):
            raise SpecError(f"spec file '{spec.value}' not found (looked for {target})", spec.loc)
        return load(target, binding), spec.value
    if not model.is_map:
        raise SpecError("'model' must be a spec mapping (name, input, layers)", model.loc)
    return _Builder(path).build(model, binding), "(inline model)"


# ---------------------------------------------------------------- grading
class _Grader:
    def __init__(self, raw, conv):
        self.raw = raw
        self.conv = conv
        self.analysis = conv.apply(raw)
        self.order = list(raw.graph.symbols)
        self.symbols = dict(raw.graph.symbols)
        self._applied: dict = {}

    def entry(self, index: int, entry) -> list:
        from .report.explain import find

        if not entry.is_map or "at" not in entry.value:
            raise SpecError(f"answer {index}: expected a mapping with 'at' and one or more of "
                            f"{', '.join(METRICS)}", entry.loc)
        at_node = entry.value["at"]
        at = str(at_node.value)
        try:
            kind, obj = find(self.analysis, at)
        except SpecError as e:
            raise e.located(at_node.loc) from None
        out = []
        for key, claim in entry.value.items():
            if key == "at":
                continue
            if key not in METRICS:
                raise SpecError(f"answer {index}: unknown metric '{key}'"
                                f"{did_you_mean(key, METRICS)}; choose from {', '.join(METRICS)}",
                                entry.key_locs.get(key))
            try:
                out.append(self.grade(index, at, kind, obj, key, claim.plain()))
            except SpecError as e:
                raise SpecError(f"answer {index} ({key}): {e.message}", claim.loc) from None
            out[-1].loc = claim.loc
        if not out:
            raise SpecError(f"answer {index}: no claim; add one of {', '.join(METRICS)}",
                            entry.loc)
        return out

    def grade(self, index, at, kind, obj, metric, claimed) -> Result:
        from .report.explain import record_of

        rec = record_of(self.analysis, kind, obj)
        if metric in ("output_shape", "rf"):
            expected = rec.output_shape if metric == "output_shape" else \
                (None if rec.rf is None else tuple(a.size for a in rec.rf))
            axes = len(expected) if expected is not None else 1
            value = claims.parse_shape(claimed, self.symbols) if metric == "output_shape" \
                else claims.parse_rf(claimed, self.symbols, axes)
            ok = claims.same_tuple(value, expected)
            text = "—" if expected is None else (
                shape_text(expected, self.order) if metric == "output_shape" else
                _axes_text([expr_text(v, self.order) for v in expected]))
            result = Result(index, at, metric, claimed, json_value(expected, self.order), ok,
                            text)
        else:
            expected = self.conv.count(rec, metric)
            number = claims.parse_number(claimed, self.symbols)
            ok = number.matches(expected)
            result = Result(index, at, metric, claimed, json_value(expected, self.order), ok,
                            human(expected, self.order))
            if not ok:
                result.note = self.hint(kind, obj, metric, number)
        if not result.correct:
            result.derivation = self.derive(kind, obj, metric)
        return result

    def derive(self, kind, obj, metric) -> list:
        from .report.explain import _explain_one

        ex = _explain_one(self.analysis, kind, obj, _EXPLAIN_METRIC[metric], self.conv)
        return [line.text() for line in ex.lines]

    # ------------------------------------------------------------ convention hints
    def applied(self, conv):
        if conv.name not in self._applied:
            self._applied[conv.name] = conv.apply(self.raw)
        return self._applied[conv.name]

    def hint(self, kind, obj, metric, number) -> str:
        """Which other convention (or MACs/FLOPs mix-up) makes a wrong count right."""
        from .report.explain import record_of

        rec = record_of(self.analysis, kind, obj)
        if metric == "flops" and number.matches(rec.macs):
            return (f"matches the MAC count; FLOPs = {self.conv.flops_per_mac} × MACs = "
                    f"{human(self.conv.flops_per_mac * rec.macs, self.order)}")
        if metric == "macs" and number.matches(self.conv.flops_per_mac * rec.macs):
            return "matches the FLOPs (2 × MACs), not the MACs"
        matches = []  # (convention name, note)
        for conv in conventions.CONVENTIONS.values():
            if conv.name == self.conv.name:
                continue
            other = record_of(self.applied(conv), kind, obj)
            if metric in ("params", "trainable_params"):
                value = conv.count(other, metric)
                if dims.eq(value, self.conv.count(rec, metric)) is not True and \
                        number.matches(value):
                    matches.append((conv.name, self.params_note(conv, kind, obj, value)))
                continue
            printed = other.macs * (conv.flops_per_mac if conv.reports == "flops" else 1)
            doubled = conv.flops_per_mac * other.macs
            if number.matches(printed):
                matches.append((conv.name, self.ops_note(conv, kind, obj, printed, metric)))
            elif conv.reports == "macs" and metric == "flops" and number.matches(doubled):
                matches.append((conv.name, self.ops_note(conv, kind, obj, other.macs, metric) +
                                f"; doubled to FLOPs: {human(doubled, self.order)}"))
        if not matches:
            return ""
        others = [name for name, _ in matches[1:]]
        return matches[0][1] + (f" (at the precision written, also {', '.join(others)})"
                                if others else "")

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


def render(sheets: list, fmt: str) -> str:
    if fmt == "json":
        import json

        return json.dumps({"sheets": [s.to_json() for s in sheets]}, indent=2,
                          ensure_ascii=False) + "\n"
    if fmt == "csv":
        return _csv(sheets)
    if fmt == "markdown":
        return _markdown(sheets)
    if fmt == "latex":
        return _latex(sheets)
    return _text(sheets)


def _claimed_text(r: Result) -> str:
    if isinstance(r.claimed, list):
        return "[" + ", ".join(str(v) for v in r.claimed) + "]"
    return str(r.claimed)


def _text(sheets: list) -> str:
    out = []
    for s in sheets:
        out.append(f"{s.path}: {s.name} (spec {s.spec}, convention {s.convention}) — "
                   f"score {s.score}")
        for r in s.results:
            mark = "✓" if r.correct else "✗"
            line = f"  {mark} {r.index:>2}. {r.at}  {r.metric} = {_claimed_text(r)}"
            if r.correct:
                out.append(line)
                continue
            out.append(f"{line}   → correct: {r.expected_text}")
            out.extend(f"        {d}" for d in r.derivation)
            if r.note:
                out.append(f"        note: {r.note}")
        out.append("")
    if len(sheets) > 1:
        out.extend(_grade_rows(sheets, "text"))
    return "\n".join(out) + ("\n" if out and out[-1] else "")


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


def _grade_rows(sheets: list, fmt: str) -> list:
    n = max(s.entries for s in sheets)
    head = ["sheet", *(str(i) for i in range(1, n + 1)), "score"]
    rows = [[s.name, *_entry_marks(s, n), s.score] for s in sheets]
    if fmt == "markdown":
        return ["| " + " | ".join(head) + " |", "|:---|" + "---:|" * (n + 1)] + \
               ["| " + " | ".join(_md(c) for c in r) + " |" for r in rows]
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    fmt_row = lambda r: "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)  # noqa: E731
                                  for i, (c, w) in enumerate(zip(r, widths)))
    return ["Grades (entry: ✓ all claims right, ✗ none, k/n partly)", fmt_row(head),
            fmt_row(["-" * w for w in widths])] + [fmt_row(r) for r in rows]


def _md(text: str) -> str:
    return str(text).replace("|", "\\|")


def _markdown(sheets: list) -> str:
    out = []
    for s in sheets:
        out += [f"**{_md(s.name)}** (`{_md(s.path)}`, spec `{_md(s.spec)}`, convention "
                f"{s.convention}): score {s.score}", "",
                "| # | at | metric | claimed | correct value | |",
                "|---:|:---|:---|---:|---:|:---:|"]
        for r in s.results:
            out.append(f"| {r.index} | {_md(r.at)} | {r.metric} | {_md(_claimed_text(r))} | "
                       f"{_md(r.expected_text)} | {'✓' if r.correct else '✗'} |")
        wrong = [r for r in s.results if not r.correct]
        if wrong:
            out += ["", "Derivations of the wrong answers:", ""]
            for r in wrong:
                out.append(f"- {r.index}. {_md(r.at)} {r.metric}:")
                out += [f"  - `{d}`" for d in r.derivation]
                if r.note:
                    out.append(f"  - note: {_md(r.note)}")
        out.append("")
    if len(sheets) > 1:
        out += _grade_rows(sheets, "markdown") + [""]
    return "\n".join(out)


def _csv(sheets: list) -> str:
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["sheet", "index", "at", "metric", "claimed", "expected", "correct", "note"])
    for s in sheets:
        for r in s.results:
            w.writerow([s.path, r.index, r.at, r.metric, _claimed_text(r), r.expected_text,
                        int(r.correct), r.note])
    return buf.getvalue()


def _latex(sheets: list) -> str:
    from .report.render import latex_escape as esc

    out = [r"% requires \usepackage{booktabs}"]
    for s in sheets:
        out += [r"\begin{table}[ht]", r"\centering",
                rf"\caption{{{esc(s.name)}: score {esc(s.score)}}}",
                r"\begin{tabular}{rlllrc}", r"\toprule",
                r"\# & At & Metric & Claimed & Correct value & Mark \\", r"\midrule"]
        for r in s.results:
            mark = "right" if r.correct else r"\textbf{wrong}"
            out.append(f"{r.index} & {esc(r.at)} & {esc(r.metric)} & {esc(_claimed_text(r))} & "
                       f"{esc(r.expected_text)} & {mark} \\\\")
        out += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(out) + "\n"
