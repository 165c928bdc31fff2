"""``skylift jobs``: every work unit of every domain in a state store, with its state.

One table for mail, calendars, contacts, directory and assessment runs: what ran where,
how often it was tried, what it moved and the last error in the server's words.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from skylift.cli.common import print_json
from skylift.cli.options import BrokerOpt, JsonOpt, StateOpt
from skylift.errors import EXIT_OK, ConfigError
from skylift.model.units import human_bytes
from skylift.state.db import utcnow
from skylift.state.leases import cancel, requeue
from skylift.state.work_units import KINDS, STATES, WorkUnitRow, WorkUnits


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _took(row: WorkUnitRow) -> str:
    if not row.started_at or not row.finished_at:
        return ""
    seconds = (row.finished_at - row.started_at).total_seconds()
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _rate(row: WorkUnitRow) -> str:
    """What a unit moved per second of its last attempt (a running one: so far)."""
    if not row.started_at or not row.bytes:
        return ""
    seconds = ((row.finished_at or utcnow()) - row.started_at).total_seconds()
    return f"{human_bytes(int(row.bytes / seconds))}/s" if seconds > 0 else ""


def _act(action: str, unit: int | None, state: str, broker: str | None) -> int:
    """``jobs cancel UNIT`` / ``jobs retry UNIT``."""
    if unit is None:
        raise ConfigError(f"skylift jobs {action} needs the unit's id (the 'id' column)")
    units = WorkUnits(state, must_exist=True)
    try:
        if action == "cancel":
            if not cancel(units, unit):
                raise ConfigError(f"unit {unit}: no such unit, or it has already ended")
            print(f"unit {unit} cancelled", file=sys.stderr)
            return EXIT_OK
        try:
            spec = requeue(units, unit)
        except LookupError:
            raise ConfigError(f"unit {unit}: no such unit in this state store") from None
        except ValueError as exc:
            raise ConfigError(f"unit {unit} is still {exc}: cancel it first") from None
        if spec is None:
            raise ConfigError(f"unit {unit} ran locally: rerun its command to retry it")
        if broker is None:
            raise ConfigError(
                "skylift jobs retry needs --broker URL to hand the unit to the workers"
            )
        from skylift.cli.mail_celery import check_broker, ping_broker
        from skylift.runners.celery_app import make_app, send

        app = make_app(check_broker(broker))
        ping_broker(app, broker)
        send(app, json.loads(spec))
        print(f"unit {unit} queued again", file=sys.stderr)
        return EXIT_OK
    finally:
        units.close()


def jobs(
    action: Annotated[
        str | None,
        typer.Argument(metavar="ACTION", show_default=False, hidden=True),
    ] = None,
    unit: Annotated[
        int | None, typer.Argument(metavar="UNIT", show_default=False, hidden=True)
    ] = None,
    state: StateOpt = "skylift.db",
    broker: BrokerOpt = None,
    kind: Annotated[
        str | None, typer.Option("--kind", help=f"Only this kind: {', '.join(KINDS)}")
    ] = None,
    status: Annotated[
        str | None, typer.Option("--status", help=f"Only units in this state: {', '.join(STATES)}")
    ] = None,
    run: Annotated[str | None, typer.Option("--run", help="Only this run's units")] = None,
    all_runs: Annotated[
        bool, typer.Option("--all", help="Every run, not only the latest of each kind")
    ] = False,
    json_out: JsonOpt = False,
) -> int:
    """List work units (mailboxes, accounts, directory syncs) and their states.

    ACTION, left out to list: 'jobs cancel UNIT' and 'jobs retry UNIT --broker URL' act on one unit of a scale-out run
    (UNIT: the id column).
    """
    if action is not None:
        if action not in ("cancel", "retry"):
            raise ConfigError(f"skylift jobs {action}: say 'cancel UNIT' or 'retry UNIT'")
        return _act(action, unit, state, broker)
    if kind is not None and kind not in KINDS:
        raise ConfigError(f"--kind {kind}: not one of {', '.join(KINDS)}")
    if status is not None and status not in STATES:
        raise ConfigError(f"--status {status}: not one of {', '.join(STATES)}")
    units = WorkUnits(state, must_exist=True)
    try:
        rows = units.list(kind=kind, state=status, run=run)
        if not (all_runs or run):
            latest = set(units.latest_runs().values())
            rows = [r for r in rows if r.run in latest]
    finally:
        units.close()
    totals: dict[str, int] = {}
    for row in rows:
        totals[row.state] = totals.get(row.state, 0) + 1
    if json_out:
        print_json({"command": "jobs", "totals": totals, "items": [r.to_dict() for r in rows]})
        return EXIT_OK
    console = Console()
    if not rows:
        console.print("no work units recorded in this state store yet")
        return EXIT_OK
    table = Table(show_lines=False)
    for column in ("id", "run", "kind", "unit", "state", "tries", "items", "size", "rate",
                   "problems", "worker", "started", "took", "last error"):  # fmt: skip
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            str(row.id), row.run, row.kind, row.key, row.state, str(row.attempts),
            f"{row.items:,}", human_bytes(row.bytes), _rate(row), str(row.problems),
            row.worker or "", _when(row.started_at), _took(row), row.last_error or "",
        )  # fmt: skip
    console.print(table)
    console.print(", ".join(f"{n} {s}" for s, n in sorted(totals.items())))
    return EXIT_OK


def register(app: typer.Typer) -> None:
    """Add ``jobs``."""
    app.command("jobs")(jobs)
