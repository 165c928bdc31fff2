"""Crashes, dropped connections, TLS and bad input: the run ends complete, or says why in one line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from skylift.demo.dovecot import DovecotServer
from tests.mailtools import Item, connect, dump, message, run_skylift, seed, when
from tests.servers.flaky_proxy import FlakyProxy


def _many(n: int, size: int = 2000) -> list[Item]:
    return [
        Item(message(i, size=size), ("\\Seen",) if i % 3 else (), when(i % 50)) for i in range(n)
    ]


def _count(server: DovecotServer, user: str, password: str) -> int:
    c = connect(server.imap_port, user, password)
    try:
        return sum(
            c.folder_status(name, ["MESSAGES"])[b"MESSAGES"] for _, _, name in c.list_folders()
        )
    finally:
        c.logout()


def test_kill_9_mid_run_then_rerun_ends_complete_without_duplicates(
    source_server: DovecotServer, target_server: DovecotServer, users_csv: Path, tmp_path: Path
) -> None:
    seed(source_server.imap_port, "alice", "alice-pw",
         {"INBOX": _many(1500, 6000), "Archive/2018": _many(500, 3000)}, sep=".")  # fmt: skip
    state = tmp_path / "s.db"
    args = [
        sys.executable, "-m", "skylift", "migrate", "--source", source_server.imap_url(),
        "--target", target_server.imap_url(), "--users", str(users_csv), "--state", str(state),
    ]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if _count(target_server, "alice@new.example", "alice-new-pw") >= 300:
            break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    landed = _count(target_server, "alice@new.example", "alice-new-pw")
    assert 0 < landed < 2000, "the kill must land mid-run for this test to mean anything"

    rerun = run_skylift(*args[3:], "--json")
    assert rerun.returncode == 0, rerun.stderr
    src = dump(source_server.imap_port, "alice", "alice-pw")
    dst = dump(target_server.imap_port, "alice@new.example", "alice-new-pw")
    assert dst["INBOX"] == src["INBOX"]
    assert dst["Archive/2018"] == src["Archive/2018"]
    again = json.loads(run_skylift(*args[3:], "--json").stdout)
    assert again["totals"]["copied"] == 0


def test_dropped_connection_is_retried_and_nothing_is_duplicated(
    source_server: DovecotServer, target_server: DovecotServer, users_csv: Path, tmp_path: Path
) -> None:
    seed(source_server.imap_port, "alice", "alice-pw", {"INBOX": _many(400, 5000)}, sep=".")
    proxy = FlakyProxy(source_server.imap_port, drops=2, after_bytes=300_000)
    try:
        result = run_skylift(
            "migrate", "--source", proxy.url(), "--target", target_server.imap_url(),
            "--users", users_csv, "--state", tmp_path / "s.db", "--json", "--parallel", "1",
        )  # fmt: skip
    finally:
        proxy.close()
    assert result.returncode == 0, result.stdout + result.stderr
    alice = next(m for m in json.loads(result.stdout)["items"] if m["mailbox"].startswith("alice"))
    assert proxy.cut >= 1 and alice["attempts"] >= 2
    src = dump(source_server.imap_port, "alice", "alice-pw")
    dst = dump(target_server.imap_port, "alice@new.example", "alice-new-pw")
    assert dst["INBOX"] == src["INBOX"]


def test_tls_self_signed_is_refused_by_default_and_accepted_with_its_ca(
    tmp_path: Path, target_server: DovecotServer, users_csv: Path
) -> None:
    tls = DovecotServer(
        tmp_path / "tls", users={"alice": "alice-pw", "bob": "bob-pw"}, separator=".", tls=True
    ).start()
    try:
        seed(tls.imap_port, "alice", "alice-pw", {"INBOX": [Item(message(1))]}, sep=".")
        common = ["--target", target_server.imap_url(), "--users", users_csv,
                  "--state", tmp_path / "s.db"]  # fmt: skip
        refused = run_skylift("migrate", "--source", tls.imaps_url(), *common)
        assert refused.returncode == 3
        assert "certificate" in refused.stderr and "Traceback" not in refused.stderr
        ok = run_skylift(
            "migrate", "--source", tls.imaps_url(), "--source-ca", tls.cert_file, *common
        )
        assert ok.returncode == 0, ok.stderr
        # imap:// upgrades with STARTTLS when offered, with the same verification
        starttls = run_skylift("migrate", "--source", tls.imap_url(), *common)
        assert starttls.returncode == 3 and "certificate" in starttls.stderr
        insecure = run_skylift("migrate", "--source", tls.imap_url(), "--insecure-source", *common)
        assert insecure.returncode == 0, insecure.stderr
    finally:
        tls.cleanup()


def test_wrong_password_is_one_line_exit_3_and_the_other_mailboxes_go_on(
    source_server: DovecotServer, target_server: DovecotServer, tmp_path: Path
) -> None:
    seed(source_server.imap_port, "bob", "bob-pw", {"INBOX": [Item(message(1))]}, sep=".")
    users = tmp_path / "u.csv"
    users.write_text(
        "EmailAddress,UserName,Password,TargetPassword\n"
        "alice@new.example,alice,WRONG,alice-new-pw\n"
        "bob@new.example,bob,bob-pw,bob-new-pw\n"
    )
    result = run_skylift(
        "migrate", "--source", source_server.imap_url(), "--target", target_server.imap_url(),
        "--users", users, "--state", tmp_path / "s.db", "--json",
    )  # fmt: skip
    assert result.returncode == 3
    report = {m["mailbox"]: m for m in json.loads(result.stdout)["items"]}
    assert report["alice@new.example"]["status"] == "failed"
    assert "login refused for alice" in report["alice@new.example"]["error"]
    assert report["bob@new.example"]["copied"] == 1
    assert "WRONG" not in result.stdout + result.stderr


def test_bad_input_gives_one_line_errors_and_exit_codes(tmp_path: Path) -> None:
    users = tmp_path / "u.csv"
    users.write_text(
        "EmailAddress,UserName,Password,TargetPassword\nalice@new.example,alice,pw,pw\n"
    )
    cases = [
        (["--source", "not a url", "--target", "imap://127.0.0.1:1", "--users", users], 2, "not a URL"),
        (["--source", "ftp://x", "--target", "imap://127.0.0.1:1", "--users", users], 2, "unknown mail URL scheme"),
        (["--source", "imap://127.0.0.1:1", "--target", "imap://127.0.0.1:1", "--users", tmp_path / "missing.csv"], 2, "cannot read users CSV"),
        (["--source", "imap://127.0.0.1:1", "--target", "imap://127.0.0.1:1", "--users", users, "--max-size", "lots"], 2, "not a size"),
        (["--source", "imap://127.0.0.1:1", "--target", "imap://127.0.0.1:1", "--users", users, "--exclude", "("], 2, ""),
    ]  # fmt: skip
    for args, code, words in cases:
        result = run_skylift("migrate", *args, "--state", tmp_path / "s.db")
        assert result.returncode == code, (args, result.stderr)
        assert "Traceback" not in result.stderr
        assert words in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    unreachable = run_skylift(
        "migrate", "--source", "imap://127.0.0.1:1", "--target", "imap://127.0.0.1:1",
        "--users", users, "--state", tmp_path / "s.db", "--retries", "0",
    )  # fmt: skip
    assert (
        unreachable.returncode == 3 and "cannot connect" in unreachable.stdout + unreachable.stderr
    )
    bad_header = tmp_path / "bad.csv"
    bad_header.write_text("Mail,Login\nx,y\n")
    result = run_skylift("migrate", "--source", "imap://127.0.0.1:1", "--target",
                         "imap://127.0.0.1:1", "--users", bad_header)  # fmt: skip
    assert result.returncode == 2 and "EmailAddress" in result.stderr


def test_plaintext_password_to_a_remote_host_is_refused() -> None:
    from skylift.connectors.endpoint import Endpoint

    assert Endpoint.parse("imap://127.0.0.1:143").is_loopback()
    assert not Endpoint.parse("imap://mail.old.example:143").is_loopback()


def test_verify_names_the_folder_and_message_that_differ(
    source_server: DovecotServer, target_server: DovecotServer, users_csv: Path, tmp_path: Path
) -> None:
    seed(
        source_server.imap_port, "alice", "alice-pw", {"INBOX": _many(5), "Work": _many(3)}, sep="."
    )
    state = tmp_path / "s.db"
    common = ["--source", source_server.imap_url(), "--target", target_server.imap_url(),
              "--users", users_csv]  # fmt: skip
    assert run_skylift("migrate", *common, "--state", state).returncode == 0
    same = run_skylift("verify", *common, "--state", state, "--deep", "--json")
    assert same.returncode == 0, same.stdout
    c = connect(target_server.imap_port, "alice@new.example", "alice-new-pw")
    c.select_folder("Work")
    c.add_flags([1], ["\\Deleted"])
    c.expunge()
    c.select_folder("INBOX")
    c.add_flags([2], ["\\Flagged"])
    c.logout()
    differ = run_skylift("verify", *common, "--state", state, "--json")
    assert differ.returncode == 1
    report = json.loads(differ.stdout)
    assert report["command"] == "verify" and report["totals"]["differ"] == 1
    diffs = report["items"][0]["differences"]
    kinds = {(d["folder"], d["what"]) for d in diffs}
    assert ("Work", "count") in kinds and ("Work", "missing") in kinds
    assert ("INBOX", "flags") in kinds


def test_usage_errors_exit_2_without_traceback() -> None:
    for args in (["migrate"], ["migrate", "--source", "imap://x"], ["no-such-command"], []):
        result = run_skylift(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert "Traceback" not in result.stderr + result.stdout
    assert run_skylift("--help").returncode == 0
