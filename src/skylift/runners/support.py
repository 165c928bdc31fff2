"""``skylift support report``: gather routing, mailbox-copy results and notices per user."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from skylift.engine.clients.support import SupportRow, problems_of, render_csv, render_html
from skylift.errors import ConfigError
from skylift.runners.clients import ClientDirectory
from skylift.state.notices import NoticeLedger
from skylift.state.work_units import WorkUnits


def support_report(
    directory: ClientDirectory,
    *,
    state: str,
    out: Path,
    public_url: str,
    now: datetime | None = None,
) -> list[SupportRow]:
    """Write ``support.html`` and ``support.csv`` into *out*; return the rows."""
    now = now or datetime.now(UTC)
    units = WorkUnits(state)
    ledger = NoticeLedger(units.engine)
    try:
        latest: dict[str, tuple[str, str, int]] = {}
        for row in reversed(units.list(kind="mail")):  # oldest first: the newest run wins
            latest[row.key.lower()] = (row.state, row.last_error or "", row.problems)
        users = sorted(set(directory.users()) | set(latest))
        rows = []
        for user in users:
            where = directory.placement(user, now)
            dates = directory.config.waves.get(where.wave) if where.wave else None
            unit_state, error, problems = latest.get(user, ("", "", 0))
            notices = sorted({n.notice for n in ledger.for_user(user)})
            rows.append(
                SupportRow(
                    user=user,
                    routing=where.state,
                    side=where.side,
                    wave=where.wave,
                    reason=where.reason,
                    migration=unit_state or "not started",
                    notices=notices,
                    setup_link=f"{public_url.rstrip('/')}/setup?emailaddress={quote(user)}",
                    problems=problems_of(
                        routing=where.state,
                        wave=where.wave,
                        wave_start=dates.start if dates else None,
                        wave_end=dates.end if dates else None,
                        unit_state=unit_state,
                        unit_error=error,
                        unit_problems=problems,
                        notices=notices,
                        now=now,
                    ),
                )
            )
    finally:
        units.close()
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, text in (
            ("support.html", render_html(rows, generated=now, domain=directory.domain)),
            ("support.csv", render_csv(rows)),
        ):
            fd = os.open(out / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
    except OSError as exc:
        raise ConfigError(f"cannot write the report into {out}: {exc.strerror}") from None
    return rows
