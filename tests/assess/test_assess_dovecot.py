"""``skylift assess`` and ``skylift plan`` against a real Dovecot with known problems."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import imapclient
import pytest

from skylift.demo.dovecot import DovecotServer
from skylift.engine.assess import files
from tests.assess.conftest import MASTER, AssessDovecot, imap, message

KB = 1024
TEST_PROFILE = """
name = "strict-test"
title = "A strict target for tests"

[limits.max_item_bytes]
value = 204800
source = "test profile"
[limits.max_folder_depth]
value = 3
source = "test profile"
[limits.forbidden_chars]
value = "#"
source = "test profile"
[limits.reserved_names]
value = ["Files"]
source = "test profile"
[limits.case_insensitive_names]
value = true
source = "test profile"
[limits.mailbox_quota_bytes]
value = 300000
source = "test profile"
[limits.public_folders]
value = false
source = "test profile"
remedy = "use a shared mailbox"
"""


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "skylift", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)} | (env or {}),
        timeout=120,
    )


def snapshot(server: AssessDovecot, user: str) -> dict[str, Any]:
    """Counts, \\Recent, unseen and every message's flags, read without changing them."""
    client = imap(server, user)
    state: dict[str, Any] = {}
    for flags, _, name in client.list_folders():
        if b"\\Noselect" in flags or name.startswith(("shared", "Public")):
            continue
        status = client.folder_status(name, [b"MESSAGES", b"RECENT", b"UNSEEN"])
        client.select_folder(name, readonly=True)
        fetched = client.fetch(client.search("ALL"), ["FLAGS"]) if status[b"MESSAGES"] else {}
        state[name] = (dict(status), {uid: sorted(d[b"FLAGS"]) for uid, d in fetched.items()})
    client.logout()
    return state


@pytest.fixture(scope="module")
def seeded(dovecot: AssessDovecot, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    dovecot.add_public_folder("Announcements")
    alice = imap(dovecot, "alice")
    when = datetime(2019, 5, 1, 12, 0, tzinfo=UTC)
    alice.append("INBOX", message("hello", 2 * KB), flags=[b"\\Seen"], msg_time=when)
    alice.append("INBOX", message("flagged", 3 * KB), flags=[b"\\Flagged"])
    alice.append("INBOX", message("unread", 4 * KB))
    alice.append("INBOX", message("big attachment", 300 * KB))
    for name in ("Files", "Work", "work", "A.B.C.D", "Budget #1", "Projects"):
        alice.create_folder(name)
    alice.append("A.B.C.D", message("deep", KB))
    alice.append("Projects", message("plan", KB))
    alice.setacl("Projects", "bob", "lr")
    alice.logout()
    bob = imap(dovecot, "bob")
    bob.append("INBOX", message("bob one", KB))
    bob.logout()
    root = tmp_path_factory.mktemp("assess-run")
    (root / "strict.toml").write_text(TEST_PROFILE)
    (root / "users.csv").write_text(
        "EmailAddress,UserName,Password,Department,VIP\n"
        "alice@example.com,alice,alice-pw,Sales,\n"
        "bob@example.com,bob,bob-pw,Sales,\n"
        "carol@example.com,carol,wrong-password,Ops,yes\n"
        "dave@example.com,dave,dave-pw,Ops,\n"
    )
    before = {u: snapshot(dovecot, u) for u in ("alice", "bob")}
    result = run(
        "assess",
        "--source", dovecot.imap_url(),
        "--users", "users.csv",
        "--target-profile", "strict.toml",
        "--bandwidth", "100Mbit",
        "--probe",
        "--out", "report",
        "--json",
        cwd=root,
    )  # fmt: skip
    after = {u: snapshot(dovecot, u) for u in ("alice", "bob")}
    assert result.returncode == 0, result.stderr
    report = json.loads((root / "report" / "assessment.json").read_text())
    users = {u["user"]: u for u in report["users"]}
    return {
        "root": root,
        "stdout": json.loads(result.stdout),
        "report": report,
        "users": users,
        "before": before,
        "after": after,
    }


def findings(user: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [f for f in user["findings"] if f["kind"] == kind]


def test_source_is_unchanged_by_assess(seeded):
    assert seeded["before"] == seeded["after"]
    inbox_status, inbox_flags = seeded["after"]["alice"]["INBOX"]
    assert inbox_status[b"RECENT"] == 4 and inbox_status[b"UNSEEN"] == 3
    assert sorted(map(tuple, inbox_flags.values())) == [
        (b"\\Flagged", b"\\Recent"),
        (b"\\Recent",),
        (b"\\Recent",),
        (b"\\Recent", b"\\Seen"),
    ]


def test_inventory_counts_sizes_dates_and_quota(seeded):
    alice = seeded["users"]["alice@example.com"]
    assert alice["status"] == "ok"
    inbox = next(f for f in alice["folders"] if f["name"] == "INBOX")
    assert inbox["count"] == 4 and inbox["largest"] > 300 * KB
    assert alice["items"] == 6
    assert alice["oldest"].startswith("2019-05-01")
    assert alice["quota"]["limit"] == 1024 * KB and alice["quota"]["used"] > 300 * KB
    kinds = {ns["kind"] for ns in alice["namespaces"]}
    assert kinds == {"personal", "other", "shared"}


def test_item_over_the_size_limit_is_named(seeded):
    [big] = findings(seeded["users"]["alice@example.com"], "item-too-large")
    assert big["folder"] == "INBOX" and big["item"].startswith("uid 4 ")
    assert big["severity"] == "blocker" and big["remedy"]


def test_folder_findings(seeded):
    alice = seeded["users"]["alice@example.com"]
    assert [f["folder"] for f in findings(alice, "folder-too-deep")] == ["A.B.C.D"]
    assert [f["folder"] for f in findings(alice, "folder-name-forbidden-char")] == ["Budget #1"]
    assert [f["folder"] for f in findings(alice, "folder-name-reserved")] == ["Files"]
    [collision] = findings(alice, "folder-name-collision")
    assert "Work" in collision["detail"] and "work" in collision["detail"]
    [quota] = findings(alice, "over-target-quota")
    assert quota["limit"] == "mailbox_quota_bytes"


def test_shared_and_public_namespaces(seeded):
    bob = seeded["users"]["bob@example.com"]
    [shared] = findings(bob, "shared-folder")
    assert shared["folder"] == "shared.alice.Projects" and "alice" in shared["detail"]
    assert bob["shares_with"] == ["alice"]
    assert seeded["users"]["alice@example.com"]["shares_with"] == ["bob"]  # from the ACL
    assert bob["items"] == 1  # alice's shared folder is not bob's data
    # A public folder is one finding for the organization, not one per user who sees it.
    assert not findings(seeded["users"]["dave@example.com"], "public-folder")
    [public] = seeded["report"]["organization_findings"]
    assert public["kind"] == "public-folder" and public["folder"] == "Public.Announcements"
    assert "visible to 3 users" in public["detail"]
    assert public["severity"] == "blocker" and public["remedy"].startswith(
        "use a shared mailbox; skylift migrate-public-folders"
    )
    assert seeded["report"]["totals"]["blockers_by_kind"]["public-folder"] == 1


def test_wrong_password_is_a_finding_not_a_crash(seeded):
    carol = seeded["users"]["carol@example.com"]
    assert carol["status"] == "login-failed"
    [login] = carol["findings"]
    assert login["kind"] == "login-failed" and "carol" in login["detail"]
    assert "wrong-password" not in json.dumps(seeded["report"])
    totals = seeded["stdout"]["totals"]
    assert totals["users"] == 4 and totals["users_failed"] == 1


def test_json_schema_estimates_and_probe(seeded):
    jsonschema = pytest.importorskip("jsonschema")
    schema_path = Path(files.__file__).parent / "assessment.schema.json"
    jsonschema.validate(seeded["report"], json.loads(schema_path.read_text()))
    report = seeded["report"]
    assert report["probe"]["bytes"] > 0 and report["rates"]["probe"] > 0
    assert report["rates"]["bandwidth"] == 12_500_000
    alice = seeded["users"]["alice@example.com"]
    assert alice["estimate"]["bound"] in alice["estimate"]["bounds"]
    assert alice["estimate"]["hours"] == max(alice["estimate"]["bounds"].values())
    assert report["totals"]["hours_bound"]


def test_csv_has_one_row_per_user(seeded):
    with open(seeded["root"] / "report" / "assessment.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["user"] for r in rows if r["status"] == "ok"] and len(rows) == 4
    by_user = {r["user"]: r for r in rows}
    assert by_user["carol@example.com"]["status"] == "login-failed"
    assert int(by_user["alice@example.com"]["blockers"]) >= 5
    assert by_user["alice@example.com"]["Department"] == "Sales"
    assert "Password" not in rows[0]


def test_plan_keeps_sharing_users_together_and_writes_waves_csv(seeded):
    root = seeded["root"]
    result = run(
        "plan",
        "--assessment", "report/assessment.json",
        "--window", "Sat 20:00-Mon 06:00",
        "--waves", "2",
        "--first", "VIP",
        "--out", "waves.csv",
        "--json",
        cwd=root,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["window_hours"] == 34.0 and plan["not_assessed"] == ["carol@example.com"]
    with open(root / "waves.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == [
        "EmailAddress", "UserName", "Password", "Department", "VIP", "Wave", "Parallel",
    ]  # fmt: skip
    assert {r["Parallel"] for r in rows} == {"4"}
    wave = {r["EmailAddress"]: r["Wave"] for r in rows}
    assert wave["alice@example.com"] == wave["bob@example.com"]
    # carol could not log in: she is in no wave (a wave would fail on her), and plan says so
    assert wave["carol@example.com"] == ""
    assert plan["left_out"] == [{"user": "carol@example.com", "status": "login-failed"}]
    assert plan["parallel"] == 4  # what migrate runs by default, not the profile's 20
    assert (root / "waves.csv").stat().st_mode & 0o077 == 0


def test_admin_login_reads_mailboxes_without_user_passwords(seeded, dovecot):
    root = seeded["root"]
    (root / "admin-users.csv").write_text(
        "EmailAddress,UserName,Password\nalice@example.com,alice,\nbob@example.com,bob,\n"
    )
    result = run(
        "assess", "--source", dovecot.imap_url(), "--users", "admin-users.csv",
        "--source-admin", MASTER[0], "--out", "admin-report", "--json",
        cwd=root, env={"SKYLIFT_SOURCE_ADMIN_PASSWORD": MASTER[1]},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    totals = json.loads(result.stdout)["totals"]
    assert totals["users_ok"] == 2 and totals["items"] == 7
    assert MASTER[1] not in (root / "admin-report" / "assessment.json").read_text()


def test_unreachable_source_exits_3_after_writing_the_report(seeded):
    result = run(
        "assess", "--source", "imap://127.0.0.1:1", "--users", "users.csv",
        "--out", "unreachable", cwd=seeded["root"],
    )  # fmt: skip
    assert result.returncode == 3
    assert result.stderr.startswith("skylift: error: no mailbox could be read")
    with open(seeded["root"] / "unreachable" / "assessment.csv", newline="") as handle:
        assert {r["status"] for r in csv.DictReader(handle)} == {"connect-failed"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["assess", "--source", "imap://127.0.0.1:1", "--users", "missing.csv"], "users CSV"),
        (
            ["assess", "--source", "imap://x", "--users", "users.csv", "--target-profile", "nope"],
            "unknown target profile",
        ),
        (
            ["assess", "--source", "imap://x", "--users", "users.csv", "--bandwidth", "fast"],
            "bandwidth",
        ),
        (["plan", "--assessment", "users.csv", "--window", "30h"], "not an assessment"),
        (["plan", "--assessment", "report/assessment.json", "--window", "soon"], "window"),
        (
            [
                "plan",
                "--assessment",
                "report/assessment.json",
                "--window",
                "30h",
                "--out",
                "no-such-folder/waves.csv",
            ],
            "no-such-folder",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(seeded, args, message):
    result = run(*args, cwd=seeded["root"])
    assert result.returncode == 2
    assert result.stderr.startswith("skylift: error:") and message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--hide-scrollbars",
]
CHART_COLOURS = {  # must match skylift.engine.assess.html.CHART_COLOURS
    "sizes": (0x25, 0x63, 0xEB),
    "groups": (0x16, 0xA3, 0x4A),
    "blockers": (0xDC, 0x26, 0x26),
    "hours": (0x93, 0x33, 0xEA),
    "items": (0x08, 0x91, 0xB2),
}


def test_report_opens_with_a_verdict_and_groups_findings_by_kind(seeded):
    report, root = seeded["report"], seeded["root"]
    verdict = report["verdict"]
    blockers = report["totals"]["findings_by_severity"]["blocker"]
    assert (
        not verdict["ready"]
        and verdict["headline"] == f"Not ready: {blockers} blockers to fix first"
    )
    assert "could not log in (carol@example.com)" in verdict["to_fix"]
    html = (root / "report" / "assessment.html").read_text()
    assert html.index(verdict["headline"]) < html.index("<h2>What to fix, by kind</h2>")
    # one row per kind, not per item; plain words, units, no internal ids or raw byte counts
    findings_table = html.split('<table id="findings">')[1].split("</table>")[0]
    assert findings_table.count("<tr>") == 1 + len(report["totals"]["findings_by_kind"])
    assert "Message larger than the target accepts" in findings_table
    assert "item-too-large" not in html and "204800" not in html
    assert "200.0 KiB (204,800 bytes)" in html
    # the mailbox table: unreadable first, then most blockers; sortable by an inline script
    table = html.split('<table id="mailboxes">')[1].split("</table>")[0]
    order = [u for u in ("carol@", "alice@", "bob@", "dave@") if u in table]
    assert sorted(order, key=table.index) == ["carol@", "alice@", "bob@", "dave@"]
    assert 'class="sortable' in table and "<script>" in html and "src=" not in html
    # every item is in findings.csv, one row each
    with open(root / "report" / "findings.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == sum(report["totals"]["findings_by_kind"].values())
    big = [r for r in rows if r["kind"] == "item-too-large"]
    assert big[0]["user"] == "alice@example.com" and big[0]["item"].startswith("uid 4 ")


def test_html_report_renders_with_visible_charts(seeded, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    image = pytest.importorskip("PIL.Image", reason="Pillow is needed to read the screenshot")
    page = seeded["root"] / "report" / "assessment.html"
    html = page.read_text()
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html.split("<h2>Target limits used</h2>")[0]  # nothing fetched
    shot = seeded["root"] / "report.png"
    subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
         f"--screenshot={shot}", "--window-size=1200,2400", page.as_uri()],
        capture_output=True,
        timeout=90,
        check=False,
    )  # fmt: skip
    assert shot.exists(), "chromium wrote no screenshot"
    colours = image.open(shot).convert("RGB").getcolors(maxcolors=1 << 24)
    found = {colour: n for n, colour in colours}
    counts = {name: found.get(colour, 0) for name, colour in CHART_COLOURS.items()}
    # Every chart drew bars of its own colour: at least a few hundred pixels each.
    assert all(n > 300 for n in counts.values()), counts


def test_plan_uses_rates_measured_by_a_pilot(seeded):
    from skylift.state.store import StateStore

    root = seeded["root"]
    store = StateStore(root / "pilot.db")
    run_id = store.start_run("migrate")
    store.record_mailbox_run(run_id, "alice@example.com", 10, 2_000_000, 1.0, "ok")
    store.close()
    result = run(
        "plan",
        "--assessment", "report/assessment.json",
        "--window", "30h",
        "--state", "pilot.db",
        "--out", "waves-pilot.csv",
        "--json",
        cwd=root,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["rate_sources"] == {"measured": 1, "pilot-median": 2}


def test_assess_plan_migrate_one_wave(seeded, dovecot, tmp_path):
    """The documented flow: the waves.csv from plan drives ``migrate --waves --wave``."""
    root = seeded["root"]
    (root / "users-full.csv").write_text(
        "EmailAddress,UserName,Password,Department,VIP,TargetPassword\n"
        "alice@example.com,alice,alice-pw,Sales,,new-a\n"
        "bob@example.com,bob,bob-pw,Sales,,new-b\n"
        "carol@example.com,carol,wrong-password,Ops,yes,new-c\n"
        "dave@example.com,dave,dave-pw,Ops,,new-d\n"
    )
    planned = run(
        "plan", "--assessment", "report/assessment.json", "--window", "30h", "--wave-count", "2",
        "--first", "alice@example.com", "--users", "users-full.csv", "--out", "waves-full.csv",
        cwd=root,
    )  # fmt: skip
    assert planned.returncode == 0, planned.stderr
    with open(root / "waves-full.csv", newline="") as handle:
        wave = {r["EmailAddress"]: r["Wave"] for r in csv.DictReader(handle)}
    assert wave["alice@example.com"] == wave["bob@example.com"] == "1"
    assert "1" not in (wave["carol@example.com"], wave["dave@example.com"])
    target = DovecotServer(
        tmp_path / "target",
        users={"alice@example.com": "new-a", "bob@example.com": "new-b"},
        separator="/",
    ).start()
    try:
        moved = run(
            "migrate", "--source", dovecot.imap_url(), "--target", target.imap_url(),
            "--waves", "waves-full.csv", "--wave", "1", "--state", str(tmp_path / "s.db"),
            "--json", cwd=root,
        )  # fmt: skip
        assert moved.returncode in (0, 1), moved.stderr
        assert "4 mailboxes at a time, as planned in waves-full.csv" in moved.stderr
        client = imapclient.IMAPClient("127.0.0.1", port=target.imap_port, ssl=False)
        client.login("alice@example.com", "new-a")
        assert client.select_folder("INBOX", readonly=True)[b"EXISTS"] == 4
        client.logout()
    finally:
        target.cleanup()


def test_ctrl_c_stops_starting_mailboxes_and_writes_a_partial_report(
    seeded: dict[str, Any], dovecot: AssessDovecot, tmp_path: Path
) -> None:
    import signal
    import time

    # Dovecot waits ~2 s before refusing a wrong password: 40 of them at 2 at a time is ~40 s.
    rows = "".join(f"u{n}@example.com,u{n},wrong-{n}\n" for n in range(40))
    (tmp_path / "users.csv").write_text("EmailAddress,UserName,Password\n" + rows)
    proc = subprocess.Popen(
        [sys.executable, "-m", "skylift", "assess", "--source", dovecot.imap_url(),
         "--users", "users.csv", "--out", "report", "--parallel", "2", "--json"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(1.5)
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert time.monotonic() - started < 10  # the two in hand finish; nobody else starts
    assert "stopping after the current batch" in err and "Traceback" not in err
    assert "rerun to assess them all" in err
    head = json.loads(out)
    assert head["totals"]["not_assessed"] >= 34 and head["totals"]["users"] <= 6
    page = (tmp_path / "report" / "assessment.html").read_text()
    assert "Partial assessment (stopped by Ctrl-C)" in page  # no verdict on part of the org


def test_plan_out_into_a_missing_folder_is_one_line(seeded: dict[str, Any]) -> None:
    result = run(
        "plan", "--assessment", "report/assessment.json", "--window", "30h",
        "--out", "no-such-folder/waves.csv", cwd=seeded["root"],
    )  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        "skylift: error: --out no-such-folder/waves.csv: folder no-such-folder does not exist"
    )
