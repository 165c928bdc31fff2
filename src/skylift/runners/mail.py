"""Mail as work units: one unit per mailbox pair, run by a runner (local by default).

Each attempt opens both sides within the ``--max-connections`` caps, runs the mailbox
(engine/mail/sync.py) and closes them; a TransientError closes both connections, waits (the
server's hint, else doubling backoff; runners/retry.py) and runs the mailbox again, and the
ledger makes the second attempt resume. Idle workers take folders of a mailbox still running
(runners/folder_share.py).
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from skylift.connectors import mail_connector
from skylift.connectors.endpoint import Endpoint
from skylift.connectors.mail.base import MailSource, MailTarget
from skylift.engine.mail.budget import DailyBudget
from skylift.engine.mail.report import MailboxReport, RunReport
from skylift.engine.mail.sync import FolderTask, MailboxMigration, MigrateOptions, ProgressFn
from skylift.engine.mail.verify import VerifyReport, verify_mailbox
from skylift.errors import (
    EXIT_CONNECT,
    EXIT_INTERRUPTED,
)
from skylift.model.account import MailboxPair
from skylift.runners.base import RunControl, WorkUnit
from skylift.runners.folder_share import FolderShare, Opened, help_with
from skylift.runners.limits import ConnectionLimit, LimitFactory, hold, tenant_key, try_hold
from skylift.runners.local import run_units
from skylift.runners.retry import with_retries
from skylift.state.budgets import ByteBudgets
from skylift.state.store import StateStore
from skylift.state.work_units import WorkUnits, new_run_id


@dataclass
class RunSettings:
    """How the work is spread and retried."""

    parallel: int = 4
    max_connections: int = 10
    retries: int = 5
    retry_cap_seconds: float = 30.0
    #: sessions at once per tenant, (source, target) side; None: no tenant cap
    tenant_connections: tuple[int | None, int | None] = (None, None)
    on_mailbox_start: Callable[[MailboxPair], None] = field(default=lambda _: None)
    on_mailbox_done: Callable[[MailboxReport], None] = field(default=lambda _: None)
    #: makes each cap; a scale-out worker's are shared with every other worker
    limit: LimitFactory = ConnectionLimit
    #: a server said "back off N s" (scale-out: the worker pauses the tenant for all)
    on_throttle: Callable[[float], None] = field(default=lambda _s: None)
    #: scale-out: after a mailbox's folders are created, hand a big mailbox's folders to
    #: units of their own; returns the folders left to run here
    split: Callable[[str, list[FolderTask], MailSource], list[FolderTask]] | None = None


def _renew_tokens(*endpoints: Endpoint) -> None:
    """A server said a token expired: mint fresh ones at the next login."""
    for endpoint in endpoints:
        if endpoint.oauth is not None:
            endpoint.oauth.invalidate()


def _with_retries(
    report: MailboxReport,
    settings: RunSettings,
    work: Callable[[], None],
    endpoints: tuple[Endpoint, ...] = (),
) -> None:
    out = with_retries(
        work, retries=settings.retries, cap_seconds=settings.retry_cap_seconds,
        renew_tokens=lambda: _renew_tokens(*endpoints),
        on_attempt=lambda n: setattr(report, "attempts", n), on_throttle=settings.on_throttle,
    )  # fmt: skip
    report.attempts, report.token_renewals = out.attempts, out.token_renewals
    report.error, report.error_code, report.error_kind = out.error, out.error_code, out.error_kind


class SameFailure:
    """Stops a run whose first mailboxes all fail to connect the same way within a minute.

    A wrong port, a dead host or a refused app registration fails every mailbox alike;
    trying the other 2,000 only repeats the line 2,000 times. The run stops after
    *threshold* identical failures (and no success) and says so once.
    """

    WINDOW_SECONDS = 60.0

    def __init__(self, total: int, threshold: int = 3) -> None:
        self.threshold = min(threshold, total)
        self.errors: list[str] = []
        self.succeeded = False
        self.reason: str | None = None
        self._lock = threading.Lock()

    def add(self, report: MailboxReport, elapsed: float) -> None:
        with self._lock:
            if (
                report.error_code != EXIT_CONNECT
                or not report.error
                or report.error_kind
                in (
                    "AuthError",  # one user's password or permission: the others may work
                    "",
                )
            ):
                self.succeeded = self.succeeded or report.error is None
                return
            self.errors.append(report.error)
            if (
                not self.succeeded
                and elapsed <= self.WINDOW_SECONDS
                and len(self.errors) >= self.threshold > 1
                and len(set(self.errors)) == 1
            ):
                self.reason = self.errors[0]


def record_unit(
    units: WorkUnits, unit_id: int, report: MailboxReport, *, keep_attempts: bool = False
) -> None:
    """A finished mailbox as a work unit: its state, what it moved, why it is not done."""
    totals = report.totals()
    problems = totals["skipped"] + totals["rejected"] + totals["failed"]
    error = report.error or report.budget
    if error is None and problems:
        error = (
            f"{totals['skipped']} skipped, {totals['rejected']} rejected, "
            f"{totals['failed']} failed (rerun to retry; see the summary for each item)"
        )
    state = {"ok": "done", "partial": "partial"}.get(report.status, "failed")
    units.finish(
        unit_id, state, items=totals["copied"], nbytes=totals["bytes"], problems=problems,
        error=error, attempts=None if keep_attempts else report.attempts,
    )  # fmt: skip


def tenant_limits(
    endpoints: tuple[Endpoint, Endpoint],
    caps: tuple[int | None, int | None],
    limit: LimitFactory = ConnectionLimit,
) -> tuple[ConnectionLimit | None, ConnectionLimit | None]:
    """One cap per tenant: source and target in the same tenant share one (tenant to tenant)."""
    made: dict[str, ConnectionLimit] = {}
    out: list[ConnectionLimit | None] = []
    for endpoint, cap in zip(endpoints, caps, strict=True):
        if not cap:
            out.append(None)
            continue
        key = tenant_key(endpoint)
        if key not in made:
            made[key] = limit(cap, f"tenant {key}")
        out.append(made[key])
    return out[0], out[1]


def migrate_all(
    pairs: list[MailboxPair],
    source: Endpoint,
    target: Endpoint,
    store: StateStore,
    options: MigrateOptions,
    settings: RunSettings,
    progress: ProgressFn,
    claimed: tuple[WorkUnits, dict[str, int]] | None = None,
) -> RunReport:
    """Migrate every mailbox of *pairs*; one mailbox's failure never stops the others.

    *claimed*: units a scale-out worker already holds (state/leases.py) instead of new ones.
    """
    src_connector, dst_connector = mail_connector(source), mail_connector(target)
    run = RunReport(command="migrate", dry_run=options.dry_run)
    run.mailboxes = [MailboxReport(p.key, p.source.user) for p in pairs]
    run_id = store.start_run("migrate-dry-run" if options.dry_run else "migrate")
    units: WorkUnits | None
    if claimed is not None:
        units, unit_ids = claimed
    else:
        units = None if options.dry_run else WorkUnits(store.engine)
        run_key = new_run_id("migrate")
        unit_ids = units.queue(run_key, "mail", [p.key for p in pairs]) if units else {}
    limit_src = settings.limit(settings.max_connections, f"source server {tenant_key(source)}")
    limit_dst = settings.limit(settings.max_connections, f"target server {tenant_key(target)}")
    tenant_src, tenant_dst = tenant_limits(
        (source, target), settings.tenant_connections, settings.limit
    )
    caps = (limit_src, limit_dst, tenant_src, tenant_dst)
    started = time.monotonic()

    same_failure = SameFailure(len(pairs))
    # Per-user daily upload budgets, kept in the state store; one object per mailbox, shared
    # with the workers lent to it.
    ledger = ByteBudgets(store.engine) if options.daily_budget and not options.dry_run else None
    budgets = [
        DailyBudget(ledger, p.target.user or p.key, options.daily_budget)
        if ledger is not None and options.daily_budget
        else None
        for p in pairs
    ]

    def one(index: int) -> None:
        pair, report = pairs[index], run.mailboxes[index]
        if options.stop.is_set():  # Ctrl-C before this mailbox began: leave it queued
            report.error, report.error_code = "not started (stopped by Ctrl-C)", EXIT_INTERRUPTED
            report.finish()
            return
        if same_failure.reason:  # every mailbox so far failed the same way: stop trying
            report.error = (
                f"not started: every mailbox before it failed with: {same_failure.reason}"
            )
            report.error_code = EXIT_CONNECT
            report.finish()
            return
        settings.on_mailbox_start(pair)
        if units and claimed is None:
            units.start(unit_ids[pair.key])
        t0 = time.monotonic()

        def attempt() -> None:
            with hold(*caps):
                src: MailSource = src_connector.open_source(pair.source)
                try:
                    dst: MailTarget = dst_connector.open_target(pair.target)
                    try:
                        migration = MailboxMigration(
                            pair.key, src, dst, store, run_id, options, report, progress,
                            budgets[index],
                        )  # fmt: skip
                        queue = share.open(pair.key)
                        try:
                            tasks = migration.prepare()
                            if settings.split is not None and not options.dry_run:
                                tasks = settings.split(pair.key, tasks, src)
                            queue.put(tasks)
                            queue.run_all(migration)
                        finally:
                            share.close(queue)  # waits for helpers still in a folder
                            report.folders_by_helpers += queue.by_helpers
                    finally:
                        dst.close()
                finally:
                    src.close()

        _with_retries(report, settings, attempt, (source, target))
        report.seconds = time.monotonic() - t0
        report.finish()
        totals = report.totals()
        if not options.dry_run:
            store.record_mailbox_run(
                run_id, pair.key, totals["copied"], totals["bytes"], report.seconds, report.status
            )
        if units:
            record_unit(units, unit_ids[pair.key], report, keep_attempts=claimed is not None)
        same_failure.add(report, time.monotonic() - started)
        settings.on_mailbox_done(report)

    share = FolderShare()

    def open_helper(index: int) -> Opened | None:
        """Connections of a worker's own for another worker's mailbox, if a slot is free."""
        release = try_hold(*caps)
        if release is None:
            return None
        pair = pairs[index]
        try:
            src = src_connector.open_source(pair.source)
            try:
                dst = dst_connector.open_target(pair.target)
            except BaseException:
                src.close()
                raise
        except BaseException:
            release()
            raise

        def close() -> None:
            for side in (dst, src):
                with contextlib.suppress(Exception):
                    side.close()
            release()

        migration = MailboxMigration(
            pair.key, src, dst, store, run_id, options, run.mailboxes[index], progress,
            budgets[index],
        )  # fmt: skip
        return migration, close

    def lend_idle_worker() -> bool:
        """No mailbox left to start: take a folder of the busiest one still running."""
        queue = share.busiest()
        if queue is None:
            return False
        return help_with(queue, functools.partial(open_helper, keys[queue.key]))

    keys = {p.key: i for i, p in enumerate(pairs)}
    run_units(
        [WorkUnit("mail", p.key, i, unit_ids.get(p.key)) for i, p in enumerate(pairs)],
        lambda unit: one(unit.index),
        parallel=settings.parallel,
        control=RunControl(stop=options.stop, idle=lend_idle_worker),
    )
    run.seconds = time.monotonic() - started
    store.finish_run(run_id, run.totals())
    return run


def verify_all(
    pairs: list[MailboxPair],
    source: Endpoint,
    target: Endpoint,
    store: StateStore | None,
    options: MigrateOptions,
    settings: RunSettings,
    deep: bool,
) -> list[VerifyReport]:
    """Compare every mailbox's source and target; connection errors are reported per mailbox."""
    src_connector, dst_connector = mail_connector(source), mail_connector(target)
    results: list[VerifyReport] = [VerifyReport(p.key) for p in pairs]

    def one(index: int) -> None:
        pair = pairs[index]
        holder = MailboxReport(pair.key, pair.source.user)

        def attempt() -> None:
            with (
                src_connector.open_source(pair.source) as src,
                dst_connector.open_target(pair.target) as dst,
            ):
                results[index] = verify_mailbox(pair.key, src, dst, store, options, deep)

        _with_retries(holder, settings, attempt, (source, target))
        if holder.error:
            results[index].error = holder.error

    run_units(
        [WorkUnit("mail", p.key, i) for i, p in enumerate(pairs)],
        lambda unit: one(unit.index),
        parallel=settings.parallel,
    )
    return results
