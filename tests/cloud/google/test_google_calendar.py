"""migrate-calendars into Google Calendar through the schema-checked loopback fake.

Tiers (issue 15): (1) every request the connector makes is validated against the pinned
discovery slice by ``tests/servers/google_fake.py`` (``fake.errors`` must stay empty);
(2) round trips: the real calendar files in tests/data go source -> fake Google -> back out,
compared occurrence by occurrence over two years, with a per-file line saying what changed
and why; (3) faults: scripted 403 rateLimitExceeded / 429 / 503 with Retry-After are waited
out, and a rerun (after a kill) changes nothing and duplicates nothing. Tokens come from the
loopback token endpoint through the service account's key file (subject = each user).
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
from pathlib import Path

import icalendar
import pytest

import skylift
from skylift.cli import main
from skylift.connectors.dav.google.events import to_ical
from skylift.engine.dav.verify import occurrences
from tests.servers.google_fake import GoogleFake
from tests.servers.token_endpoint import TokenEndpoint

DATA = Path(__file__).resolve().parents[2] / "data" / "ics"
USER = "alice@example.test"
SCOPE = "https://www.googleapis.com/auth/calendar"
FILES = [
    "ical.js/recur_instances.ics",
    "khal/event_rrule_recuid_cancelled.ics",
    "icalendar/pacific_fiji.ics",
    "recurring-ical-events/issue_223_thunderbird.ics",
    "recurring-ical-events/machbar_16_feb_2019.ics",
    "recurring-ical-events/subcomponents.ics",
    "thunderbird/importLatin1.ics",
]
#: refused before any upload (two DTSTARTs): reported as failed with the original exported
MALFORMED = {"icalendar/pacific_fiji.ics"}
TASK = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VTODO\r\nUID:task-1@old.example\r\n"
    "DTSTAMP:20260101T000000Z\r\nSUMMARY:File the report\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
)


@pytest.fixture(scope="module")
def cloud(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TokenEndpoint, GoogleFake, Path]]:
    root = tmp_path_factory.mktemp("google")
    tokens = TokenEndpoint(root / "tokens", lifetime=60).start()
    key = tokens.add_service_account("example.test", {USER, "bob@example.test"}, {SCOPE})
    fake = GoogleFake(tokens).start()
    fake.page_size = 7  # make the connector page
    yield tokens, fake, key
    fake.stop()
    tokens.stop()


def _run(cloud: tuple[TokenEndpoint, GoogleFake, Path], source: Path, state: Path, user: str,
         *extra: str) -> int:  # fmt: skip
    tokens, fake, key = cloud
    argv = [
        "migrate-calendars", "--source", f"ics://{source}", "--user", user,
        "--target-profile", "google-workspace", "--target-api-base", fake.api_base,
        "--target-oauth-service-account", str(key), "--target-ca", str(tokens.ca_file),
        "--state", str(state), "--parallel", "1", "--dav-workers", "1", *extra,
    ]  # fmt: skip
    try:
        main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def _first_start(raw: bytes) -> dt.date:
    cal = icalendar.Calendar.from_ical(raw)
    starts = []
    for event in cal.walk("VEVENT"):
        value = event.decoded("DTSTART")
        starts.append(value.date() if isinstance(value, dt.datetime) else value)
    return min(starts)


def _comparable(found: set[tuple[str, ...]]) -> set[tuple[str, ...]]:
    # (start, end, summary): the zone id may change name (Windows -> IANA), never the instant;
    # a UID-less source event is given one by skylift, so the UID is checked apart
    return {(_pin(o[1]), _pin(o[2]), o[4]) for o in found}


def _pin(moment: str) -> str:
    """Google has no floating time: skylift pins one to the calendar's zone (UTC)."""
    return moment.replace(" floating", "+00:00")


def test_real_files_round_trip_through_google(
    cloud: tuple[TokenEndpoint, GoogleFake, Path], tmp_path: Path
) -> None:
    _, fake, _ = cloud
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
        events = fake.events(USER, calendar)
        if name in MALFORMED:
            assert events == []
            report.append(f"{name}: malformed at the source, reported and exported, not sent")
            continue
        cal = icalendar.Calendar.from_ical(raw)
        uids = {str(e.get("UID")) for e in cal.walk("VEVENT") if e.get("UID")}
        google_uids = {e["iCalUID"] for e in events}
        if len(uids) == len(cal.walk("VEVENT")) or uids:
            assert uids <= google_uids, name  # iCalUID kept
        uids = google_uids  # a UID-less source event got a stable one from skylift
        begin = _first_start(raw)
        window = (begin, begin + dt.timedelta(days=730))
        mine = _comparable(occurrences(raw, *window))
        back = set()
        for uid in uids:
            back |= _comparable(
                occurrences(to_ical([e for e in events if e["iCalUID"] == uid]), *window)
            )
        lost, extra = mine - back, back - mine
        floating = sum(1 for o in occurrences(raw, *window) if o[1].endswith("floating"))
        why = f"; {floating} floating times pinned to UTC (Google has none)" if floating else ""
        report.append(f"{name}: {len(mine)} occurrences, {len(lost)} lost, {len(extra)} added{why}")
        assert not lost and not extra, (name, sorted(lost)[:3], sorted(extra)[:3])
    print("\n".join(report))


def test_overrides_and_cancelled_occurrences_keep_their_original_start(
    cloud: tuple[TokenEndpoint, GoogleFake, Path], tmp_path: Path
) -> None:
    _, fake, _ = cloud
    source = tmp_path / "one"
    source.mkdir()
    shutil.copy(DATA / "khal/event_rrule_recuid_cancelled.ics", source / "khal.ics")
    assert _run(cloud, source, tmp_path / "s.db", "bob@example.test") == 0
    events = fake.events("bob@example.test", "khal")
    series = [e for e in events if "recurringEventId" not in e]
    overrides = [e for e in events if "recurringEventId" in e]
    assert len(series) == 1 and series[0]["recurrence"][0].startswith("RRULE:")
    assert overrides and all(e["recurringEventId"] == series[0]["id"] for e in overrides)
    assert all("originalStartTime" in e for e in overrides)
    assert any(e["status"] == "cancelled" for e in overrides)


def test_rerun_changes_nothing_and_a_task_is_reported_not_dropped(
    cloud: tuple[TokenEndpoint, GoogleFake, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, fake, _ = cloud
    source = tmp_path / "mixed"
    source.mkdir()
    shutil.copy(DATA / "ical.js/recur_instances.ics", source / "work.ics")
    (source / "todo.ics").write_text(TASK)
    state = tmp_path / "state.db"
    user = "bob@example.test"
    assert _run(cloud, source, state, user) == 1  # the task is a failed item, with its reason
    out = capsys.readouterr()
    assert "VTODO" in out.out + out.err, out.out
    before = {e["id"]: e["etag"] for e in fake.events(user, "work")}
    imports = sum(1 for c in fake.calls if c.path.endswith("/events/import"))
    assert _run(cloud, source, state, user) == 1
    assert {e["id"]: e["etag"] for e in fake.events(user, "work")} == before
    assert sum(1 for c in fake.calls if c.path.endswith("/events/import")) == imports
    assert fake.errors == []


def test_rate_limits_are_waited_out_and_nothing_is_duplicated(
    cloud: tuple[TokenEndpoint, GoogleFake, Path], tmp_path: Path
) -> None:
    _, fake, _ = cloud
    source = tmp_path / "busy"
    source.mkdir()
    shutil.copy(DATA / "recurring-ical-events/machbar_16_feb_2019.ics", source / "busy.ics")
    fake.throttle_next = [(403, "rateLimitExceeded", "1"), (429, "rateLimitExceeded", None),
                          (503, "backendError", "1")]  # fmt: skip
    first = len(fake.calls)
    began = time.monotonic()
    assert _run(cloud, source, tmp_path / "state.db", USER) == 0
    throttled = [c for c in fake.calls[first:] if c.status in (403, 429, 503)]
    assert len(throttled) == 3
    after = fake.calls[first + fake.calls[first:].index(throttled[0]) + 1]
    assert after.at - throttled[0].at >= 0.95  # Retry-After: 1 honoured
    assert time.monotonic() - began >= 2.0
    events = fake.events(USER, "busy")
    assert len({e["iCalUID"] for e in events}) == len(
        [e for e in events if "recurringEventId" not in e]
    )
    assert fake.errors == []


def test_without_a_service_account_one_line_and_exit_2(
    cloud: tuple[TokenEndpoint, GoogleFake, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    del cloud  # the fake is not reached: the key file is missing
    try:
        main(["migrate-calendars", "--source", f"ics://{DATA}/ical.js", "--user", USER,
              "--target-profile", "google-workspace", "--state", str(tmp_path / "s.db")])  # fmt: skip
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("skylift: error: ") and "--target-oauth-service-account" in err[0]


def test_a_killed_run_resumes_without_duplicates(
    cloud: tuple[TokenEndpoint, GoogleFake, Path], tmp_path: Path
) -> None:
    tokens, fake, key = cloud
    source = tmp_path / "kill"
    source.mkdir()
    shutil.copy(DATA / "recurring-ical-events/machbar_16_feb_2019.ics", source / "killed.ics")
    state = tmp_path / "state.db"
    cmd = [
        sys.executable, "-m", "skylift", "migrate-calendars", "--source", f"ics://{source}",
        "--user", USER, "--target-profile", "google-workspace", "--target-api-base",
        fake.api_base, "--target-oauth-service-account", str(key), "--target-ca",
        str(tokens.ca_file), "--state", str(state), "--dav-workers", "1",
    ]  # fmt: skip
    fake.write_delay = 0.05
    start = len(fake.calls)
    child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             env=os.environ | {"PYTHONPATH": str(Path(skylift.__file__).parents[1])})  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done = [c for c in fake.calls[start:] if c.path.endswith("/events/import")]
            if len(done) >= 15 or child.poll() is not None:
                break
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        fake.write_delay = 0.0
    before = fake.events(USER, "killed")
    assert 0 < len({e["iCalUID"] for e in before}) < 58  # killed midway
    assert _run(cloud, source, state, USER) == 0
    events = fake.events(USER, "killed")
    series = [e["iCalUID"] for e in events if "recurringEventId" not in e]
    assert len(series) == len(set(series)) == 58  # every object once, none twice
    assert fake.errors == []


def test_a_preview_names_what_google_cannot_hold_before_the_move(
    cloud: tuple[TokenEndpoint, GoogleFake, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, fake, _ = cloud
    source = tmp_path / "preview"
    source.mkdir()
    (source / "chores.ics").write_text(TASK)
    writes = sum(1 for c in fake.calls if c.method != "GET")
    code = _run(cloud, source, tmp_path / "s.db", "bob@example.test", "--dry-run")
    out = capsys.readouterr().out
    assert code in (0, 1)
    assert "task-1@old.example" in out and "VTODO" in out, out
    assert sum(1 for c in fake.calls if c.method != "GET") == writes  # nothing written
