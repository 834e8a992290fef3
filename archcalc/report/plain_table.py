"""The text rich prints for a report table, in time linear in its rows.

rich measures and renders every cell through several layers of objects: about a millisecond
per row, so a 49,000-layer network took tens of seconds to print. When every cell is one
line and the table fits the width, nothing wraps and the layout is plain arithmetic: this
module writes it directly. Otherwise it answers None and rich lays the table out.
``tests/test_performance_structure.py`` checks that both give the same text.
"""

from __future__ import annotations

from typing import Sequence

RULE = "─"  # rich's SIMPLE_HEAD box: a rule under the header, blank column separators
SEPARATOR = "   "  # one space of padding, the blank vertical line, one space of padding


def render(title: str, headers: Sequence[str], right: Sequence[bool],
           rows: Sequence[Sequence[str]], width: int) -> str | None:
    """The table (title, header, rule, rows) as rich prints it with box SIMPLE_HEAD, no
    edge, no edge padding, left-justified title; None when some cell would wrap."""
    from rich.cells import cell_len

    def size(text: str) -> int:
        return len(text) if text.isascii() else cell_len(text)

    texts = [list(headers), *rows]
    if any("\n" in t or "\r" in t or not t.isprintable() for row in texts for t in row) or \
            not title.isprintable():
        return None
    widths = [max(size(row[i]) for row in texts) for i in range(len(headers))]
    total = sum(widths) + len(SEPARATOR) * (len(widths) - 1)
    if total > width or any(w == 0 for w in widths):
        return None
    title_lines = _title_lines(title, total) if title else []

    def line(row: Sequence[str]) -> str:
        cells = []
        for text, w, r in zip(row, widths, right):
            pad = " " * (w - size(text))
            cells.append(pad + text if r else text + pad)
        return SEPARATOR.join(cells)

    out = [t + " " * (total - size(t)) for t in title_lines]
    out += [line(headers), RULE * total]
    out.extend(line(row) for row in rows)
    return "\n".join(out) + "\n"


def _title_lines(title: str, total: int) -> list[str]:
    """The title as rich lays it out over a table ``total`` cells wide: one line when it
    fits, else wrapped as rich wraps text (at spaces, folding a longer word), which is
    linear in the title's length alone."""
    from rich.cells import cell_len

    if cell_len(title) <= total:
        return [title]
    import io

    from rich.console import Console
    from rich.text import Text

    console = Console(width=total, file=io.StringIO(), color_system=None, highlight=False,
                      emoji=False, soft_wrap=False)
    return [line.plain.rstrip() for line in Text(title).wrap(console, total,
                                                             justify="left")]
