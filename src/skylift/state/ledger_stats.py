"""Read-only summaries of the mail ledger for the dashboard and ``/metrics``.

The dashboard shows the same rows the CLI prints with ``--json`` (``jobs``: work units;
``migrate``: the ledger and its problems; ``route status``: the routing registry). This
module only adds the aggregates a page needs — a mailbox's folders with counts and bytes,
its problems in the server's words, messages copied per minute — as plain dicts.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, func, inspect, select

from skylift.state import schema as t
from skylift.state.dav_ledger import dav_items
from skylift.state.db import aware, utcnow
from skylift.state.work_units import WorkUnitRow, WorkUnits


def latest_units(units: WorkUnits, kind: str | None = None) -> dict[str, WorkUnitRow]:
    """Key -> its newest work unit (the one ``skylift jobs`` shows for the latest run)."""
    newest: dict[str, WorkUnitRow] = {}
    for row in units.list(kind=kind):
        if row.key not in newest or row.id > newest[row.key].id:
            newest[row.key] = row
    return newest


def folders(engine: Engine, mailbox: str) -> list[dict[str, Any]]:
    """Each copied folder of *mailbox*: source and target name, messages and bytes."""
    c = t.messages.c
    query = (
        select(c.source_folder, c.target_folder, func.count(), func.coalesce(func.sum(c.size), 0))
        .where(c.mailbox == mailbox, c.state == "copied")
        .group_by(c.source_folder, c.target_folder)
        .order_by(c.source_folder)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [{"source": s, "target": d, "messages": int(n), "bytes": int(b)} for s, d, n, b in rows]


def problems(engine: Engine, mailbox: str) -> list[dict[str, Any]]:
    """The items of *mailbox*'s latest run that did not arrive, with the reason given."""
    c = t.problems.c
    with engine.connect() as conn:
        last = conn.execute(select(func.max(c.run_id)).where(c.mailbox == mailbox)).scalar()
        if last is None:
            return []
        rows = conn.execute(
            select(c.kind, c.source_folder, c.source_uid, c.reason, c.size)
            .where(c.mailbox == mailbox, c.run_id == last)
            .order_by(c.id)
        ).all()
    return [{"kind": k, "folder": f, "uid": u, "reason": r, "size": s} for k, f, u, r, s in rows]


def totals(engine: Engine) -> dict[str, Any]:
    """Messages and bytes in the ledger, problems of each mailbox's latest run by kind."""
    m, p = t.messages.c, t.problems.c
    with engine.connect() as conn:
        count, size = conn.execute(
            select(func.count(), func.coalesce(func.sum(m.size), 0)).where(m.state == "copied")
        ).one()
        latest = select(p.mailbox, func.max(p.run_id).label("run")).group_by(p.mailbox).subquery()
        kinds = conn.execute(
            select(p.kind, func.count())
            .join(latest, (latest.c.mailbox == p.mailbox) & (latest.c.run == p.run_id))
            .group_by(p.kind)
        ).all()
    return {
        "messages": int(count),
        "bytes": int(size),
        "problems": {str(k): int(n) for k, n in kinds},
    }


def copied_per_mailbox(engine: Engine) -> dict[str, tuple[int, int]]:
    """Mailbox -> (messages, bytes) copied so far."""
    c = t.messages.c
    query = (
        select(c.mailbox, func.count(), func.coalesce(func.sum(c.size), 0))
        .where(c.state == "copied")
        .group_by(c.mailbox)
    )
    with engine.connect() as conn:
        return {str(mb): (int(n), int(b)) for mb, n, b in conn.execute(query)}


def throughput(engine: Engine, minutes: int = 60) -> list[dict[str, Any]]:
    """Messages and bytes copied in each of the last *minutes* minutes, oldest first (zeros too)."""
    c = t.messages.c
    now = utcnow().replace(second=0, microsecond=0)
    first = now - timedelta(minutes=minutes - 1)
    with engine.connect() as conn:
        rows = conn.execute(
            select(c.copied_at, c.size).where(c.state == "copied", c.copied_at >= first)
        ).all()
    buckets = {first + timedelta(minutes=i): [0, 0] for i in range(minutes)}
    for when, size in rows:
        stamp = aware(when)
        bucket = buckets.get(stamp.replace(second=0, microsecond=0)) if stamp else None
        if bucket is not None:
            bucket[0] += 1
            bucket[1] += int(size)
    return [
        {"minute": k.isoformat(timespec="minutes"), "messages": v[0], "bytes": v[1]}
        for k, v in sorted(buckets.items())
    ]


def dav_accounts(engine: Engine) -> list[dict[str, Any]]:
    """Each calendar/contacts account in the DAV ledger: collections and objects copied."""
    if not inspect(engine).has_table(dav_items.name):
        return []  # no migrate-calendars or migrate-contacts ran on this state yet
    c = dav_items.c
    query = (
        select(c.account, c.kind, func.count(func.distinct(c.collection)), func.count())
        .group_by(c.account, c.kind)
        .order_by(c.account, c.kind)
    )
    with engine.connect() as conn:
        return [
            {"account": a, "kind": k, "collections": int(n), "objects": int(m)}
            for a, k, n, m in conn.execute(query)
        ]
