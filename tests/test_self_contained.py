"""The repository is all a user has: nothing in it points at files outside it."""

from __future__ import annotations

import re

from conftest import ROOT

SKIP_DIRS = {".git", ".venv", "__pycache__", ".pytest_cache", ".hypothesis", "build", "dist"}
OUTSIDE = re.compile(r"\.\./shared|shared/(spec-examples|reference)|DESIGN\.md|STYLE\.md")


def _files():
    for path in ROOT.rglob("*"):
        parts = set(path.relative_to(ROOT).parts)
        if path.is_file() and not parts & SKIP_DIRS and not any(p.endswith(".egg-info")
                                                                for p in parts):
            yield path


def test_nothing_points_outside_the_repository():
    offenders = []
    for path in _files():
        if path.relative_to(ROOT).as_posix() == ".ci/run":
            continue  # may check a copy of the examples beside the checkout, when there is one
        text = path.read_bytes().decode("utf-8", "replace")
        for n, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()[:80]}")
    assert offenders == []


def test_documentation_links_resolve():
    """Every relative Markdown link in README.md and docs/ names a file in the repository."""
    broken = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text()):
            if "://" in target:
                continue
            if not (doc.parent / target).exists():
                broken.append(f"{doc.relative_to(ROOT)} → {target}")
    assert broken == []
