"""Work units in the state store: what each run was asked to do, and how far each piece got.

A work unit is one piece of a run that can succeed or fail on its own — a mailbox pair, a
calendar/contacts account, a directory sync, the assessment of a mailbox — whatever the
domain. Every runner records the units it executes here, so ``skylift jobs`` (and later a
dashboard or a distributed runner) sees every kind of work in one table and one shape.
The table holds ids, states, counts and the last error's text: never a password or token.
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    insert,
    select,
    text,
    update,
)

from skylift.state.db import aware, ensure_area, open_engine, utcnow

SCHEMA_VERSION = 2  # 2: owner, lease_until and spec, for workers on several machines
STATES = ("queued", "running", "done", "partial", "failed", "cancelled")
KINDS = ("mail", "calendars", "contacts", "directory", "assess", "cutover")

metadata = MetaData()

work_units = Table(
    "work_units",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run", String(64), nullable=False),  # one id per command invocation
    Column("kind", String(16), nullable=False),  # one of KINDS
    Column("key", String(320), nullable=False),  # the mailbox, account or directory pair
    Column("state", String(16), nullable=False),  # one of STATES
    Column("attempts", Integer, nullable=False, default=0),
    Column("items", BigInteger, nullable=False, default=0),
    Column("bytes", BigInteger, nullable=False, default=0),
    Column("problems", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("worker", String(128)),  # host:pid that ran it last
    Column("queued_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    # scale-out (state/leases.py): who holds the unit and until when, and what to run again
    Column("owner", String(128)),  # the worker holding the lease, None when nobody does
    Column("lease_until", DateTime(timezone=True)),
    Column("spec", Text),  # the task's references (paths, env names, options): no secret
)


def _add_lease_columns(conn: Connection) -> None:
    for ddl in ("owner VARCHAR(128)", "lease_until TIMESTAMP WITH TIME ZONE", "spec TEXT"):
        conn.execute(text(f"ALTER TABLE work_units ADD COLUMN {ddl}"))


UPGRADES = {2: _add_lease_columns}


def new_run_id(command: str) -> str:
    """An id for one invocation: sortable by time, unique across machines and processes."""
    stamp = utcnow().strftime("%Y%m%dT%H%M%S.%fZ")
    return f"{command}-{stamp}-{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True)
class WorkUnitRow:
    """One unit as ``skylift jobs`` shows it."""

    id: int
    run: str
    kind: str
    key: str
    state: str
    attempts: int
    items: int
    bytes: int
    problems: int
    last_error: str | None
    worker: str | None
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    owner: str | None = None
    lease_until: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        for name in ("queued_at", "started_at", "finished_at", "lease_until"):
            value = data[name]
            data[name] = value.isoformat(timespec="seconds") if value else None
        return data


class WorkUnits:
    """Read and write the work-unit table at a state file path or database URL.

    Safe to share between the runner's threads (one writer at a time, as SQLite wants).
    """

    def __init__(self, location: str | Path | Engine, *, must_exist: bool = False) -> None:
        if isinstance(location, Engine):
            self.engine = location
            self._owned = False
        else:
            self.engine = open_engine(location, must_exist=must_exist)
            self._owned = True
        self._lock = threading.Lock()
        ensure_area(self.engine, "work_units", metadata, SCHEMA_VERSION, UPGRADES)
        self.worker = f"{socket.gethostname()}:{os.getpid()}"

    def close(self) -> None:
        if self._owned:
            self.engine.dispose()

    def queue(
        self, run: str, kind: str, keys: list[str], specs: dict[str, str] | None = None
    ) -> dict[str, int]:
        """Record *keys* as queued units of *run*; return key -> unit id. *specs*: key -> the
        task a worker runs for it (references only, never a secret; see state/leases.py)."""
        if kind not in KINDS:
            raise ValueError(f"unknown work-unit kind {kind!r}")
        ids: dict[str, int] = {}
        with self._lock, self.engine.begin() as conn:
            for key in keys:
                res = conn.execute(
                    insert(work_units).values(
                        run=run,
                        kind=kind,
                        key=key,
                        state="queued",
                        attempts=0,
                        items=0,
                        bytes=0,
                        problems=0,
                        queued_at=utcnow(),
                        spec=(specs or {}).get(key),
                    )
                )
                ids[key] = int(res.inserted_primary_key[0])  # type: ignore[index]
        return ids

    def set_specs(self, specs: dict[int, str]) -> None:
        """Keep each unit's task so it can be sent again (references only, never a secret)."""
        with self._lock, self.engine.begin() as conn:
            for unit_id, spec in specs.items():
                conn.execute(update(work_units).where(work_units.c.id == unit_id).values(spec=spec))

    def start(self, unit_id: int) -> None:
        """The unit is running here now (another attempt if it ran before)."""
        with self._lock, self.engine.begin() as conn:
            conn.execute(
                update(work_units)
                .where(work_units.c.id == unit_id)
                .values(
                    state="running",
                    attempts=work_units.c.attempts + 1,
                    worker=self.worker,
                    started_at=utcnow(),
                    finished_at=None,
                )
            )

    def finish(
        self,
        unit_id: int,
        state: str,
        *,
        items: int = 0,
        nbytes: int = 0,
        problems: int = 0,
        error: str | None = None,
        attempts: int | None = None,
    ) -> None:
        """The unit ended as *state* (done, partial or failed) with what it moved.

        *attempts* replaces the count when the unit retried inside one start (the mail
        runner reconnects a mailbox itself).
        """
        if state not in STATES:
            raise ValueError(f"unknown work-unit state {state!r}")
        values: dict[str, Any] = {
            "state": state,
            "items": items,
            "bytes": nbytes,
            "problems": problems,
            "last_error": error,
            "finished_at": utcnow(),
            "owner": None,
            "lease_until": None,
        }
        if attempts is not None:
            values["attempts"] = attempts
        c = work_units.c
        mine = and_(
            c.id == unit_id,
            c.state == "running",  # not cancelled, nor handed to another worker meanwhile
            (c.owner.is_(None)) | (c.owner == self.worker),
        )
        with self._lock, self.engine.begin() as conn:
            conn.execute(update(work_units).where(mine).values(**values))

    def list(
        self, *, kind: str | None = None, state: str | None = None, run: str | None = None
    ) -> list[WorkUnitRow]:
        """Units, newest run first, each run's units in the order they were queued."""
        c = work_units.c
        where = []
        if kind:
            where.append(c.kind == kind)
        if state:
            where.append(c.state == state)
        if run:
            where.append(c.run == run)
        query = select(work_units).order_by(c.id)
        if where:
            query = query.where(and_(*where))
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        newest = {row["run"]: row["id"] for row in rows}  # a run's last id: when it was queued
        rows = sorted(rows, key=lambda row: (-newest[row["run"]], row["id"]))
        return [
            WorkUnitRow(
                **{
                    **{k: v for k, v in row.items() if k != "spec"},
                    "queued_at": aware(row["queued_at"]),
                    "started_at": aware(row["started_at"]),
                    "finished_at": aware(row["finished_at"]),
                    "lease_until": aware(row["lease_until"]),
                }
            )
            for row in rows
        ]

    def latest_runs(self) -> dict[str, str]:
        """Kind -> the run that queued its newest unit."""
        c = work_units.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(c.kind, c.run).order_by(c.id)).all()
        return {str(kind): str(run) for kind, run in rows}
