"""Reruns are honest: what did not arrive is reported again, every run, until it arrives."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from skylift.demo.dovecot import DovecotServer
from tests.mailtools import Item, connect, dump, message, run_skylift, seed, when

SMALL, BIG = 36, 4


def _seed(source: DovecotServer) -> None:
    items = [Item(message(n), ("\\Seen",), when(n)) for n in range(SMALL)]
    items += [Item(message(100 + n, size=150_000), (), when(n)) for n in range(BIG)]
    seed(source.imap_port, "alice", "alice-pw", {"INBOX": items, "Work": items[:3]}, sep=".")


def _migrate(
    source: DovecotServer, target: DovecotServer, users: Path, state: Path, *extra: str
) -> tuple[int, dict]:  # type: ignore[type-arg]
    result = run_skylift(
        "migrate", "--source", source.imap_url(), "--target", target.imap_url(),
        "--users", users, "--state", state, "--json", *extra,
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)["items"][0]


def _same_mail(source: DovecotServer, target: DovecotServer) -> bool:
    src = dump(source.imap_port, "alice", "alice-pw")
    dst = dump(target.imap_port, "alice@new.example", "alice-new-pw")
    return dst["INBOX"] == src["INBOX"] and dst["Work"] == src["Work"]


def test_skipped_mail_is_reported_on_every_rerun_and_copied_once_the_limit_is_lifted(
    source_server: DovecotServer, target_server: DovecotServer, users_csv: Path, tmp_path: Path
) -> None:
    _seed(source_server)
    state = tmp_path / "s.db"
    for _ in range(2):  # the same command twice: the same answer twice
        code, alice = _migrate(source_server, target_server, users_csv, state, "--max-size", "100K")
        assert code == 1 and alice["status"] == "partial"
        assert alice["skipped"] == BIG
        inbox = next(f for f in alice["folders"] if f["source"] == "INBOX")
        assert all("--max-size" in p["reason"] for p in inbox["skipped"])
    assert (alice["copied"], alice["already_there"]) == (0, SMALL + 3)

    code, alice = _migrate(source_server, target_server, users_csv, state)
    assert code == 0 and (alice["copied"], alice["skipped"]) == (BIG, 0)
    assert _same_mail(source_server, target_server)  # byte for byte, flags and dates
    code, alice = _migrate(source_server, target_server, users_csv, state)
    assert code == 0 and alice["copied"] == 0 and alice["already_there"] == SMALL + BIG + 3
    verify = run_skylift(
        "verify", "--source", source_server.imap_url(), "--target", target_server.imap_url(),
        "--users", users_csv, "--state", state,
    )  # fmt: skip
    assert verify.returncode == 0, verify.stdout


def test_rejected_mail_is_retried_and_reported_on_every_rerun(
    source_server: DovecotServer, users_csv: Path, tmp_path: Path
) -> None:
    small = DovecotServer(
        tmp_path / "small", users={"alice@new.example": "alice-new-pw", "bob@new.example": "bob-new-pw"},
        separator="/",
        quota_max_mail_size="100k",
    ).start()  # fmt: skip
    try:
        _seed(source_server)
        for _ in range(2):
            code, alice = _migrate(source_server, small, users_csv, tmp_path / "s.db")
            assert code == 1 and alice["rejected"] == BIG
            reasons = [p["reason"] for f in alice["folders"] for p in f["rejected"]]
            assert all("Mail size is larger" in r for r in reasons)
    finally:
        small.cleanup()


def _mark_as_complete(state: Path, source: DovecotServer, *, at_end_of_last_run: bool) -> None:
    """Write the INBOX mark an earlier skylift kept after skipping mail in it."""
    client = connect(source.imap_port, "alice", "alice-pw")
    info = client.select_folder("INBOX", readonly=True)
    client.logout()
    with sqlite3.connect(state) as db:
        (stamp,) = db.execute("select finished_at from runs order by id desc limit 1").fetchone()
        if not at_end_of_last_run:
            db.execute("delete from mail_problems")
        db.execute("delete from mail_folder_marks where source_folder = 'INBOX'")
        db.execute(
            "insert into mail_folder_marks values ('alice@new.example', 'INBOX', ?, 'INBOX',"
            " ?, ?, ?, ?)",
            (str(info[b"UIDVALIDITY"]), info[b"UIDNEXT"], info[b"HIGHESTMODSEQ"],
             info[b"EXISTS"], stamp),
        )  # fmt: skip


def test_a_mark_an_earlier_version_kept_beside_skipped_mail_is_not_trusted(
    source_server: DovecotServer, target_server: DovecotServer, users_csv: Path, tmp_path: Path
) -> None:
    _seed(source_server)
    state = tmp_path / "s.db"
    _migrate(source_server, target_server, users_csv, state, "--max-size", "100K")
    _mark_as_complete(state, source_server, at_end_of_last_run=True)
    code, alice = _migrate(source_server, target_server, users_csv, state, "--max-size", "100K")
    assert code == 1 and alice["skipped"] == BIG
    code, alice = _migrate(source_server, target_server, users_csv, state)
    assert code == 0 and alice["copied"] == BIG
    assert _same_mail(source_server, target_server)


@pytest.mark.parametrize("limit", [("--max-size", "100K"), ()])
def test_full_ignores_folder_marks(
    source_server: DovecotServer,
    target_server: DovecotServer,
    users_csv: Path,
    tmp_path: Path,
    limit: tuple[str, ...],
) -> None:
    _seed(source_server)
    state = tmp_path / "s.db"
    _migrate(source_server, target_server, users_csv, state, "--max-size", "100K")
    _mark_as_complete(state, source_server, at_end_of_last_run=False)  # a mark and no record
    code, alice = _migrate(source_server, target_server, users_csv, state, "--full", *limit)
    if limit:
        assert code == 1 and alice["skipped"] == BIG and alice["copied"] == 0
    else:
        assert code == 0 and alice["copied"] == BIG
        assert _same_mail(source_server, target_server)
