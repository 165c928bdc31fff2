"""``verify-calendars --target-profile google-workspace`` after a move into Google Calendar.

Against the schema-checked Google fake. Google rebuilds each event from its fields, so verify
compares instants and titles: right after the move of a real calendar file (recurrences,
an override, a cancelled occurrence) it finds nothing; an event deleted in Google is named,
with exit 1.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from skylift.cli import main
from tests.servers.google_fake import GoogleFake
from tests.servers.token_endpoint import TokenEndpoint

DATA = Path(__file__).resolve().parents[2] / "data" / "ics"
USER = "vic@example.test"


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[tuple[GoogleFake, list[str]]]:
    tokens = TokenEndpoint(tmp_path / "tokens", lifetime=60).start()
    key = tokens.add_service_account(
        "example.test", {USER}, {"https://www.googleapis.com/auth/calendar"}
    )
    fake = GoogleFake(tokens).start()
    target = ["--user", USER, "--target-profile", "google-workspace", "--target-api-base",
              fake.api_base, "--target-oauth-service-account", str(key), "--target-ca",
              str(tokens.ca_file)]  # fmt: skip
    yield fake, target
    fake.stop()
    tokens.stop()


def _run(*argv: str) -> int:
    try:
        main(list(argv))
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_verify_against_google_finds_nothing_after_the_move_then_a_deleted_event(
    cloud: tuple[GoogleFake, list[str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake, target = cloud
    source = tmp_path / "cal"
    source.mkdir()
    shutil.copy(DATA / "khal/event_rrule_recuid_cancelled.ics", source / "khal.ics")
    shutil.copy(DATA / "recurring-ical-events/machbar_16_feb_2019.ics", source / "machbar.ics")
    state = str(tmp_path / "s.db")
    assert _run("migrate-calendars", "--source", f"ics://{source}", *target, "--state", state) == 0
    window = ["--start", "2014-01-01", "--days", "5000", "--json"]
    capsys.readouterr()
    assert _run("verify-calendars", "--source", f"ics://{source}", *target, *window) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True

    (calendar,) = [c for c in fake.calendars[USER].values() if c.summary == "machbar"]
    gone = next(iter(calendar.events))
    del calendar.events[gone]  # deleted by the user in Google Calendar
    assert _run("verify-calendars", "--source", f"ics://{source}", *target, *window) == 1
    out = json.loads(capsys.readouterr().out)
    problems = [p for item in out["items"] for c in item["collections"] for p in c["problems"]]
    assert problems and all(p["problem"] == "missing on the target" for p in problems), problems
