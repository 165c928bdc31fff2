"""Whether a migrated meeting e-mails its attendees: Graph's rule, and skylift's way round it.

Graph sends a meeting request to every attendee of an event created in the organizer's
calendar, and documents that this cannot be configured (``user-post-events``). A migration
that gives Graph the attendees of ten years of meetings would e-mail each of them again; one
that gives an attendee's own copy its attendee list makes that attendee the organizer of a
new meeting. So the attendee list is held back from Graph unless the admin says otherwise
(``--send-invitations``), and kept instead in the extended property ``ATTENDEES_PROPERTY``
(the series' and each exception's list, as JSON) so that reading the calendar back gives
the same ATTENDEE lines: nothing is lost, and nobody is mailed.

Modes: ``never`` (the default), ``future`` (the organizer's meetings with an occurrence still
to come go to Graph with their attendees: those are re-sent, the past ones are not) and
``always`` (every organizer's meeting). An attendee's copy is never given its attendees.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import recurring_ical_events
from icalendar import Calendar

from skylift.connectors.dav.graph.events import GraphPlan
from skylift.connectors.dav.graph.zones import to_zoneinfo

#: MAPI named property (PS_PUBLIC_STRINGS, a string) holding the attendees Graph was not given
ATTENDEES_PROPERTY = "String {00020329-0000-0000-C000-000000000046} Name skyliftAttendees"
MODES = ("never", "future", "always")
DEFAULT_MODE = "never"


def exception_key(moment: dt.datetime) -> str:
    """How an exception's attendee list is keyed: its original start in UTC."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _organizer(body: dict[str, Any]) -> str:
    return str(((body.get("organizer") or {}).get("emailAddress") or {}).get("address", ""))


def _still_to_come(raw: bytes, now: dt.datetime) -> bool:
    """True when the object has an occurrence that ends after *now*."""
    try:
        found = recurring_ical_events.of(Calendar.from_ical(raw)).between(
            now, now + dt.timedelta(days=366 * 50)
        )
        return next(iter(found), None) is not None
    except (ValueError, KeyError, TypeError, AttributeError):
        return False  # unreadable recurrence: the quiet choice


def _invites(body: dict[str, Any], mode: str, owner: str, to_come: bool) -> bool:
    organizer = _organizer(body)
    if organizer and organizer.lower() != owner.lower():
        return False  # an attendee's copy: giving Graph its list would make a new meeting
    return mode == "always" or (mode == "future" and to_come)


def hold_back(
    plan: GraphPlan, raw: bytes, mode: str, owner: str, now: dt.datetime | None = None
) -> str | None:
    """Take the attendees Graph must not be given out of *plan*'s bodies and keep them in
    ``plan.properties`` (each expanded single in its own ``properties``); say what was done."""
    if mode not in MODES:
        raise ValueError(f"invitation mode must be one of {', '.join(MODES)}, not {mode!r}")
    now = now or dt.datetime.now(dt.UTC)
    held = 0
    if plan.expanded:
        for single in plan.expanded:
            body = single["body"]
            if body.get("attendees") and not _invites(body, mode, owner, instant_end(body) > now):
                single["properties"] = [_property({"": body.pop("attendees")})]
                held += 1
    elif plan.master:
        kept: dict[str, Any] = {}
        if plan.master.get("attendees") and not _invites(
            plan.master, mode, owner, _still_to_come(raw, now)
        ):
            kept[""] = plan.master.pop("attendees")
            for moment, body in plan.exceptions.items():
                if body is not None and body.get("attendees"):
                    kept[exception_key(moment)] = body.pop("attendees")
        if kept:
            plan.properties.append(_property(kept))
            held = 1
    if not held:
        return None
    return "attendees kept without an invitation (--send-invitations " + mode + ")"


def instant_end(body: dict[str, Any]) -> dt.datetime:
    """The end of a Graph event body as an aware UTC instant (its zone as Graph names it)."""
    end = body["end"]
    moment = dt.datetime.fromisoformat(end["dateTime"][:19])
    return moment.replace(tzinfo=to_zoneinfo(end.get("timeZone") or "UTC")).astimezone(dt.UTC)


def _property(kept: dict[str, Any]) -> dict[str, str]:
    return {"id": ATTENDEES_PROPERTY, "value": json.dumps(kept, separators=(",", ":"))}


def kept_attendees(event: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The attendee lists an event read back from Graph holds in ``ATTENDEES_PROPERTY``."""
    for prop in event.get("singleValueExtendedProperties") or []:
        if str(prop.get("id", "")).lower() == ATTENDEES_PROPERTY.lower():
            try:
                found = json.loads(str(prop.get("value", "")))
            except ValueError:
                return {}
            return found if isinstance(found, dict) else {}
    return {}
