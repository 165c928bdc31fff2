"""The ``skylift`` command: a Typer app whose commands each live in their own module.

Every command module has ``register(app)``; commands parse options, call one engine or
runner function and render its result. Errors become one line and an exit code here.
"""

from __future__ import annotations

import importlib
import sys

import typer

from skylift.cli.common import run_cli

COMMAND_MODULES = (
    "skylift.cli.mail",
    "skylift.cli.demo",
    "skylift.cli.assess",
    "skylift.cli.dirsync",
    "skylift.cli.calendars",
)


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="skylift",
        help="Move mailboxes, calendars, contacts and directories into a hosted suite.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)
    return app


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``skylift`` console script."""
    sys.exit(run_cli(build_app(), argv))
