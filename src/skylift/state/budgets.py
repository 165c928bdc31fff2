"""Per-user daily byte budgets in the state store: what each account has uploaded today.

Gmail stops an account that uploads more than 500 MB a day over IMAP (Google support answer
1071518; ``engine/profiles/google-workspace.toml``). A run must therefore know what earlier
runs of the same day moved, so the count lives in the state file (or database), not in
memory: area ``budgets`` in ``skylift_schema``, opened through :mod:`skylift.state.db` like
every other area, days and times in UTC (aware). One row per (scope, account, UTC day);
*scope* names the budget (``imap-upload``). No secret is stored.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Engine,
    MetaData,
    String,
    Table,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from skylift.state.db import aware, ensure_area, utcnow

SCHEMA_VERSION = 1

metadata = MetaData()

days = Table(
    "budget_days",
    metadata,
    Column("scope", String(40), primary_key=True),
    Column("account", String(320), primary_key=True),
    Column("day", Date, primary_key=True),  # the UTC calendar day
    Column("bytes", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


def utc_day(now: datetime | None = None) -> date:
    return (now or utcnow()).date()


class ByteBudgets:
    """Bytes spent per account and UTC day, shared by every run that uses this state."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        ensure_area(engine, "budgets", metadata, SCHEMA_VERSION)

    def spent(self, scope: str, account: str, day: date) -> int:
        c = days.c
        q = select(c.bytes).where(c.scope == scope, c.account == account.lower(), c.day == day)
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        return int(row[0]) if row else 0

    def spend(self, scope: str, account: str, day: date, nbytes: int) -> None:
        """Add *nbytes* to the day's count (one transaction; the row is made on first use)."""
        c = days.c
        key = (c.scope == scope, c.account == account.lower(), c.day == day)
        with self.engine.begin() as conn:
            done = conn.execute(
                update(days).where(*key).values(bytes=c.bytes + nbytes, updated_at=utcnow())
            )
            if not done.rowcount:
                conn.execute(
                    insert(days).values(
                        scope=scope, account=account.lower(), day=day, bytes=nbytes,
                        updated_at=utcnow(),
                    )
                )  # fmt: skip

    def reserve(self, scope: str, account: str, day: date, limit: int, sizes: list[int]) -> int:
        """Spend the leading *sizes* that still fit under *limit* today, atomically; return
        how many. Several workers may work on one account at once (its folders on different
        machines): the update only lands if the count has not moved past the limit
        meanwhile, else the fit is measured again, so together they never exceed it."""
        self._ensure_row(scope, account, day)
        c = days.c
        key = (c.scope == scope, c.account == account.lower(), c.day == day)
        while True:
            left = limit - self.spent(scope, account, day)
            count = total = 0
            for size in sizes:
                if total + size > left:
                    break
                count, total = count + 1, total + size
            if not count:
                return 0
            with self.engine.begin() as conn:
                done = conn.execute(
                    update(days)
                    .where(*key, c.bytes + total <= limit)
                    .values(bytes=c.bytes + total, updated_at=utcnow())
                )
            if done.rowcount:
                return count

    def _ensure_row(self, scope: str, account: str, day: date) -> None:
        if self.last_update(scope, account, day) is not None:
            return
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(days).values(
                        scope=scope, account=account.lower(), day=day, bytes=0, updated_at=utcnow()
                    )
                )
        except IntegrityError:
            pass  # another worker made it first

    def last_update(self, scope: str, account: str, day: date) -> datetime | None:
        c = days.c
        q = select(c.updated_at).where(c.scope == scope, c.account == account.lower(), c.day == day)
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        return aware(row[0]) if row else None
