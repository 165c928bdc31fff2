"""The clouds' throttle answers, scripted in front of a real Dovecot: the wait the server asked
for is honoured (read from the proxy's log), and nothing is lost or duplicated.

What it reproduces: Exchange Online's ``NO``/``BAD … Suggested Backoff Time: N milliseconds``
and its ``* BYE`` after a throttle, Gmail's ``NO [OVERQUOTA] … bandwidth limits`` and its
``* BYE Session expired`` (``tests/servers/throttle_proxy.py`` says where each comes from).
What it cannot: the clouds' own budgets (when throttling starts, how long it keeps on).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from skylift.connectors.throttle_hints import (
    http_retry_after,
    http_throttled,
    imap_backoff,
    imap_throttled,
)
from skylift.demo.dovecot import DovecotServer
from tests.mailtools import Item, dump, message, run_skylift, seed, when
from tests.servers.throttle_proxy import ThrottleProxy


def _alice(result_stdout: str) -> dict:
    return next(m for m in json.loads(result_stdout)["items"] if m["mailbox"].startswith("alice"))


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
    alice = _alice(result.stdout)
    assert alice["attempts"] == 3 and alice["copied"] == 300
    # After each throttle the next APPEND came no sooner than the server asked.
    waits = proxy.waits_after_throttle()
    assert len(waits) == 2 and min(waits) >= 1.2, proxy.appends
    src = dump(source_server.imap_port, "alice", "alice-pw")
    dst = dump(target_server.imap_port, "alice@new.example", "alice-new-pw")
    assert dst["INBOX"] == src["INBOX"]  # every message once, byte-exact, flags and dates


@pytest.mark.parametrize(
    ("style", "command", "side", "hint"),
    [
        ("exchange-bad", "APPEND", "target", 1.5),
        ("exchange-bye", "APPEND", "target", 1.5),
        ("gmail-bye", "APPEND", "target", None),
        ("gmail-overquota", "FETCH", "source", None),
    ],
)
def test_every_cloud_throttle_answer_is_waited_out_and_the_copy_is_exact(
    style: str,
    command: str,
    side: str,
    hint: float | None,
    source_server: DovecotServer,
    target_server: DovecotServer,
    users_csv: Path,
    tmp_path: Path,
) -> None:
    items = [Item(message(i, size=20_000), ("\\Seen",), when(i % 9)) for i in range(150)]
    seed(source_server.imap_port, "alice", "alice-pw", {"INBOX": items}, sep=".")
    upstream = target_server if side == "target" else source_server
    proxy = ThrottleProxy(
        upstream.imap_port, throttle={2}, backoff_ms=int((hint or 0) * 1000), style=style,
        command=command,
    )  # fmt: skip
    source = proxy.url() if side == "source" else source_server.imap_url()
    target = proxy.url() if side == "target" else target_server.imap_url()
    try:
        result = run_skylift(
            "migrate", "--source", source, "--target", target, "--users", users_csv,
            "--state", tmp_path / "s.db", "--json", "--parallel", "1",
        )  # fmt: skip
    finally:
        proxy.close()
    assert result.returncode == 0, result.stdout + result.stderr
    alice = _alice(result.stdout)
    assert alice["attempts"] == 2 and alice["copied"] == 150, alice
    waits = proxy.waits_after_throttle()
    assert len(waits) == 1, proxy.appends
    if hint is not None:
        assert waits[0] >= hint, waits  # Exchange's Suggested Backoff Time, honoured
    src = dump(source_server.imap_port, "alice", "alice-pw")
    dst = dump(target_server.imap_port, "alice@new.example", "alice-new-pw")
    assert dst["INBOX"] == src["INBOX"]


def test_throttle_words_of_each_cloud_are_recognised_and_others_are_not() -> None:
    exchange = (
        "A5 NO [UNAVAILABLE] Request is throttled. Suggested Backoff Time: 299961 milliseconds"
    )
    assert imap_throttled(exchange) and imap_backoff(exchange) == pytest.approx(299.961)
    gmail = "NO [OVERQUOTA] Account exceeded command or bandwidth limits. (Failure)"
    assert imap_throttled(gmail) and imap_backoff(gmail) is None
    assert imap_throttled("BYE Session expired, please login again.")
    # A message the server refuses for itself must not be retried forever.
    assert not imap_throttled("NO [LIMIT] Mail size exceeds the maximum")
    assert not imap_throttled("NO [OVERQUOTA] Quota exceeded (mailbox for user is full)")
    # HTTP: Graph's 429 + Retry-After, and Google's 403 rateLimitExceeded.
    assert http_throttled(429, {"Retry-After": "7"}, b"") and http_retry_after(
        {"Retry-After": "7"}
    ) == pytest.approx(7)
    google = json.dumps(
        {"error": {"code": 403, "errors": [{"reason": "rateLimitExceeded"}], "message": "Rate"}}
    )
    assert http_throttled(403, {}, google)
    assert not http_throttled(403, {}, json.dumps({"error": {"errors": [{"reason": "forbidden"}]}}))
