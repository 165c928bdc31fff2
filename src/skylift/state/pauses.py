"""Throttle pauses shared by every worker: "tenant T answered 'throttled, back off N s'".

A cloud throttles a tenant, not a process: when one worker is told to back off, the others
writing to the same tenant must slow down too, or they keep the tenant over its budget and
the throttling lasts longer. A worker that gets the reply records the pause here; every
worker waits for it before its next batch to that tenant (runners/celery_app.py). Only the
tenant's key and a time are stored.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Column, DateTime, Engine, MetaData, String, Table, select, update
from sqlalchemy.exc import IntegrityError

from skylift.state.db import aware, ensure_area, utcnow

SCHEMA_VERSION = 1
metadata = MetaData()
pauses = Table(
    "tenant_pauses",
    metadata,
    Column("tenant", String(320), primary_key=True),  # runners/limits.py:tenant_key
    Column("until", DateTime(timezone=True), nullable=False),
)


class Pauses:
    """Read and extend the pauses in a shared state store."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        ensure_area(engine, "pauses", metadata, SCHEMA_VERSION)

    def pause(self, tenant: str, seconds: float) -> None:
        """*tenant* waits at least *seconds* from now (a longer pause already set stays)."""
        until = utcnow() + timedelta(seconds=seconds)
        with self.engine.begin() as conn:
            res = conn.execute(
                update(pauses).where(pauses.c.tenant == tenant, pauses.c.until < until)
                .values(until=until)
            )  # fmt: skip
            if res.rowcount:
                return
            exists = conn.execute(select(pauses.c.tenant).where(pauses.c.tenant == tenant)).first()
            if exists is None:
                try:
                    with conn.begin_nested():
                        conn.execute(pauses.insert().values(tenant=tenant, until=until))
                except IntegrityError:  # another worker paused it at the same moment
                    pass

    def until(self, tenants: list[str]) -> datetime | None:
        """The latest pause of any of *tenants* still ahead, or None."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(pauses.c.until).where(pauses.c.tenant.in_(tenants))).all()
        now = utcnow()
        ahead = [t for t in (aware(r[0]) for r in rows) if t is not None and t > now]
        return max(ahead) if ahead else None
