"""Feed the wave planner from an assessment and write waves.csv for ``migrate --waves``.

waves.csv is the users CSV row for row, columns untouched, plus ``Wave`` and ``Parallel``
(the mailboxes at once the plan assumed): migrate reads it exactly like the users CSV, and
runs that many at once unless ``--parallel`` says otherwise, so waves last what was planned. It is written owner-only (0600) because it carries whatever
the users CSV carries (prefer ``env:``/``file:`` password cells).
"""

from __future__ import annotations

import csv
import os
import statistics
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from skylift.engine.assess.waves import Plan, PlanUser
from skylift.errors import ConfigError

TRUE_CELLS = {"1", "y", "yes", "true", "x", "vip"}


def plan_users(
    assessment: dict[str, Any],
    *,
    group_by: str | None = None,
    first: Iterable[str] = (),
    measured: dict[str, float] | None = None,
) -> list[PlanUser]:
    """Turn assessed users into planner input.

    *first* entries match a user key or login, a value of the *group_by* column, or a
    column whose cell is truthy (``--first VIP`` with a VIP column of yes/1/x).
    *measured* maps user key -> bytes/s from a pilot; it replaces the estimate, and users
    not in the pilot get the pilot's median rate. Users the assessment could not read (a
    failed login, say) are left out: a wave would fail on them at cut-over; see
    :func:`not_assessed`.
    """
    users = assessment.get("users", [])
    wanted = {f.strip() for f in first if f.strip()}
    if group_by and users and not any(group_by in (u.get("extra") or {}) for u in users):
        raise ConfigError(f"--group-by {group_by}: no such column in the users CSV")
    login_to_key = {u.get("login", u["user"]): u["user"] for u in users}
    keys = {u["user"] for u in users}
    matched: set[str] = set()
    result: list[PlanUser] = []
    pilot_rate = statistics.median(measured.values()) if measured else None
    for user in users:
        key = user["user"]
        extra = user.get("extra") or {}
        group = extra.get(group_by, "") if group_by else ""
        hits = {
            w
            for w in wanted
            if w in (key, user.get("login"))
            or (group_by and w == group)
            or extra.get(w, "").strip().lower() in TRUE_CELLS
        }
        matched |= hits
        hours = float((user.get("estimate") or {}).get("hours", 0.0))
        source = "assessment:" + str((user.get("estimate") or {}).get("bound", "none"))
        rate = (measured or {}).get(key)
        if rate:
            hours = int(user.get("bytes", 0)) / rate / 3600
            source = "measured"
        elif pilot_rate:
            hours = int(user.get("bytes", 0)) / pilot_rate / 3600
            source = "pilot-median"
        if user.get("status") != "ok":
            continue
        shares = tuple(
            sorted({login_to_key.get(s, s) for s in user.get("shares_with", [])} & keys - {key})
        )
        result.append(
            PlanUser(
                key=key,
                hours=hours,
                bytes=int(user.get("bytes", 0)),
                group=group,
                first=bool(hits),
                shares_with=shares,
                rate_source=source,
            )
        )
    missing = sorted(wanted - matched)
    if missing:
        raise ConfigError(f"--first {', '.join(missing)}: matches no user, group or column")
    return result


def not_assessed(assessment: dict[str, Any]) -> dict[str, str]:
    """User key -> assessment status, for every user the planner leaves out of the waves."""
    return {
        u["user"]: str(u.get("status") or "unknown")
        for u in assessment.get("users", [])
        if u.get("status") != "ok"
    }


def read_measured_rates(path: Path) -> dict[str, float]:
    """Read a CSV ``user,bytes_per_second`` of rates measured in a pilot migration."""
    try:
        rows = list(csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines()))
    except OSError as exc:
        raise ConfigError(f"cannot read measured rates {path}: {exc.strerror}") from None
    rates: dict[str, float] = {}
    for lineno, row in enumerate(rows, start=2):
        try:
            rate = float(row["bytes_per_second"])
            rates[row["user"].strip()] = rate
        except (KeyError, ValueError, AttributeError):
            raise ConfigError(
                f"{path.name} line {lineno}: expected columns user,bytes_per_second"
            ) from None
        if rate <= 0:
            raise ConfigError(f"{path.name} line {lineno}: rate must be more than zero")
    return rates


def write_waves_csv(users_csv: Path, plan: Plan, out: Path) -> int:
    """Copy *users_csv* to *out* with a ``Wave`` column; return the rows written."""
    try:
        text = users_csv.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"cannot read users CSV {users_csv}: {exc.strerror}") from None
    reader = csv.DictReader(text.splitlines())
    header = [h for h in (reader.fieldnames or []) if h is not None]
    if "EmailAddress" not in [h.strip() for h in header]:
        raise ConfigError(f"{users_csv}: not a users CSV (no EmailAddress column)")
    email_col = next(h for h in header if h.strip() == "EmailAddress")
    columns = [h for h in header if h.strip() not in ("Wave", "Parallel")] + ["Wave", "Parallel"]
    where = {key.lower(): n for key, n in plan.wave_of().items()}
    written = 0
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as exc:
        raise ConfigError(f"cannot write {out}: {exc.strerror}") from None
    with os.fdopen(fd, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in reader:
            email = (row.get(email_col) or "").strip()
            if not email:
                continue
            wave = where.get(email.lower())
            row["Wave"] = "" if wave is None else str(wave)
            row["Parallel"] = str(plan.lanes)
            writer.writerow(row)
            written += 1
    return written


def plan_to_dict(plan: Plan, left_out: dict[str, str]) -> dict[str, Any]:
    """The plan as JSON: waves with users, hours and data; oversize users with advice.

    *left_out* (user -> status) are the users kept out of every wave.
    """
    return {
        "window_hours": round(plan.window_hours, 3),
        "capacity_hours": round(plan.capacity_hours, 3),
        "parallel": plan.lanes,
        "rate_sources": plan.rate_sources,
        "waves": [
            {
                "wave": w.number,
                "users": w.users,
                "hours": round(w.hours, 3),
                "bytes": w.bytes,
                "prestage": w.prestage,
            }
            for w in plan.waves
        ],
        "oversize": [
            {
                "user": o.key,
                "hours": round(o.hours, 3),
                "wave": o.wave,
                "advice": o.advice(plan.capacity_hours),
            }
            for o in plan.oversize
        ],
        "overrun_waves": plan.overrun,
        "split_groups": plan.split_groups,
        "not_assessed": sorted(left_out),
        "left_out": [{"user": k, "status": v} for k, v in sorted(left_out.items())],
        "requested_waves": plan.requested_waves,
        "fewer_waves_reason": plan.fewer_waves_reason,
    }
