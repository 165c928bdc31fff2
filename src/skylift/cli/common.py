"""What every command shares: one-line errors with documented exit codes, JSON output."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
import typer

from skylift.errors import EXIT_USAGE, SkyliftError


def run_cli(app: typer.Typer, argv: list[str] | None = None) -> int:
    """Run *app*; turn every SkyliftError into ``skylift: error: …`` and its exit code.

    A traceback is shown only with ``SKYLIFT_DEBUG=1``.
    """
    import os

    command = typer.main.get_command(app)
    try:
        result = command.main(args=argv, prog_name="skylift", standalone_mode=False)
    except SkyliftError as exc:
        if os.environ.get("SKYLIFT_DEBUG"):
            raise
        print(f"skylift: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return EXIT_USAGE
    except click.exceptions.Abort:
        print("skylift: aborted", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("skylift: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    return int(result or 0)


def print_json(obj: Any) -> None:
    """Print one JSON document on stdout."""
    json.dump(obj, sys.stdout, indent=2, sort_keys=False, default=str)
    sys.stdout.write("\n")
