"""The admin's buttons: start, pause, cancel, resume a wave and run one mailbox again.

A dashboard of its own (its own state store, the same servers) caps the waves at 300 kB/s
and runs one mailbox at a time, so wave 2 (dmitri, then eva) is still running when the
pause arrives. Every action goes through the CLI's runner: the paused mailbox resumes where
it stopped, nothing is copied twice, and the audit trail names who did what.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import imapclient
import pytest

from skylift.state.web_access import WebAccess
from tests.web.conftest import PASSWORDS, Org, Web, run_web, session, skylift


@pytest.fixture(scope="module")
def slow_web(org: Org) -> Iterator[Web]:
    state = org.root / "slow.db"
    access = WebAccess(state)
    access.add_user("admin", "admin", PASSWORDS["admin"])
    access.close()
    yield from run_web(org, state, "slow-web", "--bwlimit", "300k", "--parallel", "1")


def _until(what: str, check: Callable[[], Any], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _target_count(org: Org, user: str) -> int:
    client = imapclient.IMAPClient("127.0.0.1", port=org.target.imap_port, ssl=False)
    client.login(user, user.split("@")[0] + "-new-pw")
    try:
        return sum(client.select_folder(f[2], readonly=True)[b"EXISTS"]
                   for f in client.list_folders())  # fmt: skip
    finally:
        client.logout()


def test_pause_cancel_resume_and_retry_go_through_the_runner(org: Org, slow_web: Web) -> None:
    client, csrf = session(slow_web, "admin")

    def wave() -> dict[str, Any]:
        waves = client.get("/api/overview").json()["waves"]
        return next(w for w in waves if w["wave"] == "2")

    def user(key: str) -> dict[str, Any]:
        return client.get(f"/api/users/{key}").json()["items"][0]

    def press(path: str) -> None:
        assert client.post(path, data={"csrf": csrf}).status_code == 303

    press("/waves/2/start")
    _until("dmitri running", lambda: user("dmitri@new.example")["state"] == "running")
    press("/waves/2/pause")
    _until("wave 2 paused", lambda: wave()["status"] == "paused")
    paused = wave()
    assert paused["percent"] < 100
    assert user("eva@new.example")["messages"] == 0  # one at a time: eva never began
    press("/waves/2/cancel")
    assert wave()["status"] == "cancelled"

    press("/waves/2/resume")

    # dmitri done, eva running: the time left at the pace so far
    def timed() -> dict[str, Any] | None:
        now = wave()
        return now if now["eta_seconds"] is not None else None

    ahead = _until("a time left", timed)
    assert ahead["status"] == "running" and ahead["finished"] == 1
    _until("wave 2 done", lambda: wave()["status"] == "done")
    assert wave()["eta_seconds"] is None
    assert wave()["percent"] == 100
    for key in ("dmitri@new.example", "eva@new.example"):
        assert user(key)["messages"] == 40
        assert _target_count(org, key) == 40  # resumed, nothing twice

    runs = len(user("dmitri@new.example")["units"])
    press("/users/dmitri@new.example/retry")
    _until("dmitri's new run", lambda: len(user("dmitri@new.example")["units"]) == runs + 1
           and user("dmitri@new.example")["state"] == "done")  # fmt: skip
    assert _target_count(org, "dmitri@new.example") == 40

    audit = client.get("/api/audit").json()["items"]
    done = [(e["name"], e["action"], e["target"]) for e in reversed(audit)]
    assert done == [("admin", "start", "2"), ("admin", "pause", "2"), ("admin", "cancel", "2"),
                    ("admin", "resume", "2"), ("admin", "retry", "dmitri@new.example")]  # fmt: skip

    # /api/units is what `skylift jobs --json --all` prints, row for row
    units = client.get("/api/units").json()
    jobs = skylift("jobs", "--json", "--all", "--state", str(org.root / "slow.db"))
    assert jobs.returncode == 0, jobs.stderr
    assert units["items"] == json.loads(jobs.stdout)["items"]
    assert len(units["items"]) == 5  # two runs of wave 2, dmitri's retry


def test_calendar_contacts_and_directory_runs_are_listed_with_their_errors(
    org: Org, slow_web: Web
) -> None:
    from skylift.state.work_units import WorkUnits

    units = WorkUnits(org.root / "slow.db")
    ids = units.queue("migrate-calendars-1", "calendars", ["ann@new.example"])
    units.start(ids["ann@new.example"])
    units.finish(ids["ann@new.example"], "failed", error="403 Forbidden: calendar-home-set")
    units.close()
    from skylift.model.dav import DavKind, ItemRecord
    from skylift.state.dav_ledger import DavLedger

    ledger = DavLedger(org.root / "slow.db")
    for uid in ("a", "b", "c"):
        record = ItemRecord(uid, f"/ann/cal/{uid}.ics", "1", f"/t/{uid}.ics", "2", "h")
        ledger.save("ann@new.example", DavKind.CALENDAR, "cal", record)
    ledger.close()
    client, _ = session(slow_web, "admin")
    page = client.get("/work").text
    assert "<td>ann@new.example</td><td>calendar</td><td>1</td><td>3</td>" in page
    assert "calendars" in page and "ann@new.example" in page
    assert "403 Forbidden: calendar-home-set" in page
    assert "No directory sync recorded yet." in page


def test_a_mailbox_page_shows_where_its_mail_is_delivered_and_since_when(
    org: Org, slow_web: Web
) -> None:
    from skylift.state.routing import RoutingRegistry

    with RoutingRegistry(org.root / "slow.db") as registry:  # as `skylift cutover` writes it
        registry.set(["eva@new.example"], "cloud", wave=2, run_id="cutover-1", actor="ops")
    client, _ = session(slow_web, "admin")
    eva = client.get("/api/users/eva@new.example").json()["items"][0]
    assert eva["route"] == "cloud"
    assert [(r["state"], r["wave"], r["actor"]) for r in eva["route_history"]] == [
        ("cloud", 2, "ops")
    ]
    page = client.get("/users/eva@new.example").text
    assert "mail delivered: <strong>cloud</strong>" in page
