"""iCalendar VEVENTs -> Graph ``event`` bodies, and what Graph cannot hold as it is.

One calendar object (one UID) becomes a Graph series master (or single event) plus its
exceptions: a RECURRENCE-ID override is a PATCH of that occurrence, a cancelled override
or an EXDATE a DELETE of it (the connector finds them through ``/instances``). Kept:
summary, description (text body), location, start/end with the zone (Windows names from the
pinned CLDR table, IANA otherwise), all-day, RRULE as a ``patternedRecurrence``, attendees
(required/optional/resource) and the organizer, the first display VALARM as the reminder,
CATEGORIES, CLASS as sensitivity, TRANSP/STATUS as showAs. The source UID rides in a
single-value extended property, since Graph's ``iCalUId`` is read-only.

What Graph cannot hold as it is (decided by :func:`plan_object`): an RRULE with no Graph
pattern, a DTSTART that is not on its own rule (RFC 5545 counts it, Graph would not), RDATE
or EXRULE -> the occurrences up to ``EXPAND_YEARS`` ahead (at most
``MAX_EXPANDED``) become single events that share the category ``series <summary>``; a
floating time is pinned to UTC; attendee answers are not settable (Graph: the attendee
answers). VTODO/VJOURNAL/VFREEBUSY: :func:`unsupported` says so and the object is refused
(reported, exported, never dropped quietly).
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import recurring_ical_events
from dateutil.rrule import rrulestr
from icalendar import Calendar, Component

from skylift.connectors.dav.graph.recurrence import NoPattern, to_pattern
from skylift.connectors.dav.graph.zones import graph_zone, zone_of

#: the MAPI named property the source UID is kept in (PS_PUBLIC_STRINGS, a string)
UID_PROPERTY = "String {00020329-0000-0000-C000-000000000046} Name skyliftSourceUid"
NOT_EVENTS = ("VTODO", "VJOURNAL", "VFREEBUSY")
EXPAND_YEARS = 3
MAX_EXPANDED = 500
#: Graph: "If the file size is under 3 MB, do a single POST on the attachments navigation
#: property"; larger files (up to 150 MB) go through an upload session
MAX_INLINE_ATTACHMENT = 3 * 1024 * 1024
MAX_ATTACHMENT = 150 * 1024 * 1024  # Graph: an upload session takes files up to 150 MB
ATTENDEE_TYPE = {"OPT-PARTICIPANT": "optional", "NON-PARTICIPANT": "optional"}


def unsupported(raw: bytes) -> str | None:
    """Why Graph's calendar cannot hold this object (a task, a journal), or None."""
    try:
        cal = Calendar.from_ical(raw)
    except ValueError as exc:
        return f"not valid iCalendar ({exc})"
    names = {c.name for c in cal.walk() if c.name in NOT_EVENTS}
    if names and not any(c.name == "VEVENT" for c in cal.walk()):
        what = ", ".join(sorted(names))
        return f"Microsoft 365 calendars hold no {what} (tasks/journals): not moved, reported"
    return None


def when(value: Any, zone: str | None = None) -> dict[str, str]:
    """A ``dateTimeTimeZone``: local wall time and the zone's Graph name."""
    if not isinstance(value, dt.datetime):
        return {"dateTime": f"{value.isoformat()}T00:00:00", "timeZone": zone or "UTC"}
    if value.tzinfo is None:  # floating: pinned to UTC (Graph has no floating time)
        return {"dateTime": value.isoformat(timespec="seconds"), "timeZone": "UTC"}
    name = zone_of(value)
    if name is None:  # a VTIMEZONE without an IANA name: keep the instant, in UTC
        value, name = value.astimezone(dt.UTC), "UTC"
    local = value.replace(tzinfo=None).isoformat(timespec="seconds")
    return {"dateTime": local, "timeZone": graph_zone(name)}


def _end(component: Component, start: Any) -> Any:
    if component.get("DTEND") is not None:
        return component.decoded("DTEND")
    if component.get("DURATION") is not None:
        return start + component.decoded("DURATION")
    return start if isinstance(start, dt.datetime) else start + dt.timedelta(days=1)


def _person(value: Any) -> dict[str, Any]:
    address = str(value).split(":", 1)[-1] if ":" in str(value) else str(value)
    out: dict[str, Any] = {"address": address}
    if value.params.get("CN"):
        out["name"] = str(value.params["CN"])
    return out


def _listed(component: Component, name: str) -> list[Any]:
    values = component.get(name)
    if values is None:
        return []
    return values if isinstance(values, list) else [values]


def fields(component: Component) -> dict[str, Any]:
    """The body for one VEVENT's own fields (no recurrence, no UID): also an exception's PATCH."""
    start = component.decoded("DTSTART")
    end = _end(component, start)
    zone = when(start)["timeZone"] if isinstance(start, dt.datetime) else "UTC"
    body: dict[str, Any] = {"start": when(start, zone), "end": when(end, zone)}
    body["isAllDay"] = not isinstance(start, dt.datetime)
    for prop, name in (("SUMMARY", "subject"),):
        if component.get(prop) is not None:
            body[name] = str(component.get(prop))
    if component.get("DESCRIPTION") is not None:
        body["body"] = {"contentType": "text", "content": str(component.get("DESCRIPTION"))}
    if component.get("LOCATION") is not None:
        body["location"] = {"displayName": str(component.get("LOCATION"))}
    categories: list[str] = []
    for value in _listed(component, "CATEGORIES"):
        categories += [str(c) for c in getattr(value, "cats", [value])]
    if categories:
        body["categories"] = categories
    klass = str(component.get("CLASS", "")).upper()
    body["sensitivity"] = {"PRIVATE": "private", "CONFIDENTIAL": "confidential"}.get(
        klass, "normal"
    )
    status = str(component.get("STATUS", "")).upper()
    transparent = str(component.get("TRANSP", "")).upper() == "TRANSPARENT"
    body["showAs"] = "free" if transparent else "tentative" if status == "TENTATIVE" else "busy"
    if component.get("ORGANIZER") is not None:
        body["organizer"] = {"emailAddress": _person(component.get("ORGANIZER"))}
    attendees = []
    for person in _listed(component, "ATTENDEE"):
        kind = "resource" if str(person.params.get("CUTYPE", "")).upper() in (
            "RESOURCE", "ROOM") else ATTENDEE_TYPE.get(str(person.params.get("ROLE", "")).upper(),
                                                       "required")  # fmt: skip
        attendees.append({"emailAddress": _person(person), "type": kind})
    if attendees:
        body["attendees"] = attendees
    minutes = _reminder(component)
    body["isReminderOn"] = minutes is not None
    if minutes is not None:
        body["reminderMinutesBeforeStart"] = minutes
    return body


def _reminder(component: Component) -> int | None:
    for alarm in component.walk("VALARM"):
        trigger = alarm.get("TRIGGER")
        if trigger is not None and isinstance(trigger.dt, dt.timedelta):
            minutes = int(-trigger.dt.total_seconds() // 60)
            if minutes >= 0:
                return minutes
    return None


@dataclass
class GraphPlan:
    """How one calendar object goes into Graph."""

    uid: str
    master: dict[str, Any]
    #: RECURRENCE-ID (UTC) -> the PATCH body, or None to delete that occurrence
    exceptions: dict[dt.datetime, dict[str, Any] | None] = field(default_factory=dict)
    #: single events standing for a series Graph has no pattern for
    expanded: list[dict[str, Any]] = field(default_factory=list)
    note: str | None = None
    #: ``fileAttachment`` bodies of the series (binary ATTACH up to 3 MB), or for a larger
    #: file name, contentType, size and ``_data`` (sent through an upload session)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    #: what of the attachments is not copied, one line each
    left: list[str] = field(default_factory=list)
    #: extended properties the master carries besides the source UID (invitations.py)
    properties: list[dict[str, str]] = field(default_factory=list)


def attachments(component: Component) -> tuple[list[dict[str, Any]], list[str]]:
    """The ``fileAttachment`` bodies of a VEVENT's inline ATTACH values, and what is left."""
    out, left = [], []
    for i, value in enumerate(_listed(component, "ATTACH"), 1):
        params = getattr(value, "params", {})
        if str(params.get("VALUE", "")).upper() != "BINARY":
            left.append(f"ATTACH link {str(value)[:80]} not kept (Graph events take files)")
            continue
        data = value.bytes if hasattr(value, "bytes") else base64.b64decode(str(value))
        kind = str(params.get("FMTTYPE", "application/octet-stream"))
        name = str(params.get("FILENAME") or params.get("X-FILENAME") or "")
        name = name or f"attachment-{i}.{kind.split('/')[-1].split('+')[0] or 'bin'}"
        if len(data) > MAX_ATTACHMENT:
            left.append(f"attachment {name} ({len(data)} bytes) not copied: over 150 MB")
            continue
        if len(data) > MAX_INLINE_ATTACHMENT:  # an upload session: the bytes ride apart
            out.append({"name": name, "contentType": kind, "size": len(data), "_data": data})
            continue
        out.append({
            "@odata.type": "#microsoft.graph.fileAttachment", "name": name,
            "contentType": kind, "contentBytes": base64.b64encode(data).decode(),
        })  # fmt: skip
    return out, left


def _utc(value: Any) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        return dt.datetime.combine(value, dt.time(), tzinfo=dt.UTC)
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def plan_object(raw: bytes, today: dt.date | None = None) -> GraphPlan:
    """The Graph writes for one calendar object (series, exceptions, or the expansion)."""
    cal = Calendar.from_ical(raw)
    events = list(cal.walk("VEVENT"))
    series = [e for e in events if e.get("RECURRENCE-ID") is None]
    overrides = [e for e in events if e.get("RECURRENCE-ID") is not None]
    first = (series or overrides)[0]
    uid = str(first.get("UID"))
    if not series:  # only overrides: each is a single event of its own
        return _expanded(uid, raw, cal, overrides, "occurrences without their series", today)
    master = series[0]
    body = fields(master)
    rules = _listed(master, "RRULE")
    plan = GraphPlan(uid, body)
    plan.attachments, plan.left = attachments(master)
    if plan.left:
        plan.note = "; ".join(plan.left)
    if not rules and master.get("RDATE") is None:
        return plan
    if len(rules) != 1 or master.get("RDATE") is not None or master.get("EXRULE") is not None:
        return _expanded(uid, raw, cal, events, "RDATE/EXRULE or several RRULEs", today)
    start = master.decoded("DTSTART")
    try:
        body["recurrence"] = to_pattern(rules[0], start, body["start"]["timeZone"])
        _starts_on_its_rule(rules[0], start)
    except NoPattern as exc:
        return _expanded(uid, raw, cal, events, f"RRULE {rules[0].to_ical().decode()} ({exc})",
                         today)  # fmt: skip
    for value in _listed(master, "EXDATE"):
        for item in value.dts:
            plan.exceptions[_utc(item.dt)] = None
    for override in overrides:
        rid = _utc(override.decoded("RECURRENCE-ID"))
        cancelled = str(override.get("STATUS", "")).upper() == "CANCELLED"
        plan.exceptions[rid] = None if cancelled else fields(override)
    return plan


def _starts_on_its_rule(rule: Any, start: Any) -> None:
    """RFC 5545 counts DTSTART as the first occurrence even off its rule; Graph starts at the
    first date the pattern matches, so such a series would lose its first occurrence."""
    local = start if isinstance(start, dt.datetime) else dt.datetime.combine(start, dt.time())
    local = local.replace(tzinfo=None)
    text = rule.to_ical().decode()
    text = ";".join(p for p in text.split(";") if not p.startswith(("UNTIL=", "COUNT=")))
    first = next(iter(rrulestr(text, dtstart=local)), None)
    if first != local:
        raise NoPattern("DTSTART is not on its own RRULE")


def _expanded(
    uid: str, raw: bytes, cal: Calendar, events: list[Component], why: str, today: dt.date | None
) -> GraphPlan:
    """The documented rule: each occurrence a single event, all sharing one category."""
    begin = min(_utc(e.decoded("DTSTART")) for e in events)
    horizon = dt.datetime.combine(today or dt.date.today(), dt.time(), tzinfo=dt.UTC)
    horizon = horizon.replace(year=horizon.year + EXPAND_YEARS)
    found = recurring_ical_events.of(cal).between(begin - dt.timedelta(days=1), horizon)
    found = sorted(found, key=lambda e: _utc(e.decoded("DTSTART")))
    summary = str(events[0].get("SUMMARY", uid))[:200]
    tag = f"series {summary}"
    singles = []
    for occurrence in found[:MAX_EXPANDED]:
        body = fields(occurrence)
        body["categories"] = [*body.get("categories", []), tag]
        rid = occurrence.get("RECURRENCE-ID")
        moment = _utc(rid.dt if rid is not None else occurrence.decoded("DTSTART"))
        singles.append({"body": body, "occurrence": moment})
    cut = f", the first {MAX_EXPANDED} of {len(found)}" if len(found) > MAX_EXPANDED else ""
    note = (
        f"Graph has no pattern for {why}: stored as {len(singles)} single events up to "
        f"{horizon.date()}{cut}, linked by the category {tag!r}"
    )
    return GraphPlan(uid, {}, expanded=singles, note=note)
