"""One writer per output format, each reading the neutral ``table.Table``.

``write(table, fmt, json_obj=...)`` is the one dispatch: a verb builds its table (and its
own stable JSON object, docs/json-format.md) and hands both here, so no verb has a chain of
formats of its own. Escaping for each format lives here, once (``md_escape``,
``latex_escape``).
"""

from __future__ import annotations

import csv
import io

from ..errors import printable
from .table import Table

FORMATS = ("table", "markdown", "latex", "csv", "json")


def write(table: Table | None, fmt: str, json_obj=None, width: int = 100,
          standalone: bool = False, own: dict | None = None) -> str:
    """``table`` in the format ``fmt``; JSON is the verb's own object ``json_obj``, and
    ``own`` maps a format the verb writes itself (sweep's CSV of every point) to the
    function that writes it."""
    if own and fmt in own:
        return own[fmt]()
    if fmt == "json":
        from .values import json_text

        return json_text(json_obj)
    return {"markdown": lambda: markdown(table), "csv": lambda: csv_text(table),
            "latex": lambda: latex(table, standalone)}.get(fmt, lambda: text(table, width))()


# ---------------------------------------------------------------- text
def text(table: Table, width: int = 100) -> str:
    """The table as rich prints it (box SIMPLE_HEAD, no edge), then its footnotes. When
    nothing wraps the text is written directly (``plain_table``: linear in the rows);
    otherwise rich lays it out with widths that never split a number (``fit``)."""
    from . import plain_table

    headers = table.headers
    right = [c.right for c in table.columns]
    cells = [_indented(r, "  ") for r in table.rows]
    plain = None if any(c.centre for c in table.columns) else \
        plain_table.render(table.title or "", headers, right, cells, width)
    footer = _footer(table, width)
    if plain is not None and footer is not None:
        # nothing wraps: the same text, without rich's per-cell cost (or importing it)
        return plain + footer
    from rich.console import Console

    console = Console(width=width, file=io.StringIO(), color_system=None, highlight=False,
                      emoji=False, soft_wrap=False)
    if plain is not None:
        console.file.write(plain)
    else:
        console.print(_rich(table, cells, console, width))
    footer = _footer(table, console.width)  # the width the table was laid out in
    if footer is not None:
        console.file.write(footer)
        return console.file.getvalue()
    for line in table.footnotes:
        console.print(line, markup=False, highlight=False, soft_wrap=not table.wrap_footnotes)
    return console.file.getvalue()


def _footer(table: Table, width: int) -> str | None:
    """The footnotes, each wrapped to ``width`` where the table wraps them
    (``plain_table.wrap``); None when one holds a tab or a control character (rich writes
    those)."""
    from .plain_table import wrap

    out = []
    for line in table.footnotes:
        lines = wrap(line, width) if table.wrap_footnotes else \
            ([line] if line.isprintable() else None)
        if lines is None:
            return None
        out += lines
    return "".join(f"{part}\n" for part in out)


def _rich(table: Table, cells: list, console, width: int):
    """The rich Table (and the console widened when the minimum widths need it)."""
    from rich import box
    from rich.table import Table as RichTable
    from rich.text import Text

    from .fit import fit_widths

    t = RichTable(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, title_justify="left",
                  title=None if table.title is None else Text(table.title))
    widths, console.width = fit_widths(table.headers, cells,
                                       [not c.split for c in table.columns], width,
                                       [not c.wrap for c in table.columns])
    for c, w in zip(table.columns, widths):
        t.add_column(c.header, justify=_justify(c), overflow="fold", width=w,
                     no_wrap=not c.wrap)
    for row, texts in zip(table.rows, cells):
        # Text, not markup: a shape such as "[k0, 56, 56]" would read as a style tag
        t.add_row(*(Text(x) for x in texts), style="bold" if row.bold else None)
    return t


def _justify(column) -> str:
    return "center" if column.centre else "right" if column.right else "left"


def _indented(row, mark: str, escape=None) -> list:
    """The row's cells (escaped by ``escape``), its first indented by ``mark`` per level of
    depth."""
    cells = list(row.cells) if escape is None else [escape(c) for c in row.cells]
    if row.depth:
        cells[0] = mark * row.depth + cells[0]
    return cells


# ---------------------------------------------------------------- Markdown
def md_escape(text: str) -> str:
    """Text for a Markdown table cell: controls escaped (printable), then the characters
    Markdown would read as table syntax or emphasis."""
    return printable(text).replace("|", "\\|").replace("*", "\\*").replace("_", "\\_")


def markdown(table: Table) -> str:
    """A GitHub table: the title (bold, or as a line), the grid, then the footnotes (one
    as a paragraph, several as a list)."""
    lines = []
    if table.title is not None:
        title = md_escape(table.title)
        lines += [f"**{title}**" if table.title_bold else title, ""]
    lines += ["| " + " | ".join(md_escape(h) for h in table.headers) + " |",
              "|" + "|".join(":---:" if c.centre else "---:" if c.right else ":---"
                         for c in table.columns) + "|"]
    for row in table.rows:
        texts = _indented(row, "&nbsp;&nbsp;", md_escape)
        if row.bold:
            texts[0] = f"**{texts[0]}**"
        lines.append("| " + " | ".join(texts) + " |")
    if table.footnotes:
        lines.append("")
        if len(table.footnotes) == 1:
            lines.append(md_escape(table.footnotes[0]))
        else:
            lines.extend(f"- {md_escape(line)}" for line in table.footnotes)
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- LaTeX
_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                  "^": r"\textasciicircum{}"}


_LATEX_SYMBOLS = {"—": "---", "×": r"$\times$", "·": r"$\cdot$", "<": r"\textless{}",
                  ">": r"\textgreater{}", "∏": r"$\prod$", "≤": r"$\le$", "≥": r"$\ge$",
                  "−": "-", "…": r"\ldots{}", "⌊": r"$\lfloor$", "⌋": r"$\rfloor$",
                  "⌈": r"$\lceil$", "⌉": r"$\rceil$", "✓": "yes", "✗": "no", "’": "'"}


def latex_escape(text: str) -> str:
    """Text for pdflatex as is: specials escaped, known symbols as commands, accented
    letters without their accents, anything else non-ASCII as '?' (pdflatex stops on
    characters it has no glyph for)."""
    out = "".join(_LATEX_SPECIAL.get(ch, _LATEX_SYMBOLS.get(ch, ch)) for ch in printable(text))
    return "".join(ch if ord(ch) < 128 else _ascii(ch) for ch in out)


def _ascii(ch: str) -> str:
    import unicodedata

    return unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode() or "?"


def latex(table: Table, standalone: bool = False) -> str:
    """A booktabs table: caption (or title), the grid, then the summary as a last row, or
    else the footnotes in small type under the grid. ``standalone``: a whole document."""
    return _latex_document(_latex_table(table), standalone)


def _latex_document(body: list, standalone: bool) -> str:
    """``body`` (lines) as a whole document, or with the comment naming the package it needs."""
    if standalone:
        body = [r"\documentclass{article}", r"\usepackage{booktabs}", r"\begin{document}",
                *body, r"\end{document}"]
    else:
        body = [r"% requires \usepackage{booktabs}", *body]
    return "\n".join(body) + "\n"


def _latex_table(table: Table) -> list:
    esc = latex_escape
    caption = table.caption if table.caption is not None else table.title or ""
    spec = "".join("c" if c.centre else "r" if c.right else "l" for c in table.columns)
    out = [r"\begin{table}[ht]", r"\centering", rf"\caption{{{esc(caption)}}}",
           rf"\begin{{tabular}}{{{spec}}}",
           r"\toprule", " & ".join(esc(h) for h in table.headers) + r" \\", r"\midrule"]
    out += [" & ".join(_indented(row, r"\quad ", esc)) + r" \\" for row in table.rows]
    if table.summary is not None:
        out += [r"\midrule", rf"\multicolumn{{{len(table.columns)}}}{{l}}"
                             rf"{{{esc(table.summary)}}} \\"]
    out += [r"\bottomrule", r"\end{tabular}"]
    if table.summary is None and table.footnotes:
        out += ["", r"\smallskip\parbox{\linewidth}{\footnotesize "
                + r" \\ ".join(esc(n) for n in table.footnotes) + "}"]
    out.append(r"\end{table}")
    return out


# ---------------------------------------------------------------- titled lists
def write_lists(sections, fmt: str, own: dict | None = None) -> str:
    """Titled lists of lines (derivations: not a grid), each ``(title, lines)``: as text (the
    title, its lines indented, a blank line), Markdown (a bold title, each line as code in a
    list) or LaTeX (a paragraph with an itemize); ``own`` as in ``write``. A section without
    lines is its title alone."""
    if own and fmt in own:
        return own[fmt]()
    if fmt == "latex":
        return "\n".join(_latex_lists(sections)) + "\n"
    out = []
    if fmt == "markdown":
        for title, lines in sections:
            out += [f"**{md_escape(title)}**", ""] + [f"- {md_code(line)}" for line in lines]
            out += [""] if lines else []
        return "\n".join(out)
    for title, lines in sections:
        out += [title] + [f"  {line}" for line in lines] + [""]
    return "\n".join(out)


def _latex_lists(sections) -> list:
    out = []
    for title, lines in sections:
        out.append(rf"\paragraph{{{latex_escape(title)}}}")
        if lines:
            out += [r"\begin{itemize}", *(rf"  \item {latex_escape(line)}" for line in lines),
                    r"\end{itemize}"]
    return out


def md_code(text: str) -> str:
    """Text as a Markdown code span: controls escaped, fenced by more backticks than it
    holds in a row (CommonMark), so that a backtick in the text cannot end the span."""
    import re

    text = printable(text)
    run = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (run + 1)
    pad = " " if run else ""
    return f"{fence}{pad}{text}{pad}{fence}"


# ---------------------------------------------------------------- reports
def write_blocks(blocks, fmt: str, width: int = 100, gap: bool = True) -> str:
    """A report of several blocks (each a ``Table`` or a ``table.Lists``) in ``fmt`` (text,
    Markdown or LaTeX), a blank line between blocks unless not ``gap``; LaTeX names the
    package it needs once."""
    from .table import Lists

    if fmt == "latex":
        body = []
        for b in blocks:
            body += _latex_lists(b.sections) if isinstance(b, Lists) else _latex_table(b)
        return _latex_document(body, False)
    parts = [write_lists(b.sections, fmt) if isinstance(b, Lists) else
             markdown(b) if fmt == "markdown" else text(b, width) for b in blocks]
    return ("\n" if gap else "").join(parts)


# ---------------------------------------------------------------- CSV
def csv_text(table: Table) -> str:
    """One line per row: the table's machine form where it has one (exact numbers, no
    separators), else the rows' text."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(table.raw_header if table.raw_header is not None else table.headers)
    w.writerows(table.machine() if table.machine is not None else
                (row.cells for row in table.rows))
    return buf.getvalue()
