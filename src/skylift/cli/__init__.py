"""The ``skylift`` command: a Typer app whose commands each live in their own module.

Every command module has ``register(app)``; commands parse options, call one engine or
runner function and render its result. Errors become one line and an exit code here.
Only the module of the command being run is imported, so ``skylift migrate`` does not pay
for the LDAP, SCIM and calendar libraries at start-up.
"""

from __future__ import annotations

import ctypes
import importlib
import sys
from pathlib import Path

import typer

from skylift.cli.common import run_cli

# command name -> module that registers it (tests/test_cli_registry.py keeps this honest)
COMMANDS = {
    "migrate": "skylift.cli.mail",
    "verify": "skylift.cli.mail",
    "demo": "skylift.cli.demo",
    "assess": "skylift.cli.assess",
    "plan": "skylift.cli.assess",
    "dirsync": "skylift.cli.dirsync",
    "dirsync-journal": "skylift.cli.dirsync",
    "migrate-calendars": "skylift.cli.calendars",
    "migrate-contacts": "skylift.cli.calendars",
    "verify-calendars": "skylift.cli.calendars",
    "verify-contacts": "skylift.cli.calendars",
    "freebusy": "skylift.cli.freebusy",
    "jobs": "skylift.cli.jobs",
    "worker": "skylift.cli.worker",
    "auth": "skylift.cli.auth",
    "autoconfig": "skylift.cli.clients",
    "notify": "skylift.cli.clients",
    "support": "skylift.cli.clients",
    "cutover": "skylift.cli.route",
    "rollback": "skylift.cli.route",
    "route": "skylift.cli.route",
    "web": "skylift.cli.web",
    "migrate-public-folders": "skylift.cli.library",
    "migrate-contacts-im": "skylift.cli.im",
}
COMMAND_MODULES = tuple(dict.fromkeys(COMMANDS.values()))


def build_app(argv: list[str] | None = None) -> typer.Typer:
    """The app with every command, or only the module of the command *argv* names."""
    app = typer.Typer(
        name="skylift",
        help="Move mailboxes, calendars, contacts and directories into a hosted suite.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )

    @app.callback(invoke_without_command=True)
    def root(
        version: bool = typer.Option(False, "--version", help="Print skylift's version and exit."),
        verbose: int = typer.Option(
            0, "--verbose", "-v", count=True, help="More detail on the terminal (-vv: debug)."
        ),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Only errors on the terminal."),
        log_file: Path | None = typer.Option(
            None,
            "--log-file",
            help="Also write a detailed log here (rotated at 10 MiB, 5 kept; no secrets).",
        ),
    ) -> None:
        """Move mailboxes, calendars, contacts and directories into a hosted suite."""
        from skylift.cli.logs import configure

        configure(-1 if quiet else verbose, log_file)
        if version:
            from importlib.metadata import version as installed_version

            print(f"skylift {installed_version('skylift')}")
            raise typer.Exit(0)

    first = next((a for a in (argv or []) if not a.startswith("-")), None)
    modules = (COMMANDS[first],) if first in COMMANDS else COMMAND_MODULES
    for name in modules:
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
    args = sys.argv[1:] if argv is None else argv
    sys.exit(run_cli(build_app(args), args))
