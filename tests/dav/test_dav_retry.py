"""A target that keeps answering 429 gets the account retried after its Retry-After.

The transport waits out a short ``Retry-After`` itself, a few times per request; a server
that throttles longer than that makes the request fail with a ``TransientError``. The run
then closes both sides, waits what the server asked (``engine/throttle.py``) and runs the
account again, and the ledger makes that rerun resume: nothing is written twice. The
throttling is done by :class:`~skylift.demo.http_front.HttpFront` in front of a real
Radicale, and the waits are read from its request log.
"""

from __future__ import annotations

import json
from collections import Counter

from skylift.connectors.dav.transport import RETRIES
from skylift.demo.http_front import HttpFront
from skylift.model.dav import Collection, DavKind

from .calendars import crlf
from .conftest import DavPair, seed

WORK = Collection(DavKind.CALENDAR, "work", "Work", components=frozenset({"VEVENT"}))
HINT = 1  # seconds, the Retry-After the front sends


def event(n: int) -> bytes:
    return crlf(
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//skylift tests//EN\nBEGIN:VEVENT\n"
        f"UID:retry-{n}@old.example\nDTSTAMP:20240101T000000Z\n"
        f"DTSTART:202403{n + 1:02d}T090000Z\nSUMMARY:Event {n}\nEND:VEVENT\nEND:VCALENDAR\n"
    )


def test_a_throttled_account_is_retried_after_the_hint_and_arrives_complete(
    dav_pair: DavPair,
) -> None:
    objects = {f"e{n}.ics": event(n) for n in range(5)}
    with dav_pair.account("source", DavKind.CALENDAR) as source:
        seed(source, WORK, objects)
    # The third PUT is refused once more than the transport retries: the request fails.
    refused = set(range(3, 3 + RETRIES + 1))
    front = HttpFront(
        dav_pair.target.http_url.rstrip("/"), throttle={"PUT": refused}, retry_after=str(HINT)
    )
    with front:
        result = dav_pair.run(
            "migrate-calendars",
            "--source",
            dav_pair.source.url(),
            "--target",
            f"caldav+http://127.0.0.1:{front.port}/",
            "--user",
            dav_pair.target_user,
            "--state",
            str(dav_pair.state),
            "--dav-workers",
            "1",
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "failed" not in result.stdout.replace("0 failed", "")

    # Complete: every source object is on the target, each written exactly once.
    with dav_pair.account("target", DavKind.CALENDAR) as target:
        (work,) = target.collections()
        on_target = [
            item.raw for item in target.fetch(work, [r.href for r in target.list_items(work)])
        ]
    assert sorted(u for raw in on_target for u in raw.split(b"\r\n") if u.startswith(b"UID:")) == [
        f"UID:retry-{n}@old.example".encode() for n in range(5)
    ]
    puts = [(when, path, status) for when, method, path, status in front.log if method == "PUT"]
    written = Counter(path for _, path, status in puts if status in (200, 201, 204))
    assert sorted(written.values()) == [1] * 5, "the rerun resumed from the ledger"

    # The hint was honoured: after the last 429 the next request came no sooner than it said.
    statuses = [status for _, _, status in puts]
    assert statuses.count(429) == RETRIES + 1
    last_429 = max(i for i, entry in enumerate(front.log) if entry[3] == 429)
    answered_at = front.log[last_429][0]
    after = front.log[last_429 + 1]
    assert after[0] - answered_at >= HINT, f"the retry came {after[0] - answered_at:.2f}s later"
    # ... and the account ran again from the start: discovery, then the collection.
    assert after[1] == "PROPFIND"

    jobs = dav_pair.run("jobs", "--state", str(dav_pair.state), "--json")
    (unit,) = json.loads(jobs.stdout)["items"]
    assert (unit["kind"], unit["state"], unit["attempts"]) == ("calendars", "done", 2)
