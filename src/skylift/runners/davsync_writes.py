"""A bounded, in-order pipeline for the writes of one collection (``--dav-workers``).

A CalDAV server answers one PUT at a time per connection and spends most of it on its own
storage (Radicale: ~40-65 ms), so a collection of thousands of objects waits mostly on the
network. Up to *workers* writes run at once on the account's one ``httpx.Client`` (its
connection pool is thread-safe; each request takes its own connection). Everything that
needs the whole collection in view (parsing, the duplicate-UID check, the plan) stays on
the caller's thread; a job only writes one object and then records it in the ledger, so
the ledger never names an object the target does not have, whatever the order of finishing.
At most ``2 * workers`` prepared objects wait in memory; results come back in submission
order, so reports read the same with one worker or many.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

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
