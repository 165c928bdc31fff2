"""``skylift worker``: one machine's share of a scale-out run (docs/scale-out.md).

It takes work units from the broker, claims each in the shared PostgreSQL state, reads the
unit's secrets from this machine's files and environment, and runs it with the same code as a
local run. Start one per machine (a systemd unit or a container); stop it with Ctrl-C or
SIGTERM: Celery finishes the units it holds, or, if it cannot, their leases run out and
another worker resumes them from the ledger.
"""

from __future__ import annotations

from typing import Annotated

import typer

from skylift.cli.common import parse_duration
from skylift.cli.options import BrokerOpt, StateOpt
from skylift.errors import EXIT_OK, ConfigError


def worker(
    broker: BrokerOpt = None,
    state: StateOpt = "",
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, help="Units this worker runs at once")
    ] = 2,
    lease: Annotated[
        str,
        typer.Option(
            "--lease",
            help="How long a unit stays this worker's without a renewal (renewed every third "
            "of it); a killed worker's units move on after this",
        ),
    ] = "60s",
    max_attempts: Annotated[
        int, typer.Option("--max-attempts", min=1, help="Workers lost on one unit before it fails")
    ] = 3,
    name: Annotated[
        str | None, typer.Option("--name", help="This worker in 'skylift jobs' (default host:pid)")
    ] = None,
) -> int:
    """Run work units queued with --runner celery, until stopped."""
    from skylift.cli.assess_celery import run_assess_unit
    from skylift.cli.dav_celery import run_dav_unit
    from skylift.cli.dirsync_celery import run_dirsync_unit
    from skylift.cli.mail_celery import (
        check_broker,
        ping_broker,
        require_shared_state,
        run_mail_unit,
    )
    from skylift.model.dav import DavKind
    from skylift.runners.celery_app import WorkerSide, make_app

    url = check_broker(broker)
    if not state:
        raise ConfigError("skylift worker needs --state postgresql+psycopg://… (shared by all)")
    require_shared_state(state, "skylift worker")
    seconds = parse_duration(lease, "--lease").total_seconds()
    if seconds < 3:
        raise ConfigError("--lease must be at least 3s")
    app = make_app(url)
    ping_broker(app, url)
    side = WorkerSide(
        state,
        {"mail": run_mail_unit, "calendars": run_dav_unit(DavKind.CALENDAR),
         "contacts": run_dav_unit(DavKind.ADDRESSBOOK),
            "directory": run_dirsync_unit, "assess": run_assess_unit},
        name=name, concurrency=concurrency,
        lease_seconds=seconds, max_attempts=max_attempts,
    )  # fmt: skip
    side.serve(app, concurrency)
    return EXIT_OK


def register(app: typer.Typer) -> None:
    """Add ``worker``."""
    app.command("worker")(worker)
