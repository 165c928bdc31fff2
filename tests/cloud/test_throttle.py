"""Exchange Online's throttling, scripted in front of a real Dovecot: pacing honoured, no duplicates.

What it reproduces: the tagged ``NO ... Suggested Backoff Time: N milliseconds`` answer to an
APPEND followed by ``* BYE`` and a dropped connection (``tests/servers/throttle_proxy.py``).
What it cannot: Exchange's own budget (when it starts throttling, how long it keeps on).
"""

from __future__ import annotations

import json
from pathlib import Path

from skylift.demo.dovecot import DovecotServer
from tests.mailtools import Item, dump, message, run_skylift, seed, when
from tests.servers.throttle_proxy import ThrottleProxy


def test_throttled_appends_wait_the_suggested_time_and_nothing_is_duplicated(
    source_server: DovecotServer, target_server: DovecotServer, users_csv: Path, tmp_path: Path
) -> None:
    items = [Item(message(i, size=20_000), ("\\Seen",), when(i % 9)) for i in range(300)]
    seed(source_server.imap_port, "alice", "alice-pw", {"INBOX": items}, sep=".")
    proxy = ThrottleProxy(target_server.imap_port, throttle={2, 4}, backoff_ms=1200)
    try:
        result = run_skylift(
            "migrate", "--source", source_server.imap_url(), "--target", proxy.url(),
            "--users", users_csv, "--state", tmp_path / "s.db", "--json", "--parallel", "1",
        )  # fmt: skip
    finally:
        proxy.close()
    assert result.returncode == 0, result.stdout + result.stderr
    alice = next(m for m in json.loads(result.stdout)["items"] if m["mailbox"].startswith("alice"))
    assert alice["attempts"] == 3 and alice["copied"] == 300
    # After each throttle the next APPEND came no sooner than the server asked.
    seen = proxy.appends
    for i, (at, throttled) in enumerate(seen[:-1]):
        if throttled:
            assert seen[i + 1][0] - at >= 1.2, seen
    assert sum(1 for _, t in seen if t) == 2
    src = dump(source_server.imap_port, "alice", "alice-pw")
    dst = dump(target_server.imap_port, "alice@new.example", "alice-new-pw")
    assert dst["INBOX"] == src["INBOX"]  # every message once, byte-exact, flags and dates
