"""The same migration on ``skylift worker`` processes: exact, resumed after ``kill -9``,
shared by a worker that joins late, and within a tenant's connection cap across workers.

Real Redis (broker), real PostgreSQL (state, leases, shared caps), real Dovecot on both
sides; the workers are subprocesses, as on separate machines.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy

from tests.mailtools import dump, run_skylift
from tests.scaleout.conftest import Org, Workers
from tests.servers.counting_proxy import CountingProxy
from tests.servers.throttle_proxy import ThrottleProxy


def migrate_args(org: Org, state: str, broker: str, target_url: str | None = None) -> list[str]:
    return ["migrate", "--source", org.source.imap_url(), "--target",
            target_url or org.target.imap_url(), "--users", org.users_csv, "--state", state,
            "--runner", "celery", "--broker", broker]  # fmt: skip


def assert_exact(org: Org) -> None:
    """Every source folder arrived with the same messages, flags and dates, none twice."""
    for user in org.names:
        src = dump(org.source.imap_port, user, f"{user}-pw")
        dst = dump(org.target.imap_port, f"{user}@new.example", f"{user}-new-pw")
        for folder, rows in src.items():
            assert dst.get(folder) == rows, (user, folder)
        assert sum(map(len, dst.values())) == sum(map(len, src.values())), user


def units(state: str) -> list[dict[str, object]]:
    engine = sqlalchemy.create_engine(state)
    with engine.connect() as conn:
        rows = conn.execute(sqlalchemy.text("select * from work_units order by id")).mappings()
        out = [dict(r) for r in rows]
    engine.dispose()
    return out


@pytest.fixture
def org(tmp_path: Path) -> Iterator[Org]:
    made = Org(tmp_path, {f"user{i}": 40 for i in range(6)}, {"big": 600})
    yield made
    made.stop()


def test_two_workers_and_a_late_one_migrate_exactly_with_no_secret_on_the_queue(
    org: Org, workers: Workers, state_url: str
) -> None:
    workers.start("w1")
    queued = run_skylift(*migrate_args(org, state_url, workers.broker))
    assert queued.returncode == 0, queued.stderr
    assert "queued 7 units" in queued.stderr
    workers.start("w2")
    workers.start("late", concurrency=2)
    result = run_skylift(*migrate_args(org, state_url, workers.broker), "--wait", "--json")
    # the second submission is a rerun: everything was copied once, so it copies nothing
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["totals"]["done"] == 7
    assert_exact(org)
    rows = units(state_url)
    first = [r for r in rows if r["run"] != out["run"]]
    assert {r["state"] for r in first} == {"done"}
    assert sum(int(r["items"]) for r in first) == 6 * 60 + 600
    assert sum(int(r["items"]) for r in rows if r["run"] == out["run"]) == 0
    assert len({r["worker"] for r in rows}) >= 2  # the work was shared
    everything = json.dumps([r["spec"] for r in rows])
    for user in org.names:
        assert f"{user}-pw" not in everything and f"{user}-new-pw" not in everything


def ledger_rows(state: str, key: str) -> int:
    engine = sqlalchemy.create_engine(state)
    with engine.connect() as conn:
        count = conn.execute(
            sqlalchemy.text("select count(*) from mail_ledger where mailbox = :k"), {"k": key}
        ).scalar()
    engine.dispose()
    return int(count or 0)


def test_a_worker_killed_mid_mailbox_is_resumed_elsewhere_with_no_duplicate(
    org: Org, workers: Workers, state_url: str
) -> None:
    workers.start("w1")
    workers.start("w2")
    queued = run_skylift(*migrate_args(org, state_url, workers.broker))
    assert queued.returncode == 0, queued.stderr
    deadline = time.monotonic() + 60
    holder = None
    while time.monotonic() < deadline:  # the big mailbox is running and partly copied
        big = next((r for r in units(state_url) if r["key"] == "big@new.example"), None)
        if big and big["state"] == "running" and ledger_rows(state_url, "big@new.example") > 50:
            holder = str(big["owner"])
            break
        time.sleep(0.05)
    assert holder in ("w1", "w2"), "the big mailbox never ran"
    workers.kill9(holder)
    assert ledger_rows(state_url, "big@new.example") < 600  # killed mid-mailbox
    result = run_skylift("jobs", "--state", state_url, "--json")
    assert result.returncode == 0, result.stderr
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rows = units(state_url)
        if all(r["state"] in ("done", "failed") for r in rows):
            break
        time.sleep(0.2)
    big = next(r for r in rows if r["key"] == "big@new.example")
    assert big["state"] == "done" and big["worker"] != holder
    assert int(big["attempts"]) == 2
    assert "stopped answering" not in str(big["last_error"] or "")
    assert {r["state"] for r in rows} == {"done"}
    assert_exact(org)


def test_a_tenant_cap_holds_across_workers(
    org: Org, workers: Workers, state_url: str, tmp_path: Path
) -> None:
    proxy = CountingProxy(org.target.imap_port)
    profile = tmp_path / "capped.toml"
    profile.write_text('name = "capped"\n[mail]\nauth = "password"\ntenant_connections = 2\n')
    for name in ("w1", "w2", "w3"):
        workers.start(name, concurrency=2)
    args = migrate_args(org, state_url, workers.broker, proxy.url())
    result = run_skylift(*args, "--target-profile", profile, "--allow-plaintext", "--wait")
    assert result.returncode == 0, result.stderr + result.stdout
    assert proxy.sessions >= 7  # every mailbox went through the counted front
    assert proxy.most <= 2
    assert_exact(org)


def wait_ended(state: str, run: str | None = None, seconds: float = 60) -> list[dict[str, object]]:
    deadline = time.monotonic() + seconds
    while True:
        rows = [r for r in units(state) if run is None or r["run"] == run]
        if all(r["state"] in ("done", "partial", "failed", "cancelled") for r in rows):
            return rows
        assert time.monotonic() < deadline, rows
        time.sleep(0.2)


def test_cancel_a_unit_a_failing_unit_says_why_and_retry_finishes_it(
    tmp_path: Path, workers: Workers, state_url: str
) -> None:
    org = Org(tmp_path, {"ann": 10, "ben": 10, "cat": 10}, {})
    try:
        queued = run_skylift(*migrate_args(org, state_url, workers.broker))
        assert queued.returncode == 0, queued.stderr
        ids = {str(r["key"]).split("@")[0]: int(r["id"]) for r in units(state_url)}
        cancelled = run_skylift("jobs", "cancel", ids["ben"], "--state", state_url)
        assert cancelled.returncode == 0, cancelled.stderr
        full = org.users_csv.read_text()
        # this worker's copy of the users file lacks ann: her unit cannot run here
        org.users_csv.write_text("\n".join(x for x in full.splitlines() if "ann" not in x) + "\n")
        workers.start("w1")
        rows = {str(r["key"]).split("@")[0]: r for r in wait_ended(state_url)}
        assert rows["ann"]["state"] == "failed"
        assert "ann@new.example is not in this worker's copy of the users file" in str(
            rows["ann"]["last_error"]
        )
        assert rows["ben"]["state"] == "cancelled"
        assert rows["cat"]["state"] == "done"
        assert dump(org.target.imap_port, "ben@new.example", "ben-new-pw").get("INBOX") == []
        shown = run_skylift("jobs", "--state", state_url)
        assert "failed" in shown.stdout and "cancelled" in shown.stdout and "w1" in shown.stdout
        org.users_csv.write_text(full)
        retried = run_skylift(
            "jobs", "retry", ids["ann"], "--state", state_url, "--broker", workers.broker
        )
        assert retried.returncode == 0, retried.stderr
        rows = {str(r["key"]).split("@")[0]: r for r in wait_ended(state_url)}
        assert rows["ann"]["state"] == "done" and int(rows["ann"]["items"]) == 15
        again = run_skylift("jobs", "retry", ids["ann"], "--state", state_url)
        assert again.returncode == 2
        assert again.stderr.startswith("skylift: error: ")
    finally:
        org.stop()


def test_a_throttle_reply_to_one_worker_pauses_every_worker_of_that_tenant(
    tmp_path: Path, workers: Workers, state_url: str
) -> None:
    org = Org(tmp_path, {}, {f"u{i}": 400 for i in range(4)})  # 8 MB each: several batches
    proxy = ThrottleProxy(org.target.imap_port, throttle={3}, backoff_ms=3000)
    try:
        workers.start("w1")
        workers.start("w2")
        args = migrate_args(org, state_url, workers.broker, proxy.url())
        result = run_skylift(*args, "--allow-plaintext", "--wait")
        assert result.returncode == 0, result.stderr + result.stdout
        assert_exact(org)
        hit = next(at for at, throttled in proxy.appends if throttled)
        # an APPEND already on its way when the reply came may still arrive; after that, no
        # worker writes to the tenant until the 3 s it was told have passed
        during = [at - hit for at, _ in proxy.appends if 0.5 < at - hit < 2.8]
        assert during == []
        assert any(at - hit >= 2.8 for at, _ in proxy.appends)  # and then the run went on
    finally:
        org.stop()


def test_celery_runner_refusals_are_one_line(tmp_path: Path, state_url: str) -> None:
    users = tmp_path / "users.csv"
    users.write_text("EmailAddress,UserName,Password,TargetPassword\na@x.example,a,pw,pw2\n")
    base = ["migrate", "--source", "imap://127.0.0.1:9", "--target", "imap://127.0.0.1:9",
            "--users", users]  # fmt: skip
    cases = {
        ("--runner", "celery", "--state", state_url): "--runner celery needs --broker URL",
        ("--runner", "celery", "--broker", "redis://127.0.0.1:9/0", "--state",
         str(tmp_path / "s.db")): "--runner celery needs --state postgresql",
        ("--broker", "redis://127.0.0.1:9/0",): "--broker and --wait go with --runner celery",
        ("--runner", "celery", "--broker", "redis://u:secret@127.0.0.1:9/0", "--state",
         state_url): "--broker: put no password in the URL",
        ("--runner", "celery", "--broker", "redis://127.0.0.1:9/0", "--state", state_url):
            "cannot reach the broker at 127.0.0.1",
        ("--runner", "threads",): "--runner threads: not one of local, celery",
    }  # fmt: skip
    for extra, words in cases.items():
        result = run_skylift(*base, *extra)
        assert result.returncode in (2, 3), (extra, result.stderr)
        assert result.stderr.startswith("skylift: error: ") and words in result.stderr, extra
        assert len(result.stderr.strip().splitlines()) == 1 and "secret" not in result.stderr
    worker = run_skylift("worker", "--broker", "redis://127.0.0.1:9/0", "--state", "x.db")
    assert worker.returncode == 2
    assert "skylift worker needs --state postgresql" in worker.stderr


def test_a_big_mailbox_becomes_one_unit_per_folder_and_reruns_resume(
    tmp_path: Path, workers: Workers, state_url: str
) -> None:
    org = Org(tmp_path, {"huge": 200, "small": 10}, {})  # huge: INBOX 200, Work/Projects 100
    try:
        for name in ("w1", "w2"):
            workers.start(name)
        args = migrate_args(org, state_url, workers.broker)
        result = run_skylift(*args, "--split-above", "100", "--wait", "--json")
        assert result.returncode == 0, result.stderr + result.stdout
        rows = {str(r["key"]): r for r in units(state_url)}
        assert set(rows) == {
            "huge@new.example", "huge@new.example / INBOX", "huge@new.example / Work",
            "huge@new.example / Work/Projects", "small@new.example",
        }  # fmt: skip
        assert rows["huge@new.example"]["last_error"] == "split into 3 folder units"
        assert int(rows["huge@new.example / INBOX"]["items"]) == 200
        assert int(rows["huge@new.example / Work/Projects"]["items"]) == 100
        assert {r["state"] for r in rows.values()} == {"done"}
        assert_exact(org)
        again = run_skylift(*args, "--split-above", "100", "--wait", "--json")
        assert json.loads(again.stdout)["totals"]["copied"] == 0  # the rerun resumes, per folder
    finally:
        org.stop()
