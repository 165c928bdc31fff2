"""Limits that wrap any connector, whatever its kind: session caps per server and per tenant.

restic's wrapper style: the runner opens a connector through :func:`limited`, so a cap set by
``--max-connections`` holds for mail, DAV and directory alike. A cloud also counts sessions
per tenant (one Entra app, one Google service account) across all its mailboxes: the
profile's ``tenant_connections`` is a second cap, shared by every mailbox of the run that
signs in to that tenant (:func:`tenant_key`). The bandwidth limit (``--bwlimit``) is
:class:`skylift.engine.throttle.TokenBucket`, consumed where bytes move.

A unit takes all its slots through :func:`hold` (or :func:`try_hold` for helpers): the caps
are taken in one fixed order and a cap needed twice (source and target in the same tenant)
is taken at once, so two workers never hold one slot each of what the other waits for.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from skylift.connectors.endpoint import Endpoint
    from skylift.state.slots import SharedSlots

T = TypeVar("T")

_order = iter(range(1 << 62))  # a creation number per limit: the order slots are taken in
_order_lock = threading.Lock()


class ConnectionLimit:
    """Caps simultaneous sessions (``--max-connections`` per server, ``tenant_connections``
    per tenant). *name* says which, for a log line."""

    def __init__(self, limit: int, name: str = "") -> None:
        self.limit = max(limit, 1)
        self.name = name
        self._free = self.limit
        self._cond = threading.Condition()
        with _order_lock:
            self.order = next(_order)

    def acquire(self, count: int = 1, *, blocking: bool = True) -> bool:
        count = min(count, self.limit)  # a unit needing more than the cap still runs, alone
        with self._cond:
            while self._free < count:
                if not blocking:
                    return False
                self._cond.wait()
            self._free -= count
            return True

    def __enter__(self) -> None:
        self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def try_acquire(self) -> bool:
        """Take a session slot only if one is free (helpers must never wait for one)."""
        return self.acquire(blocking=False)

    def release(self, count: int = 1) -> None:
        with self._cond:
            self._free = min(self._free + min(count, self.limit), self.limit)
            self._cond.notify_all()


class SharedLimit(ConnectionLimit):
    """A cap held across every worker of a scale-out run (slots in PostgreSQL,
    :mod:`skylift.state.slots`); several slots at once are taken all or none, so two
    workers never each hold half of what the other waits for."""

    def __init__(self, slots: SharedSlots, name: str = "") -> None:
        super().__init__(slots.limit, name)
        self._slots = slots
        self._held: list[Connection] = []
        self._held_lock = threading.Lock()

    def acquire(self, count: int = 1, *, blocking: bool = True) -> bool:
        count = min(count, self.limit)
        while True:
            taken: list[Connection] = []
            for _ in range(count):
                conn = self._slots.try_take()
                if conn is None:
                    break
                taken.append(conn)
            if len(taken) == count:
                with self._held_lock:
                    self._held.extend(taken)
                return True
            for conn in taken:
                self._slots.give(conn)
            if not blocking:
                return False
            time.sleep(self._slots.POLL_SECONDS)

    def release(self, count: int = 1) -> None:
        with self._held_lock:
            count = min(count, len(self._held))
            given, self._held = self._held[:count], self._held[count:]
        for conn in given:
            self._slots.give(conn)


#: makes the cap of one server or tenant: (limit, name) -> limit
LimitFactory = Callable[[int, str], ConnectionLimit]


def _grouped(limits: tuple[ConnectionLimit | None, ...]) -> list[tuple[ConnectionLimit, int]]:
    counts: dict[int, tuple[ConnectionLimit, int]] = {}
    for limit in limits:
        if limit is not None:
            held = counts.get(id(limit))
            counts[id(limit)] = (limit, (held[1] if held else 0) + 1)
    return sorted(counts.values(), key=lambda pair: pair[0].order)


@contextmanager
def hold(*limits: ConnectionLimit | None) -> Iterator[None]:
    """One slot of each of *limits* (None: no cap) for the ``with`` block."""
    taken: list[tuple[ConnectionLimit, int]] = []
    try:
        for limit, count in _grouped(limits):
            limit.acquire(count)
            taken.append((limit, count))
        yield
    finally:
        for limit, count in reversed(taken):
            limit.release(count)


def try_hold(*limits: ConnectionLimit | None) -> Callable[[], None] | None:
    """Take one slot of each of *limits* only if all are free; the returned call gives them
    back (None: some cap is full, nothing taken)."""
    taken: list[tuple[ConnectionLimit, int]] = []
    for limit, count in _grouped(limits):
        if not limit.acquire(count, blocking=False):
            for got, n in reversed(taken):
                got.release(n)
            return None
        taken.append((limit, count))

    def release() -> None:
        for got, n in reversed(taken):
            got.release(n)

    return release


def tenant_key(endpoint: Endpoint) -> str:
    """Who the cloud counts sessions against: the OAuth2 tenant/app, else the server."""
    if endpoint.oauth is not None:
        return endpoint.oauth.tenant_key()
    return f"{endpoint.host}:{endpoint.port or ''}"


@contextmanager
def limited(
    limit: ConnectionLimit, open_: Callable[[], T], close: Callable[[T], None]
) -> Iterator[T]:
    """Open a session within *limit*'s slots, and give the slot back when it closes."""
    with limit:
        session = open_()
        try:
            yield session
        finally:
            close(session)
