"""Mailbox inventories read by ``skylift worker`` for ``assess --runner celery``.

An assessment's report is written by one writer over every user (its totals, verdict and
waves need them all), but reading 10,000 mailboxes is the slow part and belongs on the
workers. So each worker stores the inventory it took, one row per work unit, as the
JSON of ``MailboxInventory.to_dict`` (folder names, counts, sizes, dates and errors; no
message content, no secret), and the client that queued the run builds the report from
these rows once every unit has ended. Area ``inventories`` in ``skylift_schema``.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    MetaData,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
)

from skylift.state.db import ensure_area, utcnow

SCHEMA_VERSION = 1

metadata = MetaData()

inventories = Table(
    "assess_inventories",
    metadata,
    Column("unit", BigInteger, primary_key=True),  # the work unit's id (state/work_units.py)
    Column("mailbox", String(320), nullable=False),
    Column("inventory", Text, nullable=False),
    Column("taken_at", DateTime(timezone=True), nullable=False),
)


class Inventories:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        ensure_area(engine, "inventories", metadata, SCHEMA_VERSION)

    def save(self, unit: int, mailbox: str, inventory: dict[str, Any]) -> None:
        """Store (or replace, when the unit ran again) the inventory unit *unit* took."""
        c = inventories.c
        with self.engine.begin() as conn:
            conn.execute(delete(inventories).where(c.unit == unit))
            conn.execute(
                insert(inventories).values(
                    unit=unit, mailbox=mailbox, inventory=json.dumps(inventory), taken_at=utcnow()
                )
            )

    def of_units(self, units: list[int]) -> dict[int, dict[str, Any]]:
        """Unit id -> the inventory it stored, for those of *units* that stored one."""
        c = inventories.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(c.unit, c.inventory).where(c.unit.in_(units))).all()
        return {int(unit): json.loads(text) for unit, text in rows}
