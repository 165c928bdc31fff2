"""Limits that wrap any connector, whatever its kind: session caps per server.

restic's wrapper style: the runner opens a connector through :func:`limited`, so a cap set by
``--max-connections`` holds for mail, DAV and directory alike. The bandwidth limit
(``--bwlimit``) is :class:`skylift.engine.throttle.TokenBucket`, consumed where bytes move.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")


class ConnectionLimit:
    """Caps simultaneous sessions per server (``--max-connections``)."""

    def __init__(self, limit: int) -> None:
        self._sem = threading.BoundedSemaphore(max(limit, 1))

    def __enter__(self) -> None:
        self._sem.acquire()

    def __exit__(self, *exc: object) -> None:
        self._sem.release()

    def try_acquire(self) -> bool:
        """Take a session slot only if one is free (helpers must never wait for one)."""
        return self._sem.acquire(blocking=False)

    def release(self) -> None:
        self._sem.release()


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
