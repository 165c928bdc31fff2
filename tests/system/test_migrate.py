"""skylift migrate end to end: Dovecot ('.' separator) -> Dovecot ('/' separator, hosted-like)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from skylift.demo.dovecot import DovecotServer
from tests.mailtools import Item, dump, message, run_skylift, seed, when

ODD_FOLDERS = {
    "INBOX": [
        Item(message(1), ("\\Seen",), when(0)),
        Item(message(2), ("\\Answered", "\\Flagged", "$Label1", "Project-X"), when(1)),
        Item(message(3, message_id=None), ("\\Draft",), when(2)),  # no Message-ID
        Item(message(4, message_id="<same@example.test>"), (), when(3)),
        Item(message(5, message_id="<same@example.test>"), ("\\Seen",), when(4)),  # dup id
        Item(message(6), (), when(5)),
        Item(message(6), (), when(5)),  # two identical messages: both must arrive
        # 8-bit header, bare LF line endings, a NUL byte in the body
        Item("Subject: Grüße aus Köln\r\nFrom: jörg@old.example\r\n\r\nHallo\r\n".encode()),
        Item(b"Subject: bare lf\nFrom: a@b\n\nline one\nline two\n", (), when(7)),
        Item(b"Subject: nul\r\n\r\nbefore\x00after\r\n", (), when(8)),
    ],
    "Sent Items": [Item(message(10), ("\\Seen",), when(9))],
    "Gesendete Objekte": [Item(message(11), ("\\Seen",), when(10))],
    "Büro/Ablage 2019": [Item(message(12), (), when(11))],
    "a&b": [Item(message(13), (), when(12))],
    "with space/and more": [Item(message(14), (), when(13))],
    "Work": [Item(message(15), (), when(14))],
    "Work/Année-été": [Item(message(16), ("\\Seen",), when(15))],
}


def _seed_alice(source: DovecotServer, folders: dict[str, list[Item]] = ODD_FOLDERS) -> None:
    seed(source.imap_port, "alice", "alice-pw", folders, sep=".")


def _migrate(source: DovecotServer, target: DovecotServer, users: Path, state: Path, *extra: str):
    return run_skylift(
        "migrate", "--source", source.imap_url(), "--target", target.imap_url(),
        "--users", users, "--state", state, "--json", *extra,
    )  # fmt: skip


def _fingerprints(
    tree: dict[str, list[tuple[str, frozenset[str], str]]],
) -> list[tuple[str, frozenset[str], str]]:
    return sorted((m for msgs in tree.values() for m in msgs), key=repr)


def test_every_message_arrives_byte_exact_with_flags_dates_and_folders(
    source_server: DovecotServer, target_server: DovecotServer, users_csv: Path, tmp_path: Path
) -> None:
    _seed_alice(source_server)
    result = _migrate(source_server, target_server, users_csv, tmp_path / "s.db")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    alice = next(m for m in summary["items"] if m["mailbox"] == "alice@new.example")
    assert alice["status"] == "ok"
    total = sum(len(v) for v in ODD_FOLDERS.values())
    assert alice["copied"] == total

    src = dump(source_server.imap_port, "alice", "alice-pw")
    dst = dump(target_server.imap_port, "alice@new.example", "alice-new-pw")
    # Same messages (content, flags, INTERNALDATE), as a multiset: duplicates arrive twice.
    assert _fingerprints(src) == _fingerprints(dst)
    # Folder tree: hierarchy translated '.' -> '/', special folders onto the target's own.
    assert dst["Büro/Ablage 2019"] == src["Büro/Ablage 2019"]
    assert dst["Work/Année-été"] == src["Work/Année-été"]
    assert dst["a&b"] == src["a&b"]
    assert dst["with space/and more"] == src["with space/and more"]
    assert dst["INBOX"] == src["INBOX"]
    assert sorted(dst["Sent"]) == sorted(src["Gesendete Objekte"])
    assert dst["Sent (2)"] == src["Sent Items"]
    renames = {f["source"]: f for f in alice["folders"]}
    assert "already taken" in renames["Sent Items"]["renamed_because"]


def test_a_name_holding_the_targets_separator_is_renamed_and_reported(
    source_server: DovecotServer, target_server: DovecotServer, tmp_path: Path
) -> None:
    # Reverse direction: the '/' server is the source, the '.' server the target.
    seed(target_server.imap_port, "alice@new.example", "alice-new-pw",
         {"Release v1.2/notes": [Item(message(1))]}, sep="/")  # fmt: skip
    users = tmp_path / "u.csv"
    users.write_text("EmailAddress,UserName,Password,TargetPassword\n"
                     "alice,alice@new.example,alice-new-pw,alice-pw\n")  # fmt: skip
    result = _migrate(target_server, source_server, users, tmp_path / "s.db")
    assert result.returncode == 0, result.stderr
    folders = {f["source"]: f for f in json.loads(result.stdout)["items"][0]["folders"]}
    assert folders["Release v1.2/notes"]["target"] == "Release v1_2/notes"
    assert "'.' is the target's separator" in folders["Release v1.2"]["renamed_because"]
    dst = dump(source_server.imap_port, "alice", "alice-pw")
    assert len(dst["Release v1_2/notes"]) == 1


def test_rerun_copies_nothing_and_brings_flag_changes_and_new_mail(
    source_server: DovecotServer, target_server: DovecotServer, users_csv: Path, tmp_path: Path
) -> None:
    _seed_alice(source_server)
    state = tmp_path / "s.db"
    assert _migrate(source_server, target_server, users_csv, state).returncode == 0

    again = json.loads(_migrate(source_server, target_server, users_csv, state).stdout)
    assert again["totals"]["copied"] == 0
    assert again["totals"]["already_there"] == sum(len(v) for v in ODD_FOLDERS.values())

    from tests.mailtools import connect

    c = connect(source_server.imap_port, "alice", "alice-pw")
    c.select_folder("INBOX")
    c.add_flags([1], ["\\Flagged", "Later"])
    c.append("INBOX", message(99), ["\\Seen"], when(30))
    c.logout()
    third = json.loads(_migrate(source_server, target_server, users_csv, state).stdout)
    assert third["totals"]["copied"] == 1
    assert third["totals"]["flags_updated"] == 1
    src = dump(source_server.imap_port, "alice", "alice-pw")
    dst = dump(target_server.imap_port, "alice@new.example", "alice-new-pw")
    assert dst["INBOX"] == src["INBOX"]


def test_rerun_with_a_fresh_state_file_copies_nothing_twice(
    source_server: DovecotServer, target_server: DovecotServer, users_csv: Path, tmp_path: Path
) -> None:
    _seed_alice(source_server)
    assert _migrate(source_server, target_server, users_csv, tmp_path / "a.db").returncode == 0
    fresh = _migrate(source_server, target_server, users_csv, tmp_path / "b.db")
    assert fresh.returncode == 0, fresh.stderr
    totals = json.loads(fresh.stdout)["totals"]
    assert totals["copied"] == 0
    # Identical twins in one folder were recognised one-for-one, not collapsed.
    src = dump(source_server.imap_port, "alice", "alice-pw")
    dst = dump(target_server.imap_port, "alice@new.example", "alice-new-pw")
    assert _fingerprints(src) == _fingerprints(dst)


def test_fresh_state_copies_the_missing_twin(
    source_server: DovecotServer, target_server: DovecotServer, users_csv: Path, tmp_path: Path
) -> None:
    twin = Item(message(7), (), when(1))
    seed(source_server.imap_port, "alice", "alice-pw", {"INBOX": [twin]}, sep=".")
    seed(target_server.imap_port, "alice@new.example", "alice-new-pw", {"INBOX": [twin]}, sep="/")
    seed(source_server.imap_port, "alice", "alice-pw", {"INBOX": [twin]}, sep=".")
    result = _migrate(source_server, target_server, users_csv, tmp_path / "s.db")
    totals = json.loads(result.stdout)["totals"]
    assert (totals["copied"], totals["already_there"]) == (1, 1)
    dst = dump(target_server.imap_port, "alice@new.example", "alice-new-pw")
    assert len(dst["INBOX"]) == 2


def test_target_refusal_is_reported_with_the_servers_words_and_the_run_goes_on(
    source_server: DovecotServer, tmp_path: Path, users_csv: Path
) -> None:
    small = DovecotServer(
        tmp_path / "small",
        users={"alice@new.example": "alice-new-pw", "bob@new.example": "bob-new-pw"},
        separator="/",
        quota_max_mail_size="1M",
    ).start()
    try:
        big = Item(message(1, size=1_500_000), (), when(0))
        seed(source_server.imap_port, "alice", "alice-pw",
             {"INBOX": [big, Item(message(2)), Item(message(3))]}, sep=".")  # fmt: skip
        result = _migrate(source_server, small, users_csv, tmp_path / "s.db")
        assert result.returncode == 1
        alice = json.loads(result.stdout)["items"][0]
        assert alice["copied"] == 2 and alice["rejected"] == 1
        rejected = alice["folders"][0]["rejected"][0]
        assert "Mail size is larger" in rejected["reason"]
        assert rejected["message_id"] == "<m1@example.test>"
        # --max-size skips before trying, and says so
        skip = _migrate(source_server, small, users_csv, tmp_path / "s.db", "--max-size", "1200k")
        alice = json.loads(skip.stdout)["items"][0]
        assert alice["skipped"] == 1 and alice["copied"] == 0
        assert "--max-size" in alice["folders"][0]["skipped"][0]["reason"]
        # every run is in the state store as work units: skylift jobs says what happened
        jobs = run_skylift("jobs", "--state", tmp_path / "s.db", "--all", "--json")
        units = json.loads(jobs.stdout)["items"]
        assert [(u["key"], u["state"]) for u in units] == [
            ("alice@new.example", "partial"),  # the --max-size run, newest first
            ("bob@new.example", "done"),
            ("alice@new.example", "partial"),
            ("bob@new.example", "done"),
        ]
        assert units[0]["problems"] == 1 and "1 skipped" in units[0]["last_error"]
        assert units[2]["items"] == 2 and units[2]["attempts"] == 1
    finally:
        small.cleanup()


def test_dry_run_changes_nothing(
    source_server: DovecotServer, target_server: DovecotServer, users_csv: Path, tmp_path: Path
) -> None:
    _seed_alice(source_server)
    before = dump(target_server.imap_port, "alice@new.example", "alice-new-pw")
    result = _migrate(source_server, target_server, users_csv, tmp_path / "s.db", "--dry-run")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert list(summary)[:3] == ["command", "totals", "items"]  # the one --json envelope
    assert summary["command"] == "migrate" and summary["dry_run"] is True
    # Nothing was copied, and the summary says so; it says what a real run would copy.
    assert summary["totals"]["copied"] == 0
    assert summary["totals"]["would_copy"] == sum(len(v) for v in ODD_FOLDERS.values())
    assert dump(target_server.imap_port, "alice@new.example", "alice-new-pw") == before
    with sqlite3.connect(tmp_path / "s.db") as db:
        assert db.execute("select count(*) from mail_ledger").fetchone()[0] == 0


def test_proxy_login_with_admin_credentials_on_both_sides(
    source_server: DovecotServer, target_server: DovecotServer, tmp_path: Path
) -> None:
    _seed_alice(source_server, {"INBOX": [Item(message(1)), Item(message(2))]})
    users = tmp_path / "users.csv"
    users.write_text("EmailAddress,UserName,Password\nalice@new.example,alice,\n")
    env = {
        "SKYLIFT_SOURCE_ADMIN_PASSWORD": "master-secret-1",
        "SKYLIFT_TARGET_ADMIN_PASSWORD": "master-secret-1",
    }
    result = run_skylift(
        "migrate", "--source", source_server.imap_url(), "--target", target_server.imap_url(),
        "--users", users, "--state", tmp_path / "s.db", "--json",
        "--source-admin", "skylift-admin", "--target-admin", "skylift-admin", env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["totals"]["copied"] == 2
    assert "master-secret-1" not in result.stdout + result.stderr
    assert b"master-secret-1" not in (tmp_path / "s.db").read_bytes()


def test_admin_passwords_from_files(
    source_server: DovecotServer, target_server: DovecotServer, tmp_path: Path
) -> None:
    _seed_alice(source_server, {"INBOX": [Item(message(1))]})
    users = tmp_path / "users.csv"
    users.write_text("EmailAddress,UserName,Password\nalice@new.example,alice,\n")
    secret = tmp_path / "admin.secret"
    secret.write_text("master-secret-1\n")
    empty = tmp_path / "empty.secret"
    empty.write_text("")
    common = (
        "migrate", "--source", source_server.imap_url(), "--target", target_server.imap_url(),
        "--users", users, "--state", tmp_path / "s.db", "--json",
        "--source-admin", "skylift-admin", "--target-admin", "skylift-admin",
        "--source-admin-password-file", secret,
    )  # fmt: skip
    bad = run_skylift(*common, "--target-admin-password-file", empty)
    assert bad.returncode == 2
    assert bad.stderr.strip() == f"skylift: error: --target-admin-password-file {empty} is empty"
    result = run_skylift(*common, "--target-admin-password-file", secret)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["totals"]["copied"] == 1
    assert "master-secret-1" not in result.stdout + result.stderr


def test_secrets_never_reach_output_or_state(
    source_server: DovecotServer, target_server: DovecotServer, users_csv: Path, tmp_path: Path
) -> None:
    _seed_alice(source_server, {"INBOX": [Item(message(1))]})
    result = _migrate(source_server, target_server, users_csv, tmp_path / "s.db")
    assert result.returncode == 0
    blob = result.stdout + result.stderr
    for secret in ("alice-pw", "alice-new-pw", "bob-pw", "bob-new-pw"):
        assert secret not in blob
        for f in tmp_path.glob("s.db*"):
            assert secret.encode() not in f.read_bytes()


def test_large_attachment_of_20_mb_arrives_intact(
    source_server: DovecotServer, target_server: DovecotServer, users_csv: Path, tmp_path: Path
) -> None:
    big = message(1, size=20 * 1024 * 1024)
    _seed_alice(source_server, {"INBOX": [Item(big, ("\\Seen",), when(0))]})
    result = _migrate(source_server, target_server, users_csv, tmp_path / "s.db")
    assert result.returncode == 0, result.stderr
    from tests.mailtools import raw_bodies

    assert raw_bodies(target_server.imap_port, "alice@new.example", "alice-new-pw", "INBOX") == [
        big
    ]


def test_filters_and_explicit_folder_map(
    source_server: DovecotServer, target_server: DovecotServer, users_csv: Path, tmp_path: Path
) -> None:
    _seed_alice(source_server)
    result = _migrate(
        source_server, target_server, users_csv, tmp_path / "s.db",
        "--exclude", "^with space", "--map-folder", "Work=Archive/Work",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    dst = dump(target_server.imap_port, "alice@new.example", "alice-new-pw")
    assert "with space" not in dst and "with space/and more" not in dst
    assert "Archive/Work/Année-été" in dst and "Work" not in dst


def test_subscriptions_are_kept(
    source_server: DovecotServer, target_server: DovecotServer, users_csv: Path, tmp_path: Path
) -> None:
    from tests.mailtools import connect

    seed(source_server.imap_port, "alice", "alice-pw",
         {"Shown": [Item(message(1))], "Hidden": [Item(message(2))]}, sep=".")  # fmt: skip
    c = connect(source_server.imap_port, "alice", "alice-pw")
    c.unsubscribe_folder("Hidden")
    c.logout()
    assert _migrate(source_server, target_server, users_csv, tmp_path / "s.db").returncode == 0
    c = connect(target_server.imap_port, "alice@new.example", "alice-new-pw")
    subscribed = {name for _, _, name in c.list_sub_folders()}
    everything = {name for _, _, name in c.list_folders()}
    c.logout()
    assert "Shown" in subscribed and "Hidden" not in subscribed and "Hidden" in everything


def test_migrate_one_wave_of_a_plan(
    source_server: DovecotServer, target_server: DovecotServer, tmp_path: Path
) -> None:
    for user, pw in (("alice", "alice-pw"), ("bob", "bob-pw")):
        seed(source_server.imap_port, user, pw, {"INBOX": [Item(message(1))]}, sep=".")
    waves = tmp_path / "waves.csv"
    waves.write_text(
        "EmailAddress,UserName,Password,TargetPassword,Wave\n"
        "alice@new.example,alice,alice-pw,alice-new-pw,1\n"
        "bob@new.example,bob,bob-pw,bob-new-pw,2\n"
    )
    result = run_skylift(
        "migrate", "--source", source_server.imap_url(), "--target", target_server.imap_url(),
        "--waves", waves, "--wave", "2", "--state", tmp_path / "s.db", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert [m["mailbox"] for m in json.loads(result.stdout)["items"]] == ["bob@new.example"]
    missing = run_skylift(
        "migrate", "--source", source_server.imap_url(), "--target", target_server.imap_url(),
        "--waves", waves, "--wave", "7", "--state", tmp_path / "s.db",
    )  # fmt: skip
    assert missing.returncode == 2 and "no users in wave 7" in missing.stderr
