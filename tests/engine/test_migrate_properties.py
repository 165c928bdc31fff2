"""Property tests of the copy algorithm over the in-memory server: any history, any crash.

Invariants an admin cares about: after a completed run the target holds exactly the
source's messages (a multiset: duplicates twice, never more) with their flags; a rerun
copies nothing; a crash at any append, a lost state file or a renumbered folder changes
none of that.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skylift.connectors.mail.memory import MemoryMailbox
from skylift.engine.mail.report import MailboxReport
from skylift.engine.mail.sync import MailboxMigration, MigrateOptions
from skylift.errors import TransientError
from skylift.model.mail import fingerprint
from skylift.state.store import StateStore

FOLDERS = [("INBOX",), ("Work",), ("Work", "2019")]
BODIES = [
    b"Subject: a\r\n\r\nA\r\n",
    b"Subject: b\r\n\r\nB\r\n",
    b"Subject: c\r\n\r\n" + b"C" * 500,
]
FLAGS = [frozenset(), frozenset({"\\Seen"}), frozenset({"\\Seen", "\\Flagged", "Work"})]

op = st.one_of(
    st.tuples(
        st.just("add"),
        st.sampled_from(range(3)),
        st.sampled_from(range(3)),
        st.sampled_from(range(3)),
    ),
    st.tuples(
        st.just("flag"), st.sampled_from(range(3)), st.integers(0, 30), st.sampled_from(range(3))
    ),
    st.tuples(st.just("migrate"), st.none() | st.integers(0, 6), st.booleans(), st.just(0)),
    st.tuples(st.just("renumber"), st.sampled_from(range(3)), st.just(0), st.just(0)),
)


def _content(box: MemoryMailbox) -> Counter[tuple[tuple[str, ...], str, frozenset[str]]]:
    return Counter(
        (path, fingerprint(raw), flags)
        for path, folder in box.store.items()
        for raw, flags, _, _ in folder.messages.values()
    )


def _run(
    source: MemoryMailbox, target: MemoryMailbox, store: StateStore, crash: int | None
) -> MailboxReport:
    report = MailboxReport("u@x", "u")
    target.fail_after_appends = crash
    try:
        MailboxMigration(
            "u@x",
            source,
            target,
            store,
            store.start_run("t"),
            MigrateOptions(batch_count=3),
            report,
        ).run()
    except TransientError:
        pass
    finally:
        target.fail_after_appends = None
    return report


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op, max_size=25))
def test_any_history_ends_identical_without_duplicates(
    ops: list[tuple[str, object, object, object]],
) -> None:
    source, target = MemoryMailbox(separator="."), MemoryMailbox()
    with tempfile.TemporaryDirectory() as tmp:
        state_no = 0
        store = StateStore(Path(tmp) / "s0.db")
        for kind, a, b, c in ops:
            if kind == "add":
                source.put(FOLDERS[a], BODIES[b], FLAGS[c])  # type: ignore[index]
            elif kind == "flag":
                folder = source.store.get(FOLDERS[a])  # type: ignore[index]
                if folder and folder.messages:
                    uid = sorted(folder.messages)[int(b) % len(folder.messages)]  # type: ignore[call-overload]
                    source.change_flags(FOLDERS[a], uid, FLAGS[c])  # type: ignore[index]
            elif kind == "renumber":
                if FOLDERS[a] in source.store:  # type: ignore[index]
                    source.renumber(FOLDERS[a])  # type: ignore[index]
            else:
                if b:  # lose the state file before this run
                    store.close()
                    state_no += 1
                    store = StateStore(Path(tmp) / f"s{state_no}.db")
                _run(source, target, store, a)  # type: ignore[arg-type]
        final = _run(source, target, store, None)
        assert final.error is None
        src = _content(source)
        dst = _content(target)
        # same messages in the same folders with the same flags, duplicates counted
        assert src == dst
        rerun = _run(source, target, store, None)
        assert rerun.totals()["copied"] == 0
        store.close()


def test_flags_follow_the_source_when_the_ledger_knows_the_message() -> None:
    source, target = MemoryMailbox(), MemoryMailbox()
    uid = source.put(("INBOX",), BODIES[0], FLAGS[0])
    with tempfile.TemporaryDirectory() as tmp:
        store = StateStore(Path(tmp) / "s.db")
        _run(source, target, store, None)
        source.change_flags(("INBOX",), uid, FLAGS[2])
        report = _run(source, target, store, None)
        assert report.totals()["flags_updated"] == 1
        assert _content(source) == _content(target)
        store.close()


def test_crash_between_append_and_ledger_write_settles_without_duplicate() -> None:
    source, target = MemoryMailbox(), MemoryMailbox()
    for i in range(10):
        source.put(("INBOX",), BODIES[i % 3], FLAGS[0])
    with tempfile.TemporaryDirectory() as tmp:
        store = StateStore(Path(tmp) / "s.db")
        _run(source, target, store, 4)  # the 5th append drops: pending rows remain
        assert len(target.store[("INBOX",)].messages) == 4
        _run(source, target, store, None)
        assert _content(source) == _content(target)
        store.close()
