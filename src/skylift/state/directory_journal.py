"""Directory sync memory in the state file: anchor -> target id, delta marks, change journal.

Tables live in their own ``MetaData`` (prefixed ``dirsync_``) so they sit beside the mail
ledger in the same state file or database without either side knowing the other. The
journal opens through :mod:`skylift.state.db` like every other area (a SQLite file or a
PostgreSQL URL), stores every time as timezone-aware UTC, and keeps its schema version as
area ``directory`` in ``skylift_schema`` (version 1 had naive times and no version; it is
read as UTC and upgraded in place, row for row; ``dirsync_meta`` is read for the versions
written in between). *pair* names one
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
    Connection,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.exc import DatabaseError

from skylift.errors import ConfigError
from skylift.state.db import ensure_area, open_engine, shown_location

SCHEMA_VERSION = 2  # 1: no dirsync_meta, naive times; 2: aware UTC, versioned

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
    Column("disabled_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
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
    Column("at", DateTime(timezone=True), nullable=False),
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

previews = Table(  # the latest preview of each pair: what --apply would do (the dashboard)
    "dirsync_previews",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("pair", String, nullable=False, index=True),
    Column("run_id", String, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("action", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("name", String, nullable=False),
    Column("reason", Text, nullable=False),
)

meta = Table(
    "dirsync_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
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
    return datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    """SQLite (and a version 1 journal) gives back naive datetimes; every time here is UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _dumps(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str)


def _loads(value: str | None) -> dict[str, Any] | None:
    return None if value is None else json.loads(value)  # type: ignore[no-any-return]


class DirectoryJournal:
    """The directory tables of one state file, for one source/target *pair*."""

    def __init__(self, location: str | Path, pair: str) -> None:
        self.pair = pair
        self.engine: Engine = open_engine(location)
        try:
            ensure_area(
                self.engine, "directory", metadata, SCHEMA_VERSION, {2: _naive_times_are_utc},
                legacy_version=_legacy_version,
            )  # fmt: skip
        except DatabaseError as exc:
            self.engine.dispose()
            detail = str(exc.orig).strip().splitlines()[0]
            raise ConfigError(
                f"cannot use state store {shown_location(location)}: {detail}"
            ) from None

    def load(self) -> dict[str, KnownObject]:
        """Everything skylift remembers about this pair's objects, by anchor."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(objects).where(objects.c.pair == self.pair))
            return {
                r.anchor: KnownObject(
                    r.kind,
                    r.target_id,
                    _loads(r.source_entry),
                    _loads(r.applied),
                    _aware(r.disabled_at),
                )
                for r in rows
            }

    def save_objects(self, rows: Iterable[tuple[str, KnownObject]]) -> None:
        """Insert or replace the rows for these anchors."""
        now = _now()
        values: list[dict[str, object]] = [
            {
                "pair": self.pair,
                "anchor": anchor,
                "kind": k.kind,
                "target_id": k.target_id,
                "source_entry": _dumps(k.source_entry),
                "applied": _dumps(k.applied),
                "disabled_at": _aware(k.disabled_at),
                "updated_at": now,
            }
            for anchor, k in rows
        ]
        if not values:
            return
        with self.engine.begin() as conn:
            # Delete, then insert, in one transaction: an upsert every SQL database runs.
            _delete_anchors(conn, self.pair, [str(v["anchor"]) for v in values])
            conn.execute(insert(objects), values)

    def forget(self, anchors: Iterable[str]) -> None:
        with self.engine.begin() as conn:
            _delete_anchors(conn, self.pair, list(anchors))

    def get_mark(self, name: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(  # type: ignore[no-any-return]
                select(marks.c.value).where(marks.c.pair == self.pair, marks.c.name == name)
            ).scalar()

    def set_mark(self, name: str, value: str) -> None:
        where = (marks.c.pair == self.pair) & (marks.c.name == name)
        with self.engine.begin() as conn:
            if conn.execute(update(marks).where(where).values(value=value)).rowcount == 0:
                conn.execute(insert(marks).values(pair=self.pair, name=name, value=value))

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

    def record_preview(self, run_id: str, lines: Iterable[tuple[str, str, str, str]]) -> None:
        """Keep (action, kind, name, reason) of this pair's newest preview, replacing the one
        before: what an apply would do now, for the dashboard. Names and reasons only."""
        now = _now()
        values = [
            {"pair": self.pair, "run_id": run_id, "at": now, "action": a, "kind": k,
             "name": n, "reason": r}
            for a, k, n, r in lines
        ]  # fmt: skip
        with self.engine.begin() as conn:
            conn.execute(previews.delete().where(previews.c.pair == self.pair))
            if values:
                conn.execute(previews.insert(), values)

    def previews(self) -> list[dict[str, Any]]:
        """Every pair's newest preview, pair by pair, in planned order."""
        query = select(previews).order_by(previews.c.pair, previews.c.id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) | {"at": _aware(r.at)} for r in conn.execute(query)]

    def history(self, limit: int = 1000, every_pair: bool = False) -> list[dict[str, Any]]:
        """The newest journal rows of this pair (or of every pair), newest first."""
        query = select(journal).order_by(journal.c.id.desc()).limit(limit)
        if not every_pair:
            query = query.where(journal.c.pair == self.pair)
        with self.engine.connect() as conn:
            return [
                dict(r._mapping)
                | {"at": _aware(r.at), "before": _loads(r.before), "after": _loads(r.after)}
                for r in conn.execute(query)
            ]

    def close(self) -> None:
        self.engine.dispose()


def _delete_anchors(conn: Connection, pair: str, anchors: list[str]) -> None:
    for i in range(0, len(anchors), 500):
        conn.execute(
            delete(objects).where(
                objects.c.pair == pair, objects.c.anchor.in_(anchors[i : i + 500])
            )
        )


def _legacy_version(conn: Connection) -> int:
    """The journal's version before ``skylift_schema``: in ``dirsync_meta``, else 1."""
    if not inspect(conn).has_table(meta.name):
        return 1
    row = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).first()
    return int(row[0]) if row else 1


def _naive_times_are_utc(conn: Connection) -> None:
    """1 -> 2: version 1 differs only in how times were written (naive UTC); the rows stay
    as they are and are read as UTC (``_aware``), so there is nothing to rewrite."""
