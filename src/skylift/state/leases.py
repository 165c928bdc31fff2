"""Leases on work units: which worker holds a unit, until when, and what happens when it dies.

A broker's word is not enough to keep two workers off one mailbox: Redis redelivers an
unacknowledged task after its visibility timeout, and a message can be delivered twice. So
a worker *claims* a unit here, in one conditional UPDATE, before it touches a server; the
claim holds while the worker renews it (:meth:`Leases.renew`, every few seconds). A worker
killed with ``kill -9`` renews nothing: its lease runs out and :meth:`Leases.expired` hands
the unit back (queued again, or failed once it has been tried *max_attempts* times), exactly
once however many workers look at the same moment. The ledger then makes the next attempt
resume where the dead one stopped. The ``spec`` column is the task as references (paths, env
names, options), so a unit can be sent again without the client that queued it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, or_, select, text, update

from skylift.state.db import utcnow
from skylift.state.work_units import WorkUnits, work_units

TERMINAL = ("done", "partial", "failed", "cancelled")
#: between a mailbox and its folder in the key of a folder unit (a big mailbox split up)
FOLDER_SEP = " / "


def _mailbox_lock(kind: str, key: str) -> int:
    """The advisory lock number of one mailbox (account, pair) across all units and runs."""
    return int.from_bytes(
        hashlib.sha256(f"{kind}\0{key}".encode()).digest()[:8], "big", signed=True
    )


@dataclass(frozen=True)
class Handed:
    """A unit whose worker vanished: sent again (*spec*), or failed after too many tries."""

    unit_id: int
    spec: str | None
    failed: bool


class Leases:
    """Claims, renewals and expiry for the units of a shared state store."""

    def __init__(self, units: WorkUnits, worker: str, lease_seconds: float = 60.0) -> None:
        self.units = units
        self.worker = worker
        self.lease = timedelta(seconds=lease_seconds)
        units.worker = worker  # finish() only lands while this worker holds the unit

    def claim(self, unit_id: int) -> str:
        """Try to take *unit_id*: ``claimed`` (work now), ``busy`` (another unit of the same
        mailbox runs: this worker holds the unit waiting, renew and try again) or ``gone``
        (finished, cancelled, or held by another live worker)."""
        c, now = work_units.c, utcnow()
        lapsed = or_(c.owner.is_(None), c.owner == self.worker, c.lease_until < now)
        with self.units.engine.begin() as conn:
            row = conn.execute(select(c.kind, c.key).where(c.id == unit_id)).first()
            if row is None:
                return "gone"
            # one claim per mailbox at a time, on every worker: the check and the update
            # below are one step under this lock (released at commit)
            conn.execute(
                text("SELECT pg_advisory_xact_lock(:k)"),
                {"k": _mailbox_lock(str(row.kind), str(row.key).split(FOLDER_SEP, 1)[0])},
            )
            mailbox = str(row.key).split(FOLDER_SEP, 1)[0]
            same = or_(c.key == row.key, c.key == mailbox)  # itself, or its whole mailbox
            if mailbox == row.key:  # a whole mailbox also waits for its folder units
                same = or_(same, c.key.startswith(mailbox + FOLDER_SEP, autoescape=True))
            busy = conn.execute(
                select(c.id).where(
                    c.kind == row.kind, same, c.id != unit_id,
                    c.state == "running", c.lease_until >= now,
                ).limit(1)
            ).first()  # fmt: skip
            free = or_(and_(c.state == "queued", lapsed),
                       and_(c.state == "running", c.lease_until < now))  # fmt: skip
            if busy is not None:
                res = conn.execute(
                    update(work_units).where(c.id == unit_id, c.state == "queued", lapsed)
                    .values(owner=self.worker, lease_until=now + self.lease)
                )  # fmt: skip
                return "busy" if res.rowcount == 1 else "gone"
            res = conn.execute(
                update(work_units).where(c.id == unit_id, free).values(
                    state="running", owner=self.worker, lease_until=now + self.lease,
                    attempts=c.attempts + 1, worker=self.worker, started_at=now,
                    finished_at=None,
                )
            )  # fmt: skip
            return "claimed" if res.rowcount == 1 else "gone"

    def renew(self, unit_id: int) -> bool:
        """Extend this worker's lease; False: the unit was cancelled or handed to another."""
        c, now = work_units.c, utcnow()
        mine = and_(c.id == unit_id, c.owner == self.worker, c.state == "running")
        with self.units.engine.begin() as conn:
            res = conn.execute(update(work_units).where(mine).values(lease_until=now + self.lease))
            return res.rowcount == 1

    def fail(self, unit_id: int, reason: str) -> None:
        """The task itself broke (not the mailbox): the unit ends failed with *reason*."""
        c = work_units.c
        mine = and_(c.id == unit_id, c.owner == self.worker, c.state == "running")
        with self.units.engine.begin() as conn:
            conn.execute(
                update(work_units).where(mine).values(
                    state="failed", last_error=reason, owner=None, lease_until=None,
                    finished_at=utcnow(),
                )
            )  # fmt: skip

    def expired(self, max_attempts: int) -> list[Handed]:
        """Units whose worker stopped renewing: each handed back by exactly one caller."""
        c, now = work_units.c, utcnow()
        with self.units.engine.connect() as conn:
            stale = conn.execute(
                select(c.id, c.state, c.attempts, c.spec, c.owner, c.lease_until).where(
                    c.state.in_(("running", "queued")), c.owner.is_not(None), c.lease_until < now
                )
            ).all()
        handed: list[Handed] = []
        for unit_id, state, attempts, spec, owner, until in stale:
            failed = state == "running" and attempts >= max_attempts
            values = (
                {"state": "failed", "finished_at": now,
                 "last_error": f"worker {owner} stopped answering; tried {attempts} times"}
                if failed
                else {"state": "queued", "last_error": f"worker {owner} stopped answering"}
            )  # fmt: skip
            same = and_(c.id == unit_id, c.state == state, c.owner == owner,
                        c.lease_until == until)  # fmt: skip
            with self.units.engine.begin() as conn:
                res = conn.execute(
                    update(work_units).where(same).values(owner=None, lease_until=None, **values)
                )
            if res.rowcount == 1:
                handed.append(Handed(int(unit_id), spec, failed))
        return handed

    def note(self, unit_id: int, text_: str) -> None:
        """A word on an ended unit (a mailbox split into folder units says so)."""
        with self.units.engine.begin() as conn:
            conn.execute(
                update(work_units).where(work_units.c.id == unit_id).values(last_error=text_)
            )

    def run_of(self, unit_id: int) -> tuple[str, str]:
        """(run, kind) of a unit: where a unit it spawns belongs."""
        c = work_units.c
        with self.units.engine.connect() as conn:
            row = conn.execute(select(c.run, c.kind).where(c.id == unit_id)).one()
        return str(row.run), str(row.kind)

    def state(self, unit_id: int) -> str | None:
        with self.units.engine.connect() as conn:
            row = conn.execute(select(work_units.c.state).where(work_units.c.id == unit_id)).first()
        return str(row[0]) if row else None


def cancel(units: WorkUnits, unit_id: int) -> bool:
    """Cancel a unit not yet finished; a worker running it stops at its next renewal."""
    c = work_units.c
    with units.engine.begin() as conn:
        res = conn.execute(
            update(work_units).where(c.id == unit_id, c.state.in_(("queued", "running"))).values(
                state="cancelled", owner=None, lease_until=None, finished_at=utcnow(),
                last_error="cancelled with 'skylift jobs cancel'",
            )
        )  # fmt: skip
        return res.rowcount == 1


def requeue(units: WorkUnits, unit_id: int) -> str | None:
    """Queue a finished unit again (``skylift jobs retry``); returns its spec, None if it ran
    locally (rerun the command then). Raises LookupError if there is no such unit, ValueError
    if it is still queued or running."""
    c = work_units.c
    with units.engine.begin() as conn:
        row = conn.execute(select(c.state, c.spec).where(c.id == unit_id)).first()
        if row is None:
            raise LookupError(unit_id)
        if row.state not in TERMINAL:
            raise ValueError(row.state)
        if row.spec is None:
            return None
        conn.execute(
            update(work_units).where(c.id == unit_id).values(
                state="queued", owner=None, lease_until=None, finished_at=None, last_error=None
            )
        )  # fmt: skip
        return str(row.spec)
