"""Work units: every domain's pieces of work in one table, listed by ``skylift jobs``."""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path

from skylift.state.work_units import WorkUnits, new_run_id
from tests.mailtools import run_skylift


def test_units_keep_state_attempts_and_counts_per_run(tmp_path: Path) -> None:
    units = WorkUnits(tmp_path / "s.db")
    first = new_run_id("migrate")
    ids = units.queue(first, "mail", ["jane@new.example", "joe@new.example"])
    units.start(ids["jane@new.example"])
    units.finish(ids["jane@new.example"], "done", items=120, nbytes=4_000_000)
    units.start(ids["joe@new.example"])
    units.finish(ids["joe@new.example"], "failed", error="NO [AUTHENTICATIONFAILED] bad login")
    units.start(ids["joe@new.example"])  # retried
    second = new_run_id("migrate-calendars")
    [cal] = units.queue(second, "calendars", ["jane@new.example"]).values()
    units.close()

    again = WorkUnits(tmp_path / "s.db", must_exist=True)
    rows = again.list()
    assert [(r.run, r.kind, r.key) for r in rows] == [
        (second, "calendars", "jane@new.example"),
        (first, "mail", "jane@new.example"),
        (first, "mail", "joe@new.example"),
    ]
    jane, joe = rows[1], rows[2]
    assert (jane.state, jane.attempts, jane.items, jane.bytes) == ("done", 1, 120, 4_000_000)
    assert (joe.state, joe.attempts) == ("running", 2)
    assert jane.started_at is not None and jane.started_at.tzinfo is UTC
    assert again.latest_runs() == {"mail": first, "calendars": second}
    assert cal == rows[0].id


def test_jobs_lists_the_latest_run_of_each_kind(tmp_path: Path) -> None:
    state = tmp_path / "s.db"
    units = WorkUnits(state)
    old = new_run_id("migrate")
    units.queue(old, "mail", ["old@new.example"])
    mail = new_run_id("migrate")
    [unit] = units.queue(mail, "mail", ["jane@new.example"]).values()
    units.start(unit)
    units.finish(unit, "partial", items=3, problems=2, error="2 messages over --max-size")
    directory = new_run_id("dirsync")
    units.queue(directory, "directory", ["ldap://dc1 -> scim://cloud"])
    units.close()

    result = run_skylift("jobs", "--state", state, "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["command"] == "jobs" and out["totals"] == {"partial": 1, "queued": 1}
    assert [(i["kind"], i["key"]) for i in out["items"]] == [
        ("directory", "ldap://dc1 -> scim://cloud"),
        ("mail", "jane@new.example"),
    ]
    everything = json.loads(run_skylift("jobs", "--state", state, "--all", "--json").stdout)
    assert len(everything["items"]) == 3
    table = run_skylift("jobs", "--state", state)
    assert "jane@new.example" in table.stdout and "2 messages over --max-size" in table.stdout


def test_jobs_refuses_a_missing_state_and_a_bad_kind(tmp_path: Path) -> None:
    missing = run_skylift("jobs", "--state", tmp_path / "typo.db")
    assert missing.returncode == 2 and "state file does not exist" in missing.stderr
    assert not (tmp_path / "typo.db").exists()
    WorkUnits(tmp_path / "s.db").close()
    bad = run_skylift("jobs", "--state", tmp_path / "s.db", "--kind", "fax")
    assert bad.returncode == 2 and "--kind fax: not one of" in bad.stderr
