"""``support report``: what a help-desk agent needs on the phone, per user, in HTML and CSV."""

from __future__ import annotations

import csv

from skylift.state.notices import NoticeLedger
from skylift.state.routing import RoutingRegistry
from skylift.state.work_units import WorkUnits
from tests.mailtools import run_skylift


def test_report_shows_state_result_problems_and_setup_link(org, tmp_path):
    state = tmp_path / "state.db"
    units = WorkUnits(state)
    ids = units.queue("migrate-1", "mail", ["ann@new.example", "cat@new.example"])
    for key, outcome, error in (
        ("ann@new.example", "done", None),
        ("cat@new.example", "failed", "NO [OVERQUOTA] Quota exceeded"),
    ):
        units.start(ids[key])
        units.finish(ids[key], outcome, error=error)
    units.close()
    with RoutingRegistry(state) as registry:
        registry.set(["cat@new.example"], "cloud", wave=3, run_id="cut-3", actor="test")
    NoticeLedger(state).record("ann@new.example", "done", "1", "en", "notify-1", "<m1@new.example>")

    out = tmp_path / "support"
    result = run_skylift("support", "report", "--state", state, "--waves", org.waves,
                         "--config", org.config, "--target-profile", "microsoft365",
                         "--public-url", "https://setup.new.example", "--out", out)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "3 users, 1 with open problems" in result.stdout
    with open(out / "support.csv", newline="") as handle:
        rows = {r["user"]: r for r in csv.DictReader(handle)}
    assert set(rows) == {"ann@new.example", "bob@new.example", "cat@new.example"}
    ann, bob, cat = rows["ann@new.example"], rows["bob@new.example"], rows["cat@new.example"]
    assert (ann["routing"], ann["migration"], ann["notices"], ann["problems"]) == (
        "cloud",
        "done",
        "done",
        "",
    )
    assert cat["routing"] == "cloud" and cat["migration"] == "failed"
    assert "the mailbox copy failed: NO [OVERQUOTA] Quota exceeded" in cat["problems"]
    assert 'has not been sent the "done" notice' in cat["problems"]
    assert bob["routing"] == "onprem" and bob["migration"] == "not started"
    assert bob["setup_link"] == "https://setup.new.example/setup?emailaddress=bob%40new.example"
    html = (out / "support.html").read_text()
    assert "moved (cloud)" in html and "Quota exceeded" in html and "not moved yet" in html
    assert html.count('class="problem"') == 1
    assert oct((out / "support.csv").stat().st_mode & 0o777) == "0o600"
