"""``skylift migrate --runner celery``: the same mailboxes as work units on ``skylift worker``s.

The client reads the options and the users file as a local run does (so a typo is one line
here, not one failed task per mailbox), then queues one task per mailbox whose spec is
migrate's own options: paths made absolute, environment variable names, profile names.
Passwords stay in the files and the environment; each worker reads them on its own machine
(:func:`run_mail_unit`) and runs the mailbox with the local runner's code, the ledger and
caps shared through PostgreSQL.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from skylift.cli.common import envelope, print_json
from skylift.connectors.mail.base import MailSource
from skylift.engine.mail.folders import FolderRules
from skylift.engine.mail.sync import FolderTask
from skylift.errors import EXIT_ITEMS_FAILED, EXIT_OK, ConfigError, ConnectError
from skylift.runners.celery_app import PausingBucket, UnitContext, make_app, submit, wait
from skylift.runners.limits import tenant_key
from skylift.runners.mail import RunSettings, migrate_all
from skylift.state.db import shown_location
from skylift.state.leases import FOLDER_SEP
from skylift.state.work_units import WorkUnitRow, WorkUnits, new_run_id

#: migrate's options that stay with the client (where to report, how to run)
_LOCAL_ONLY = ("state", "json_out", "runner", "broker", "wait", "report_dir")


def require_shared_state(state: str, what: str) -> None:
    """Workers on several machines share one store: a PostgreSQL URL, not a file."""
    if not state.startswith("postgresql"):
        raise ConfigError(f"{what} needs --state postgresql+psycopg://… (workers share it)")


def check_broker(broker: str | None) -> str:
    if not broker:
        raise ConfigError("--runner celery needs --broker URL (e.g. redis://host:6379/0)")
    if urlsplit(broker).password:
        raise ConfigError("--broker: put no password in the URL; workers and clients would "
                          "show it (use the broker's ACL file or a local socket)")  # fmt: skip
    return broker


def ping_broker(app: Any, broker: str) -> None:
    """One connection attempt now: an unreachable broker is one line, not a hang."""
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=5)
    except Exception as exc:  # kombu raises its own and the transport's errors
        host = urlsplit(broker).hostname or broker
        raise ConnectError(f"cannot reach the broker at {host}: {exc}") from None


def task_spec(params: dict[str, Any]) -> dict[str, Any]:
    """migrate's options as a task carries them: JSON, paths absolute, no secret in them."""
    for side in ("source", "target", "library"):
        url = params.get(side) or ""
        if "://" in url and urlsplit(url).password:
            raise ConfigError(f"--{side}: no password in the URL with --runner celery")
    options: dict[str, Any] = {}
    paths: list[str] = []
    for name, value in params.items():
        if name in _LOCAL_ONLY:
            continue
        if isinstance(value, Path):
            paths.append(name)
            value = str(value.resolve())
        options[name] = value
    return {"options": options, "paths": paths}


def options_of(spec: dict[str, Any]) -> dict[str, Any]:
    """A task's spec back as the command's options (paths as paths, local-only ones unset)."""
    opts = dict(spec["options"])
    for name in spec["paths"]:
        opts[name] = Path(opts[name])
    return {**opts, **{name: None for name in _LOCAL_ONLY}, "runner": "celery"}


def queue_on_workers(
    kind: str, command: str, params: dict[str, Any], spec: dict[str, Any], keys: list[str]
) -> int:
    """Queue one *kind* unit per key, all with *spec*; with --wait, follow them to the end."""
    broker = check_broker(params["broker"])
    state = str(params["state"])
    app = make_app(broker)
    ping_broker(app, broker)
    units = WorkUnits(state)
    try:
        run = new_run_id(command)
        submit(app, units, run, kind, dict.fromkeys(keys, spec))
        if not params["wait"]:
            print(f"queued {len(keys)} units as run {run}; follow them with: "
                  f"skylift jobs --run {run} --state {shown_location(state)}", file=sys.stderr)  # fmt: skip
            return EXIT_OK
        rows = wait(units, run)
    finally:
        units.close()
    return report_rows(rows, run, command, bool(params["json_out"]))


def check_celery_run(params: dict[str, Any]) -> None:
    """What --runner celery refuses before anything is queued."""
    check_broker(params["broker"])
    require_shared_state(str(params["state"]), "--runner celery")
    if params["dry_run"]:
        raise ConfigError("--dry-run runs here: leave out --runner celery")


def migrate_on_workers(params: dict[str, Any]) -> int:
    """``migrate --runner celery``: one unit per mailbox."""
    from skylift.cli.mail import prepare_migration

    check_celery_run(params)
    if params["report_dir"] is not None:
        raise ConfigError("--report-dir is written by a local run: leave out --runner celery")
    spec = task_spec(params)
    job = prepare_migration(options_of(spec))
    return queue_on_workers("mail", "migrate", params, spec, [p.key for p in job.pairs])


def report_rows(rows: list[WorkUnitRow], run: str, command: str, json_out: bool) -> int:
    totals: dict[str, int] = {"copied": sum(r.items for r in rows),
                              "bytes": sum(r.bytes for r in rows)}  # fmt: skip
    for row in rows:
        totals[row.state] = totals.get(row.state, 0) + 1
    if json_out:
        print_json(envelope(command, totals, [r.to_dict() for r in rows], run=run))
    else:
        for row in rows:
            why = f" ({row.last_error})" if row.last_error else ""
            print(f"{row.key}: {row.state}, {row.items} copied on {row.worker}{why}")
        print(", ".join(f"{n} {s}" for s, n in totals.items()))
    return EXIT_OK if all(r.state == "done" for r in rows) else EXIT_ITEMS_FAILED


def _splitter(
    ctx: UnitContext, spec: dict[str, Any], threshold: int, spawned: list[str]
) -> Callable[[str, list[FolderTask], MailSource], list[FolderTask]]:
    """Past *threshold* messages, a mailbox's folders become units of their own (its folders
    are created by then, so the folder units only copy)."""

    def split(key: str, tasks: list[FolderTask], src: MailSource) -> list[FolderTask]:
        if src.capabilities.labels or len(tasks) < 2:
            return tasks  # Gmail labels: one folder's copy depends on the others'
        if sum(src.select(t.mapping.source).count for t in tasks) <= threshold:
            return tasks
        for task in tasks:
            name = task.mapping.source_name
            ctx.spawn(f"{key}{FOLDER_SEP}{name}", {**spec, "mailbox": key, "folder": name})
            spawned.append(name)
        return []

    return split


def run_mail_unit(spec: dict[str, Any], ctx: UnitContext) -> None:
    """One mailbox (or one folder of a big one) on this worker: its secrets read here, its
    caps shared with all workers."""
    from skylift.cli.mail import prepare_migration

    opts = options_of(spec)
    job = prepare_migration(opts)
    mailbox, folder = spec.get("mailbox", ctx.key), spec.get("folder")
    pairs = [p for p in job.pairs if p.key == mailbox]
    if not pairs:
        raise ConfigError(f"{mailbox} is not in this worker's copy of the users file")
    job.options.stop = ctx.stop
    if folder is not None:  # one folder: the others are units of their own
        rules = job.options.rules
        job.options.rules = FolderRules([f"^{re.escape(folder)}$"], rules.exclude, rules.map_folder)
    tenants = [tenant_key(job.source), tenant_key(job.target)]
    job.options.bucket = PausingBucket(job.options.bucket.rate, ctx.pauses, tenants)

    def throttled(seconds: float) -> None:  # every worker of these tenants waits it out
        for tenant in tenants:
            ctx.pauses.pause(tenant, seconds)

    threshold, spawned = int(opts.get("split_above") or 0), list[str]()
    settings = RunSettings(
        parallel=1, max_connections=job.max_connections, retries=int(opts["retries"]),
        tenant_connections=job.tenant_connections, limit=ctx.limit, on_throttle=throttled,
        split=_splitter(ctx, spec, threshold, spawned) if threshold and folder is None else None,
    )  # fmt: skip
    migrate_all(
        pairs, job.source, job.target, ctx.store, job.options, settings, lambda *_: None,
        claimed=(ctx.units, {mailbox: ctx.unit_id}),
    )  # fmt: skip
    if spawned:
        ctx.note(f"split into {len(spawned)} folder units")
