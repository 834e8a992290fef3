"""archcalc's command line. ``main`` is the console-script entry point.

The plain analysis commands run without typer (fast.py); typer's application, with every
command registered, is loaded only for the rest, or when ``app`` is asked for.
"""

from __future__ import annotations


def _application():
    from .app import app
    from . import analyse_cmds, registry_cmd  # noqa: F401  (register commands)
    from . import sweep_cmd  # noqa: F401
    from . import check_cmd, compare_cmd, explain_cmd  # noqa: F401
    from . import verify_cmd  # noqa: F401
    from . import memory_cmd  # noqa: F401
    from . import solve_cmd  # noqa: F401
    from . import export_cmd, import_cmd  # noqa: F401

    # importing the submodule app.py made ``archcalc.cli.app`` that module: the name means
    # the application
    globals()["app"] = app
    return app


def __getattr__(name: str):
    if name == "app":  # ``from archcalc.cli import app``: the application, commands in
        return _application()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    import sys

    from . import fast

    if not fast.run(sys.argv[1:]):  # plain analysis commands skip typer's parsing (fast.py)
        _application()()
