"""Ctrl-C: the first stops at a batch boundary with a summary and the resume command, the
second aborts at once; either way the rerun finishes the job with nothing duplicated."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from skylift.demo.dovecot import DovecotServer
from tests.mailtools import Item, dump, message, seed

MESSAGES = 240  # per user, ~20 KB each: 4.7 MiB in 2 MiB batches, ~16 s at --bwlimit 300K


def _seed(source: DovecotServer) -> None:
    for user in ("alice", "bob"):
        items = [Item(message(n, size=20000, message_id=f"<{user}{n}@x>")) for n in range(MESSAGES)]
        seed(source.imap_port, user, f"{user}-pw", {"INBOX": items[:120], "Work": items[120:]}, ".")


def _start(source: DovecotServer, target: DovecotServer, users: Path, state: Path):
    return subprocess.Popen(
        [sys.executable, "-m", "skylift", "migrate", "--source", source.imap_url(),
         "--target", target.imap_url(), "--users", str(users), "--state", str(state),
         "--parallel", "1", "--bwlimit", "300K", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=os.environ | {"COLUMNS": "200"},
    )  # fmt: skip


def _rerun_completes_without_duplicates(
    source: DovecotServer, target: DovecotServer, users: Path, state: Path
) -> None:
    rerun = subprocess.run(
        [sys.executable, "-m", "skylift", "migrate", "--source", source.imap_url(),
         "--target", target.imap_url(), "--users", str(users), "--state", str(state), "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr
    for user, login in (("alice", "alice@new.example"), ("bob", "bob@new.example")):
        want = dump(source.imap_port, user, f"{user}-pw")
        got = dump(target.imap_port, login, f"{user}-new-pw")
        bodies = Counter(m[0] for msgs in got.values() for m in msgs)
        assert sum(bodies.values()) == MESSAGES and max(bodies.values()) == 1  # no duplicate
        assert sorted(m[0] for msgs in want.values() for m in msgs) == sorted(bodies)


def test_first_ctrl_c_stops_after_the_batch_with_a_summary_and_the_resume_command(
    source_server: DovecotServer, target_server: DovecotServer, users_csv: Path, tmp_path: Path
) -> None:
    _seed(source_server)
    state = tmp_path / "s.db"
    proc = _start(source_server, target_server, users_csv, state)
    time.sleep(2.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "stopping after the current batch; Ctrl-C again to abort" in err
    assert "Resume with the same command" in err and "--state" in err
    assert "Traceback" not in err
    summary = json.loads(out)  # the partial summary is still printed
    alice, bob = summary["items"]
    assert 0 < alice["copied"] < MESSAGES and "Ctrl-C" in alice["error"]
    assert bob["copied"] == 0 and bob["error"] == "not started (stopped by Ctrl-C)"
    _rerun_completes_without_duplicates(source_server, target_server, users_csv, state)


def test_second_ctrl_c_aborts_at_once_and_the_rerun_settles_it(
    source_server: DovecotServer, target_server: DovecotServer, users_csv: Path, tmp_path: Path
) -> None:
    _seed(source_server)
    state = tmp_path / "s.db"
    proc = _start(source_server, target_server, users_csv, state)
    time.sleep(2.5)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert time.monotonic() - started < 2  # at once, not after the batch
    assert "aborted; rerun the same command to resume" in err and "Traceback" not in err
    _rerun_completes_without_duplicates(source_server, target_server, users_csv, state)
