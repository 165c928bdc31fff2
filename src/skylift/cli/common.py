"""What every command shares: one-line errors with documented exit codes, JSON output."""

from __future__ import annotations

import importlib
import json
import logging
import os
import re
import sys
from datetime import timedelta
from typing import Any

import typer

from skylift.cli.logs import LOG, redact
from skylift.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_USAGE, ConfigError, SkyliftError


def _click_classes() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """Usage-error and exit classes of the click that typer uses (vendored since 0.2x)."""
    usage: list[type[BaseException]] = []
    exits: list[type[BaseException]] = [typer.Exit]
    for name in ("typer._click.exceptions", "click.exceptions"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        usage.append(module.ClickException)
        if hasattr(module, "Exit"):
            exits.append(module.Exit)
    return tuple(usage), tuple(exits)


# What an option's value is, in the words of a man page rather than Python's type names.
METAVARS = {"Path": "FILE", "str": "TEXT", "int": "N", "float": "NUM"}


def plain_help(command: Any) -> None:
    """Make ``--help`` readable at 80 columns: ``FILE``/``TEXT``/``N`` instead of
    ``<path>``/``<list[str]>``, nothing after a flag, and no ``--no-…`` twin for flags
    that are off unless given (the twins halved the width left for the explanations)."""
    # Click's own layout, not Rich panels: Rich cuts long option names ("--source-oauth-
    # client-secret-f…") at 80 columns, click puts the explanation on the next line instead.
    if hasattr(command, "rich_markup_mode"):
        command.rich_markup_mode = None
    for sub in (getattr(command, "commands", None) or {}).values():
        plain_help(sub)
    for param in getattr(command, "params", []):
        if getattr(param, "count", False):
            param.show_default = False
        if getattr(param, "is_flag", False):
            twins = [o for o in param.secondary_opts if o.startswith("--no-")]
            if twins and param.default is False:  # keep real pairs such as --preview/--apply
                param.secondary_opts = [o for o in param.secondary_opts if o not in twins]
                param.show_default = False
            param.metavar = ""
        elif param.metavar is None and hasattr(param, "bare_type"):
            bare = param.bare_type()
            element = bare.removeprefix("list[").removesuffix("]")
            name = METAVARS.get(element, element.upper())
            param.metavar = f"{name}..." if bare.startswith("list[") else name


def run_cli(app: typer.Typer, argv: list[str] | None = None) -> int:
    """Run *app*; turn every SkyliftError into ``skylift: error: …`` and its exit code.

    A traceback is shown only with ``SKYLIFT_DEBUG=1``.
    """
    usage_errors, exits = _click_classes()
    command = typer.main.get_command(app)
    plain_help(command)
    LOG.debug("skylift %s", redact(" ".join(argv or [])))
    try:
        result = command.main(args=argv, prog_name="skylift", standalone_mode=False)
    except SkyliftError as exc:
        if os.environ.get("SKYLIFT_DEBUG"):
            raise
        LOG.debug("error (exit %d): %s", exc.exit_code, exc, exc_info=True)
        print(f"skylift: error: {redact(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except exits as exc:
        return int(getattr(exc, "exit_code", 0) or 0)
    except usage_errors as exc:
        exc.show()  # type: ignore[attr-defined]
        return EXIT_USAGE
    except KeyboardInterrupt:
        LOG.debug("interrupted")
        print("skylift: interrupted; rerun the same command to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if type(exc).__name__ == "Abort":
            print("skylift: aborted", file=sys.stderr)
            return EXIT_INTERRUPTED
        if os.environ.get("SKYLIFT_DEBUG"):
            raise
        # The one error boundary: a bug is one line too; the traceback goes to the log file.
        LOG.debug("internal error", exc_info=True)
        where = "the --log-file" if _has_log_file() else "rerun with --log-file FILE to keep"
        print(
            f"skylift: error: internal error ({type(exc).__name__}: {redact(str(exc))}); "
            f"{where} for the details, and please report it",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    LOG.debug("exit %s", int(result or 0))
    return int(result or 0)


def _has_log_file() -> bool:
    return any(
        not isinstance(h, logging.StreamHandler) or hasattr(h, "baseFilename") for h in LOG.handlers
    )


DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
DURATION_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "": "minutes"}


def parse_duration(text: str, option: str) -> timedelta:
    """One duration format for every option: 45s, 30m, 2h, 30d; a bare number is minutes."""
    found = DURATION.match(text)
    if not found:
        raise ConfigError(f"{option} takes a duration like 45s, 30m, 2h or 30d, not {text!r}")
    return timedelta(**{DURATION_UNITS[found.group(2)]: int(found.group(1))})


def envelope(
    command: str, totals: dict[str, Any], items: list[Any], **extra: Any
) -> dict[str, Any]:
    """The one JSON shape every ``--json`` prints: what ran, its totals, one entry per unit.

    *items* are the units (mailboxes, accounts, users, waves, checks); anything else a
    command says follows the three keys. Scripts read ``totals`` and ``items`` whatever the
    command.
    """
    return {"command": command, "totals": totals, "items": items, **extra}


def print_json(obj: Any) -> None:
    """Print one JSON document on stdout."""
    json.dump(obj, sys.stdout, indent=2, sort_keys=False, default=str)
    sys.stdout.write("\n")
