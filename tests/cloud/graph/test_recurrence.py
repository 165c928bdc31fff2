"""RRULE -> Graph pattern: the occurrences Graph would make are the ones RFC 5545 makes.

Each rule is expanded twice: by recurring-ical-events from the iCalendar text, and by the
fake's own reading of Graph's ``patternedRecurrence`` (dateutil, written apart from the
connector); they must agree over the series. Rules Graph has no pattern for must be refused
with the part named, so the connector's expansion rule applies.
"""

from __future__ import annotations

import datetime as dt

import pytest
import recurring_ical_events
from icalendar import Calendar

from skylift.connectors.dav.graph.events import plan_object
from tests.servers.graph_fake import GraphFake, instant

EVENT = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:r@x\r\n"
    "DTSTAMP:20260101T000000Z\r\nDTSTART;TZID=Europe/Berlin:{start}\r\n"
    "DTEND;TZID=Europe/Berlin:{end}\r\nRRULE:{rule}\r\nSUMMARY:s\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)
FITS = [
    ("20260105T090000", "FREQ=DAILY;INTERVAL=3;COUNT=10"),
    ("20260105T090000", "FREQ=WEEKLY;BYDAY=MO,WE,FR;UNTIL=20260301T075959Z"),  # UNTIL just before
    ("20260105T090000", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;WKST=SU;COUNT=12"),
    ("20260113T090000", "FREQ=MONTHLY;BYDAY=2TU;COUNT=8"),
    ("20260130T090000", "FREQ=MONTHLY;BYDAY=-1FR;UNTIL=20261231T000000Z"),
    ("20260101T090000", "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1;COUNT=6"),
    ("20260115T090000", "FREQ=MONTHLY;BYMONTHDAY=15;INTERVAL=2;COUNT=6"),
    ("20260320T090000", "FREQ=YEARLY;COUNT=4"),
    ("20261126T090000", "FREQ=YEARLY;BYMONTH=11;BYDAY=4TH;COUNT=4"),
    ("20260329T013000", "FREQ=DAILY;COUNT=3"),  # across the spring DST change
]
NO_PATTERN = [
    ("FREQ=HOURLY;COUNT=5", "FREQ=HOURLY"),
    ("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=1,3", "BYSETPOS with 2 values"),
    ("FREQ=MONTHLY;BYMONTHDAY=1,15", "BYMONTHDAY with 2 values"),
    ("FREQ=MONTHLY;BYDAY=5MO", "occurrence number 5"),
    ("FREQ=YEARLY;BYYEARDAY=100", "BYYEARDAY"),
    ("FREQ=MONTHLY;BYMONTHDAY=-1", "a day counted from the end of the month"),
    ("FREQ=WEEKLY;BYDAY=TU;COUNT=4", "DTSTART is not on its own RRULE"),  # starts on a Monday
]


def _ends(start: str) -> str:
    moment = dt.datetime.strptime(start, "%Y%m%dT%H%M%S") + dt.timedelta(hours=1)
    return moment.strftime("%Y%m%dT%H%M%S")


@pytest.mark.parametrize("start,rule", FITS)
def test_a_rule_with_a_pattern_gives_the_same_occurrences(start: str, rule: str) -> None:
    raw = EVENT.format(start=start, end=_ends(start), rule=rule).encode()
    plan = plan_object(raw, today=dt.date(2026, 1, 1))
    assert plan.note is None and "recurrence" in plan.master
    until = dt.datetime(2031, 1, 1, tzinfo=dt.UTC)
    rfc = sorted(
        e.decoded("DTSTART").astimezone(dt.UTC)
        for e in recurring_ical_events.of(Calendar.from_ical(raw)).between(
            dt.date(2025, 12, 1), until.date()
        )
    )
    event = {**plan.master, "start": plan.master["start"]}
    graph = [m.astimezone(dt.UTC) for m in GraphFake(None)._expand(event, until)]
    assert instant(plan.master["start"]).astimezone(dt.UTC) == rfc[0]
    assert graph == rfc, (rule, plan.master["recurrence"])


@pytest.mark.parametrize("rule,why", NO_PATTERN)
def test_a_rule_without_a_pattern_is_expanded_and_the_reason_named(rule: str, why: str) -> None:
    raw = EVENT.format(start="20260105T090000", end="20260105T100000", rule=rule).encode()
    plan = plan_object(raw, today=dt.date(2026, 1, 1))
    assert plan.note is not None and why in plan.note, plan.note
    assert plan.expanded and all("recurrence" not in s["body"] for s in plan.expanded)
