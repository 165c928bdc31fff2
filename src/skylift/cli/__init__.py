"""The ``skylift`` command: a Typer app whose commands each live in their own module.

Every command module has ``register(app)``; commands parse options, call one engine or
runner function and render its result. Errors become one line and an exit code here.
"""

from __future__ import annotations

import ctypes
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


def return_freed_memory_to_the_os() -> None:
    """Ask glibc to serve large buffers with mmap, so freed messages leave the process.

    Worker threads each keep an arena; multi-MB messages freed there would otherwise stay in
    the process (measured: 260 MB peak at 4 mailboxes at once, 170 MB with this).
    """
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass  # not glibc: nothing to tune


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``skylift`` console script."""
    return_freed_memory_to_the_os()
    sys.exit(run_cli(build_app(), argv))
