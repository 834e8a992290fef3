"""The common analysis commands without typer's argument parsing.

typer ≥ 0.29 converts every option through a pydantic TypeAdapter: importing pydantic and
building the adapters costs more than loading, analysing and printing VGG16 together
(docs/performance.md). ``archcalc params spec.yaml`` and its siblings are the commands people
run most, so ``main`` first tries this parser: it understands only the plain spellings of the
verbs' own options and calls the same ``run_verb`` under the same ``guarded`` wrapper as the
typer command. Anything else (help, an unknown or abbreviated option, a malformed number)
returns None and typer handles the command as usual, with its own messages.
"""

from __future__ import annotations

import re
import sys

VERBS = ("summary", "params", "shapes", "flops", "rf")
# option spelling → (parameter, takes several values)
OPTIONS = {
    "--set": ("set_", True), "-s": ("set_", True),
    "--format": ("fmt", False), "-f": ("fmt", False),
    "--convention": ("convention", False), "-c": ("convention", False),
    "--depth": ("depth", False), "-d": ("depth", False),
    "--width": ("width", False),
    "--limit": ("limit", True),
}
_INT = re.compile(r"[0-9]{1,18}")  # longer: typer reports it (no int() of 5,000 digits)


def parse(argv: list[str]) -> tuple | None:
    """(verb, keyword arguments of run_verb) for a plain analysis command, else None."""
    if not argv or argv[0] not in VERBS:
        return None
    kwargs: dict = {"spec": None, "set_": None, "fmt": "table", "convention": "pytorch",
                    "depth": None, "width": 100, "limit": None}
    i = 1
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("-"):
            name, eq, value = arg.partition("=")
            if name not in OPTIONS or (eq and not name.startswith("--")):
                return None  # --help, --, -fjson, -s=…, unknown: typer decides
            if not eq:
                if i + 1 >= len(argv) or argv[i + 1].startswith("-"):
                    return None  # a missing value (or one that looks like an option)
                i += 1
                value = argv[i]
            key, many = OPTIONS[name]
            if key in ("depth", "width"):
                if not _INT.fullmatch(value):
                    return None
                value = int(value)
            if many:
                kwargs[key] = (kwargs[key] or []) + [value]
            else:
                kwargs[key] = value
        elif kwargs["spec"] is None:
            kwargs["spec"] = arg
        else:
            return None  # an extra argument: typer reports it
        i += 1
    if kwargs["spec"] is None:
        return None
    return argv[0], kwargs


def run(argv: list[str]) -> bool:
    """Run ``argv`` if it is a plain analysis command (then exit); False to let typer run it.

    Either way the garbage collector's first threshold is raised first: a command builds
    one acyclic graph and its records, and with the default threshold (700) the repeated
    collections make a 100,000-layer analysis a third slower (docs/performance.md)."""
    import gc

    gc.set_threshold(20_000, 10, 10)
    parsed = parse(argv)
    if parsed is None:
        return False
    from . import run_analysis
    from . import runtime as c

    verb, kw = parsed
    try:  # an error ends in guarded as SystemExit with its code
        c.guarded(run_analysis.run_verb)(verb, kw["spec"], kw["set_"], kw["fmt"],
                                         kw["convention"], kw["depth"], kw["width"],
                                         kw["limit"])
        sys.stdout.flush()
    except KeyboardInterrupt:  # Ctrl-C: 130 (128 + SIGINT), as typer ends it
        sys.exit(130)
    except BrokenPipeError:  # stderr closed too (stdout's closed pipe ends in emit): as typer
        c.discard_stdout()
        sys.exit(1)
    return True
