"""The routing registry: where each user's mail is delivered now, and every change before.

During a staged move some users read mail on-prem and some in the cloud; the MTA's maps, a
Sieve redirect or a directory attribute only say where mail goes *today*. This registry is
the one record they are all written from (``skylift route export``), and the only memory of
``cutover`` and ``rollback``: a rerun after kill -9 reads it and finishes the wave, a
rollback reads the history to restore exactly the routing a wave had before.

Rows are only ever added (full history: who, when, which run, why); the current state of a
user is the newest row. Same store as the ledger (``state/db.py``): a SQLite
file or a SQLAlchemy URL. Times are timezone-aware UTC.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    select,
    update,
)

from skylift.state.db import ensure_area, open_engine


class RouteState(StrEnum):
    """Where a user's mail is delivered."""

    ONPREM = "onprem"  # the source's own route (no line of ours in the MTA's maps)
    MIGRATING = "migrating"  # a cut-over is copying the last mail: still delivered on-prem
    CLOUD = "cloud"  # delivered to the cloud relay


SCHEMA_VERSION = 1
metadata = MetaData()

route_changes = Table(
    "route_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user", String(320), nullable=False, index=True),
    Column("state", String(16), nullable=False),
    Column("since", DateTime(timezone=True), nullable=False),
    Column("wave", Integer),
    Column("run_id", String(128)),
    Column("actor", String(128)),
    Column("reason", Text),
)


# What a cut-over found in a directory routing attribute before it wrote its own value, so
# a rollback restores exactly that. A row is open until the rollback of its wave restores
# it; a rerun of the cut-over (after kill -9) finds the open row and does not overwrite the
# saved value with skylift's own.
route_attributes = Table(
    "route_attributes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user", String(320), nullable=False, index=True),
    Column("attribute", String(64), nullable=False),
    Column("wave", Integer),
    Column("run_id", String(128)),
    Column("previous", Text, nullable=False),  # JSON, as the connector gives it
    Column("saved_at", DateTime(timezone=True), nullable=False),
    Column("restored_at", DateTime(timezone=True)),
)


@dataclass(frozen=True)
class RouteRecord:
    """One change of one user's route (the newest one is where mail goes now)."""

    user: str
    state: RouteState
    since: datetime
    wave: int | None = None
    run_id: str | None = None
    actor: str | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "user": self.user,
            "state": self.state.value,
            "since": self.since.isoformat(timespec="seconds"),
            "wave": self.wave,
            "run_id": self.run_id,
            "actor": self.actor,
            "reason": self.reason,
        }


def _aware(value: datetime) -> datetime:
    """SQLite gives back naive datetimes; every time here is UTC, so say so."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _record(row: object) -> RouteRecord:
    m = row._mapping  # type: ignore[attr-defined]
    return RouteRecord(
        user=m["user"],
        state=RouteState(m["state"]),
        since=_aware(m["since"]),
        wave=m["wave"],
        run_id=m["run_id"],
        actor=m["actor"],
        reason=m["reason"],
    )


class RoutingRegistry:
    """Read and change the routing registry at a state file path or database URL."""

    def __init__(self, location: str | Path | Engine, *, must_exist: bool = False) -> None:
        if isinstance(location, Engine):
            self.engine, self._owned = location, False
        else:
            self.engine, self._owned = open_engine(location, must_exist=must_exist), True
        self._lock = threading.Lock()
        ensure_area(self.engine, "routing", metadata, SCHEMA_VERSION)

    def close(self) -> None:
        if self._owned:
            self.engine.dispose()

    def __enter__(self) -> RoutingRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def current(self, user: str) -> RouteRecord | None:
        """*user*'s route now; None when skylift never routed them (on-prem by default)."""
        c = route_changes.c
        with self.engine.connect() as conn:
            row = conn.execute(
                select(route_changes).where(c.user == user).order_by(c.id.desc()).limit(1)
            ).first()
        return _record(row) if row is not None else None

    def all_current(self) -> dict[str, RouteRecord]:
        """Every user the registry knows -> their route now."""
        c = route_changes.c
        newest = select(func.max(c.id)).group_by(c.user).scalar_subquery()
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(route_changes).where(c.id.in_(newest)).order_by(c.user)
            ).all()
        return {r.user: r for r in map(_record, rows)}

    def history(self, user: str) -> list[RouteRecord]:
        """Every change of *user*'s route, oldest first."""
        c = route_changes.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(route_changes).where(c.user == user).order_by(c.id)).all()
        return [_record(r) for r in rows]

    def saved_attribute(self, user: str, attribute: str, wave: int) -> tuple[int, str] | None:
        """(row id, previous value as JSON) of *user*'s open save for *wave*, if any."""
        c = route_attributes.c
        with self.engine.connect() as conn:
            row = conn.execute(
                select(c.id, c.previous)
                .where(c.user == user, c.attribute == attribute, c.wave == wave)
                .where(c.restored_at.is_(None))
                .order_by(c.id.desc())
                .limit(1)
            ).first()
        return (int(row.id), str(row.previous)) if row is not None else None

    def save_attribute(
        self, user: str, attribute: str, wave: int, run_id: str, previous: str
    ) -> None:
        """Record *user*'s *attribute* as it was before this wave's cut-over wrote it."""
        with self._lock, self.engine.begin() as conn:
            conn.execute(
                insert(route_attributes).values(
                    user=user, attribute=attribute, wave=wave, run_id=run_id,
                    previous=previous, saved_at=datetime.now(UTC),
                )
            )  # fmt: skip

    def restored_attribute(self, row_id: int) -> None:
        """Close a save: its value is back in the directory."""
        with self._lock, self.engine.begin() as conn:
            conn.execute(
                update(route_attributes)
                .where(route_attributes.c.id == row_id)
                .values(restored_at=datetime.now(UTC))
            )

    def set(
        self,
        users: Iterable[str],
        state: RouteState | str,
        *,
        wave: int | None,
        run_id: str | None,
        actor: str | None,
        reason: str | None = None,
    ) -> list[RouteRecord]:
        """Move *users* to *state* in one transaction; return the changes written.

        A user already in *state* gets no new row: setting the same route twice changes
        nothing the second time.
        """
        state = RouteState(state)
        now = datetime.now(UTC)
        written: list[RouteRecord] = []
        with self._lock, self.engine.begin() as conn:
            c = route_changes.c
            for user in dict.fromkeys(users):
                row = conn.execute(
                    select(c.state).where(c.user == user).order_by(c.id.desc()).limit(1)
                ).first()
                if row is not None and row.state == state.value:
                    continue
                record = RouteRecord(user, state, now, wave, run_id, actor, reason)
                conn.execute(
                    insert(route_changes).values(
                        user=user, state=state.value, since=now, wave=wave, run_id=run_id,
                        actor=actor, reason=reason,
                    )
                )  # fmt: skip
                written.append(record)
        return written
