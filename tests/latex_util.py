"""Compile LaTeX with pdflatex when it is installed (tests skip otherwise)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

PDFLATEX = shutil.which("pdflatex")
needs_pdflatex = pytest.mark.skipif(PDFLATEX is None, reason="pdflatex is not installed")

PREAMBLE = "\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n"


def compile_latex(tmp_path, body: str, standalone: bool = False) -> None:
    """Run pdflatex; fail with the log's first error when it does not compile."""
    source = body if standalone else PREAMBLE + body + "\\end{document}\n"
    tex = tmp_path / "doc.tex"
    tex.write_text(source, encoding="utf-8")
    run = subprocess.run([PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", tex.name],
                         cwd=tmp_path, capture_output=True, text=True, timeout=60)
    errors = [ln for ln in run.stdout.splitlines() if ln.startswith("!")]
    assert run.returncode == 0 and (tmp_path / "doc.pdf").exists(), errors or run.stdout[-2000:]


def markdown_table_ok(lines: list) -> bool:
    """A GitHub pipe table: header, delimiter row, rows with as many cells as the header."""
    import re

    def cells(line: str) -> list:
        assert line.startswith("|") and line.endswith("|"), line
        return re.split(r"(?<!\\)\|", line[1:-1])

    head = cells(lines[0])
    delim = cells(lines[1])
    assert len(delim) == len(head)
    assert all(re.fullmatch(r":?-{3,}:?", d.strip()) for d in delim), delim
    for line in lines[2:]:
        assert len(cells(line)) == len(head), line
    return True
