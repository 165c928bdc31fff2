"""Connection slots shared by every worker: PostgreSQL advisory locks, one lock per slot.

A cloud counts a tenant's sessions, not a machine's, so a cap of N must hold across all the
workers of a run. Slot *i* of cap *name* is the session-level advisory lock
``(hash(name), i)``: a worker holds a slot while it holds the lock, on a database session of
its own. PostgreSQL drops a session's locks when it ends, so a worker killed with ``kill -9``
gives its slots back the moment its connections close: no slot leaks, nothing to clean up.
"""

from __future__ import annotations

import hashlib
import time

from sqlalchemy import Connection, Engine, text


def _key(name: str) -> int:
    """A stable signed 32-bit number for *name* (the first half of the lock's key)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big", signed=True)


class SharedSlots:
    """Up to *limit* holders of *name* at once, across every process using *engine*."""

    POLL_SECONDS = 0.1

    def __init__(self, engine: Engine, name: str, limit: int) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError("shared connection caps need a PostgreSQL state store")
        self.engine = engine
        self.key = _key(name)
        self.limit = max(1, limit)

    def try_take(self) -> Connection | None:
        """A free slot now (its session; keep it open while the slot is held), else None."""
        conn = self.engine.connect()
        try:
            for slot in range(self.limit):
                got = conn.execute(
                    text("SELECT pg_try_advisory_lock(:k, :s)"), {"k": self.key, "s": slot}
                ).scalar()
                if got:
                    conn.info["skylift_slot"] = slot
                    conn.commit()
                    return conn
            conn.rollback()
        except BaseException:
            conn.close()
            raise
        conn.close()
        return None

    def take(self) -> Connection:
        """Wait for a free slot."""
        while True:
            conn = self.try_take()
            if conn is not None:
                return conn
            time.sleep(self.POLL_SECONDS)

    def give(self, conn: Connection) -> None:
        """Give back the slot held on *conn*."""
        try:
            conn.execute(
                text("SELECT pg_advisory_unlock(:k, :s)"),
                {"k": self.key, "s": conn.info.pop("skylift_slot")},
            )
            conn.commit()
        finally:
            conn.close()
