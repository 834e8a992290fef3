"""The typer application object (commands register themselves on import)."""

import typer

app = typer.Typer(
    name="archcalc",
    help="Closed-form shapes, parameters, MACs/FLOPs and receptive fields of neural networks, "
         "from a YAML layer spec — exact, symbolic when sizes are symbols, and verifiable "
         "against PyTorch.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
