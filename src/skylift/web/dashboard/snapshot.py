"""One picture of the move, computed from the state store on each request.

Pages, ``/api/``, the live event stream and ``/metrics`` all read this one dict, so they never
disagree. Every number comes from the rows the CLI prints with ``--json``: work units
(``skylift jobs``), the mail ledger and its problems (``migrate``), the routing registry
(``route status``). A wave's progress is the share of its mailboxes whose newest unit has
finished; its ETA the time left at the pace its finished mailboxes set.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from skylift.state import ledger_stats
from skylift.state.db import utcnow
from skylift.state.routing import RoutingRegistry
from skylift.state.work_units import WorkUnitRow, WorkUnits
from skylift.web.dashboard.control import WaveControl

FINISHED = ("done", "partial", "failed")


def _wave_status(rows: list[WorkUnitRow | None], asked: str | None) -> str:
    if asked:
        return asked
    states = [r.state if r else "not started" for r in rows]
    if all(s == "not started" for s in states):
        return "not started"
    if all(s in FINISHED for s in states):
        return "done" if all(s == "done" for s in states) else "done with problems"
    if any(s == "running" for s in states):
        return "running"
    return "stopped"


def _eta(rows: list[WorkUnitRow | None], now: datetime) -> int | None:
    """Seconds left at the pace of this run so far; None before the first mailbox finished."""
    started = [r.started_at for r in rows if r and r.started_at and r.state != "queued"]
    finished = [r for r in rows if r and r.state in FINISHED]
    if not started or not finished or len(finished) == len(rows):
        return None
    elapsed = (now - min(started)).total_seconds()
    return int(elapsed / len(finished) * (len(rows) - len(finished)))


def user_row(key: str, unit: WorkUnitRow | None, wave: str | None,
             copied: tuple[int, int], route: str | None) -> dict[str, Any]:  # fmt: skip
    return {
        "key": key,
        "wave": wave,
        "state": unit.state if unit else "not started",
        "attempts": unit.attempts if unit else 0,
        "messages": copied[0],
        "bytes": copied[1],
        "problems": unit.problems if unit else 0,
        "last_error": unit.last_error if unit else None,
        "route": route,
        "unit": unit.to_dict() if unit else None,
    }


def overview(units: WorkUnits, control: WaveControl | None) -> dict[str, Any]:
    """Waves, every mailbox, units of every kind by state, totals and throughput."""
    engine = units.engine
    latest = ledger_stats.latest_units(units, "mail")
    copied = ledger_stats.copied_per_mailbox(engine)
    with RoutingRegistry(engine) as registry:
        routes = {u: r.state.value for u, r in registry.all_current().items()}
    now = utcnow()
    waves, users, seen = [], [], set()
    plan = control.plan if control else None
    for wave, pairs in (plan.waves if plan else {}).items():
        rows = [latest.get(p.key) for p in pairs]
        done = sum(1 for r in rows if r and r.state in FINISHED)
        waves.append(
            {
                "wave": wave,
                "window": plan.windows.get(wave) if plan else None,
                "status": (_wave_status(rows, control.status(wave) if control else None)),
                "mailboxes": len(pairs),
                "finished": done,
                "percent": round(100 * done / len(pairs)) if pairs else 100,
                "messages": sum(copied.get(p.key, (0, 0))[0] for p in pairs),
                "bytes": sum(copied.get(p.key, (0, 0))[1] for p in pairs),
                "failed": sum(1 for r in rows if r and r.state in ("failed", "partial")),
                "eta_seconds": _eta(rows, now),
            }
        )
        for pair in pairs:
            seen.add(pair.key)
            users.append(user_row(pair.key, latest.get(pair.key), wave,
                                  copied.get(pair.key, (0, 0)), routes.get(pair.key)))  # fmt: skip
    for key, unit in latest.items():  # mailboxes moved from the CLI, outside the plan
        if key not in seen:
            users.append(user_row(key, unit, None, copied.get(key, (0, 0)), routes.get(key)))
    kinds: dict[str, Counter[str]] = {}
    for row in ledger_stats.latest_units(units).values():
        kinds.setdefault(row.kind, Counter())[row.state] += 1
    return {
        "command": "web overview",
        "totals": {
            **ledger_stats.totals(engine),
            "users_by_state": dict(Counter(u["state"] for u in users)),
        },
        "items": users,
        "waves": waves,
        "units_by_kind": {k: dict(v) for k, v in kinds.items()},
        "throughput": ledger_stats.throughput(engine),
        "at": now.isoformat(timespec="seconds"),
    }


def live(units: WorkUnits, control: WaveControl | None) -> dict[str, Any]:
    """What the event stream pushes: the waves and each mailbox's state and counts."""
    full = overview(units, control)
    keep = ("key", "state", "messages", "bytes", "problems", "last_error")
    return {
        "waves": full["waves"],
        "users": [{k: u[k] for k in keep} for u in full["items"]],
        "totals": full["totals"],
        "at": full["at"],
    }
