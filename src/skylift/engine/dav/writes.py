"""The writes of one collection: one object's PUT and ledger row, several at once.

A hosted CalDAV server is tens to hundreds of milliseconds away, so a collection of
thousands of objects written one by one waits mostly on round trips. Up to *workers*
writes run at once on the account's one ``httpx.Client`` (its connection pool is
thread-safe; each request takes its own connection). Everything that needs the whole
collection in view (parsing, the duplicate-UID check, the plan) stays on the caller's
thread; a job only writes one object and then records it in the ledger, so the ledger never
names an object the target does not have, whatever the order of finishing. At most
``2 * workers`` prepared objects wait in memory; results come back in submission order, so
reports read the same with one worker or many. (A server that serialises writes, like
Radicale, gains nothing: see docs/calendars.md.)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

from skylift.connectors.dav.base import DavTarget
from skylift.engine.dav.export import ExportFolder
from skylift.engine.dav.objects import Prepared
from skylift.engine.dav.plan import Action, Step
from skylift.engine.dav.repair import repair_calendar_object
from skylift.model.dav import Collection, DavKind, Item, ItemRecord, PutResult
from skylift.state.dav_ledger import DavLedger

T = TypeVar("T")


class OrderedWrites(Generic[T]):
    """Run jobs on up to *workers* threads; collect their results in submission order."""

    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)
        self._pool = ThreadPoolExecutor(self.workers) if self.workers > 1 else None
        self._pending: deque[Future[T] | T] = deque()

    def submit(self, job: Callable[[], T]) -> Iterator[T]:
        """Queue *job*; yield the results that are ready to hand back (oldest first)."""
        if self._pool is None:
            yield job()
            return
        self._pending.append(self._pool.submit(job))
        while len(self._pending) > 2 * self.workers:
            yield self._take()

    def done(self, value: T) -> Iterator[T]:
        """Queue an already-known result (a skip or a failure) in its place in the order."""
        if self._pool is None:
            yield value
            return
        self._pending.append(value)
        while len(self._pending) > 2 * self.workers:
            yield self._take()

    def drain(self) -> Iterator[T]:
        """Wait for every queued job; yield the remaining results in order."""
        while self._pending:
            yield self._take()

    def _take(self) -> T:
        first = self._pending.popleft()
        return first.result() if isinstance(first, Future) else first

    def close(self) -> None:
        """Wait for running jobs (their ledger writes included), then stop the threads."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> OrderedWrites[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_object(
    item: Item,
    prepared: Prepared,
    step: Step,
    target: DavTarget,
    collection: Collection,
    ledger: DavLedger,
    account: str,
    kind: DavKind,
    name: str,
    export: ExportFolder,
) -> Step:
    """PUT one object, then record it: the ledger never names what the target lacks.

    A refused calendar object is tried once more with the minimal repair of
    ``engine/dav/repair.py`` when one applies; the original goes to *export* whenever what the
    target holds is not it. May run on a worker thread; touches nothing but the target,
    this object's ledger row and its export file.
    """
    result = target.put(collection, prepared.name, prepared.raw, step.if_match, step.target_href)
    if result.conflict and step.action is Action.CREATE:
        current = target.get(result.href)
        if current is not None:
            step = Step(
                Action.UPDATE,
                "already on the target (same UID); replaced with the source",
                prepared.uid,
                item.href,
                result.href,
                current.etag,
            )
            result = target.put(collection, prepared.name, prepared.raw, current.etag, result.href)
        else:
            result = PutResult(result.href, error=result.error)  # refused, not raced
    if result.error and not result.conflict and kind is DavKind.CALENDAR:
        repaired = repair_calendar_object(prepared.raw)
        if repaired is not None:
            refusal = result.error
            result = target.put(collection, prepared.name, repaired.raw, step.if_match, result.href)
            if not result.error:
                step = Step(
                    step.action,
                    f"repaired ({'; '.join(repaired.changes)}) after the target refused the "
                    f"original ({refusal}); {export.save(item, prepared.name)}",
                    prepared.uid,
                    item.href,
                    result.href,
                    notice=True,
                )
            else:
                result = PutResult(
                    result.href, error=f"{refusal}; also after repair: {result.error}"
                )
    if result.error:
        return Step(
            Action.FAIL,
            f"the target refused it: {result.error}; {export.save(item, prepared.name)}",
            prepared.uid,
            item.href,
            result.href,
        )
    if result.note:
        step = Step(
            step.action,
            f"{result.note}; {export.save(item, prepared.name)}",
            prepared.uid,
            item.href,
            result.href,
            notice=True,
        )
    ledger.save(
        account,
        kind,
        name,
        ItemRecord(
            prepared.uid, item.href, item.etag, result.href, result.etag, prepared.content_hash
        ),
    )
    return step
