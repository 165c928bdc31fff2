"""Directory sync memory in the state file: anchor -> target id, delta marks, change journal.

Tables live in their own ``MetaData`` (prefixed ``dirsync_``) so they sit beside the mail
ledger in the same SQLite file without either side knowing the other. *pair* names one
source/target combination, so one state file can serve several syncs. No secret is ever
stored: snapshots hold only mapped attributes, never passwords or tokens.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    select,
)
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from skylift.errors import ConfigError

metadata = MetaData()

objects = Table(
    "dirsync_objects",
    metadata,
    Column("pair", String, primary_key=True),
    Column("anchor", String, primary_key=True),
    Column("kind", String, nullable=False),
    Column("target_id", String, nullable=False, default=""),
    Column("source_entry", Text),  # last source entry read, JSON, for delta runs
    Column("applied", Text),  # last state written to the target, JSON
    Column("disabled_at", DateTime),
    Column("updated_at", DateTime, nullable=False),
)

marks = Table(
    "dirsync_marks",
    metadata,
    Column("pair", String, primary_key=True),
    Column("name", String, primary_key=True),
    Column("value", String, nullable=False),
)

journal = Table(
    "dirsync_journal",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("pair", String, nullable=False, index=True),
    Column("run_id", String, nullable=False),
    Column("at", DateTime, nullable=False),
    Column("action", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("anchor", String, nullable=False),
    Column("name", String, nullable=False),
    Column("target_id", String, nullable=False),
    Column("reason", Text, nullable=False),
    Column("before", Text),
    Column("after", Text),
    Column("ok", Boolean, nullable=False),
    Column("error", Text),
)


@dataclass
class KnownObject:
    kind: str
    target_id: str
    source_entry: dict[str, Any] | None
    applied: dict[str, Any] | None
    disabled_at: datetime | None


@dataclass(frozen=True)
class JournalEntry:
    action: str
    kind: str
    anchor: str
    name: str
    target_id: str
    reason: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    ok: bool
    error: str | None = None


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _dumps(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str)


def _loads(value: str | None) -> dict[str, Any] | None:
    return None if value is None else json.loads(value)  # type: ignore[no-any-return]


class DirectoryJournal:
    """The directory tables of one state file, for one source/target *pair*."""

    def __init__(self, path: Path, pair: str) -> None:
        self.pair = pair
        try:
            self.engine: Engine = create_engine(f"sqlite:///{path}")
            event.listen(self.engine, "connect", _sqlite_pragmas)
            metadata.create_all(self.engine)
        except SQLAlchemyError as exc:
            raise ConfigError(f"cannot open state file {path}: {exc.__class__.__name__}") from exc

    def load(self) -> dict[str, KnownObject]:
        """Everything skylift remembers about this pair's objects, by anchor."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(objects).where(objects.c.pair == self.pair))
            return {
                r.anchor: KnownObject(
                    r.kind, r.target_id, _loads(r.source_entry), _loads(r.applied), r.disabled_at
                )
                for r in rows
            }

    def save_objects(self, rows: Iterable[tuple[str, KnownObject]]) -> None:
        """Insert or replace the rows for these anchors."""
        now = _now()
        values = [
            {
                "pair": self.pair,
                "anchor": anchor,
                "kind": k.kind,
                "target_id": k.target_id,
                "source_entry": _dumps(k.source_entry),
                "applied": _dumps(k.applied),
                "disabled_at": k.disabled_at,
                "updated_at": now,
            }
            for anchor, k in rows
        ]
        if not values:
            return
        stmt = sqlite_insert(objects)
        stmt = stmt.on_conflict_do_update(
            index_elements=[objects.c.pair, objects.c.anchor],
            set_={
                c: stmt.excluded[c]
                for c in (
                    "kind",
                    "target_id",
                    "source_entry",
                    "applied",
                    "disabled_at",
                    "updated_at",
                )
            },
        )
        with self.engine.begin() as conn:
            conn.execute(stmt, values)

    def forget(self, anchors: Iterable[str]) -> None:
        batch = list(anchors)
        with self.engine.begin() as conn:
            for i in range(0, len(batch), 500):
                conn.execute(
                    delete(objects).where(
                        objects.c.pair == self.pair, objects.c.anchor.in_(batch[i : i + 500])
                    )
                )

    def get_mark(self, name: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(  # type: ignore[no-any-return]
                select(marks.c.value).where(marks.c.pair == self.pair, marks.c.name == name)
            ).scalar()

    def set_mark(self, name: str, value: str) -> None:
        stmt = sqlite_insert(marks).values(pair=self.pair, name=name, value=value)
        stmt = stmt.on_conflict_do_update(
            index_elements=[marks.c.pair, marks.c.name], set_={"value": value}
        )
        with self.engine.begin() as conn:
            conn.execute(stmt)

    def clear_marks(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(marks).where(marks.c.pair == self.pair))

    def record(self, run_id: str, entries: Iterable[JournalEntry]) -> None:
        """Append applied (or failed) changes to the journal, with before and after."""
        now = _now()
        values = [
            {
                "pair": self.pair,
                "run_id": run_id,
                "at": now,
                "action": e.action,
                "kind": e.kind,
                "anchor": e.anchor,
                "name": e.name,
                "target_id": e.target_id,
                "reason": e.reason,
                "before": _dumps(e.before),
                "after": _dumps(e.after),
                "ok": e.ok,
                "error": e.error,
            }
            for e in entries
        ]
        if values:
            with self.engine.begin() as conn:
                conn.execute(journal.insert(), values)

    def history(self, limit: int = 1000, every_pair: bool = False) -> list[dict[str, Any]]:
        """The newest journal rows of this pair (or of every pair), newest first."""
        query = select(journal).order_by(journal.c.id.desc()).limit(limit)
        if not every_pair:
            query = query.where(journal.c.pair == self.pair)
        with self.engine.connect() as conn:
            return [
                dict(r._mapping) | {"before": _loads(r.before), "after": _loads(r.after)}
                for r in conn.execute(query)
            ]

    def close(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()
