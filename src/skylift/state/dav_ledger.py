"""The calendar/contacts ledger: what was copied where, so reruns copy only what changed.

Tables live in the same SQLite state file as the mail ledger (``--state``) but under their
own ``MetaData()``, so the two areas never migrate each other's schema. Per object it keeps
UID -> target href, both sides' ETags and the hash of the bytes written; per collection the
target href and each side's sync-token/ctag. Never content, never passwords.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import (
    Column,
    ColumnElement,
    MetaData,
    String,
    Table,
    and_,
    delete,
    insert,
    select,
)
from sqlalchemy.engine import Engine

from skylift.model.dav import DavKind, ItemRecord
from skylift.state.db import ensure_area, open_engine

SCHEMA_VERSION = 1
metadata = MetaData()

dav_collections = Table(
    "dav_collections",
    metadata,
    Column("account", String, primary_key=True),
    Column("kind", String, primary_key=True),
    Column("collection", String, primary_key=True),
    Column("target_href", String, nullable=False),
    Column("source_marker", String),
    Column("target_marker", String),
)

dav_items = Table(
    "dav_items",
    metadata,
    Column("account", String, primary_key=True),
    Column("kind", String, primary_key=True),
    Column("collection", String, primary_key=True),
    Column("uid", String, primary_key=True),
    Column("source_href", String, nullable=False),
    Column("source_etag", String),
    Column("target_href", String, nullable=False),
    Column("target_etag", String),
    Column("content_hash", String, nullable=False),
)


class DavLedger:
    """Read and write the ledger at *location*: a state file path or a database URL."""

    def __init__(self, location: str | Path) -> None:
        self.engine: Engine = open_engine(location)
        ensure_area(self.engine, "dav", metadata, SCHEMA_VERSION)

    def markers(self, account: str, kind: DavKind, collection: str) -> tuple[str | None, ...]:
        """(target href, source marker, target marker) of a collection, or Nones."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(
                    dav_collections.c.target_href,
                    dav_collections.c.source_marker,
                    dav_collections.c.target_marker,
                ).where(self._collection_key(dav_collections, account, kind, collection))
            ).first()
        return tuple(row) if row else (None, None, None)

    def save_markers(
        self,
        account: str,
        kind: DavKind,
        collection: str,
        target_href: str,
        source_marker: str | None,
        target_marker: str | None,
    ) -> None:
        key = self._collection_key(dav_collections, account, kind, collection)
        with self.engine.begin() as conn:
            conn.execute(delete(dav_collections).where(key))
            conn.execute(
                insert(dav_collections).values(
                    account=account,
                    kind=str(kind),
                    collection=collection,
                    target_href=target_href,
                    source_marker=source_marker,
                    target_marker=target_marker,
                )
            )

    def records(self, account: str, kind: DavKind, collection: str) -> list[ItemRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(dav_items).where(self._collection_key(dav_items, account, kind, collection))
            ).all()
        return [
            ItemRecord(
                uid=row.uid,
                source_href=row.source_href,
                source_etag=row.source_etag,
                target_href=row.target_href,
                target_etag=row.target_etag,
                content_hash=row.content_hash,
            )
            for row in rows
        ]

    def save(self, account: str, kind: DavKind, collection: str, record: ItemRecord) -> None:
        """Record (or replace) what was written for *record.uid*."""
        with self.engine.begin() as conn:
            conn.execute(
                delete(dav_items).where(self._item_key(account, kind, collection, record.uid))
            )
            conn.execute(
                insert(dav_items).values(
                    account=account,
                    kind=str(kind),
                    collection=collection,
                    uid=record.uid,
                    source_href=record.source_href,
                    source_etag=record.source_etag,
                    target_href=record.target_href,
                    target_etag=record.target_etag,
                    content_hash=record.content_hash,
                )
            )

    def forget(self, account: str, kind: DavKind, collection: str, uid: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(dav_items).where(self._item_key(account, kind, collection, uid)))

    def mirror(self, from_account: str, to_account: str, kind: DavKind) -> int:
        """Write *from_account*'s records into *to_account* as the same objects seen from the
        other side (its target becomes the source), replacing what was there; return the
        count. The two directions of a cut-over and its rollback are kept in step this way,
        so neither copies back what the other wrote, nor calls it a conflict. Collections
        are matched by name, as the sync matches them."""
        c = dav_items.c
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(dav_items).where(c.account == from_account, c.kind == str(kind))
            ).all()
            conn.execute(delete(dav_items).where(c.account == to_account, c.kind == str(kind)))
            for row in rows:
                conn.execute(
                    insert(dav_items).values(
                        account=to_account, kind=str(kind), collection=row.collection,
                        uid=row.uid, source_href=row.target_href, source_etag=row.target_etag,
                        target_href=row.source_href, target_etag=row.source_etag,
                        content_hash=row.content_hash,
                    )
                )  # fmt: skip
        return len(rows)

    def close(self) -> None:
        self.engine.dispose()

    @staticmethod
    def _collection_key(
        table: Table, account: str, kind: DavKind, collection: str
    ) -> ColumnElement[bool]:
        return and_(
            table.c.account == account,
            table.c.kind == str(kind),
            table.c.collection == collection,
        )

    def _item_key(
        self, account: str, kind: DavKind, collection: str, uid: str
    ) -> ColumnElement[bool]:
        return and_(
            self._collection_key(dav_items, account, kind, collection), dav_items.c.uid == uid
        )
