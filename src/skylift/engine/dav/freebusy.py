"""Free/busy for coexistence: when is a user busy, as VFREEBUSY and as opaque busy blocks.

During a migration half the organisation sits on each system; a meeting invitation from one
side cannot see the other side's calendars. ``skylift freebusy publish`` reads a user's
events on one side and writes them to the other as private, opaque "Busy" blocks in a
calendar of their own, which every scheduling assistant counts. Pure: events in, bytes out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, date, datetime, time

import icalendar
import recurring_ical_events

from skylift.model.dav import decode_dav_text

Period = tuple[datetime, datetime]
FREEBUSY_COLLECTION = "skylift-freebusy"
PRODID = "-//skylift//free-busy//EN"


def _utc(value: object, fallback: datetime) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(0), UTC)
    return fallback


def busy_periods(objects: Iterable[bytes], start: datetime, end: datetime) -> list[Period]:
    """Merged busy periods of all events in *objects* between *start* and *end* (UTC).

    Transparent and cancelled occurrences do not make anyone busy. Floating times are read
    as UTC. An object that cannot be read is left out (the migration reports those).
    """
    periods: list[Period] = []
    for raw in objects:
        try:
            calendar = icalendar.Calendar.from_ical(decode_dav_text(raw))
            occurrences = list(recurring_ical_events.of(calendar).between(start, end))
        except Exception:  # unreadable objects: the migration reports them
            continue
        for event in occurrences:
            if str(event.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
                continue
            if str(event.get("STATUS", "")).upper() == "CANCELLED":
                continue
            begin = _utc(event.get("DTSTART").dt if event.get("DTSTART") else None, start)
            dtend = event.get("DTEND")
            finish = _utc(dtend.dt if dtend else None, begin)
            if finish <= begin:
                continue
            periods.append((max(begin, start), min(finish, end)))
    return merge(periods)


def merge(periods: Iterable[Period]) -> list[Period]:
    merged: list[Period] = []
    for begin, finish in sorted(periods):
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], finish))
        else:
            merged.append((begin, finish))
    return merged


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def vfreebusy(user: str, periods: list[Period], start: datetime, end: datetime) -> bytes:
    """An RFC 5545 VFREEBUSY object for *user* (what a free/busy URL serves)."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "BEGIN:VFREEBUSY",
        f"UID:skylift-freebusy-{user}",
        f"DTSTAMP:{_stamp(datetime.now(UTC))}",
        f"ORGANIZER:mailto:{user}",
        f"DTSTART:{_stamp(start)}",
        f"DTEND:{_stamp(end)}",
    ]
    lines += [f"FREEBUSY;FBTYPE=BUSY:{_stamp(b)}/{_stamp(e)}" for b, e in periods]
    lines += ["END:VFREEBUSY", "END:VCALENDAR"]
    return ("\r\n".join(lines) + "\r\n").encode()


def busy_blocks(user: str, periods: list[Period], label: str = "Busy") -> dict[str, bytes]:
    """One private, opaque event per busy period, keyed by a UID stable for that period."""
    blocks = {}
    for begin, finish in periods:
        key = hashlib.sha256(f"{user}|{_stamp(begin)}|{_stamp(finish)}".encode()).hexdigest()[:24]
        uid = f"skylift-busy-{key}"
        blocks[uid] = (
            "\r\n".join(
                [
                    "BEGIN:VCALENDAR",
                    "VERSION:2.0",
                    f"PRODID:{PRODID}",
                    "BEGIN:VEVENT",
                    f"UID:{uid}",
                    f"DTSTAMP:{_stamp(begin)}",
                    f"DTSTART:{_stamp(begin)}",
                    f"DTEND:{_stamp(finish)}",
                    f"SUMMARY:{label}",
                    "CLASS:PRIVATE",
                    "TRANSP:OPAQUE",
                    "END:VEVENT",
                    "END:VCALENDAR",
                ]
            )
            + "\r\n"
        ).encode()
    return blocks
