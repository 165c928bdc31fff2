"""``skylift notify``: render one wave's notice for each of its users, then write or send it.

Each message is handed to SMTP one at a time, at most ``rate`` a minute (relays and cloud
tenants throttle bulk submission), and recorded in the state store the moment the relay
accepts it, so an interrupted run resumes where it stopped and a second run sends nothing
(``resend`` sends again). A dry run writes the same messages to a folder, one ``.eml`` each.

A relay's temporary refusal (4xx: throttling, "too much mail") is retried a few times
with the shared backoff; if it persists the run stops sending — the relay would defer the
rest too — and marks the rest ``deferred``, so a rerun later sends exactly those. A relay
that cannot be reached or signed in to ends the run with one error (what was sent stays
recorded); a refused message fails alone. Ctrl-C
(*stop*) finishes the message in hand and sends no more.
"""

from __future__ import annotations

import csv
import functools
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from skylift.engine.notify import render
from skylift.errors import ConfigError, ItemRejected, TransientError
from skylift.runners.clients import ClientDirectory
from skylift.runners.retry import call_with_retry
from skylift.state.notices import NoticeLedger
from skylift.state.work_units import new_run_id

WHEN = "%a %d %b %Y %H:%M"
#: tries per message when the relay answers 4xx, before the run stops sending
SEND_ATTEMPTS = 3


@dataclass
class NotifyResult:
    notice: str
    wave: str
    items: list[dict[str, Any]] = field(default_factory=list)
    deferred_by: str = ""  # the relay's words when it kept deferring

    def count(self, status: str) -> int:
        return sum(1 for i in self.items if i["status"] == status)

    def to_dict(self) -> dict[str, Any]:
        totals: dict[str, int] = {}
        for item in self.items:
            totals[item["status"]] = totals.get(item["status"], 0) + 1
        return {"command": "notify", "notice": self.notice, "wave": self.wave,
                "totals": totals, "items": self.items, "deferred_by": self.deferred_by}  # fmt: skip


def read_people(path: Path | None) -> dict[str, dict[str, str]]:
    """Address -> row (stripped) of a users CSV; only names and languages are used."""
    if path is None:
        return {}
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"cannot read users CSV {path}: {exc.strerror}") from None
    rows = {}
    for row in csv.DictReader(text.splitlines()):
        clean = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        if clean.get("EmailAddress"):
            rows[clean["EmailAddress"].lower()] = clean
    return rows


def _setup_link(base: str, address: str) -> str:
    return f"{base.rstrip('/')}/setup?emailaddress={quote(address)}"


def notify(
    directory: ClientDirectory,
    *,
    notice: str,
    wave: str,
    users: Path | None,
    state: str,
    public_url: str,
    sender: str,
    provider: str,
    send: Callable[[Any], None] | None,
    dry_run_dir: Path | None,
    rate_per_minute: float,
    resend: bool,
    now: datetime | None = None,
    stop: threading.Event | None = None,
) -> NotifyResult:
    """Notify every user of *wave*; *send* hands one message to SMTP (None in a dry run)."""
    now = now or datetime.now(UTC)
    members = sorted(a for a, w in directory.waves.items() if w == wave)
    if not members:
        raise ConfigError(f"--wave {wave}: no user of the waves CSV is in that wave")
    dates = directory.config.waves.get(wave)
    if dates is None and notice in ("t-7", "t-1"):
        raise ConfigError(
            f"wave {wave} has no dates: add [waves.{wave}] start = ..., end = ... to --config"
        )
    people = read_people(users)
    ledger = NoticeLedger(state)
    run = new_run_id("notify")
    result = NotifyResult(notice, wave)
    gap = 60.0 / rate_per_minute if rate_per_minute > 0 else 0.0
    last_send = 0.0
    if dry_run_dir is not None:
        dry_run_dir.mkdir(parents=True, exist_ok=True)
    stop = stop or threading.Event()
    try:
        for address in members:
            if stop.is_set():
                result.items.append({"user": address, "status": "not-started"})
                continue
            if result.deferred_by:
                result.items.append(
                    {"user": address, "status": "deferred",
                     "error": "not tried: the relay deferred an earlier message"}
                )  # fmt: skip
                continue
            earlier = None if resend else ledger.sent(address, notice, wave)
            if earlier is not None:
                result.items.append(
                    {
                        "user": address,
                        "status": "already-sent",
                        "sent_at": earlier.sent_at.isoformat(timespec="seconds"),
                    }
                )
                continue
            person = people.get(address, {})
            settings = directory.settings_for(address, now)
            sides = directory.sides(settings.domain)
            cloud, onprem = sides["cloud"], sides["onprem"]
            context = {
                "name": person.get("DisplayName") or person.get("Name") or address.split("@")[0],
                "address": address,
                "wave": wave,
                "start": dates.start.strftime(WHEN) if dates else "",
                "end": dates.end.strftime(WHEN) if dates else "",
                "provider": provider,
                "new_imap": f"{cloud.imap.host}:{cloud.imap.port}",
                "new_smtp": f"{cloud.smtp.host}:{cloud.smtp.port}",
                "old_imap": f"{onprem.imap.host}:{onprem.imap.port}",
                "activesync": bool(cloud.activesync_host),
                "setup_link": _setup_link(public_url, address),
            }
            language = person.get("Language", "en").lower() or "en"
            message = render(notice, language, context, sender=sender, to=address, now=now)
            if dry_run_dir is not None:
                out = dry_run_dir / f"{address}.{notice}.eml"
                fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "wb") as handle:
                    handle.write(message.as_bytes())
                result.items.append(
                    {
                        "user": address,
                        "status": "written",
                        "file": out.name,
                        "language": message["Content-Language"],
                    }
                )
                continue
            assert send is not None
            wait = last_send + gap - time.monotonic()
            if wait > 0 and stop.wait(wait):
                result.items.append({"user": address, "status": "not-started"})
                continue
            try:
                call_with_retry(
                    functools.partial(send, message),
                    f"notice to {address}",
                    attempts=SEND_ATTEMPTS,
                )
            except TransientError as exc:
                result.deferred_by = str(exc)
                result.items.append({"user": address, "status": "deferred", "error": str(exc)})
                continue
            except ItemRejected as exc:
                result.items.append({"user": address, "status": "failed", "error": str(exc)})
                continue
            last_send = time.monotonic()
            ledger.record(
                address,
                notice,
                wave,
                str(message["Content-Language"]),
                run,
                str(message["Message-ID"]),
            )
            result.items.append(
                {
                    "user": address,
                    "status": "sent",
                    "message_id": str(message["Message-ID"]),
                    "language": message["Content-Language"],
                }
            )
    finally:
        ledger.close()
    return result
