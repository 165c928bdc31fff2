"""``assess --runner celery``: two ``skylift worker`` processes read the mailboxes, the client
writes the report; it says what a local assessment of the same organization says."""

from __future__ import annotations

import json
from pathlib import Path

from tests.mailtools import run_skylift
from tests.scaleout.conftest import Org, Workers


def _assess(org: Org, out: Path, *extra: object):  # type: ignore[no-untyped-def]
    return run_skylift("assess", "--source", org.source.imap_url(), "--users", org.users_csv,
                       "--target-profile", "generic-imap", "--out", out, "--json", *extra)  # fmt: skip


def test_the_workers_read_every_mailbox_and_the_report_matches_a_local_one(
    tmp_path: Path, workers: Workers, state_url: str
) -> None:
    org = Org(tmp_path / "org", {"ann": 40, "ben": 24, "cy": 12, "dee": 6}, {})
    try:
        workers.start("w1", concurrency=1)
        workers.start("w2", concurrency=1)
        remote = _assess(org, tmp_path / "remote", "--runner", "celery", "--broker",
                         workers.broker, "--state", state_url, "--wait")  # fmt: skip
        assert remote.returncode == 0, remote.stderr + remote.stdout
        local = _assess(org, tmp_path / "local")
        assert local.returncode == 0, local.stderr
        got, want = json.loads(remote.stdout)["totals"], json.loads(local.stdout)["totals"]
        for key in ("users", "users_ok", "items", "bytes", "findings_by_kind"):
            assert got[key] == want[key], key
        assert got["items"] == (40 + 20) + (24 + 12) + (12 + 6) + (6 + 3)
        rows = json.loads((tmp_path / "remote" / "assessment.json").read_text())
        assert {u["user"] for u in rows["users"]} == {f"{n}@new.example" for n in org.names}
        jobs = run_skylift("jobs", "--state", state_url, "--kind", "assess", "--json")
        units = json.loads(jobs.stdout)["items"]
        assert {u["state"] for u in units} == {"done"} and len(units) == 4
        assert {u["worker"] for u in units} <= {"w1", "w2"}
        # the report is written here from every inventory: no --wait, no report
        nowait = _assess(org, tmp_path / "x", "--runner", "celery", "--broker", workers.broker,
                         "--state", state_url)  # fmt: skip
        assert nowait.returncode == 2 and "needs --wait" in nowait.stderr
        assert len(nowait.stderr.strip().splitlines()) == 1
    finally:
        org.stop()
