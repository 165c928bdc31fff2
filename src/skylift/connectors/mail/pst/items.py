"""Appointments and contacts of a PST as .ics and .vcf files, until calendars are migrated.

Outlook keeps most calendar and contact fields in *named* properties (a GUID plus a number)
whose tag differs from file to file; :func:`named_tags` reads the store's name-to-id map
(MS-PST 2.4.7) to find them. Recurring appointments get an RRULE from the recurrence
pattern (MS-OXOCAL 2.2.1.44.1); exceptions to a series are not exported.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import vobject
from icalendar import Calendar, Event, vRecur

from skylift.connectors.mail.pst.message import (
    PR_CREATION_TIME,
    PR_DISPLAY_NAME,
    Properties,
    subject,
    text,
    when,
)

PS_MAPI = UUID("00020328-0000-0000-c000-000000000046")
PS_PUBLIC_STRINGS = UUID("00020329-0000-0000-c000-000000000046")
PSETID_APPOINTMENT = UUID("00062002-0000-0000-c000-000000000046")
PSETID_ADDRESS = UUID("00062004-0000-0000-c000-000000000046")

# (property set, dispatch id) of the named properties used here
APPT_START, APPT_END = (PSETID_APPOINTMENT, 0x820D), (PSETID_APPOINTMENT, 0x820E)
APPT_LOCATION, APPT_ALL_DAY = (PSETID_APPOINTMENT, 0x8208), (PSETID_APPOINTMENT, 0x8215)
APPT_RECUR = (PSETID_APPOINTMENT, 0x8216)
EMAIL1, EMAIL2, EMAIL3 = (
    (PSETID_ADDRESS, 0x8083),
    (PSETID_ADDRESS, 0x8093),
    (PSETID_ADDRESS, 0x80A3),
)
FILE_AS = (PSETID_ADDRESS, 0x8005)

PR_BODY = 0x1000
PR_LAST_MODIFICATION_TIME = 0x3008
PR_GIVEN_NAME, PR_SURNAME, PR_MIDDLE_NAME = 0x3A06, 0x3A11, 0x3A44
PR_COMPANY, PR_TITLE, PR_HOMEPAGE = 0x3A16, 0x3A17, 0x3A51
_PHONES = {0x3A08: "work", 0x3A09: "home", 0x3A1C: "cell", 0x3A24: "fax"}

_FREQ = {0x200A: "DAILY", 0x200B: "WEEKLY", 0x200C: "MONTHLY", 0x200D: "YEARLY"}
_DAYS = ("SU", "MO", "TU", "WE", "TH", "FR", "SA")
_EPOCH_1601 = datetime(1601, 1, 1, tzinfo=UTC)
_END_BY_DATE, _END_AFTER_N = 0x2021, 0x2022


def named_tags(pff_file: Any) -> dict[tuple[UUID, int], int]:
    """(property set GUID, dispatch id) -> property tag, from the name-to-id map."""
    try:
        item = pff_file.name_to_id_map
    except OSError:
        return {}
    if item is None:
        return {}
    entries = {e.entry_type: e for rs in item.record_sets for e in rs.entries}
    guids = (entries[0x0002].data or b"") if 0x0002 in entries else b""
    stream = (entries[0x0003].data or b"") if 0x0003 in entries else b""
    tags: dict[tuple[UUID, int], int] = {}
    for offset in range(0, len(stream) - 7, 8):
        prop_id, guid_field, index = struct.unpack_from("<IHH", stream, offset)
        if guid_field & 1:
            continue  # named by a string, not a number: none of ours
        guid_index = guid_field >> 1
        if guid_index == 1:
            guid = PS_MAPI
        elif guid_index == 2:
            guid = PS_PUBLIC_STRINGS
        else:
            raw = guids[(guid_index - 3) * 16 : (guid_index - 2) * 16]
            if len(raw) != 16:
                continue
            guid = UUID(bytes_le=raw)
        tags[(guid, prop_id)] = 0x8000 + index
    return tags


class _Named:
    """Property lookups by name for one item."""

    def __init__(self, props: Properties, tags: Mapping[tuple[UUID, int], int]) -> None:
        self.props = props
        self.tags = tags

    def tag(self, name: tuple[UUID, int]) -> int:
        return self.tags.get(name, -1)

    def text(self, name: tuple[UUID, int]) -> str | None:
        return text(self.props, self.tag(name))

    def when(self, name: tuple[UUID, int]) -> datetime | None:
        return when(self.props, self.tag(name))

    def flag(self, name: tuple[UUID, int]) -> bool:
        entry = self.props.get(self.tag(name))
        return bool(entry is not None and entry.data and entry.data[:1] != b"\0")

    def binary(self, name: tuple[UUID, int]) -> bytes | None:
        entry = self.props.get(self.tag(name))
        return entry.data if entry is not None and entry.value_type == 0x102 else None


def appointment_ics(uid: str, props: Properties, tags: Mapping[tuple[UUID, int], int]) -> bytes:
    """One VCALENDAR with one VEVENT for an IPM.Appointment item."""
    named = _Named(props, tags)
    event = Event()
    event.add("uid", f"skylift-pst-{uid}")
    event.add("dtstamp", when(props, PR_LAST_MODIFICATION_TIME) or datetime(2000, 1, 1, tzinfo=UTC))
    event.add("summary", subject(props) or "")
    start, end = named.when(APPT_START), named.when(APPT_END)
    if start is not None:
        if named.flag(APPT_ALL_DAY):
            event.add("dtstart", start.date())
            event.add("dtend", (end or start + timedelta(days=1)).date())
        else:
            event.add("dtstart", start)
            if end is not None:
                event.add("dtend", end)
    location = named.text(APPT_LOCATION)
    if location:
        event.add("location", location)
    body = text(props, PR_BODY)
    if body and body.strip():
        event.add("description", body.replace("\r\n", "\n"))
    created = when(props, PR_CREATION_TIME)
    if created:
        event.add("created", created)
    pattern = named.binary(APPT_RECUR)
    rule = recurrence_rule(pattern, start) if pattern else None
    if rule:
        event.add("rrule", rule)
    calendar = Calendar()
    calendar.add("prodid", "-//skylift//PST export//EN")
    calendar.add("version", "2.0")
    calendar.add_component(event)
    return bytes(calendar.to_ical())


def recurrence_rule(pattern: bytes, start: datetime | None = None) -> vRecur | None:
    """An RRULE for the common Outlook patterns; None when the pattern is not understood."""
    try:
        _reader, _writer, frequency, pattern_type, _calendar = struct.unpack_from("<5H", pattern, 0)
        _first, period, _sliding = struct.unpack_from("<3I", pattern, 10)
        offset = 22
        rule: dict[str, Any] = {"freq": _FREQ[frequency]}
        if pattern_type == 0x0000:  # every N days (period in minutes)
            rule["interval"] = max(period // 1440, 1)
        elif pattern_type == 0x0001:  # weekly on a set of days
            (days,) = struct.unpack_from("<I", pattern, offset)
            offset += 4
            rule["byday"] = [d for i, d in enumerate(_DAYS) if days & (1 << i)]
            rule["interval"] = max(period, 1)
        elif pattern_type in (0x0002, 0x0004):  # day N of the month, or the last day
            (day,) = struct.unpack_from("<I", pattern, offset)
            offset += 4
            rule["bymonthday"] = -1 if pattern_type == 0x0004 or day == 31 else day
        elif pattern_type == 0x0003:  # the Nth weekday(s) of the month
            days, nth = struct.unpack_from("<2I", pattern, offset)
            offset += 8
            rule["byday"] = [d for i, d in enumerate(_DAYS) if days & (1 << i)]
            rule["bysetpos"] = -1 if nth == 5 else nth
        else:
            return None
        if frequency in (0x200C, 0x200D):
            rule["interval"] = max(period // 12, 1) if frequency == 0x200D else max(period, 1)
        if frequency == 0x200D:  # without BYMONTH a yearly BYMONTHDAY means every month
            if start is None:
                return None
            rule["bymonth"] = start.month
        end_type, count = struct.unpack_from("<2I", pattern, offset)
        offset += 12  # EndType, OccurrenceCount, FirstDOW
        (deleted,) = struct.unpack_from("<I", pattern, offset)
        offset += 4 + 4 * deleted
        (modified,) = struct.unpack_from("<I", pattern, offset)
        offset += 4 + 4 * modified
        _start_date, end_date = struct.unpack_from("<2I", pattern, offset)
        if end_type == _END_AFTER_N:
            rule["count"] = count
        elif end_type == _END_BY_DATE:
            rule["until"] = (_EPOCH_1601 + timedelta(minutes=end_date)).date()
        return vRecur(rule)
    except (struct.error, KeyError):
        return None


def contact_vcf(props: Properties, tags: Mapping[tuple[UUID, int], int]) -> bytes:
    """A vCard 3.0 for an IPM.Contact item."""
    named = _Named(props, tags)
    card = vobject.vCard()
    given, family = text(props, PR_GIVEN_NAME) or "", text(props, PR_SURNAME) or ""
    card.add("n").value = vobject.vcard.Name(
        family=family, given=given, additional=text(props, PR_MIDDLE_NAME) or ""
    )
    full = text(props, PR_DISPLAY_NAME) or " ".join(p for p in (given, family) if p)
    card.add("fn").value = full or named.text(FILE_AS) or "?"
    for name in (EMAIL1, EMAIL2, EMAIL3):
        address = named.text(name)
        if address:
            card.add("email").value = address
    for tag, kind in _PHONES.items():
        number = text(props, tag)
        if number:
            phone = card.add("tel")
            phone.value = number
            phone.type_param = kind
    company = text(props, PR_COMPANY)
    if company:
        card.add("org").value = [company]
    for tag, field in ((PR_TITLE, "title"), (PR_HOMEPAGE, "url")):
        value = text(props, tag)
        if value:
            card.add(field).value = value
    body = text(props, PR_BODY)
    if body and body.strip():
        card.add("note").value = body.replace("\r\n", "\n")
    return str(card.serialize()).encode("utf-8")


def safe_file_name(value: str, fallback: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in " ._-" else "_" for c in value).strip(" .")
    return cleaned[:80] or fallback
