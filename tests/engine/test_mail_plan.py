"""The mail plan: a dry run reads listings only, and the plan decides what a real run does."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from skylift.connectors.mail.memory import MemoryMailbox
from skylift.engine.mail.plan import Listing, choose_listing, plan_messages
from skylift.engine.mail.report import MailboxReport
from skylift.engine.mail.sync import MailboxMigration, MigrateOptions
from skylift.model.mail import Folder, FolderState, Message, MessageRef
from skylift.state.store import FolderMark, StateStore


class CountingMailbox(MemoryMailbox):
    """The in-memory reference, counting the bodies anyone asks it for."""

    def __init__(self) -> None:
        super().__init__()
        self.fetched = 0

    def fetch(self, folder: Folder, uids: Sequence[str]) -> Iterator[Message]:
        self.fetched += len(uids)
        return super().fetch(folder, uids)


def _migrate(
    source: MemoryMailbox, target: MemoryMailbox, db: Path, **opts: object
) -> MailboxReport:
    store = StateStore(db)
    report = MailboxReport("u@x", "u")
    MailboxMigration(
        "u@x",
        source,
        target,
        store,
        store.start_run("t"),
        MigrateOptions(**opts),
        report,  # type: ignore[arg-type]
    ).run()
    report.finish()
    return report


def test_dry_run_fetches_no_body_and_changes_nothing(tmp_path: Path) -> None:
    source, target = CountingMailbox(), CountingMailbox()
    for i in range(5):
        source.put(("INBOX",), b"Subject: %d\r\n\r\nbody %d\r\n" % (i, i))
    source.put(("Work",), b"Subject: big\r\n\r\n" + b"x" * 5000)
    target.put(("INBOX",), b"Subject: 0\r\n\r\nbody 0\r\n")  # already there, by content

    report = _migrate(source, target, tmp_path / "s.db", dry_run=True, max_size=4000)

    assert source.fetched == 0 and target.fetched == 0
    assert [f.path for f in target.folders()] == [("INBOX",)]  # Work not created
    totals = report.totals()
    assert totals["would_copy"] == 5 and totals["copied"] == 0
    assert totals["skipped"] == 1  # the big one, reported, not recorded
    assert report.folders["INBOX"].match_by_content  # an upper bound, and the report says so
    assert report.folders["Work"].created

    real = _migrate(source, target, tmp_path / "s.db", max_size=4000)
    assert real.totals()["copied"] == 4 and real.totals()["already_there"] == 1


def test_listing_choice_follows_the_mark() -> None:
    state = FolderState(validity="7", next_uid=11, count=10, modseq=90)
    same = FolderMark("7", "INBOX", 11, 90, 10)
    assert (
        choose_listing(state, same, target_name="INBOX", pending=False, changes_since=True).listing
        is Listing.NONE
    )
    # a killed run left appends to settle: never skip the folder
    assert (
        choose_listing(state, same, target_name="INBOX", pending=True, changes_since=True).listing
        is Listing.CHANGES
    )
    grown = FolderMark("7", "INBOX", 9, 80, 8)
    assert (
        choose_listing(
            state, grown, target_name="INBOX", pending=False, changes_since=False
        ).listing
        is Listing.ALL
    )
    renumbered = FolderMark("6", "INBOX", 11, 90, 10)
    assert (
        choose_listing(
            state, renumbered, target_name="INBOX", pending=False, changes_since=True
        ).listing
        is Listing.ALL
    )
    moved = FolderMark("7", "Archive", 11, 90, 10)
    assert (
        choose_listing(state, moved, target_name="INBOX", pending=False, changes_since=True).listing
        is Listing.ALL
    )


def test_changes_listing_counts_unlisted_messages_as_there() -> None:
    refs = [MessageRef(uid="12", size=10)]
    plan = plan_messages(
        Listing.CHANGES, refs, {}, count=12, max_size=None, target_max=None, target_existed=True
    )
    assert [r.uid for r in plan.copy] == ["12"] and plan.already_there == 11
