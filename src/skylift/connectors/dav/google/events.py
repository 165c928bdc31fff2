"""iCalendar VEVENTs <-> Google Calendar ``Event`` resources, and what Google cannot hold.

One calendar object (one UID) becomes one series event plus one event per overridden
occurrence (RECURRENCE-ID -> ``originalStartTime``; a cancelled occurrence is an override
with ``status: cancelled``, an EXDATE stays an ``EXDATE`` line). Kept: summary, description,
location, start/end with their IANA time zone (Google wants IANA names; a floating time is
taken as the calendar's zone, UTC), RRULE/RDATE/EXDATE lines, organizer, attendees with their
answers, VALARM display/email reminders (minutes before start), transparency, class,
sequence. Google has no place for VTODO, VJOURNAL or VFREEBUSY: :func:`unsupported` says so
for each object, and the connector refuses them with those words (reported, never dropped
quietly; the ``assess`` check names them before the move).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar, Component, Event, vCalAddress, vRecur

RESPONSE = {
    "ACCEPTED": "accepted", "DECLINED": "declined", "TENTATIVE": "tentative",
    "NEEDS-ACTION": "needsAction", "DELEGATED": "needsAction",
}  # fmt: skip
PARTSTAT = {v: k for k, v in RESPONSE.items() if k != "DELEGATED"}
NOT_EVENTS = ("VTODO", "VJOURNAL", "VFREEBUSY")
MAX_REMINDERS = 5  # Event.reminders.overrides: "The maximum number of override reminders is 5"


def unsupported(raw: bytes) -> str | None:
    """Why Google Calendar cannot hold this object (a task, a journal), or None."""
    try:
        cal = Calendar.from_ical(raw)
    except ValueError as exc:
        return f"not valid iCalendar ({exc})"
    names = {c.name for c in cal.walk() if c.name in NOT_EVENTS}
    if names and not any(c.name == "VEVENT" for c in cal.walk()):
        what = ", ".join(sorted(names))
        return f"Google Calendar holds no {what} (tasks/journals): not moved, reported"
    return None


def _zone(value: Any) -> str | None:
    tz = getattr(value, "tzinfo", None)
    if tz is None:
        return None
    key = getattr(tz, "key", None) or getattr(tz, "zone", None)
    if key:
        return str(key)
    if value.utcoffset() == dt.timedelta(0):
        return "UTC"
    return None


def when(value: Any, series_zone: str | None = None) -> dict[str, str]:
    """An ``EventDateTime``: ``date`` for a day, else ``dateTime`` with an IANA zone."""
    if not isinstance(value, dt.datetime):
        return {"date": value.isoformat()}
    zone = _zone(value)
    if value.tzinfo is None:  # floating: the calendar's zone (UTC here)
        value = value.replace(tzinfo=dt.UTC)
        zone = series_zone or "UTC"
    elif zone is None:  # a VTIMEZONE with no IANA name: keep the instant, in UTC
        value = value.astimezone(dt.UTC)
        zone = "UTC"
    out = {"dateTime": value.isoformat(timespec="seconds")}
    out["timeZone"] = zone
    return out


def _recurrence(component: Component) -> list[str]:
    lines = []
    for name in ("RRULE", "EXRULE", "RDATE", "EXDATE"):
        values = component.get(name)
        if values is None:
            continue
        for value in values if isinstance(values, list) else [values]:
            if isinstance(value, vRecur):
                lines.append(f"{name}:{value.to_ical().decode()}")
            else:
                lines.append(_dates_line(name, value))
    return lines


def _dates_line(name: str, value: Any) -> str:
    dts = [d.dt[0] if isinstance(d.dt, tuple) else d.dt for d in value.dts]  # PERIOD: its start
    first = dts[0]
    if not isinstance(first, dt.datetime):
        return f"{name};VALUE=DATE:" + ",".join(d.strftime("%Y%m%d") for d in dts)
    zone = _zone(first)
    if first.tzinfo is None:
        return f"{name}:" + ",".join(d.strftime("%Y%m%dT%H%M%S") for d in dts)
    if zone and zone != "UTC":
        return f"{name};TZID={zone}:" + ",".join(d.strftime("%Y%m%dT%H%M%S") for d in dts)
    utc = [d.astimezone(dt.UTC) for d in dts]
    return f"{name}:" + ",".join(d.strftime("%Y%m%dT%H%M%SZ") for d in utc)


def _person(value: vCalAddress) -> dict[str, Any]:
    email = str(value).removeprefix("mailto:").removeprefix("MAILTO:")
    out: dict[str, Any] = {"email": email}
    if value.params.get("CN"):
        out["displayName"] = str(value.params["CN"])
    return out


def _reminders(component: Component) -> dict[str, Any]:
    overrides = []
    for alarm in component.walk("VALARM"):
        trigger = alarm.get("TRIGGER")
        if trigger is None or not isinstance(trigger.dt, dt.timedelta):
            continue
        minutes = int(-trigger.dt.total_seconds() // 60)
        if minutes < 0 or minutes > 40320:
            continue
        method = "email" if str(alarm.get("ACTION", "")).upper() == "EMAIL" else "popup"
        overrides.append({"method": method, "minutes": minutes})
    return {"useDefault": False, "overrides": overrides[:MAX_REMINDERS]}


def to_google(component: Component, uid: str, series_zone: str | None = None) -> dict[str, Any]:
    """The ``events.import`` body for one VEVENT (the series or one override)."""
    start = component.decoded("DTSTART")
    if component.get("DTEND") is not None:
        end = component.decoded("DTEND")
    elif component.get("DURATION") is not None:
        end = start + component.decoded("DURATION")
    else:
        end = start if isinstance(start, dt.datetime) else start + dt.timedelta(days=1)
    body: dict[str, Any] = {
        "iCalUID": uid,
        "start": when(start, series_zone),
        "end": when(end, series_zone),
        "eventType": "default",
    }
    for prop, name in (("SUMMARY", "summary"), ("DESCRIPTION", "description"),
                       ("LOCATION", "location")):  # fmt: skip
        if component.get(prop) is not None:
            body[name] = str(component.get(prop))
    if component.get("SEQUENCE") is not None:
        body["sequence"] = int(component.get("SEQUENCE"))
    recurrence = _recurrence(component)
    if recurrence:
        body["recurrence"] = recurrence
        if "timeZone" not in body["start"]:  # all-day series: Google still wants a zone
            body["start"]["timeZone"] = body["end"]["timeZone"] = series_zone or "UTC"
    if str(component.get("STATUS", "")).upper() == "CANCELLED":
        body["status"] = "cancelled"
    elif str(component.get("STATUS", "")).upper() == "TENTATIVE":
        body["status"] = "tentative"
    if str(component.get("TRANSP", "")).upper() == "TRANSPARENT":
        body["transparency"] = "transparent"
    klass = str(component.get("CLASS", "")).upper()
    if klass in ("PRIVATE", "CONFIDENTIAL"):
        body["visibility"] = "private" if klass == "PRIVATE" else "confidential"
    if component.get("ORGANIZER") is not None:
        body["organizer"] = _person(component.get("ORGANIZER"))
    attendees = component.get("ATTENDEE")
    if attendees is not None:
        people = []
        for person in attendees if isinstance(attendees, list) else [attendees]:
            entry = _person(person)
            entry["responseStatus"] = RESPONSE.get(
                str(person.params.get("PARTSTAT", "NEEDS-ACTION")).upper(), "needsAction"
            )
            if str(person.params.get("ROLE", "")).upper() == "OPT-PARTICIPANT":
                entry["optional"] = True
            people.append(entry)
        body["attendees"] = people
    body["reminders"] = _reminders(component)
    return body


def google_bodies(raw: bytes) -> list[dict[str, Any]]:
    """Every ``events.import`` body for one calendar object: the series first, then overrides."""
    cal = Calendar.from_ical(raw)
    events = [c for c in cal.walk("VEVENT")]
    series = [e for e in events if e.get("RECURRENCE-ID") is None]
    overrides = [e for e in events if e.get("RECURRENCE-ID") is not None]
    uid = str((series or overrides)[0].get("UID"))
    zone = None
    if series:
        zone = when(series[0].decoded("DTSTART")).get("timeZone")
    bodies = [to_google(e, uid) for e in series]
    for override in overrides:
        body = to_google(override, uid, zone)
        body["originalStartTime"] = when(override.decoded("RECURRENCE-ID"), zone)
        bodies.append(body)
    return bodies


# -- back out: Google events -> one iCalendar object ------------------------------------------


def _parse_when(value: dict[str, str]) -> Any:
    if "date" in value:
        return dt.date.fromisoformat(value["date"])
    moment = dt.datetime.fromisoformat(value["dateTime"].replace("Z", "+00:00"))
    zone = value.get("timeZone")
    if zone and zone != "UTC":
        return moment.astimezone(ZoneInfo(zone))
    return moment.astimezone(dt.UTC)


def _vevent(event: dict[str, Any]) -> Event:
    out = Event()
    out.add("UID", event["iCalUID"])
    out.add("DTSTART", _parse_when(event["start"]))
    out.add("DTEND", _parse_when(event["end"]))
    if "originalStartTime" in event:
        out.add("RECURRENCE-ID", _parse_when(event["originalStartTime"]))
    for name, prop in (("summary", "SUMMARY"), ("description", "DESCRIPTION"),
                       ("location", "LOCATION")):  # fmt: skip
        if event.get(name):
            out.add(prop, event[name])
    if "sequence" in event:
        out.add("SEQUENCE", event["sequence"])
    if event.get("status") == "cancelled":
        out.add("STATUS", "CANCELLED")
    if event.get("transparency") == "transparent":
        out.add("TRANSP", "TRANSPARENT")
    if "organizer" in event:
        org = vCalAddress(f"mailto:{event['organizer']['email']}")
        out.add("ORGANIZER", org)
    for person in event.get("attendees", []):
        att = vCalAddress(f"mailto:{person['email']}")
        att.params["PARTSTAT"] = PARTSTAT.get(person.get("responseStatus", ""), "NEEDS-ACTION")
        if person.get("displayName"):
            att.params["CN"] = person["displayName"]
        out.add("ATTENDEE", att)
    ical = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n" + "\r\n".join(event.get("recurrence", []))
    ical += "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    if event.get("recurrence"):
        parsed = next(iter(Calendar.from_ical(ical).walk("VEVENT")))
        for name in ("RRULE", "EXRULE", "RDATE", "EXDATE"):
            if parsed.get(name) is not None:
                out[name] = parsed[name]
    return out


def to_ical(events: list[dict[str, Any]]) -> bytes:
    """One VCALENDAR from a series and its overrides as Google holds them."""
    cal = Calendar()
    cal.add("PRODID", "-//skylift//Google Calendar export//EN")
    cal.add("VERSION", "2.0")
    ordered = sorted(events, key=lambda e: "originalStartTime" in e)
    for event in ordered:
        cal.add_component(_vevent(event))
    return cal.to_ical()  # type: ignore[no-any-return]
