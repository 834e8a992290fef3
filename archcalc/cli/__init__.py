"""archcalc's command line. ``main`` is the console-script entry point."""

from __future__ import annotations

from .app import app
from . import analyse_cmds, registry_cmd  # noqa: F401  (register commands)
from . import sweep_cmd  # noqa: F401
from . import check_cmd, compare_cmd, explain_cmd  # noqa: F401
from . import verify_cmd  # noqa: F401
from . import memory_cmd  # noqa: F401
from . import export_cmd, import_cmd  # noqa: F401


def main() -> None:
    import sys

    from . import fast

    if not fast.run(sys.argv[1:]):  # plain analysis commands skip typer's parsing (fast.py)
        app()
