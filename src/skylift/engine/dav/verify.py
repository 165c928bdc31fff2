"""Check that the target holds the same calendars and contacts as the source.

Events are compared by what a user sees, not by bytes: every occurrence in a window (a year
by default) is expanded with ``recurring-ical-events`` on both sides, so a lost RRULE,
EXDATE, RECURRENCE-ID override or time zone shows up as a missing or moved occurrence.
Contacts are compared property by property, after unfolding and with parameter order and
case ignored, so a server that re-serialises a card is not blamed for it.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import icalendar
import recurring_ical_events

from skylift.engine.dav.vcard import logical_lines, parse_line
from skylift.model.dav import decode_dav_text

Occurrence = tuple[str, str, str, str, str, str]
IGNORED_CARD_PROPERTIES = frozenset({"BEGIN", "END", "VERSION", "PRODID", "REV"})


def _moment(value: Any) -> str:
    """A comparable spelling of a start/end: UTC for zoned times, marked for floating ones."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.isoformat() + " floating"
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def occurrences(raw: bytes, start: date, end: date) -> set[Occurrence]:
    """Every occurrence of the object's events/tasks between *start* and *end*.

    Each is (uid, start, end, time zone id, summary, status); ValueError if it cannot expand.
    """
    try:
        calendar = icalendar.Calendar.from_ical(decode_dav_text(raw))
        expanded = recurring_ical_events.of(calendar, components=["VEVENT", "VTODO", "VJOURNAL"])
        found = set()
        for component in expanded.between(start, end):
            dtstart = component.get("DTSTART")
            dtend = component.get("DTEND") or component.get("DUE")
            found.add(
                (
                    str(component.get("UID", "")),
                    _moment(dtstart.dt) if dtstart else "",
                    _moment(dtend.dt) if dtend else "",
                    str(dtstart.params.get("TZID", "")) if dtstart else "",
                    str(component.get("SUMMARY", "")),
                    str(component.get("STATUS", "")),
                )
            )
    except Exception as exc:  # the expander raises many kinds for odd input
        raise ValueError(f"cannot expand occurrences: {exc}") from exc
    return found


def default_window(today: date | None = None) -> tuple[date, date]:
    """From today to a year ahead."""
    today = today or date.today()
    return today, today + timedelta(days=366)


def seen(found: set[Occurrence]) -> set[Occurrence]:
    """What a user sees of each occurrence in a target that rebuilds objects (a cloud API):
    its instants and title. A zone's name may change (Europe/Paris read back as the Windows
    zone's Europe/Berlin), a floating time or a task's due day is pinned to UTC, a cancelled
    occurrence is simply not there; none of that moves an occurrence."""
    out = set()
    for uid, begin, finish, _tzid, summary, status in found:
        if status.upper() == "CANCELLED":
            continue
        out.add((uid, _instant(begin), _instant(finish), "", summary, ""))
    return out


def _instant(moment: str) -> str:
    text = moment.replace(" floating", "+00:00")
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return text
    if value.tzinfo is None:  # a date, or a floating time: the target pins both to UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


def compare_events(
    source: bytes, target: bytes, start: date, end: date, rebuilt: bool = False
) -> list[str]:
    """Differences between the occurrences of two versions of one object (empty: same).

    Equal bytes, or the same content lines in another order, are the same object even when
    no expander can read it (an out-of-range UTC offset the servers keep as they got it).
    *rebuilt*: the target rebuilds objects from its own fields; compare what a user sees."""
    if source.replace(b"\r\n", b"\n") == target.replace(b"\r\n", b"\n"):
        return []
    try:
        mine, theirs = occurrences(source, start, end), occurrences(target, start, end)
        if rebuilt:
            mine, theirs = seen(mine), seen(theirs)
    except ValueError:
        # A server that re-serialises (Radicale) moves lines, it does not change them.
        if Counter(_content_lines(source)) == Counter(_content_lines(target)):
            return []
        raise
    problems = [f"missing on the target: {_show(o)}" for o in sorted(mine - theirs)]
    problems += [f"only on the target: {_show(o)}" for o in sorted(theirs - mine)]
    return problems


def _content_lines(raw: bytes) -> list[str]:
    return [line.strip() for line in logical_lines(decode_dav_text(raw))]


def _show(occurrence: Occurrence) -> str:
    _, begin, _, tzid, summary, _ = occurrence
    return f"{summary or '(no title)'} at {begin}" + (f" ({tzid})" if tzid else "")


def card_fields(raw: bytes) -> Counter[tuple[str, tuple[str, ...], str]]:
    """The properties of a card as (name, sorted parameters, value), group prefixes dropped."""
    fields: Counter[tuple[str, tuple[str, ...], str]] = Counter()
    for line in logical_lines(decode_dav_text(raw)):
        prop = parse_line(line)
        if prop.name in IGNORED_CARD_PROPERTIES:
            continue
        params: list[str] = []
        for key, value in prop.params:
            if key == "TYPE" and value is not None:
                params += [f"TYPE={v.strip().upper()}" for v in value.strip('"').split(",")]
            elif key == "ENCODING" and value is not None:
                params.append(f"ENCODING={value.upper().replace('BASE64', 'B')}")
            else:
                params.append(f"{key}={value}" if value is not None else key)
        value = prop.value.strip()
        if ("ENCODING=B" in params) or prop.name in ("PHOTO", "LOGO", "SOUND", "KEY"):
            value = "".join(value.split())
        fields[(prop.name, tuple(sorted(params)), value)] += 1
    return fields


#: what a user sees of a card in a target that rebuilds it (a cloud's contact fields)
SEEN_CARD_PROPERTIES = frozenset({"FN", "EMAIL", "TEL"})


def _seen_card(
    fields: Counter[tuple[str, tuple[str, ...], str]],
) -> Counter[tuple[str, tuple[str, ...], str]]:
    out: Counter[tuple[str, tuple[str, ...], str]] = Counter()
    for (name, _params, value), count in fields.items():
        if name not in SEEN_CARD_PROPERTIES:
            continue
        if name == "EMAIL":
            value = value.lower()
        elif name == "TEL":
            value = "".join(c for c in value if c.isdigit() or c == "+")
        out[(name, (), value)] += count
    return out


def compare_cards(source: bytes, target: bytes, rebuilt: bool = False) -> list[str]:
    """Differences, field by field, between the card sent and the card stored (*rebuilt*:
    the name, e-mail addresses and phone numbers a user sees, compared as values)."""
    mine, theirs = card_fields(source), card_fields(target)
    if rebuilt:
        mine, theirs = _seen_card(mine), _seen_card(theirs)
    problems = [
        f"missing on the target: {name} {value[:60]!r}"
        for (name, _, value) in sorted((mine - theirs).elements())
    ]
    problems += [
        f"only on the target: {name} {value[:60]!r}"
        for (name, _, value) in sorted((theirs - mine).elements())
    ]
    return problems
