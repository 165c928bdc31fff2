"""``migrate-calendars --rewrite-meeting-link``: the old meeting service's join links arrive
pointing at the new one, the rest of each object as it was (real Radicale on both sides)."""

from __future__ import annotations

from skylift.model.dav import Collection, DavKind

from .conftest import DavPair, seed

OLD, NEW = "https://meet.old.example/", "https://teams.microsoft.com/l/meetup-join/"
MEETING = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//skylift tests//EN\r\nBEGIN:VEVENT\r\n"
    "UID:standup@old.example\r\nDTSTAMP:20261201T000000Z\r\nDTSTART:20261214T090000Z\r\n"
    "DTEND:20261214T091500Z\r\nSUMMARY:Stand-up\r\n"
    "LOCATION:Online: https://MEET.old.example/jane/4KQ2\r\n"
    "DESCRIPTION:Join https://meet.old.example/jane/4KQ2 or dial in. Agenda: https://files"
    ".old.example/agenda.pdf\r\n"
    "X-MICROSOFT-SKYPETEAMSMEETINGURL:https://meet.old.example/jane/4KQ2\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n"
)


def _target_object(pair: DavPair) -> str:
    with pair.account("target", DavKind.CALENDAR) as target:
        (team,) = [c for c in target.collections() if c.name == "team"]
        (item,) = list(target.fetch(team, [r.href for r in target.list_items(team)]))
    return item.raw.decode()


def test_join_links_move_to_the_new_service_and_nothing_else_changes(dav_pair: DavPair) -> None:
    with dav_pair.account("source", DavKind.CALENDAR) as source:
        seed(
            source, Collection(DavKind.CALENDAR, "team", "Team"), {"standup.ics": MEETING.encode()}
        )
    done = dav_pair.migrate(DavKind.CALENDAR, "--rewrite-meeting-link", f"{OLD}={NEW}")
    assert done.returncode == 0, done.stdout + done.stderr
    got = _target_object(dav_pair).replace("\r\n ", "")  # unfolded
    assert "meet.old.example" not in got.lower()
    assert f"LOCATION:Online: {NEW}jane/4KQ2" in got  # host matched without case, path kept
    assert f"DESCRIPTION:Join {NEW}jane/4KQ2 or dial in" in got
    assert "https://files.old.example/agenda.pdf" in got  # not a meeting link: untouched
    assert f"X-MICROSOFT-SKYPETEAMSMEETINGURL:{NEW}jane/4KQ2" in got
    for line in ("UID:standup@old.example", "DTSTART:20261214T090000Z", "SUMMARY:Stand-up"):
        assert line in got

    again = dav_pair.migrate(DavKind.CALENDAR, "--rewrite-meeting-link", f"{OLD}={NEW}")
    assert again.returncode == 0 and "unchanged since the last run" in again.stdout
    bad = dav_pair.migrate(DavKind.CALENDAR, "--rewrite-meeting-link", "meet.old.example")
    assert bad.returncode == 2 and bad.stderr.startswith("skylift: error: --rewrite-meeting-link")
    assert len(bad.stderr.strip().splitlines()) == 1
