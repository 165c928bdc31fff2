"""Free/busy publishing: busy blocks on the other side, no details leaked, reruns settle."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import icalendar

from skylift.engine.dav.freebusy import busy_periods, vfreebusy
from skylift.model.dav import Collection, DavKind

from .calendars import crlf, team_meeting
from .conftest import TARGET_PASSWORD, DavPair, seed


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
        *dav_pair.sides(),
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


def _freebusy(raw: bytes) -> tuple[list[tuple[datetime, datetime]], icalendar.Component]:
    """The busy periods (UTC) and the VFREEBUSY component of a free/busy answer."""
    component = icalendar.Calendar.from_ical(raw).walk("VFREEBUSY")[0]
    values = component.get("FREEBUSY", [])
    periods = []
    for value in values if isinstance(values, list) else [values]:
        for begin, end in (p.dt for p in value.dts) if hasattr(value, "dts") else [value.dt]:
            finish = begin + end if isinstance(end, timedelta) else end
            periods.append((begin.astimezone(UTC), finish.astimezone(UTC)))
    return sorted(periods), component


def test_vfreebusy_object_matches_what_the_target_server_answers(dav_pair: DavPair) -> None:
    with dav_pair.account("source", DavKind.CALENDAR) as source:
        seed(source, Collection(DavKind.CALENDAR, "work", "Work"), {"team.ics": team_meeting()})
    out = dav_pair.workdir / "published"
    out.mkdir()
    result = dav_pair.run(
        "freebusy",
        "publish",
        *dav_pair.sides(),
        "--weeks",
        "4",
        "--vfreebusy-out",
        str(out),
        "--json",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    account = json.loads(result.stdout)["items"][0]
    published = out / f"{dav_pair.target_user}.ifb"
    assert account["vfreebusy_file"] == str(published)
    periods, component = _freebusy(published.read_bytes())
    assert str(component["ORGANIZER"]) == f"mailto:{dav_pair.target_user}"
    # The weekly Monday meeting, 10:00-11:00 Berlin time: four or five one-hour periods.
    assert 4 <= len(periods) <= 5
    assert all(e - b == timedelta(hours=1) and b.weekday() == 0 for b, e in periods)
    assert {p["start"] for p in account["busy"]} == {b.isoformat() for b, _ in periods}

    # The other side's server serves the same busy time for the published calendar.
    window = {
        "view": "freebusy",
        "start": component["DTSTART"].dt.strftime("%Y%m%dT%H%M%SZ"),
        "end": component["DTEND"].dt.strftime("%Y%m%dT%H%M%SZ"),
    }
    answer = httpx.get(
        account["calendar_url"], params=window, auth=(dav_pair.target_user, TARGET_PASSWORD)
    )
    assert answer.status_code == 200, answer.text
    assert _freebusy(answer.content)[0] == periods


def test_vfreebusy_out_in_a_missing_folder_is_a_one_line_usage_error(dav_pair: DavPair) -> None:
    missing = dav_pair.workdir / "no-such-folder" / "{user}.ifb"
    result = dav_pair.run(
        "freebusy",
        "publish",
        *dav_pair.sides(),
        "--vfreebusy-out",
        str(missing),
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"skylift: error: --vfreebusy-out: folder does not exist: {missing.parent}"
    ]
