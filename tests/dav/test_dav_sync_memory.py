"""The DAV use case (engine/dav/sync.py) over the in-memory reference server: fast and exact.

The servers' own tests are in the other modules; here the engine's shape is checked where
nothing else is in the way: a dry run stops after the plan, a rerun with a sync token asks
only for what changed, a target's declared size limit refuses an object before it is sent,
and a throttled account is retried a bounded number of times after the server's hint.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from skylift.connectors.dav.memory import MemoryDavAccount, MemoryDavServer
from skylift.engine.dav.plan import Action
from skylift.engine.dav.sync import RunOptions, migrate_account
from skylift.errors import TransientError
from skylift.model.dav import Collection, DavKind, Item
from skylift.runners.davsync import account_with_retries
from skylift.state.dav_ledger import DavLedger

from .calendars import crlf

KIND = DavKind.CALENDAR


def event(uid: str, summary: str = "Planning", padding: int = 0) -> bytes:
    return crlf(
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//skylift tests//EN\nBEGIN:VEVENT\n"
        f"UID:{uid}\nDTSTAMP:20240101T000000Z\nDTSTART:20240301T090000Z\n"
        f"SUMMARY:{summary}{'x' * padding}\nEND:VEVENT\nEND:VCALENDAR\n"
    )


class CountingSource(MemoryDavAccount):
    """A memory account that remembers which hrefs the engine fetched."""

    fetched: list[str]

    def fetch(self, collection: Collection, hrefs: Sequence[str]) -> Iterator[Item]:
        self.fetched = [*getattr(self, "fetched", []), *hrefs]
        yield from super().fetch(collection, hrefs)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[DavLedger]:
    store = DavLedger(str(tmp_path / "state.db"))
    yield store
    store.close()


def source_with(objects: dict[str, bytes]) -> tuple[CountingSource, Collection]:
    account = CountingSource(MemoryDavServer(), "ada", KIND)
    made, _, _ = account.make_collection(Collection(KIND, "work", "Work"))
    for name, raw in objects.items():
        account.put(made, name, raw)
    return account, made


def test_a_dry_run_plans_everything_and_writes_nowhere(ledger: DavLedger, tmp_path: Path) -> None:
    source, _ = source_with({"a.ics": event("a@x"), "b.ics": event("b@x")})
    target = MemoryDavServer().account("ada", KIND)
    options = RunOptions(KIND, dry_run=True, export_dir=tmp_path / "export")
    (report,) = migrate_account(source, target, ledger, "ada", options)
    assert report.created and report.count(Action.CREATE) == 2
    assert target.collections() == []
    assert ledger.records("ada", KIND, "work") == []
    assert not (tmp_path / "export").exists()


def test_a_rerun_with_a_sync_token_fetches_only_what_changed(
    ledger: DavLedger, tmp_path: Path
) -> None:
    source, made = source_with({f"{n}.ics": event(f"{n}@x") for n in range(4)})
    target = MemoryDavServer().account("ada", KIND)
    options = RunOptions(KIND, export_dir=tmp_path / "export")
    migrate_account(source, target, ledger, "ada", options)
    href = source.item_href(made, "2.ics")
    current = source.get(href)
    assert current is not None
    source.put(made, "2.ics", event("2@x", "Moved"), current.etag, href)
    source.fetched = []
    (report,) = migrate_account(source, target, ledger, "ada", options)
    assert source.fetched == [href]
    assert report.count(Action.UPDATE) == 1 and report.count(Action.SKIP) == 3
    got = target.get(target.item_href(target.collections()[0], "2@x.ics"))
    assert got is not None and b"SUMMARY:Moved" in got.raw


def test_the_targets_declared_size_limit_refuses_before_sending_and_keeps_the_original(
    ledger: DavLedger, tmp_path: Path
) -> None:
    source, _ = source_with({"small.ics": event("small@x"), "big.ics": event("big@x", padding=600)})
    target = MemoryDavServer(max_resource_size=500).account("ada", KIND)
    options = RunOptions(KIND, export_dir=tmp_path / "export")
    (report,) = migrate_account(source, target, ledger, "ada", options)
    (failed,) = report.failed
    assert failed.uid == "big@x" and "the target takes at most 500" in failed.reason
    assert "original saved to" in failed.reason
    assert [p.name for p in (tmp_path / "export").rglob("*.ics")] == ["big.ics"]
    assert [r.uid for r in ledger.records("ada", KIND, "work")] == ["small@x"]


def test_a_throttled_account_is_retried_a_bounded_number_of_times_after_the_hint() -> None:
    waits: list[float] = []
    calls = 0

    def always_throttled() -> list[object]:
        nonlocal calls
        calls += 1
        raise TransientError("PUT: HTTP 429", retry_after=7.0)

    result = account_with_retries("ada", always_throttled, retries=2, cap=30.0, sleep=waits.append)  # type: ignore[arg-type]
    assert calls == 3 and waits == [7.0, 7.0]
    assert isinstance(result.error, TransientError) and result.attempts == 3
