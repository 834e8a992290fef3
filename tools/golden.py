"""Golden outputs: every verb in every format on every example and zoo spec, recorded as the
SHA-256 of its exact output (with its exit code), so that a change meant to leave what users
see alone can prove it did.

    python tools/golden.py record            # write tests/golden/digests.tsv
    python tools/golden.py check             # every command: which outputs changed
    python tools/golden.py check --only vgg  # commands whose text contains 'vgg'
    python tools/golden.py show 'archcalc params specs/vgg16.yaml --format csv'

tests/test_golden.py checks the examples and a fixed sample of the zoo on every run; `check`
here checks them all (a few minutes). After a deliberate change, `record` again and list
the commands whose output changed in the commit message.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DIGESTS = ROOT / "tests" / "golden" / "digests.tsv"
VERBS = ("summary", "params", "shapes", "flops", "rf")
FORMATS = ("table", "markdown", "latex", "csv", "json")


def specs() -> list[str]:
    return [p.relative_to(ROOT).as_posix() for base in ("examples", "specs")
            for p in sorted((ROOT / base).glob("*.yaml"))]


def commands() -> list[str]:
    """Every recorded command line, in a fixed order."""
    out = []
    for spec in specs():
        out += [f"archcalc {verb} {spec} --format {fmt}" for verb in VERBS for fmt in FORMATS]
        out.append(f"archcalc explain {spec}")
        out.append(f"archcalc summary {spec} --convention keras --format json")
    out += [f"archcalc explain {spec} --format {fmt}" for spec in specs()
            if spec.startswith("examples/") for fmt in ("markdown", "latex", "csv", "json")]
    examples = " ".join(s for s in specs() if s.startswith("examples/"))
    out += [f"archcalc compare {examples} --format {fmt}" for fmt in FORMATS]
    out += [f"archcalc compare examples/vgg16.yaml specs/resnet18.yaml --per-layer --format {f}"
            for f in FORMATS]
    for sheet in sorted((ROOT / "tests" / "fixtures" / "sheets").glob("*.yaml")):
        rel = sheet.relative_to(ROOT).as_posix()
        out += [f"archcalc check {rel} --spec-root specs --spec-root examples --format {fmt}"
                for fmt in FORMATS]
    out += [f"archcalc list-layers --format {fmt}" for fmt in FORMATS]
    out += [f"archcalc sweep examples/dilated.yaml --set F=3,D=2 --over M=5:12 --over N=5:9 "
            f"--format {fmt}" for fmt in FORMATS]
    out += [f"archcalc {verb} examples/dilated.yaml --set M=32,N=20 --format {fmt}"
            for verb in ("summary", "explain") for fmt in FORMATS]
    out += [f"archcalc flops {spec} --train --format {fmt}" for spec in
            ("examples/dilated.yaml", "examples/vit-block.yaml", "specs/vgg16.yaml",
             "specs/gpt2.yaml", "specs/mobilenet_v2.yaml") for fmt in FORMATS]
    return out


def run(command: str) -> tuple[int, str]:
    """(exit code, stdout) of one command line, run in-process from the repository root."""
    from typer.testing import CliRunner

    from archcalc.cli import app

    here = os.getcwd()
    os.chdir(ROOT)
    try:  # each command runs in a context of its own: its --limit values end with it
        result = CliRunner().invoke(app, shlex.split(command)[1:], catch_exceptions=False)
    finally:
        os.chdir(here)
    return result.exit_code, result.stdout


def digest(command: str) -> str:
    code, out = run(command)
    data = out.encode("utf-8", "surrogateescape")
    return f"{command}\t{code}\t{len(data)}\t{hashlib.sha256(data).hexdigest()}"


def recorded() -> dict[str, str]:
    lines = DIGESTS.read_text(encoding="utf-8").splitlines()
    return {line.split("\t", 1)[0]: line for line in lines if line and not line.startswith("#")}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("record", "check", "show"):
        print(__doc__)
        return 2
    if argv[0] == "show":
        code, out = run(argv[1])
        sys.stdout.write(out)
        return code
    if argv[0] == "record":
        DIGESTS.parent.mkdir(parents=True, exist_ok=True)
        lines = [digest(c) for c in commands()]
        DIGESTS.write_text("# command\texit\tbytes\tsha256 (tools/golden.py record)\n"
                           + "\n".join(lines) + "\n", encoding="utf-8")
        print(f"recorded {len(lines)} outputs in {DIGESTS.relative_to(ROOT)}")
        return 0
    only = argv[2] if len(argv) > 2 and argv[1] == "--only" else ""
    want, changed = recorded(), []
    for command in commands():
        if only in command and want.get(command) != digest(command):
            changed.append(command)
            print(f"changed: {command}", flush=True)
    print(f"{len(changed)} changed")
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
