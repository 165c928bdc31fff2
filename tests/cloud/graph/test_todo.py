"""A calendar's tasks into Microsoft To Do (the documented rule for VTODO on Microsoft 365).

Against the schema-checked Graph fake with its To Do half (``tests/servers/graph_todo_fake.py``):
every request is validated against the pinned CSDL slice (``todoTask``, ``todoTaskList``,
``linkedResource``). Shown: the tasks land in the To Do list named like their calendar with
their fields and source UID, the events beside them in the calendar; they read back as the
same tasks; a rerun writes nothing; an edit is one PATCH, a source deletion (``--delete``) one
DELETE; a task a lost answer already created is found, not duplicated; what To Do has no place
for is said on the item and the original exported; without ``Tasks.ReadWrite.All`` the tasks
fail in one line each and the events still go.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import icalendar
import pytest

from skylift.connectors.dav.graph.todo import to_vtodo
from tests.cloud.graph.test_graph_calendar import Cloud, _run
from tests.servers.graph_todo_fake import GraphTodoFake
from tests.servers.token_endpoint import TokenEndpoint

USER = "tess@example.test"
WORK = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Nextcloud Tasks v0.16//EN\r
BEGIN:VEVENT\r
UID:standup@old.example\r
DTSTAMP:20260101T000000Z\r
DTSTART:20270104T090000Z\r
DTEND:20270104T091500Z\r
SUMMARY:Stand-up\r
END:VEVENT\r
BEGIN:VTODO\r
UID:report@old.example\r
DTSTAMP:20260101T000000Z\r
SUMMARY:Send the weekly report\r
DESCRIPTION:Numbers from finance first.\r
DUE;TZID=Europe/Berlin:20270108T170000\r
RRULE:FREQ=WEEKLY;BYDAY=FR\r
STATUS:NEEDS-ACTION\r
BEGIN:VALARM\r
ACTION:DISPLAY\r
DESCRIPTION:Report\r
TRIGGER:-PT1H\r
END:VALARM\r
END:VTODO\r
BEGIN:VTODO\r
UID:badge@old.example\r
DTSTAMP:20260101T000000Z\r
SUMMARY:Renew the badge\r
DUE;VALUE=DATE:20270115\r
COMPLETED:20261120T101500Z\r
STATUS:COMPLETED\r
PRIORITY:1\r
CATEGORIES:Office,Admin\r
END:VTODO\r
BEGIN:VTODO\r
UID:move@old.example\r
DTSTAMP:20260101T000000Z\r
SUMMARY:Pack the boxes\r
PERCENT-COMPLETE:40\r
RELATED-TO:office-move@old.example\r
STATUS:IN-PROCESS\r
END:VTODO\r
END:VCALENDAR\r
"""


def _cloud(root: Path, roles: set[str]) -> tuple[TokenEndpoint, GraphTodoFake, Cloud]:
    tokens = TokenEndpoint(root / "tokens", lifetime=60).start()
    tokens.add_tenant("example.test")
    app = tokens.add_app("example.test", secret="app-secret")
    app.graph_roles = roles
    secret = root / "secret.txt"
    secret.write_text("app-secret\n")
    fake = GraphTodoFake(tokens).start()
    fake.page_size = 2  # make the connector page through the tasks
    return tokens, fake, Cloud(tokens, fake, app.client_id, secret)


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[Cloud]:
    tokens, fake, made = _cloud(tmp_path, {"Calendars.ReadWrite", "Tasks.ReadWrite.All"})
    yield made
    fake.stop()
    tokens.stop()


@pytest.fixture
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "cal"
    folder.mkdir()
    (folder / "Work.ics").write_text(WORK, newline="")
    return folder


def _uid(task: dict[str, object]) -> str:
    links = task.get("linkedResources") or []
    assert isinstance(links, list)
    return next(str(x["externalId"]) for x in links if x["applicationName"] == "skylift")


def _writes(fake: GraphTodoFake) -> list[tuple[str, str]]:
    return [(c.method, c.path) for c in fake.calls if c.method != "GET"]


def test_tasks_land_in_to_do_beside_their_calendar_and_read_back_the_same(
    cloud: Cloud, source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = cloud.fake
    assert isinstance(fake, GraphTodoFake)
    assert _run(cloud, source, tmp_path / "s.db", USER) == 0
    out = capsys.readouterr().out
    assert fake.errors == []
    assert [e["subject"] for e in fake.events(USER, "Work")] == ["Stand-up"]
    tasks = {_uid(t): t for t in fake.tasks_of(USER, "Work")}
    assert set(tasks) == {"report@old.example", "badge@old.example", "move@old.example"}
    report, badge = tasks["report@old.example"], tasks["badge@old.example"]
    assert report["dueDateTime"] == {"dateTime": "2027-01-08T17:00:00",
                                     "timeZone": "W. Europe Standard Time"}  # fmt: skip
    assert report["recurrence"]["pattern"]["type"] == "weekly"
    assert (
        report["isReminderOn"] and report["reminderDateTime"]["dateTime"] == "2027-01-08T16:00:00"
    )
    assert badge["status"] == "completed" and badge["importance"] == "high"
    assert badge["categories"] == ["Office", "Admin"]
    # what To Do has no place for is said on the item, and the original kept
    line = next(x for x in out.splitlines() if "move@old.example" in x)
    assert "PERCENT-COMPLETE not kept" in line and "RELATED-TO not kept" in line, line
    assert list((tmp_path / "skylift-export").rglob("move@old.example.ics"))

    want = {str(t["UID"]): t for t in icalendar.Calendar.from_ical(WORK).walk("VTODO")}
    for uid, task in tasks.items():
        (back,) = icalendar.Calendar.from_ical(to_vtodo(uid, task)).walk("VTODO")
        source_task = want[uid]
        assert str(back["SUMMARY"]) == str(source_task["SUMMARY"])
        assert str(back["STATUS"]) == str(source_task["STATUS"])
        if source_task.get("DUE") is not None:
            got, expected = back.decoded("DUE"), source_task.decoded("DUE")
            if not isinstance(expected, dt.datetime):
                expected = dt.datetime.combine(expected, dt.time(), tzinfo=dt.UTC)
            assert got == expected, uid
    (report_back,) = icalendar.Calendar.from_ical(to_vtodo("r", report)).walk("VTODO")
    assert "FREQ=WEEKLY" in report_back["RRULE"].to_ical().decode()


def test_rerun_writes_nothing_an_edit_patches_and_a_deletion_deletes(
    cloud: Cloud, source: Path, tmp_path: Path
) -> None:
    fake = cloud.fake
    state = tmp_path / "s.db"
    assert _run(cloud, source, state, USER) == 0
    writes = len(_writes(fake))
    assert _run(cloud, source, state, USER) == 0
    assert len(_writes(fake)) == writes  # the rerun: nothing written

    edited = WORK.replace("SUMMARY:Renew the badge", "SUMMARY:Renew the badge today")
    (source / "Work.ics").write_text(edited, newline="")
    assert _run(cloud, source, state, USER) == 0
    new = _writes(fake)[writes:]
    assert [m for m, _ in new] == ["PATCH"] and "/todo/lists/" in new[0][1]
    titles = {t["title"] for t in fake.tasks_of(USER, "Work")}
    assert "Renew the badge today" in titles and len(titles) == 3

    start = edited.index("BEGIN:VTODO\r\nUID:move@old.example")
    end = edited.index("END:VTODO\r\n", start) + len("END:VTODO\r\n")
    (source / "Work.ics").write_text(edited[:start] + edited[end:], newline="")
    assert _run(cloud, source, state, USER, "--delete") == 0
    assert {_uid(t) for t in fake.tasks_of(USER, "Work")} == {"report@old.example",
                                                               "badge@old.example"}  # fmt: skip
    assert fake.errors == []


def test_a_task_a_lost_answer_created_is_found_not_duplicated(
    cloud: Cloud, source: Path, tmp_path: Path
) -> None:
    fake = cloud.fake
    assert isinstance(fake, GraphTodoFake)
    made = {"id": "AQMkTlEarlier", "displayName": "Work", "isOwner": True, "isShared": False,
            "wellknownListName": "none"}  # fmt: skip
    fake.lists[USER] = {made["id"]: made}
    fake.tasks["AQMkTkEarlier"] = {  # a POST whose answer was lost before the ledger row
        "id": "AQMkTkEarlier", "_list": made["id"], "title": "Renew the badge",
        "status": "notStarted", "importance": "normal", "lastModifiedDateTime": "x",
        "linkedResources": [{"id": "l1", "applicationName": "skylift",
                             "externalId": "badge@old.example"}],
    }  # fmt: skip
    assert _run(cloud, source, tmp_path / "s.db", USER) == 0
    badges = [t for t in fake.tasks_of(USER, "Work") if _uid(t) == "badge@old.example"]
    assert len(badges) == 1 and badges[0]["status"] == "completed"  # replaced with the source
    assert len(fake.lists[USER]) == 1  # the list was found by name, not made again


def test_without_the_to_do_permission_tasks_fail_in_a_line_and_events_still_go(
    tmp_path: Path, source: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tokens, fake, cloud = _cloud(tmp_path, {"Calendars.ReadWrite"})
    try:
        assert _run(cloud, source, tmp_path / "s.db", USER) == 1
        out = capsys.readouterr().out
        assert [e["subject"] for e in fake.events(USER, "Work")] == ["Stand-up"]
        failed = [x for x in out.splitlines() if "lacks Tasks.ReadWrite.All" in x]
        assert len(failed) == 3, out
        assert fake.tasks == {}
    finally:
        fake.stop()
        tokens.stop()
