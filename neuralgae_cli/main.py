"""The `nd` application: each command lives in its own module and registers itself here."""

from __future__ import annotations

import importlib

import typer

from .common import OneLineUsageErrors

COMMAND_MODULES = (
    "neuralgae_cli.dream",
    "neuralgae_cli.draw",
    "neuralgae_cli.run",
    "neuralgae_cli.gif",
    "neuralgae_cli.plugins_cmd",
    "neuralgae_cli.book",
    "neuralgae_cli.serve",
    "neuralgae_cli.batch",
)

app = typer.Typer(
    name="nd",
    help="Neuralgae: DeepDream, deepdraw, animation loops and the Neuralgae chain.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
    cls=OneLineUsageErrors,
)

for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def main() -> None:
    import torch

    from neuralgae.core.nets.memory import keep_freed_memory

    from .common import show_notices

    torch.set_flush_denormal(True)  # before torch starts its worker threads
    keep_freed_memory()  # nd owns its process: reuse activation memory from step to step
    show_notices()
    app()
