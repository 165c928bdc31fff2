"""``skylift jobs``: every work unit of every domain in a state store, with its state.

One table for mail, calendars, contacts, directory and assessment runs: what ran where,
how often it was tried, what it moved and the last error in the server's words.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from skylift.cli.common import print_json
from skylift.cli.options import JsonOpt, StateOpt
from skylift.errors import EXIT_OK, ConfigError
from skylift.model.units import human_bytes
from skylift.state.work_units import KINDS, STATES, WorkUnitRow, WorkUnits


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _took(row: WorkUnitRow) -> str:
    if not row.started_at or not row.finished_at:
        return ""
    seconds = (row.finished_at - row.started_at).total_seconds()
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def jobs(
    state: StateOpt = "skylift.db",
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
    """List work units (mailboxes, accounts, directory syncs) and their states."""
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
    for column in ("run", "kind", "unit", "state", "tries", "items", "size", "problems",
                   "worker", "started", "took", "last error"):  # fmt: skip
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            row.run, row.kind, row.key, row.state, str(row.attempts), f"{row.items:,}",
            human_bytes(row.bytes), str(row.problems), row.worker or "",
            _when(row.started_at), _took(row), row.last_error or "",
        )  # fmt: skip
    console.print(table)
    console.print(", ".join(f"{n} {s}" for s, n in sorted(totals.items())))
    return EXIT_OK


def register(app: typer.Typer) -> None:
    """Add ``jobs``."""
    app.command("jobs")(jobs)
