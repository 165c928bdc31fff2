"""Rates, backoff, byte-bounded batches and fingerprints."""

from __future__ import annotations

import time

import pytest

from skylift.engine.mail.sync import batches, message_id_of
from skylift.engine.throttle import TokenBucket, backoff_seconds, parse_rate
from skylift.model.mail import MessageRef, fingerprint


@pytest.mark.parametrize(
    ("text", "bytes_per_s"),
    [
        ("10M", 10_000_000),
        ("500k", 500_000),
        ("100Mbit", 12_500_000),
        ("1Gbit", 125_000_000),
        ("2MiB", 2 * 1024 * 1024),
    ],
)
def test_parse_rate(text: str, bytes_per_s: float) -> None:
    assert parse_rate(text) == pytest.approx(bytes_per_s)


def test_parse_rate_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="not a rate"):
        parse_rate("fast")


def test_token_bucket_holds_the_rate() -> None:
    bucket = TokenBucket(1_000_000)
    start = time.monotonic()
    for _ in range(5):
        bucket.consume(100_000)
    assert time.monotonic() - start >= 0.39  # 500 kB at 1 MB/s


def test_backoff_honours_the_servers_hint_and_doubles_otherwise() -> None:
    assert backoff_seconds(1, 2.5) == 2.5
    assert [backoff_seconds(n, None) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]
    assert backoff_seconds(30, None, cap=30) == 30


def test_batches_are_bounded_by_bytes_not_count() -> None:
    refs = [MessageRef(str(i), size) for i, size in enumerate([10, 10, 10, 100, 5, 5])]
    groups = [[r.uid for r in b] for b in batches(refs, max_bytes=30, max_count=100)]
    assert groups == [["0", "1", "2"], ["3"], ["4", "5"]]  # a big message travels alone


def test_fingerprint_ignores_only_line_ending_style() -> None:
    assert fingerprint(b"a\nb\n") == fingerprint(b"a\r\nb\r\n")
    assert fingerprint(b"a\r\nb\r\n") != fingerprint(b"a\r\nb \r\n")


def test_message_id_for_reports_survives_bad_headers() -> None:
    assert message_id_of(b"Message-ID: <x@y>\r\n\r\nbody") == "<x@y>"
    assert message_id_of(b"Subject: \xff\xfe\r\n\r\n") is None
