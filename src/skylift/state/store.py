"""StateStore: the ledger's only reader and writer.

SQLite file by default (WAL, one writer at a time behind a lock, which is what SQLite wants
from many worker threads); any SQLAlchemy URL (``postgresql+psycopg://…``) for scale-out.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from skylift.state import schema as t
from skylift.state.db import ensure_area, open_engine


@dataclass(frozen=True)
class LedgerEntry:
    """A copied (or pending) message as the ledger remembers it."""

    source_uid: str
    target_uid: str | None
    flags: frozenset[str]
    fingerprint: str
    size: int
    state: str
    target_mark: int | None = None
    target_folder: str = ""


@dataclass(frozen=True)
class FolderMark:
    """A source folder's marks after the last complete pass."""

    validity: str
    target_folder: str
    next_uid: int | None
    modseq: int | None
    count: int


@dataclass(frozen=True)
class CopyRecord:
    """One row to write into the ledger."""

    source_uid: str
    target_uid: str | None
    fingerprint: str
    size: int
    flags: frozenset[str]
    target_mark: int | None = None


def _flags_text(flags: Iterable[str]) -> str:
    return " ".join(sorted(flags))


def _now() -> datetime:
    return datetime.now(UTC)


def _legacy_version(conn: Connection) -> int | None:
    """The mail ledger's version in a state written before ``skylift_schema`` existed."""
    row = conn.execute(select(t.meta.c.value).where(t.meta.c.key == "schema_version")).first()
    return int(row[0]) if row else 1


class StateStore:
    """Remembers what was copied where; safe to share between worker threads."""

    def __init__(self, location: str | Path, *, must_exist: bool = False) -> None:
        self.location = str(location)
        self.engine = open_engine(location, must_exist=must_exist)
        self._lock = threading.RLock()
        ensure_area(
            self.engine, "mail", t.metadata, t.SCHEMA_VERSION, legacy_version=_legacy_version
        )

    def close(self) -> None:
        self.engine.dispose()

    # -- ledger -----------------------------------------------------------------------
    def ledger(self, mailbox: str, source_folder: str, validity: str) -> dict[str, LedgerEntry]:
        """Every ledger row of one source folder at one validity, by source uid."""
        c = t.messages.c
        q = select(
            c.source_uid, c.target_uid, c.flags, c.fingerprint, c.size, c.state,
            c.target_mark, c.target_folder,
        ).where(
            c.mailbox == mailbox, c.source_folder == source_folder, c.source_validity == validity
        )  # fmt: skip
        with self.engine.connect() as conn:
            return {
                r.source_uid: LedgerEntry(
                    r.source_uid,
                    r.target_uid,
                    frozenset(r.flags.split()),
                    r.fingerprint,
                    r.size,
                    r.state,
                    r.target_mark,
                    r.target_folder,
                )
                for r in conn.execute(q)
            }

    def copies_elsewhere(
        self, mailbox: str, fingerprints: list[str], target_folder: str
    ) -> dict[str, tuple[str, str]]:
        """fingerprint -> (target folder, target uid) of a message of *mailbox* already
        copied into another target folder (a Gmail target labels it instead of uploading)."""
        if not fingerprints:
            return {}
        c = t.messages.c
        q = select(c.fingerprint, c.target_folder, c.target_uid).where(
            c.mailbox == mailbox, c.fingerprint.in_(set(fingerprints)), c.state == "copied",
            c.target_uid.is_not(None), c.target_folder != target_folder,
        )  # fmt: skip
        with self.engine.connect() as conn:
            return {r.fingerprint: (r.target_folder, r.target_uid) for r in conn.execute(q)}

    def has_pending(self, mailbox: str, source_folder: str) -> bool:
        c = t.messages.c
        q = select(c.id).where(
            c.mailbox == mailbox, c.source_folder == source_folder, c.state == "pending"
        )
        with self.engine.connect() as conn:
            return conn.execute(q.limit(1)).first() is not None

    def record(
        self,
        mailbox: str,
        source_folder: str,
        validity: str,
        target_folder: str,
        records: list[CopyRecord],
        state: str,
    ) -> None:
        """Insert or replace ledger rows in one transaction."""
        if not records:
            return
        c = t.messages.c
        now = _now()
        with self._lock, self.engine.begin() as conn:
            conn.execute(
                delete(t.messages).where(
                    c.mailbox == mailbox,
                    c.source_folder == source_folder,
                    c.source_validity == validity,
                    c.source_uid.in_([r.source_uid for r in records]),
                )
            )
            conn.execute(
                insert(t.messages),
                [
                    {
                        "mailbox": mailbox,
                        "source_folder": source_folder,
                        "source_validity": validity,
                        "source_uid": r.source_uid,
                        "target_folder": target_folder,
                        "target_uid": r.target_uid,
                        "target_mark": r.target_mark,
                        "fingerprint": r.fingerprint,
                        "size": r.size,
                        "flags": _flags_text(r.flags),
                        "state": state,
                        "copied_at": now,
                    }
                    for r in records
                ],
            )

    def drop_pending(self, mailbox: str, source_folder: str, uids: list[str]) -> None:
        c = t.messages.c
        with self._lock, self.engine.begin() as conn:
            conn.execute(
                delete(t.messages).where(
                    c.mailbox == mailbox,
                    c.source_folder == source_folder,
                    c.state == "pending",
                    c.source_uid.in_(uids),
                )
            )

    def update_flags(
        self, mailbox: str, source_folder: str, validity: str, changes: dict[str, frozenset[str]]
    ) -> None:
        c = t.messages.c
        with self._lock, self.engine.begin() as conn:
            for uid, flags in changes.items():
                conn.execute(
                    update(t.messages)
                    .where(
                        c.mailbox == mailbox,
                        c.source_folder == source_folder,
                        c.source_validity == validity,
                        c.source_uid == uid,
                    )
                    .values(flags=_flags_text(flags))
                )

    # -- folder marks -----------------------------------------------------------------
    def folder_mark(self, mailbox: str, source_folder: str) -> FolderMark | None:
        """The folder's mark, unless the run that saved it also recorded a problem there.

        Since skylift keeps no mark for a folder with problems, such a mark can only come
        from an older skylift that hid skipped items this way; it is not trusted.
        """
        c = t.folder_marks.c
        q = select(t.folder_marks).where(c.mailbox == mailbox, c.source_folder == source_folder)
        p, r_ = t.problems.c, t.runs.c
        with self.engine.connect() as conn:
            r = conn.execute(q).first()
            if r is None:
                return None
            tainted = conn.execute(
                select(p.id)
                .join(t.runs, r_.id == p.run_id)
                .where(
                    p.mailbox == mailbox,
                    p.source_folder == source_folder,
                    r_.started_at <= r.updated_at,
                    (r_.finished_at.is_(None)) | (r_.finished_at >= r.updated_at),
                )
                .limit(1)
            ).first()
        if tainted is not None:
            return None
        return FolderMark(
            r.source_validity, r.target_folder, r.next_uid, r.modseq, r._mapping["count"]
        )

    def mailbox_marks(self, mailbox: str) -> dict[str, FolderMark]:
        """Every trusted folder mark of *mailbox*: :meth:`folder_mark` for each folder, in
        two queries for the whole mailbox, so a rerun with nothing new costs one SELECT per
        folder on the server and almost nothing here."""
        c, p, r_ = t.folder_marks.c, t.problems.c, t.runs.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.folder_marks).where(c.mailbox == mailbox)).all()
            problems: dict[str, list[tuple[Any, Any]]] = {}
            if rows:
                q = (
                    select(p.source_folder, r_.started_at, r_.finished_at)
                    .join(t.runs, r_.id == p.run_id)
                    .where(p.mailbox == mailbox)
                )
                for folder, started, finished in conn.execute(q):
                    problems.setdefault(folder, []).append((started, finished))
        marks = {}
        for r in rows:
            tainted = any(
                started <= r.updated_at and (finished is None or finished >= r.updated_at)
                for started, finished in problems.get(r.source_folder, ())
            )
            if not tainted:
                marks[r.source_folder] = FolderMark(
                    r.source_validity, r.target_folder, r.next_uid, r.modseq, r._mapping["count"]
                )
        return marks

    def drop_folder_mark(self, mailbox: str, source_folder: str) -> None:
        c = t.folder_marks.c
        with self._lock, self.engine.begin() as conn:
            conn.execute(
                delete(t.folder_marks).where(c.mailbox == mailbox, c.source_folder == source_folder)
            )

    def save_folder_mark(self, mailbox: str, source_folder: str, mark: FolderMark) -> None:
        c = t.folder_marks.c
        with self._lock, self.engine.begin() as conn:
            conn.execute(
                delete(t.folder_marks).where(c.mailbox == mailbox, c.source_folder == source_folder)
            )
            conn.execute(
                insert(t.folder_marks).values(
                    mailbox=mailbox,
                    source_folder=source_folder,
                    source_validity=mark.validity,
                    target_folder=mark.target_folder,
                    next_uid=mark.next_uid,
                    modseq=mark.modseq,
                    count=mark.count,
                    updated_at=_now(),
                )
            )

    # -- runs and problems --------------------------------------------------------------
    def start_run(self, command: str) -> int:
        with self._lock, self.engine.begin() as conn:
            res = conn.execute(insert(t.runs).values(command=command, started_at=_now()))
            return int(res.inserted_primary_key[0])  # type: ignore[index]

    def finish_run(self, run_id: int, summary: dict[str, Any]) -> None:
        with self._lock, self.engine.begin() as conn:
            conn.execute(
                update(t.runs)
                .where(t.runs.c.id == run_id)
                .values(finished_at=_now(), summary=json.dumps(summary, default=str))
            )

    def record_mailbox_run(
        self, run_id: int, mailbox: str, messages: int, nbytes: int, seconds: float, outcome: str
    ) -> None:
        with self._lock, self.engine.begin() as conn:
            conn.execute(
                insert(t.mailbox_runs).values(
                    run_id=run_id,
                    mailbox=mailbox,
                    messages=messages,
                    bytes=nbytes,
                    seconds=seconds,
                    outcome=outcome,
                )
            )

    def measured_rates(self) -> dict[str, float]:
        """Bytes per second per mailbox from past runs that moved at least 1 MB."""
        c = t.mailbox_runs.c
        q = select(c.mailbox, c.bytes, c.seconds).where(c.bytes >= 1_000_000, c.seconds > 0)
        rates: dict[str, float] = {}
        with self.engine.connect() as conn:
            for r in conn.execute(q):
                rates[r.mailbox] = r.bytes / r.seconds
        return rates

    def record_problem(
        self,
        run_id: int,
        mailbox: str,
        source_folder: str,
        source_uid: str | None,
        kind: str,
        reason: str,
        size: int | None = None,
    ) -> None:
        with self._lock, self.engine.begin() as conn:
            conn.execute(
                insert(t.problems).values(
                    run_id=run_id,
                    mailbox=mailbox,
                    source_folder=source_folder,
                    source_uid=source_uid,
                    kind=kind,
                    reason=reason,
                    size=size,
                )
            )
