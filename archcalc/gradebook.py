"""A class's gradebook: points per claim, totals per student, and per question the share of
the class that got it right and the most common wrong answer, with what explains it.

A question is a place and a metric (``total params``) of one spec, wherever a sheet lists
it. Wrong answers are grouped by what they claim: an exact count however it is written
(``11699112`` and ``"11,699,112"`` are one answer), anything else as written. The
explanation of a wrong answer is the note ``check`` gives it (the counting convention under
which it would be right, or a layout slip).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction

from .report.values import as_written


@dataclass
class Question:
    number: int
    at: str
    metric: str
    spec: str = ""  # as the first sheet answering it names it (when the class has several)
    key: str = ""  # the spec, resolved
    expected: str = ""
    answered: int = 0  # sheets that answer it
    right: int = 0
    points: object = 0  # the most it is worth on a sheet
    wrong: Counter = field(default_factory=Counter)  # claimed text → sheets
    notes: dict = field(default_factory=dict)  # claimed text → its note

    @property
    def common_wrong(self) -> tuple:
        """(claimed text, sheets, note) of the most common wrong answer, or None."""
        if not self.wrong:
            return None
        order = {text: i for i, text in enumerate(self.wrong)}  # first written first
        text, count = min(self.wrong.items(), key=lambda kv: (
            -kv[1], self.notes.get(kv[0], "").startswith("cannot read"), order[kv[0]]))
        return text, count, self.notes.get(text, "")

    def summary(self) -> str:
        """``"12 of 30 right; 9 wrote 138,423,208: matches keras's …"``."""
        out = f"{self.right} of {self.answered} right"
        common = self.common_wrong
        if common:
            text, count, note = common
            out += f"; {count} wrote {text}" + (f": {note}" if note else "")
        return out

    def to_json(self) -> dict:
        common = self.common_wrong
        return {"question": self.number, **({"spec": self.spec} if self.spec else {}),
                "at": self.at, "metric": self.metric,
                "expected": self.expected, "answered": self.answered, "right": self.right,
                "share_right": round(self.right / self.answered, 4) if self.answered else None,
                "most_common_wrong": None if common is None else
                {"claimed": common[0], "sheets": common[1], "note": common[2]}}


def questions(sheets: list) -> list:
    """The questions of a class, in the order they first appear."""
    found: dict = {}
    specs = {s.spec_id for s in sheets if not s.error}
    for s in sheets:
        if s.error:
            continue
        seen = set()
        for r in s.results:
            if r.metric == "?" or r.at == "?":
                continue
            key = (s.spec_id, r.at, r.metric)
            q = found.get(key)
            if q is None:
                q = found[key] = Question(len(found) + 1, r.at, r.metric,
                                          s.spec if len(specs) > 1 else "", s.spec_id)
            if key in seen:
                continue  # a sheet answering twice counts once, by its first answer
            seen.add(key)
            q.answered += 1
            q.points = max(q.points, r.points)
            if r.expected_text:
                q.expected = r.expected_text
            if r.correct:
                q.right += 1
            else:
                text = _answer(r)
                q.wrong[text] += 1
                q.notes.setdefault(text, r.note or (f"cannot read it: {r.error}" if r.error
                                                    else ""))
    return list(found.values())


def _answer(r) -> str:
    """A wrong answer as it is counted: an exact count as one number however it is written
    (``11699112``, ``"11,699,112"``), anything else as written."""
    from . import claims
    from .errors import SpecError

    text = as_written(r.claimed)
    if r.error or r.metric not in ("params", "trainable_params", "non_trainable_params",
                                   "macs", "flops", "elements", "depth"):
        return text
    try:
        number = claims.parse_number(r.claimed, {})
    except SpecError:
        return text
    if number.unit or not isinstance(number.value, Fraction) or \
            number.value.denominator != 1:
        return text
    return f"{int(number.value):,}"


def earned(s) -> tuple:
    """(points earned, points possible) on one sheet."""
    return (sum(r.points for r in s.results if r.correct),
            sum(r.points for r in s.results))


HEAD = ["record", "student", "sheet", "question", "at", "metric", "claimed", "expected",
        "correct", "points", "earned", "note"]


def rows(sheets: list) -> list:
    """The gradebook as rows under ``HEAD``: a ``claim`` row per claim, a ``student`` row per
    sheet (its totals, or why it cannot be read), a ``question`` row per question."""
    qs = questions(sheets)
    number = {(q.key, q.at, q.metric): q.number for q in qs}
    out = []
    for s in sheets:
        if s.error:
            out.append(["student", s.name, s.path, "", "", "", "", "", "", "", "",
                        f"cannot read this sheet: {s.error}"])
            continue
        for r in s.results:
            note = f"cannot read this claim: {r.error}" if r.error else (r.note or r.verdict)
            out.append(["claim", s.name, s.path, number.get((s.spec_id, r.at, r.metric), ""), r.at,
                        r.metric, as_written(r.claimed) if r.claimed is not None else "",
                        r.expected_text, int(r.correct), r.points,
                        r.points if r.correct else 0, note])
        got, total = earned(s)
        out.append(["student", s.name, s.path, "", "", "", "", "", f"{s.right}/{len(s.results)}",
                    total, got, ""])
    for q in qs:
        common = q.common_wrong
        out.append(["question", "", "", q.number, q.at, q.metric,
                    common[0] if common else "", q.expected, f"{q.right}/{q.answered}",
                    q.points, "", q.summary()])
    return out


def _cell(value):
    """A cell a spreadsheet shows as text: one that starts like a formula (``=``, ``+``,
    ``-``, ``@``) and is not a number gets a leading ``'`` — a claim is a student's text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        try:
            float(value)
        except ValueError:
            return "'" + value
    return value


def csv_text(sheets: list) -> str:
    import csv
    import io

    from .errors import printable

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(HEAD)
    w.writerows([_cell(c) for c in row] for row in rows(sheets))
    return "\n".join(printable(line) for line in buf.getvalue().split("\n"))


def to_json(sheets: list) -> dict:
    students = []
    for s in sheets:
        if s.error:
            students.append({"student": s.name, "sheet": s.path, "error": s.error})
            continue
        got, total = earned(s)
        students.append({"student": s.name, "sheet": s.path, "right": s.right,
                         "claims": len(s.results), "points": total, "earned": got})
    return {"students": students, "questions": [q.to_json() for q in questions(sheets)]}


def text_lines(sheets: list) -> list:
    """Per question, for the text report: ``Q1 total params (138,357,544): 12 of 30 …``."""
    out = ["Points (earned of possible)"]
    width = max((len(s.name) for s in sheets), default=0)
    for s in sheets:
        got, total = earned(s)
        out.append(f"  {s.name.ljust(width)}  " + ("— (cannot read this sheet)" if s.error
                                                    else f"{_num(got)}/{_num(total)}"))
    out += ["", "Questions (share of the class right; the most common wrong answer)"]
    for q in questions(sheets):
        where = f"{q.spec}: " if q.spec else ""
        value = f" ({q.expected})" if q.expected else ""
        out.append(f"  Q{q.number} {where}{q.at} {q.metric}{value}: {q.summary()}")
    return out


def _num(value) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"
