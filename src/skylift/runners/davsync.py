"""Run a calendar or contacts migration: open both sides, run each account, retry, record.

How the work runs, not what it is: the use case (plan -> gate -> execute -> record) is
``engine/dav/sync.py``. This module opens each account's source and target through the
registry (``skylift.connectors.dav_source``/``dav_target``), runs accounts ``--parallel``
at a time, retries an account that a server throttled after the server's own hint
(``Retry-After``, bounded attempts, capped wait: ``runners/retry.py``, the rule every domain
uses; the ledger makes the rerun resume), on the one pool of ``runners/local.py``, and
records one work unit per account (``skylift jobs``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from skylift.connectors import dav_source, dav_target
from skylift.connectors.dav.base import DavSource, DavTarget
from skylift.connectors.endpoint import Endpoint
from skylift.engine.dav.plan import Action
from skylift.engine.dav.sync import CollectionReport, RunOptions, migrate_account
from skylift.errors import ConfigError, ConnectError, TransientError
from skylift.model.account import Login, MailboxPair
from skylift.model.dav import DavKind
from skylift.runners.base import RunControl, WorkUnit
from skylift.runners.local import run_units
from skylift.runners.retry import with_retries
from skylift.state.dav_ledger import DavLedger
from skylift.state.work_units import WorkUnits, new_run_id

if TYPE_CHECKING:
    from skylift.connectors.auth.oauth import TokenProvider

__all__ = ["CollectionReport", "RunOptions", "migrate_accounts"]

RETRIES = 4  # a throttled account runs again at most this many times
RETRY_CAP = 30.0  # seconds of doubling backoff at most when the server gives no hint

DAV_SCHEMES = {
    DavKind.CALENDAR: ("caldav+https", "caldav+http"),
    DavKind.ADDRESSBOOK: ("carddav+https", "carddav+http"),
}
FILE_SCHEMES = {DavKind.CALENDAR: "ics", DavKind.ADDRESSBOOK: "vcf"}
#: cloud APIs that take the DAV kind's objects as a target (Google Calendar API, Graph)
CLOUD_TARGETS = {
    DavKind.CALENDAR: ("google+https", "google+http", "graph+https", "graph+http"),
    DavKind.ADDRESSBOOK: ("google+https", "google+http", "graph+https", "graph+http"),
}


@dataclass(frozen=True)
class SideSpec:
    """A ``--source``/``--target`` URL with its TLS options, not yet opened."""

    url: str
    allow_plaintext: bool = False
    insecure: bool = False
    ca_file: str | None = None
    #: the cloud's token provider (a Google service account), shared by every account
    oauth: TokenProvider | None = None

    def endpoint(self) -> Endpoint:
        return Endpoint.parse(
            self.url,
            allow_plaintext=self.allow_plaintext,
            insecure=self.insecure,
            ca_file=self.ca_file,
            oauth=self.oauth,
        )


def check_schemes(kind: DavKind, source: SideSpec, target: SideSpec) -> None:
    """Refuse a URL of the wrong kind before any connection is made."""
    wanted = DAV_SCHEMES[kind]
    src = source.endpoint().scheme
    if src not in (*wanted, FILE_SCHEMES[kind]):
        raise ConfigError(
            f"--source must be {', '.join(wanted)} or {FILE_SCHEMES[kind]}:// (got {src}://)"
        )
    if target.endpoint().scheme not in (*wanted, *CLOUD_TARGETS[kind]):
        allowed = (*wanted, *CLOUD_TARGETS[kind])
        raise ConfigError(f"--target must be {' or '.join(w + '://' for w in allowed)}")


def open_source(spec: SideSpec, kind: DavKind, login: Login) -> DavSource:
    return dav_source(spec.endpoint(), kind, login)


def open_target(spec: SideSpec, kind: DavKind, login: Login) -> DavTarget:
    return dav_target(spec.endpoint(), kind, login)


@dataclass
class AccountResult:
    """One account's collection reports, or the error that stopped it.

    *attempts* counts the runs a throttling server asked for (1 when it never did).
    """

    key: str
    reports: list[CollectionReport] = field(default_factory=list)
    error: ConnectError | TransientError | None = None
    attempts: int = 1
    not_started: bool = False  # Ctrl-C came before this account began

    @property
    def stopped(self) -> bool:
        """Ctrl-C ended or skipped this account; a rerun finishes it."""
        return self.not_started or any(r.stopped for r in self.reports)


def migrate_accounts(
    pairs: Sequence[MailboxPair],
    source: SideSpec,
    target: SideSpec,
    ledger: DavLedger,
    options: RunOptions,
    parallel: int = 1,
    retries: int = RETRIES,
    retry_cap: float = RETRY_CAP,
    claimed: tuple[WorkUnits, dict[str, int]] | None = None,
) -> Iterator[AccountResult]:
    """Migrate every account, *parallel* at a time; results come back in *pairs* order.

    A login or connection failure ends that account only, and so does a throttle still
    there after *retries* reruns; other errors end the run.
    """

    kind = "calendars" if options.kind is DavKind.CALENDAR else "contacts"
    units: WorkUnits | None
    if claimed is not None:  # a scale-out worker holds these units already (state/leases.py)
        units, ids = claimed
    else:
        units = None if options.dry_run else WorkUnits(ledger.engine)
        run = new_run_id(f"migrate-{kind}")
        ids = units.queue(run, kind, [p.key for p in pairs]) if units else {}
    done = [threading.Event() for _ in pairs]
    results: list[AccountResult | None] = [None] * len(pairs)
    crashed: list[BaseException] = []

    def one(unit: WorkUnit) -> None:
        pair = pairs[unit.index]
        if options.stop.is_set():  # Ctrl-C before this account began: leave it queued
            results[unit.index] = AccountResult(pair.key, not_started=True)
            done[unit.index].set()
            return
        if units and claimed is None:
            units.start(ids[pair.key])

        def run() -> list[CollectionReport]:
            with (
                open_source(source, options.kind, pair.source) as reader,
                open_target(target, options.kind, pair.target) as writer,
            ):
                return migrate_account(reader, writer, ledger, pair.key, options)

        try:
            result = account_with_retries(pair.key, run, retries, retry_cap)
        except BaseException as exc:
            if units:
                units.finish(ids[pair.key], "failed", error=str(exc) or type(exc).__name__)
            raise
        if units:
            record_account(units, ids[pair.key], result, keep_attempts=claimed is not None)
        results[unit.index] = result
        done[unit.index].set()

    def pool() -> None:
        try:
            run_units(
                [WorkUnit(kind, p.key, i, ids.get(p.key)) for i, p in enumerate(pairs)],
                one,
                parallel=max(1, parallel),
                control=RunControl(stop=options.stop),
            )
        except BaseException as exc:  # a bug or a usage error: ends the run, as before
            crashed.append(exc)
        finally:
            for event in done:
                event.set()

    worker = threading.Thread(target=pool, name="davsync-units", daemon=True)
    worker.start()
    try:
        for index in range(len(pairs)):  # in *pairs* order, each as soon as it is done
            done[index].wait()
            result = results[index]
            if result is None:
                worker.join()
                raise crashed[0] if crashed else RuntimeError("an account did not finish")
            yield result
    finally:
        worker.join()


def account_with_retries(
    key: str,
    run: Callable[[], list[CollectionReport]],
    retries: int,
    cap: float,
    sleep: Callable[[float], None] = time.sleep,
) -> AccountResult:
    """Run one account with ``runners/retry.py``'s rule: after a TransientError close
    everything, wait the server's hint (else doubling backoff), run it again.

    At most *retries* reruns. Both connections are closed before the wait and opened
    afresh, so the rerun starts clean; the ledger makes it skip what already arrived. A
    connection or login failure ends the account; any other error is raised (it ends the
    run, as a usage error or a bug should).
    """
    reports: list[CollectionReport] = []
    raised: list[BaseException] = []

    def attempt() -> None:
        raised.clear()
        try:
            reports[:] = run()
        except TransientError:
            raise
        except BaseException as exc:
            raised.append(exc)
            raise

    outcome = with_retries(attempt, retries=retries, cap_seconds=cap, sleep=sleep)
    if raised and not isinstance(raised[0], ConnectError):
        raise raised[0]
    if outcome.error is None:
        return AccountResult(key, list(reports), attempts=outcome.attempts)
    error = raised[0] if raised else TransientError(outcome.error)
    assert isinstance(error, ConnectError | TransientError)
    return AccountResult(key, error=error, attempts=outcome.attempts)


def record_account(
    units: WorkUnits, unit_id: int, result: AccountResult, *, keep_attempts: bool = False
) -> None:
    """One account as a work unit: objects written, problems, the error that stopped it.
    *keep_attempts*: a scale-out unit counts its workers' attempts, not this one's reruns."""
    attempts = None if keep_attempts else result.attempts
    if result.error is not None:
        units.finish(unit_id, "failed", error=str(result.error), attempts=attempts)
        return
    written = sum(r.count(Action.CREATE) + r.count(Action.UPDATE) for r in result.reports)
    failed = [s for r in result.reports for s in r.failed]
    error = f"{failed[0].uid or failed[0].source_href}: {failed[0].reason}" if failed else None
    if result.stopped:
        error = "stopped by Ctrl-C; rerun to finish"
    units.finish(
        unit_id,
        "partial" if failed or result.stopped else "done",
        items=written,
        problems=len(failed),
        error=error,
        attempts=attempts,
    )
