"""The text rich prints for a report table, in time linear in its rows.

rich measures and renders every cell through several layers of objects: about a millisecond
per row, so a 49,000-layer network took tens of seconds to print. When every cell is one
line and the table fits the width, nothing wraps and the layout is plain arithmetic: this
module writes it directly. Otherwise it answers None and rich lays the table out.
``tests/test_performance_structure.py`` checks that both give the same text.
"""

from __future__ import annotations

import re
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


_WORD = re.compile(r"\s*\S+\s*")


def wrap(line: str, width: int) -> list[str]:
    """A footnote line broken into lines of at most ``width`` cells: at the space before a
    word that would not fit (trailing spaces dropped), a word longer than the width folded;
    the line as it is when it fits. Only a line with a tab or a control character
    (``isprintable``) is left to rich (None)."""
    if not line.isprintable():
        return None
    size = _size
    if size(line) <= width:
        return [line]
    out, current = [], ""
    for word in _WORD.findall(line):
        if size(current + word.rstrip()) <= width:
            current += word
            continue
        if current.strip():
            out.append(current.rstrip())
        current = word.lstrip() if current.strip() else word
        while size(current.rstrip()) > width:  # a word longer than the line: folded
            head = _head(current, width)
            out.append(head)
            current = current[len(head):]
    if current.strip():
        out.append(current.rstrip())
    return out


def _size(text: str) -> int:
    if text.isascii():
        return len(text)
    from rich.cells import cell_len

    return cell_len(text)


def _head(text: str, width: int) -> str:
    """The longest start of ``text`` that fits ``width`` cells (at least one character)."""
    n = min(len(text), width)
    while n > 1 and _size(text[:n]) > width:
        n -= 1
    return text[:n]


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
