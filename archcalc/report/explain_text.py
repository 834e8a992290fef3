"""explain's output: each derivation a titled list of lines (text, Markdown, LaTeX), every
line a row of one table (CSV), or its JSON object; written by ``writers``."""

from __future__ import annotations

from . import writers
from .table import Column, Row, Table

CSV_COLUMNS = ("metric", "label", "formula", "substituted", "value", "note")


def render(explanations: list, fmt: str, name: str = "") -> str:
    """The derivations of ``explain`` in ``fmt``."""
    import json

    sections = [(e.title, [ln.text() for ln in e.lines]) for e in explanations]
    own = {"json": lambda: json.dumps(to_json(explanations, name), indent=2,
                                      ensure_ascii=False) + "\n",
           "csv": lambda: writers.csv_text(model(explanations))}
    return writers.write_lists(sections, fmt, own=own)


def model(explanations: list) -> Table:
    """Every line of every derivation as a row, its parts in columns."""
    return Table([Column(h) for h in CSV_COLUMNS],
                 [Row([e.metric, ln.label, ln.formula, ln.substituted, ln.value, ln.note])
                  for e in explanations for ln in e.lines])


def to_json(explanations: list, name: str) -> dict:
    return {"name": name, "explanations": [
        {"title": e.title, "metric": e.metric, "lines": [
            {"label": ln.label, "formula": ln.formula, "substituted": ln.substituted,
             "value": ln.value, "note": ln.note, "text": ln.text()} for ln in e.lines]}
        for e in explanations]}
