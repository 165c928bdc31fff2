"""Free/busy publishing: busy blocks on the other side, no details leaked, reruns settle."""

from __future__ import annotations

from datetime import UTC, datetime

from skylift.engine.davsync_freebusy import busy_periods, vfreebusy
from skylift.model.dav import Collection, DavKind

from .calendars import crlf, team_meeting
from .conftest import DavPair, seed


def test_busy_periods_skip_cancelled_and_transparent_time() -> None:
    holiday = crlf(
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:x\nBEGIN:VEVENT\nUID:free\nDTSTAMP:20200101T000000Z\n"
        "DTSTART:20200128T090000Z\nDTEND:20200128T100000Z\nTRANSP:TRANSPARENT\nSUMMARY:Lunch\n"
        "END:VEVENT\nEND:VCALENDAR\n"
    )
    start, end = datetime(2020, 1, 20, tzinfo=UTC), datetime(2020, 2, 4, tzinfo=UTC)
    periods = busy_periods([team_meeting(), holiday], start, end)
    # The 20th is an EXDATE and the 27th is cancelled: only Feb 3rd, 09:00-10:00 UTC.
    assert periods == [(datetime(2020, 2, 3, 9, tzinfo=UTC), datetime(2020, 2, 3, 10, tzinfo=UTC))]
    assert b"FREEBUSY;FBTYPE=BUSY:20200203T090000Z/20200203T100000Z" in vfreebusy(
        "jane@old.example", periods, start, end
    )


def test_freebusy_publish_writes_private_busy_blocks_and_settles(dav_pair: DavPair) -> None:
    with dav_pair.account("source", DavKind.CALENDAR) as source:
        seed(source, Collection(DavKind.CALENDAR, "work", "Work"), {"team.ics": team_meeting()})
    args = (
        "freebusy",
        "publish",
        "--source",
        dav_pair.source.url(),
        "--target",
        dav_pair.target.url(),
        "--user",
        "jane@new.example",
        "--weeks",
        "3",
    )
    first = dav_pair.run(*args)
    assert first.returncode == 0, first.stdout + first.stderr
    with dav_pair.account("target", DavKind.CALENDAR) as target:
        busy = next(c for c in target.collections() if c.name == "skylift-freebusy")
        blocks = [
            i.raw.decode() for i in target.fetch(busy, [r.href for r in target.list_items(busy)])
        ]
    assert len(blocks) >= 3
    assert all("SUMMARY:Busy" in b and "CLASS:PRIVATE" in b for b in blocks)
    assert not any("Team meeting" in b or "boss@" in b for b in blocks)
    again = dav_pair.run(*args)
    assert "0 block(s) added, 0 removed" in again.stdout
