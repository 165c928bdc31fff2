"""Migrating meetings into Microsoft 365 without e-mailing their attendees (``--send-invitations``).

Graph documents that creating an event with attendees sends each of them a meeting request
and that this cannot be turned off; the schema-checked fake (``tests/servers/graph_fake.py``)
records each request the real service would send. The tests show: by default nobody is
e-mailed and every ATTENDEE line still comes back when the calendar is read out of Graph
(series and exception alike); ``future`` re-sends only the organizer's meetings still to come;
an attendee's own copy never invites anyone; a rerun sends nothing; the option is refused in
one line where it means nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import icalendar
import pytest

from skylift.connectors.dav.graph.calendar import EXPAND
from skylift.connectors.dav.graph.ical import to_ical
from tests.cloud.graph.test_graph_calendar import USER, Cloud, _run, _uid
from tests.servers.graph_fake import GraphFake
from tests.servers.graph_todo_fake import GraphTodoFake
from tests.servers.token_endpoint import TokenEndpoint

MEETINGS = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//t//t//EN\r
BEGIN:VEVENT\r
UID:review-2020@old.example\r
DTSTAMP:20200101T000000Z\r
DTSTART:20200302T090000Z\r
DTEND:20200302T100000Z\r
SUMMARY:Budget review 2020\r
ORGANIZER;CN=Alice:mailto:alice@example.test\r
ATTENDEE;CN=Bob:mailto:bob@example.test\r
ATTENDEE;ROLE=OPT-PARTICIPANT:mailto:carol@example.test\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:weekly-2030@old.example\r
DTSTAMP:20200101T000000Z\r
DTSTART:20300107T090000Z\r
DTEND:20300107T093000Z\r
RRULE:FREQ=WEEKLY;COUNT=5\r
SUMMARY:Weekly sync\r
ORGANIZER:mailto:alice@example.test\r
ATTENDEE:mailto:bob@example.test\r
ATTENDEE:mailto:dave@example.test\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:weekly-2030@old.example\r
DTSTAMP:20200101T000000Z\r
RECURRENCE-ID:20300114T090000Z\r
DTSTART:20300114T100000Z\r
DTEND:20300114T103000Z\r
SUMMARY:Weekly sync (moved)\r
ORGANIZER:mailto:alice@example.test\r
ATTENDEE:mailto:bob@example.test\r
ATTENDEE:mailto:erin@example.test\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:bobs-offsite@old.example\r
DTSTAMP:20200101T000000Z\r
DTSTART:20300301T080000Z\r
DTEND:20300301T170000Z\r
SUMMARY:Bob's offsite\r
ORGANIZER:mailto:bob@example.test\r
ATTENDEE:mailto:alice@example.test\r
ATTENDEE:mailto:frank@example.test\r
END:VEVENT\r
END:VCALENDAR\r
"""


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[Cloud]:
    tokens = TokenEndpoint(tmp_path / "tokens", lifetime=60).start()
    tokens.add_tenant("example.test")
    app = tokens.add_app("example.test", secret="app-secret")
    app.graph_roles = {"Calendars.ReadWrite"}
    secret = tmp_path / "secret.txt"
    secret.write_text("app-secret\n")
    fake = GraphTodoFake(tokens).start()
    yield Cloud(tokens, fake, app.client_id, secret)
    fake.stop()
    tokens.stop()


@pytest.fixture
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "cal"
    folder.mkdir()
    (folder / "Work.ics").write_text(MEETINGS, newline="")
    return folder


def _attendees(raw: bytes) -> dict[tuple[str, str], set[str]]:
    """(UID, RECURRENCE-ID or '') -> the attendees' addresses of each VEVENT."""
    out = {}
    for event in icalendar.Calendar.from_ical(raw).walk("VEVENT"):
        rid = event.get("RECURRENCE-ID")
        key = (str(event["UID"]), rid.to_ical().decode() if rid is not None else "")
        people = event.get("ATTENDEE") or []
        people = people if isinstance(people, list) else [people]
        out[key] = {str(p).lower().removeprefix("mailto:") for p in people}
    return out


def _read_back(fake: GraphFake) -> dict[tuple[str, str], set[str]]:
    """The calendar as the connector reads it out of Graph (the same $expand it sends)."""
    (cal,) = [c for c in fake.calendars[USER].values() if c.name == "Work"]
    groups: dict[str, list[dict[str, object]]] = {}
    for event in cal.events.values():
        groups.setdefault(_uid(event), []).append(fake._view(event, {"$expand": EXPAND}))
    found: dict[tuple[str, str], set[str]] = {}
    for uid, events in groups.items():
        found |= _attendees(to_ical(uid, events))
    return found


def test_by_default_nobody_is_mailed_and_every_attendee_comes_back(
    cloud: Cloud, source: Path, tmp_path: Path
) -> None:
    state = tmp_path / "s.db"
    assert _run(cloud, source, state, USER) == 0
    fake = cloud.fake
    assert fake.errors == [] and fake.invitations == []
    (cal,) = [c for c in fake.calendars[USER].values() if c.name == "Work"]
    assert all(not e.get("attendees") for e in cal.events.values())  # Graph was given none
    assert _read_back(fake) == _attendees(MEETINGS.encode())  # series and exception alike

    assert _run(cloud, source, state, USER) == 0  # a rerun writes and sends nothing
    assert fake.invitations == []


def test_future_resends_only_the_organizers_meetings_still_to_come(
    cloud: Cloud, source: Path, tmp_path: Path
) -> None:
    assert _run(cloud, source, tmp_path / "s.db", USER, "--send-invitations", "future") == 0
    fake = cloud.fake
    assert fake.errors == []
    mailed = {(who, subject) for _, who, subject in fake.invitations}
    # the weekly series (2030) and its moved occurrence; not 2020's review, not Bob's offsite
    assert mailed == {("bob@example.test", "Weekly sync"), ("dave@example.test", "Weekly sync"),
                      ("bob@example.test", "Weekly sync (moved)"),
                      ("erin@example.test", "Weekly sync (moved)")}  # fmt: skip
    assert _read_back(fake) == _attendees(MEETINGS.encode())


def test_dry_run_says_who_would_not_be_invited(
    cloud: Cloud, source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(cloud, source, tmp_path / "s.db", USER, "--dry-run", "--json") == 0
    out = json.loads(capsys.readouterr().out)
    lines = json.dumps(out)
    assert lines.count("attendees kept without an invitation") == 3
    assert cloud.fake.invitations == []
    assert not any(c.events for c in cloud.fake.calendars.get(USER, {}).values())


@pytest.mark.parametrize(
    "extra,words",
    [
        (["--send-invitations", "sometimes"], "--send-invitations must be one of never, future"),
        (
            ["--send-invitations", "always", "--target", "caldav://127.0.0.1:9/"],
            "--send-invitations is for migrate-calendars into Microsoft 365",
        ),
    ],
)
def test_the_option_where_it_means_nothing_is_one_line(
    extra: list[str], words: str, source: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    from skylift.cli import main

    argv = ["migrate-calendars", "--source", f"ics://{source}", "--user", USER,
            "--state", str(tmp_path / "s.db"), *extra]  # fmt: skip
    if "--target" not in extra:
        argv += ["--target", "graph+https://127.0.0.1:9"]
    with pytest.raises(SystemExit) as stop:
        main(argv)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and words in err, err
    assert "Traceback" not in err
