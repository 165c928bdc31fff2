"""Per-user daily upload budgets (Gmail: 500 MB a day over IMAP), kept in the state store.

Against real Dovecots: a tiny ``--daily-budget`` stops the mailbox cleanly ("partial", exit
1, "resumes after <next 00:00 UTC>"), a second run the same day sends nothing (the budget
is in the state file, not in memory), and once the day has passed (the test ages the
state's rows by a day, as a night would) each run goes on from the ledger until the mailbox
is whole, every message once.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from skylift.demo.dovecot import DovecotServer
from skylift.state.db import area_versions, open_engine
from tests.mailtools import Item, dump, message, run_skylift, seed, when

BUDGET = 100_000


def _migrate(source: DovecotServer, target: DovecotServer, users: Path, state: Path) -> tuple:
    result = run_skylift(
        "migrate", "--source", source.imap_url(), "--target", target.imap_url(),
        "--users", users, "--state", state, "--json", "--daily-budget", str(BUDGET),
    )  # fmt: skip
    boxes = {m["mailbox"]: m for m in json.loads(result.stdout)["items"]}
    return result, boxes["alice@new.example"]


def _a_day_passes(state: Path) -> None:
    with sqlite3.connect(state) as db:
        db.execute("UPDATE budget_days SET day = date(day, '-1 day')")


def test_a_spent_budget_stops_the_user_cleanly_and_the_next_day_resumes(
    source_server: DovecotServer, target_server: DovecotServer, users_csv: Path, tmp_path: Path
) -> None:
    items = [Item(message(i, size=10_000), ("\\Seen",), when(i)) for i in range(30)]
    seed(source_server.imap_port, "alice", "alice-pw", {"INBOX": items[:20], "Old": items[20:]},
         sep=".")  # fmt: skip
    state = tmp_path / "s.db"
    first, alice = _migrate(source_server, target_server, users_csv, state)
    assert first.returncode == 1, first.stdout + first.stderr
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d")
    assert alice["status"] == "partial" and "budget" in alice["budget"]
    assert alice["resumes_after"].startswith(tomorrow + "T00:00:00")
    assert f"resumes after {tomorrow} 00:00 UTC" in alice["budget"]
    assert 0 < alice["copied"] < 30 and alice["bytes"] <= BUDGET
    assert "Traceback" not in first.stderr

    # The same day: the budget is in the state store, so nothing more is sent.
    again, alice = _migrate(source_server, target_server, users_csv, state)
    assert again.returncode == 1 and alice["copied"] == 0 and alice["status"] == "partial"

    copied, runs = alice["copied"], 0
    landed = sum(len(v) for v in dump(target_server.imap_port, "alice@new.example",
                                      "alice-new-pw").values())  # fmt: skip
    total = landed
    while runs < 10:
        _a_day_passes(state)
        result, alice = _migrate(source_server, target_server, users_csv, state)
        runs += 1
        assert alice["bytes"] <= BUDGET
        total += alice["copied"]
        if result.returncode == 0:
            break
        assert result.returncode == 1 and alice["status"] == "partial", result.stdout
    assert alice["status"] == "ok" and total == 30, (copied, total, runs)
    src = dump(source_server.imap_port, "alice", "alice-pw")
    dst = dump(target_server.imap_port, "alice@new.example", "alice-new-pw")
    assert dst["INBOX"] == src["INBOX"] and dst["Old"] == src["Old"]  # once each, exact
    assert area_versions(open_engine(state))["budgets"] == 1
