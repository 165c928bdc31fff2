"""migrate-calendars into Microsoft 365 through Graph, against the schema-checked loopback fake.

Tiers (issue 15): (1) every request the connector makes is validated against the pinned CSDL
slice by ``tests/servers/graph_fake.py`` (``fake.errors`` must stay empty); (2) round trips:
the real calendar files in tests/data go source -> fake Graph -> back out through the
connector, compared occurrence by occurrence over two years, with a line per file saying
what changed and why; (3) faults: scripted 429/503 with Retry-After are waited out, no more
than 4 requests at once reach one mailbox, and a rerun (after a kill) changes nothing and
duplicates nothing. Tokens come from the loopback Entra token endpoint (client credentials,
Graph scope, the Calendars.ReadWrite role).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import icalendar
import pytest

import skylift
from skylift.cli import main
from skylift.connectors.dav.graph.calendar import UID_PROPERTY
from skylift.connectors.dav.graph.ical import to_ical
from skylift.engine.dav.verify import occurrences
from tests.servers.graph_fake import GraphFake
from tests.servers.graph_todo_fake import GraphTodoFake
from tests.servers.token_endpoint import TokenEndpoint

DATA = Path(__file__).resolve().parents[2] / "data" / "ics"
USER = "alice@example.test"
FILES = [
    "ical.js/recur_instances.ics",
    "khal/event_rrule_recuid_cancelled.ics",
    "icalendar/pacific_fiji.ics",
    "recurring-ical-events/issue_223_thunderbird.ics",
    "recurring-ical-events/machbar_16_feb_2019.ics",
    "recurring-ical-events/subcomponents.ics",
    "thunderbird/importLatin1.ics",
]
MALFORMED = {"icalendar/pacific_fiji.ics"}  # two DTSTARTs: refused before any upload
TASK = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VTODO\r\nUID:task-1@old.example\r\n"
    "DTSTAMP:20260101T000000Z\r\nSUMMARY:File the report\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
)
HOURLY = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:pump@old.example\r\n"
    "DTSTAMP:20260101T000000Z\r\nDTSTART:20260105T080000Z\r\nDTEND:20260105T081500Z\r\n"
    "RRULE:FREQ=HOURLY;INTERVAL=4;COUNT=6\r\nSUMMARY:Check the pump\r\nEND:VEVENT\r\n"
    "END:VCALENDAR\r\n"
)


@dataclass
class Cloud:
    tokens: TokenEndpoint
    fake: GraphFake
    client_id: str
    secret_file: Path


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    root = tmp_path_factory.mktemp("graph")
    tokens = TokenEndpoint(root / "tokens", lifetime=60).start()
    tokens.add_tenant("example.test")
    app = tokens.add_app("example.test", secret="app-secret")
    app.graph_roles = {"Calendars.ReadWrite"}
    secret = root / "secret.txt"
    secret.write_text("app-secret\n")
    fake = GraphTodoFake(tokens).start()  # the app has no Tasks.ReadWrite.All: tasks fail
    fake.page_size = 7  # make the connector page
    yield Cloud(tokens, fake, app.client_id, secret)
    fake.stop()
    tokens.stop()


def _argv(cloud: Cloud, source: Path, state: Path, user: str, *extra: str) -> list[str]:
    return [
        "migrate-calendars", "--source", f"ics://{source}", "--user", user,
        "--target-profile", "microsoft365", "--target-api-base", cloud.fake.api_base,
        "--target-oauth-tenant", "example.test", "--target-oauth-client-id", cloud.client_id,
        "--target-oauth-client-secret-file", str(cloud.secret_file),
        "--target-oauth-authority", cloud.tokens.url, "--target-ca", str(cloud.tokens.ca_file),
        "--state", str(state), "--parallel", "1", *extra,
    ]  # fmt: skip


def _run(cloud: Cloud, source: Path, state: Path, user: str, *extra: str) -> int:
    try:
        main(_argv(cloud, source, state, user, *extra))
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def _uid(event: dict[str, object]) -> str:
    props = event.get("singleValueExtendedProperties") or []
    assert isinstance(props, list)
    return next(str(p["value"]) for p in props if p["id"] == UID_PROPERTY)


def _read_back(fake: GraphFake, user: str, calendar: str) -> dict[str, bytes]:
    """Each UID's object as the connector reads it out of Graph."""
    cal = next(c for c in fake.calendars[user].values() if c.name == calendar)
    groups: dict[str, list[dict[str, object]]] = {}
    for event in cal.events.values():
        view = fake._view(event, {"$expand": "exceptionOccurrences"})
        groups.setdefault(_uid(event), []).append(view)
    return {uid: to_ical(uid, events) for uid, events in groups.items()}


def _first_start(raw: bytes) -> dt.date:
    starts = []
    for event in icalendar.Calendar.from_ical(raw).walk("VEVENT"):
        value = event.decoded("DTSTART")
        starts.append(value.date() if isinstance(value, dt.datetime) else value)
    return min(starts)


def _comparable(found: set[tuple[str, ...]]) -> set[tuple[str, ...]]:
    # (start, end, summary): a zone may change its name (IANA -> Windows -> IANA), never the
    # instant; Graph has no floating time, skylift pins one to UTC; a cancelled occurrence is
    # a deleted instance on Graph (an EXDATE when read back): not an occurrence on either side
    return {(_instant(o[1]), _instant(o[2]), o[4]) for o in found if o[5] != "CANCELLED"}


def _instant(moment: str) -> str:
    text = moment.replace(" floating", "+00:00")
    try:
        value = dt.datetime.fromisoformat(text.split(" ")[0])
    except ValueError:
        return text
    return value.astimezone(dt.UTC).isoformat() if value.tzinfo else value.isoformat()


def test_real_files_round_trip_through_graph(cloud: Cloud, tmp_path: Path) -> None:
    fake = cloud.fake
    source = tmp_path / "cal"
    source.mkdir()
    for name in FILES:
        shutil.copy(DATA / name, source / name.replace("/", "--"))
    assert _run(cloud, source, tmp_path / "state.db", USER) in (0, 1)
    assert fake.errors == [], fake.errors
    report = []
    for name in FILES:
        raw = (DATA / name).read_bytes()
        calendar = name.replace("/", "--").removesuffix(".ics")
        if name in MALFORMED:
            assert fake.events(USER, calendar) == []
            report.append(f"{name}: malformed at the source, reported and exported, not sent")
            continue
        back = _read_back(fake, USER, calendar)
        source_uids = {
            str(e.get("UID"))
            for e in icalendar.Calendar.from_ical(raw).walk("VEVENT")
            if e.get("UID")
        }
        assert source_uids <= set(back), name  # the source UID kept beside Graph's iCalUId
        begin = _first_start(raw)
        window = (begin, begin + dt.timedelta(days=730))
        mine = _comparable(occurrences(raw, *window))
        theirs: set[tuple[str, ...]] = set()
        for obj in back.values():
            theirs |= _comparable(occurrences(obj, *window))
        lost, extra = mine - theirs, theirs - mine
        report.append(f"{name}: {len(mine)} occurrences, {len(lost)} lost, {len(extra)} added")
        assert not lost and not extra, (name, sorted(lost)[:3], sorted(extra)[:3])
    print("\n".join(report))


def test_exceptions_are_made_by_patching_and_deleting_instances(
    cloud: Cloud, tmp_path: Path
) -> None:
    fake = cloud.fake
    source = tmp_path / "one"
    source.mkdir()
    shutil.copy(DATA / "khal/event_rrule_recuid_cancelled.ics", source / "khal.ics")
    user = "bob@example.test"
    assert _run(cloud, source, tmp_path / "s.db", user) == 0
    (master,) = fake.events(user, "khal")
    assert master["type"] == "seriesMaster" and master["recurrence"]["pattern"]["type"]
    assert master["iCalUId"] != _uid(master)  # Graph made its own; ours rides beside it
    kinds = [v for v in master["_exceptions"].values()]
    assert None in kinds  # a cancelled occurrence: the instance deleted
    assert any(isinstance(v, dict) for v in kinds)  # a moved one: the instance patched
    instance_calls = [c for c in fake.calls if c.path.endswith("/instances")]
    assert instance_calls
    assert fake.errors == []


def test_an_rrule_graph_cannot_hold_is_expanded_and_said_so_and_a_task_reported(
    cloud: Cloud, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = cloud.fake
    source = tmp_path / "odd"
    source.mkdir()
    (source / "pump.ics").write_text(HOURLY)
    (source / "todo.ics").write_text(TASK)
    user = "carol@example.test"
    state = tmp_path / "s.db"
    assert _run(cloud, source, state, user) == 1  # the task is a failed item, with its reason
    out = capsys.readouterr().out
    assert "Tasks.ReadWrite.All" in out and "task-1@old.example" in out, out
    assert "no pattern for RRULE" in out and "6 single events" in out, out
    events = fake.events(user, "pump")
    assert len(events) == 6 and all(e["type"] == "singleInstance" for e in events)
    assert all("series Check the pump" in e["categories"] for e in events)
    posts = sum(1 for c in fake.calls if c.method == "POST")
    assert _run(cloud, source, state, user) == 1  # rerun: nothing new
    assert sum(1 for c in fake.calls if c.method == "POST") == posts
    assert len(fake.events(user, "pump")) == 6
    assert fake.errors == []


def test_rerun_changes_nothing_and_an_edit_changes_only_that_event(
    cloud: Cloud, tmp_path: Path
) -> None:
    fake = cloud.fake
    source = tmp_path / "work"
    source.mkdir()
    shutil.copy(DATA / "recurring-ical-events/machbar_16_feb_2019.ics", source / "work.ics")
    state = tmp_path / "state.db"
    user = "dave@example.test"
    assert _run(cloud, source, state, user) == 0
    before = {e["id"]: e["changeKey"] for e in fake.events(user, "work")}
    writes = sum(1 for c in fake.calls if c.method != "GET")
    assert _run(cloud, source, state, user) == 0
    assert {e["id"]: e["changeKey"] for e in fake.events(user, "work")} == before
    assert sum(1 for c in fake.calls if c.method != "GET") == writes
    raw = (source / "work.ics").read_text()
    first_summary = icalendar.Calendar.from_ical(raw).walk("VEVENT")[0]["SUMMARY"]
    (source / "work.ics").write_text(raw.replace(f"SUMMARY:{first_summary}", "SUMMARY:Renamed", 1))
    assert _run(cloud, source, state, user) == 0
    after = {e["id"]: e["changeKey"] for e in fake.events(user, "work")}
    assert set(after) == set(before)  # updated in place, nothing new, nothing gone
    changed = [i for i in after if after[i] != before[i]]
    assert len(changed) == 1
    assert any(e["subject"] == "Renamed" for e in fake.events(user, "work"))
    assert fake.errors == []


def test_throttling_is_waited_out_and_a_mailbox_sees_at_most_four_requests(
    cloud: Cloud, tmp_path: Path
) -> None:
    fake = cloud.fake
    source = tmp_path / "busy"
    source.mkdir()
    shutil.copy(DATA / "recurring-ical-events/machbar_16_feb_2019.ics", source / "busy.ics")
    fake.throttle_next = [(429, "1"), (503, None), (429, "1")]
    user = "erin@example.test"
    first = len(fake.calls)
    began = time.monotonic()
    assert _run(cloud, source, tmp_path / "state.db", user, "--dav-workers", "8") == 0
    throttled = [c for c in fake.calls[first:] if c.status in (429, 503)]
    assert len([c for c in throttled if c.user == user]) >= 3
    assert time.monotonic() - began >= 2.0  # two Retry-After: 1 honoured
    assert fake.max_in_flight[user] <= 4  # eight writers, still four at once per mailbox
    uids = [_uid(e) for e in fake.events(user, "busy")]
    assert len(uids) == len(set(uids)) == 58
    assert fake.errors == []


def test_a_killed_run_resumes_without_duplicates(cloud: Cloud, tmp_path: Path) -> None:
    fake = cloud.fake
    source = tmp_path / "kill"
    source.mkdir()
    shutil.copy(DATA / "recurring-ical-events/machbar_16_feb_2019.ics", source / "killed.ics")
    state = tmp_path / "state.db"
    user = "frank@example.test"
    cmd = [
        sys.executable,
        "-m",
        "skylift",
        *_argv(cloud, source, state, user, "--dav-workers", "1"),
    ]
    fake.write_delay = 0.05
    start = len(fake.calls)
    child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             env=os.environ | {"PYTHONPATH": str(Path(skylift.__file__).parents[1])})  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done = [c for c in fake.calls[start:] if c.method == "POST" and c.user == user]
            if len(done) >= 15 or child.poll() is not None:
                break
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        fake.write_delay = 0.0
    before = {_uid(e) for e in fake.events(user, "killed")}
    assert 0 < len(before) < 58  # killed midway
    assert _run(cloud, source, state, user) == 0
    uids = [_uid(e) for e in fake.events(user, "killed")]
    assert len(uids) == len(set(uids)) == 58  # every object once, none twice
    assert fake.errors == []


def test_without_the_graph_role_one_line_and_no_write(
    cloud: Cloud, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = cloud.tokens.add_app("example.test", secret="app-secret")  # no Calendars.ReadWrite
    source = tmp_path / "cal"
    source.mkdir()
    (source / "pump.ics").write_text(HOURLY)
    writes = sum(1 for c in cloud.fake.calls if c.method != "GET")
    argv = _argv(cloud, source, tmp_path / "s.db", USER)
    argv[argv.index(cloud.client_id)] = app.client_id
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code != 0 and len(err) == 1, err
    assert err[0].startswith("skylift: error: ") and "Calendars.ReadWrite" in err[0]
    assert sum(1 for c in cloud.fake.calls if c.method != "GET") == writes


def test_a_preview_names_what_graph_cannot_hold_and_the_rule_before_the_move(
    cloud: Cloud, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "preview"
    source.mkdir()
    (source / "pump.ics").write_text(HOURLY)
    (source / "chores.ics").write_text(TASK)
    writes = sum(1 for c in cloud.fake.calls if c.method != "GET")
    code = _run(cloud, source, tmp_path / "s.db", "gina@example.test", "--dry-run")
    out = capsys.readouterr().out
    assert code in (0, 1)
    line = next(x for x in out.splitlines() if "task-1@old.example" in x)  # by UID
    assert "Microsoft To Do" in line and "Tasks.ReadWrite.All" in line, line
    line = next(x for x in out.splitlines() if "pump@old.example" in x)
    assert "no pattern for RRULE FREQ=HOURLY" in line and "6 single events" in line, line
    assert sum(1 for c in cloud.fake.calls if c.method != "GET") == writes  # nothing written


def test_a_small_inline_attachment_goes_along_and_comes_back(cloud: Cloud, tmp_path: Path) -> None:
    fake = cloud.fake
    original = (DATA / "icalendar/issue_1549_binary_attachment.ics").read_text()
    attach = next(line for line in original.splitlines() if line.startswith("ATTACH"))
    event = HOURLY.replace("RRULE:FREQ=HOURLY;INTERVAL=4;COUNT=6\r\n", f"{attach}\r\n")
    source = tmp_path / "files"
    source.mkdir()
    (source / "files.ics").write_text(event)
    user = "hank@example.test"
    assert _run(cloud, source, tmp_path / "s.db", user) == 0
    (stored,) = fake.events(user, "files")
    (file,) = stored["_attachments"]
    png = icalendar.Calendar.from_ical(event).walk("VEVENT")[0]["ATTACH"].bytes
    assert file["contentType"] == "image/png" and file["size"] == len(png)
    back = to_ical(_uid(stored), [fake._view(stored, {})], {stored["id"]: [file]})
    again = icalendar.Calendar.from_ical(back).walk("VEVENT")[0]["ATTACH"]
    assert again.bytes == png
    assert fake.errors == []


def test_without_the_entra_app_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        main(["migrate-calendars", "--source", f"ics://{DATA}/khal", "--user", USER,
              "--target-profile", "microsoft365", "--state", str(tmp_path / "s.db")])  # fmt: skip
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith("skylift: error: ") and "--target-oauth-tenant" in err[0]


def test_a_large_attachment_goes_through_an_upload_session_in_chunks(
    cloud: Cloud, tmp_path: Path
) -> None:
    fake = cloud.fake
    data = b"\x89PNG\r\n\x1a\n" + os.urandom(5 * 1024 * 1024)  # over 3 MB: no inline POST
    value = icalendar.vBinary(data)
    value.params.update({"FMTTYPE": "image/png", "FILENAME": "plan.png", "VALUE": "BINARY",
                         "ENCODING": "BASE64"})  # fmt: skip
    cal = icalendar.Calendar.from_ical(
        HOURLY.replace("RRULE:FREQ=HOURLY;INTERVAL=4;COUNT=6\r\n", "")
    )
    cal.walk("VEVENT")[0].add("ATTACH", value)
    source = tmp_path / "big"
    source.mkdir()
    (source / "big.ics").write_bytes(cal.to_ical())
    user = "ivy@example.test"
    start = len(fake.calls)
    assert _run(cloud, source, tmp_path / "s.db", user) == 0
    (stored,) = fake.events(user, "big")
    (file,) = stored["_attachments"]
    assert file["name"] == "plan.png" and file["size"] == len(data)
    assert icalendar.vBinary.from_ical(file["contentBytes"]) == data or (
        __import__("base64").b64decode(file["contentBytes"]) == data
    )
    chunks = [c for c in fake.calls[start:] if c.path == "/upload"]
    assert len(chunks) == 2  # 5 MB in pieces under 4 MB
    assert fake.errors == []
