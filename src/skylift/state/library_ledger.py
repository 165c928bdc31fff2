"""The document library ledger: which source message became which file, so reruns upload nothing.

Its own area (``library``) in the same state file as the mail ledger. Per message: the
source folder, UIDVALIDITY and UID, the library folder and file name, the fingerprint and
size, and what the index page shows (subject, sender, date). Never content, never passwords.
A row is written right after its file was stored; a run killed before that finds the file on
the next run (same name, same size) and records it without uploading it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, and_, insert, select
from sqlalchemy.engine import Engine

from skylift.state.db import aware, ensure_area, open_engine

SCHEMA_VERSION = 1
metadata = MetaData()

library_items = Table(
    "library_items",
    metadata,
    Column("source", String, primary_key=True),
    Column("folder", String, primary_key=True),
    Column("validity", String, primary_key=True),
    Column("uid", String, primary_key=True),
    Column("target_folder", String, nullable=False),
    Column("name", String, nullable=False),
    Column("fingerprint", String, nullable=False),
    Column("size", Integer, nullable=False),
    Column("subject", String, nullable=False, default=""),
    Column("sender", String, nullable=False, default=""),
    Column("date", DateTime(timezone=True)),
)


@dataclass(frozen=True)
class LibraryRow:
    """One stored file as the index page lists it."""

    uid: str
    target_folder: str
    name: str
    fingerprint: str
    size: int
    subject: str = ""
    sender: str = ""
    date: datetime | None = None


class LibraryLedger:
    """Read and write the library area at *location* (a state file or a database URL)."""

    def __init__(self, location: str | Path) -> None:
        self.engine: Engine = open_engine(location)
        ensure_area(self.engine, "library", metadata, SCHEMA_VERSION)

    def done(self, source: str, folder: str, validity: str) -> set[str]:
        """UIDs of *folder* (at *validity*) already stored in the library."""
        t = library_items.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.uid).where(
                    and_(t.source == source, t.folder == folder, t.validity == validity)
                )
            )
            return {row[0] for row in rows}

    def record(self, source: str, folder: str, validity: str, row: LibraryRow) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(library_items).values(
                    source=source,
                    folder=folder,
                    validity=validity,
                    uid=row.uid,
                    target_folder=row.target_folder,
                    name=row.name,
                    fingerprint=row.fingerprint,
                    size=row.size,
                    subject=row.subject,
                    sender=row.sender,
                    date=row.date,
                )
            )

    def files(self, target_folder: str) -> list[LibraryRow]:
        """Every file recorded in *target_folder*, oldest first (what its index lists)."""
        t = library_items.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    t.uid,
                    t.target_folder,
                    t.name,
                    t.fingerprint,
                    t.size,
                    t.subject,
                    t.sender,
                    t.date,
                ).where(t.target_folder == target_folder)
            ).all()
        out = [LibraryRow(*row[:7], aware(row[7])) for row in rows]  # type: ignore[misc]
        return sorted(out, key=lambda r: r.name)

    def close(self) -> None:
        self.engine.dispose()
