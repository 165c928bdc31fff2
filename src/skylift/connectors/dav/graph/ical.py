"""Graph ``event`` resources -> one iCalendar object (read back, verify, a Graph source).

The series master gives DTSTART/DTEND in its ``originalStartTimeZone`` (Windows names read
through the pinned CLDR table), its ``patternedRecurrence`` as an RRULE, its
``cancelledOccurrences`` as EXDATEs; each of ``exceptionOccurrences`` is an override with
RECURRENCE-ID = its ``originalStart``. Single events that stand for an expanded series share
the UID and carry their start as RECURRENCE-ID.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from icalendar import Alarm, Calendar, Event, vBinary, vCalAddress

from skylift.connectors.dav.graph.invitations import exception_key, kept_attendees
from skylift.connectors.dav.graph.recurrence import to_rrule
from skylift.connectors.dav.graph.zones import to_zoneinfo

SENSITIVITY = {"private": "PRIVATE", "confidential": "CONFIDENTIAL"}


def _moment(value: dict[str, str], zone: str, all_day: bool) -> Any:
    moment = dt.datetime.fromisoformat(value["dateTime"][:19])
    moment = moment.replace(tzinfo=to_zoneinfo(value.get("timeZone") or "UTC"))
    local = moment.astimezone(to_zoneinfo(zone))
    return local.date() if all_day else local


def _fill(
    out: Event, event: dict[str, Any], zone: str, kept: list[dict[str, Any]] | None = None
) -> None:
    all_day = bool(event.get("isAllDay"))
    out.add("DTSTART", _moment(event["start"], zone, all_day))
    out.add("DTEND", _moment(event["end"], zone, all_day))
    if event.get("subject"):
        out.add("SUMMARY", event["subject"])
    body = event.get("body") or {}
    if body.get("content"):
        out.add("DESCRIPTION", body["content"])
    location = (event.get("location") or {}).get("displayName")
    if location:
        out.add("LOCATION", location)
    if event.get("categories"):
        out.add("CATEGORIES", event["categories"])
    if event.get("sensitivity") in SENSITIVITY:
        out.add("CLASS", SENSITIVITY[event["sensitivity"]])
    if event.get("showAs") == "free":
        out.add("TRANSP", "TRANSPARENT")
    organizer = (event.get("organizer") or {}).get("emailAddress") or {}
    if organizer.get("address"):
        out.add("ORGANIZER", _address(organizer))
    for person in event.get("attendees") or kept or []:  # kept: held back from Graph
        address = _address(person.get("emailAddress") or {})
        if person.get("type") == "optional":
            address.params["ROLE"] = "OPT-PARTICIPANT"
        elif person.get("type") == "resource":
            address.params["CUTYPE"] = "RESOURCE"
        out.add("ATTENDEE", address)
    if event.get("isReminderOn") and event.get("reminderMinutesBeforeStart") is not None:
        alarm = Alarm()
        alarm.add("ACTION", "DISPLAY")
        alarm.add("DESCRIPTION", event.get("subject") or "Reminder")
        alarm.add("TRIGGER", dt.timedelta(minutes=-int(event["reminderMinutesBeforeStart"])))
        out.add_component(alarm)


def _address(value: dict[str, str]) -> vCalAddress:
    out = vCalAddress(f"mailto:{value.get('address', '')}")
    if value.get("name"):
        out.params["CN"] = value["name"]
    return out


def _zone(event: dict[str, Any]) -> str:
    recurrence = event.get("recurrence") or {}
    return str(
        (recurrence.get("range") or {}).get("recurrenceTimeZone")
        or event.get("originalStartTimeZone")
        or "UTC"
    )


def _attach(out: Event, files: list[dict[str, Any]]) -> None:
    for item in files:
        if "contentBytes" not in item:
            continue
        value = vBinary(base64.b64decode(item["contentBytes"]))
        value.params["FMTTYPE"] = item.get("contentType") or "application/octet-stream"
        value.params["FILENAME"] = item.get("name") or "attachment"
        out.add("ATTACH", value)


def to_ical(
    uid: str, events: list[dict[str, Any]], files: dict[str, list[dict[str, Any]]] | None = None
) -> bytes:
    """One VCALENDAR from the Graph events that carry *uid* (and their attachments by id)."""
    cal = Calendar()
    cal.add("PRODID", "-//skylift//Microsoft Graph export//EN")
    cal.add("VERSION", "2.0")
    singles = len(events) > 1
    for event in events:
        zone = _zone(event)
        out = Event()
        out.add("UID", uid)
        kept = kept_attendees(event)
        _fill(out, event, zone, kept.get(""))
        _attach(out, (files or {}).get(event["id"], []))
        if singles:  # one of an expanded series
            out.add("RECURRENCE-ID", out.decoded("DTSTART"))
        if event.get("recurrence"):
            start = out.decoded("DTSTART")
            out.add("RRULE", _rrule(event["recurrence"], start))
            local = start.timetz() if isinstance(start, dt.datetime) else None
            for oid in event.get("cancelledOccurrences") or []:
                day = dt.date.fromisoformat(oid.rsplit(".", 1)[1])
                out.add("EXDATE", dt.datetime.combine(day, local) if local else day)
        cal.add_component(out)
        for exception in event.get("exceptionOccurrences") or []:
            override = Event()
            override.add("UID", uid)
            original = dt.datetime.fromisoformat(exception["originalStart"].replace("Z", "+00:00"))
            _fill(override, exception, zone, kept.get(exception_key(original)))
            rid = original.astimezone(to_zoneinfo(zone))
            override.add("RECURRENCE-ID", rid.date() if exception.get("isAllDay") else rid)
            cal.add_component(override)
    return cal.to_ical()  # type: ignore[no-any-return]


def _rrule(recurrence: dict[str, Any], start: Any) -> Any:
    from icalendar import vRecur

    return vRecur.from_ical(to_rrule(recurrence, start))
