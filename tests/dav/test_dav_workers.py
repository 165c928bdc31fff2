"""Writes within one collection run several at once (--dav-workers) and stay correct."""

from __future__ import annotations

import json
import sqlite3
import threading
import time

import pytest

from skylift.engine.dav.writes import OrderedWrites
from skylift.model.dav import Collection, DavKind

from .calendars import crlf
from .conftest import DavPair, seed


def _event(n: int, summary: str = "Standup") -> bytes:
    return crlf(
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//skylift tests//EN\nBEGIN:VEVENT\n"
        f"UID:ev-{n}@old.example\nDTSTAMP:20200101T000000Z\n"
        f"DTSTART:202003{1 + n % 28:02d}T090000Z\nDTEND:202003{1 + n % 28:02d}T093000Z\n"
        f"SUMMARY:{summary} {n}\nEND:VEVENT\nEND:VCALENDAR\n"
    )


@pytest.mark.parametrize("workers", [1, 3])
def test_results_come_back_in_order_with_a_bounded_queue(workers: int) -> None:
    running, most = 0, 0
    lock = threading.Lock()

    def job(n: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.02 if n % 2 else 0.05)  # odd jobs finish before the even ones
        with lock:
            running -= 1
        return n

    results: list[int] = []
    with OrderedWrites[int](workers) as writes:
        for n in range(20):
            if n % 5 == 0:
                results += writes.done(-n)
            else:
                results += writes.submit(lambda n=n: job(n))  # type: ignore[misc]
        results += writes.drain()
    assert results == [-n if n % 5 == 0 else n for n in range(20)]
    assert most == 1 if workers == 1 else 1 < most <= workers


def test_a_failing_write_stops_the_run_after_the_running_writes_are_recorded() -> None:
    recorded: list[int] = []
    started = threading.Event()

    def slow(n: int) -> int:
        started.set()
        time.sleep(0.1)
        recorded.append(n)  # stands for the ledger row written after the PUT
        return n

    def broken() -> int:
        started.wait(5)
        raise ConnectionError("target went away")

    results: list[int] = []
    with pytest.raises(ConnectionError), OrderedWrites[int](2) as writes:
        results += writes.submit(broken)
        results += writes.submit(lambda: slow(1))
        results += writes.drain()
    assert results == [] and recorded == [1]  # the started write finished and was recorded


def test_parallel_writes_copy_everything_once_and_the_ledger_matches(dav_pair: DavPair) -> None:
    count = 40
    with dav_pair.account("source", DavKind.CALENDAR) as source:
        seed(
            source,
            Collection(DavKind.CALENDAR, "team", "Team", components=frozenset({"VEVENT"})),
            {f"{n}.ics": _event(n) for n in range(count)},
        )
    first = dav_pair.migrate(DavKind.CALENDAR, "--dav-workers", "4", "--json")
    assert first.returncode == 0, first.stdout + first.stderr
    report = json.loads(first.stdout)["items"][0]["collections"][0]
    assert report["counts"]["create"] == count
    uids = [i["uid"] for i in report["items"]]
    assert sorted(uids) == sorted(f"ev-{n}@old.example" for n in range(count))

    with dav_pair.account("target", DavKind.CALENDAR) as target:
        team = next(c for c in target.collections() if c.name == "team")
        on_target = {r.href: r.etag for r in target.list_items(team)}
    with sqlite3.connect(dav_pair.state) as db:
        ledger = dict(db.execute("select target_href, target_etag from dav_items").fetchall())
    assert len(on_target) == count
    assert ledger == on_target  # every row names an object that is there, with its ETag

    with dav_pair.account("source", DavKind.CALENDAR) as source:
        team = next(c for c in source.collections() if c.name == "team")
        refs = {r.href.rpartition("/")[2]: r for r in source.list_items(team)}
        for n in range(0, count, 8):
            changed = source.put(team, f"{n}.ics", _event(n, "Moved"), refs[f"{n}.ics"].etag)
            assert changed.error is None
    again = dav_pair.migrate(DavKind.CALENDAR, "--dav-workers", "4")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "team: 0 created, 5 updated, 0 deleted, 35 skipped, 0 failed" in again.stdout
    quiet = dav_pair.migrate(DavKind.CALENDAR, "--dav-workers", "4")
    assert "team: unchanged since the last run" in quiet.stdout
