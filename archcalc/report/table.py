"""One neutral table model that every verb builds and every writer reads.

A verb turns its results into a ``Table`` (text already formatted for people, plus a
machine form of each row for CSV); ``report/writers.py`` writes it as a text table,
Markdown, LaTeX or CSV. The model holds no layout: widths, escaping and indentation marks
belong to the writers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Sequence


@dataclass(frozen=True)
class Column:
    """A column: its header, whether it is right-aligned (numbers) or centred (marks), and
    whether a cell may be split across lines when the table is too wide (names may; numbers
    and shapes never, see ``report/fit.py``); ``wrap=False``: a cell is never broken, not
    even between words."""

    header: str
    right: bool = False
    split: bool = False
    centre: bool = False
    wrap: bool = True


class LazyRows(Sequence):
    """Rows made only when a writer first reads them: CSV writes a table's machine form and
    never its text, which for a 100,000-layer network costs as much again."""

    def __init__(self, make: Callable[[], list]):
        self._make, self._rows = make, None

    def _all(self) -> list:
        if self._rows is None:
            self._rows = self._make()
        return self._rows

    def __getitem__(self, i):
        return self._all()[i]

    def __len__(self) -> int:
        return len(self._all())


@dataclass(frozen=True, slots=True)
class Row:
    """One row: a cell of text per column, and the row's style (``bold`` for a group,
    ``depth`` of indentation of its first cell)."""

    cells: Sequence[str]
    bold: bool = False
    depth: int = 0


@dataclass(frozen=True)
class Table:
    """A table with a title, and footnotes (lines printed under it).

    ``machine`` gives the rows' machine form for CSV (exact numbers without separators,
    under ``raw_header``) when it differs from the text; it is made only when asked, since
    for a 100,000-layer network it costs as much as the text. ``caption`` is LaTeX's caption when it is not the title.
    ``summary`` is the one line a typeset table (LaTeX) closes with instead of the
    footnotes. ``title_bold``: Markdown shows the title as a bold name (else as a line).
    ``wrap_footnotes``: the text writer wraps long footnotes at its width (else each is one
    line however long: closed forms, which a reader copies)."""

    columns: Sequence[Column]
    rows: Sequence[Row]
    title: str | None = None
    footnotes: Sequence[str] = ()
    raw_header: Sequence[str] | None = None
    machine: Callable[[], Iterable[Sequence[str]]] | None = None
    caption: str | None = None
    summary: str | None = None
    title_bold: bool = True
    wrap_footnotes: bool = True

    @property
    def headers(self) -> list:
        return [c.header for c in self.columns]


@dataclass(frozen=True)
class Lists:
    """Titled lists of lines, each ``(title, lines)``: what is not a grid (derivations, a
    sheet that cannot be read). A report is a sequence of ``Table`` and ``Lists`` blocks."""

    sections: Sequence[tuple[str, Sequence[str]]]
