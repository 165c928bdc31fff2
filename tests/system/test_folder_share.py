"""The tail of a run: idle workers take folders of a mailbox still running, and the copy
stays exact — every message once, byte for byte, and a rerun copies nothing."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from skylift.demo.dovecot import DovecotServer
from tests.mailtools import Item, dump, message, run_skylift, seed

FOLDERS = [f"Project {n}" for n in range(8)]
PER_FOLDER = 30


def test_idle_workers_help_the_last_mailbox_and_nothing_is_copied_twice(
    source_server: DovecotServer, target_server: DovecotServer, users_csv: Path, tmp_path: Path
) -> None:
    folders = {
        name: [Item(message(100 * f + n, size=20_000)) for n in range(PER_FOLDER)]
        for f, name in enumerate(FOLDERS)
    }
    seed(source_server.imap_port, "alice", "alice-pw", folders, ".")
    args = ("migrate", "--source", source_server.imap_url(), "--target",
            target_server.imap_url(), "--users", users_csv, "--state", tmp_path / "s.db",
            "--parallel", "4", "--json")  # fmt: skip
    first = run_skylift(*args, "--bwlimit", "1M")  # slow enough for the idle workers to join
    assert first.returncode == 0, first.stderr
    alice = json.loads(first.stdout)["items"][0]
    assert alice["mailbox"] == "alice@new.example"
    assert alice["copied"] == len(FOLDERS) * PER_FOLDER
    assert alice["folders_by_helpers"] >= 1  # bob was empty: three slots were free to help

    want = dump(source_server.imap_port, "alice", "alice-pw")
    got = dump(target_server.imap_port, "alice@new.example", "alice-new-pw")
    assert {k: v for k, v in got.items() if v} == {k: v for k, v in want.items() if v}
    per_body = Counter(m[0] for msgs in got.values() for m in msgs)
    assert max(per_body.values()) == 1

    again = run_skylift(*args)
    assert again.returncode == 0
    assert json.loads(again.stdout)["items"][0]["copied"] == 0
