"""Column widths for rich tables that never split a number across lines."""

from __future__ import annotations

from typing import Sequence

FOLD_AT = 24  # a name column may be folded (split) only past this many characters
GAP = 3  # columns are apart by one space of padding, a blank line, one space of padding


def fit_widths(headers: Sequence[str], rows: Sequence[Sequence[str]], whole: Sequence[bool],
               width: int, one_line: Sequence[bool] = ()) -> tuple[list, int]:
    """Column widths for a rich table, and the width it is printed at, such that no word of
    a ``whole`` column (a number, a size in a shape) is split across lines: such a column
    is at least as wide as its longest word, a name column at least as wide as its longest
    word up to FOLD_AT; the rest of ``width`` goes to the columns that want more. The
    table is wider than ``width`` only when these minimums alone do not fit. A
    ``one_line`` column is as wide as its longest cell (it never wraps)."""
    from rich.cells import cell_len

    texts = [list(headers), *rows]
    n = len(headers)
    natural = [max(cell_len(r[j]) for r in texts) for j in range(n)]
    words = [max((cell_len(w) for r in texts for w in r[j].split()), default=1)
             for j in range(n)]
    keep = list(one_line) + [False] * (n - len(one_line))
    widths = [max(1, natural[j] if keep[j] else words[j] if whole[j] else
                  min(words[j], FOLD_AT)) for j in range(n)]
    room = width - GAP * (n - 1)
    if sum(natural) <= room:
        return natural, width
    spare = room - sum(widths)
    while spare > 0:
        wanting = [j for j in range(n) if widths[j] < natural[j]]
        if not wanting:
            break
        share = max(1, spare // len(wanting))
        for j in wanting:
            more = min(share, natural[j] - widths[j], spare)
            widths[j] += more
            spare -= more
    return widths, max(width, sum(widths) + GAP * (n - 1))
