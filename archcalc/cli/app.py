"""The typer application object (commands register themselves on import)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from typer.core import TyperGroup


class OneLineErrors(TyperGroup):
    """The command group, with a usage error (unknown option, missing argument …) reported
    like every other error: one line ``error: …`` on stderr and exit 2, not a boxed
    multi-line message."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True,
             **extra):
        from typer._click.exceptions import NoArgsIsHelpError, UsageError

        reflow_help(self)
        try:
            code = super().main(args, prog_name or "archcalc", complete_var,
                                standalone_mode=False, **extra)
        except NoArgsIsHelpError as e:  # `archcalc` alone: the help (rich has printed it)
            if e.format_message().strip():
                e.show()
            code = 2
        except UsageError as e:
            from ..errors import printable

            where = e.ctx.command_path if e.ctx is not None else "archcalc"
            message = " ".join(e.format_message().split()).rstrip(".")
            print(f"error: {printable(where)}: {printable(message)} "
                  f"(see '{printable(where)} --help')", file=sys.stderr)
            code = 2
        except typer.Abort:  # Ctrl-C or end of input at a prompt, as click ends it
            print("Aborted!", file=sys.stderr)
            code = 1
        if not standalone_mode:
            return code
        sys.exit(code or 0)


def reflow_help(command) -> None:
    """Each command's help (its docstring) with the lines of a paragraph joined, so that
    --help wraps them to the terminal's width: typer keeps a docstring's line breaks after
    its first paragraph. Indented paragraphs (examples) keep their lines; a list keeps one
    line per item. Reflowing again changes nothing."""
    if command.help:
        command.help = "\n\n".join(_joined(p) for p in command.help.split("\n\n"))
    for sub in getattr(command, "commands", {}).values():
        reflow_help(sub)


def _joined(paragraph: str) -> str:
    lines = [line for line in paragraph.split("\n") if line.strip()]
    if not lines or all(line.startswith((" ", "\t")) for line in lines) or \
            lines[0].startswith("\b"):
        return paragraph
    items: list = []
    for line in lines:
        if line.lstrip().startswith(("- ", "* ")) or not items:
            items.append(line.strip())
        else:
            items[-1] += " " + line.strip()
    return "\n".join(items)


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        print(f"archcalc {__version__}")
        raise typer.Exit()


app = typer.Typer(
    name="archcalc",
    cls=OneLineErrors,
    help="Closed-form shapes, parameters, MACs/FLOPs and receptive fields of neural networks, "
         "from a YAML layer spec — exact, symbolic when sizes are symbols, and verifiable "
         "against PyTorch.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root(version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True,
        help="Print archcalc's version and exit.")] = False) -> None:
    """The options before the command."""
