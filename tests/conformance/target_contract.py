"""The conformance suite every mail target joins.

A target's test module subclasses :class:`MailTargetContract` and provides one fixture,
``target``, returning a fresh, open :class:`MailTarget` for a mailbox the test may write into.
Each test writes into folders of its own (a unique name), so tests can share one server. The
tests check what a migration relies on: folders are created once, bytes, flags and dates
arrive as sent, the capabilities tell the truth, and a refused message is one result, not an
exception that loses the rest of the batch.
"""

from __future__ import annotations

import itertools
import os
from datetime import UTC, datetime

import pytest

from skylift.connectors.mail.base import MailTarget
from skylift.model.mail import Folder, Message, MessageRef

_SEQ = itertools.count()
DATE = datetime(2019, 3, 4, 5, 6, 7, tzinfo=UTC)


def unique(name: str) -> Folder:
    return Folder((f"{name}{os.getpid()}x{next(_SEQ)}",))


def message(n: int, flags: frozenset[str] = frozenset(), size: int = 0) -> Message:
    raw = (
        b"From: a@example.com\r\nTo: b@example.com\r\nSubject: conformance %d\r\n"
        b"Message-ID: <c%d-%d@example.com>\r\n\r\nbody %d\r\n" % (n, os.getpid(), n, n)
    )
    raw += b"x" * max(0, size - len(raw) - 2) + (b"\r\n" if size else b"")
    return Message(MessageRef("", len(raw), flags, DATE), raw)


def read_back(target: MailTarget, folder: Folder) -> dict[bytes, Message]:
    refs = list(target.list_messages(folder))
    return {m.raw: m for m in target.fetch(folder, [r.uid for r in refs])}


class MailTargetContract:
    """The tests; a subclass provides the ``target`` fixture."""

    def test_created_folder_is_listed_and_creating_it_again_is_no_error(
        self, target: MailTarget
    ) -> None:
        parent = unique("Parent")
        child = Folder((*parent.path, "Child"))
        target.create_folder(parent)
        target.create_folder(child)
        target.create_folder(child)
        paths = [f.path for f in target.folders()]
        assert parent.path in paths and child.path in paths
        assert paths.index(parent.path) < paths.index(child.path)
        assert paths.count(child.path) == 1

    def test_appended_messages_arrive_byte_identical_with_flags_and_date(
        self, target: MailTarget
    ) -> None:
        folder = unique("Append")
        target.create_folder(folder)
        sent = [message(1), message(2, frozenset({"\\Seen", "\\Flagged"})), message(3)]
        results = target.append(folder, sent)
        assert [r.error for r in results] == [None, None, None]
        got = read_back(target, folder)
        assert set(got) == {m.raw for m in sent}
        for m in sent:
            assert got[m.raw].ref.flags == m.ref.flags
            if target.capabilities.keeps_internaldate:
                assert got[m.raw].ref.internaldate == DATE

    def test_custom_keywords_arrive_when_declared(self, target: MailTarget) -> None:
        if not target.capabilities.custom_flags:
            pytest.skip("the target declares custom_flags=False")
        folder = unique("Keywords")
        target.create_folder(folder)
        sent = message(4, frozenset({"Work", "$Label1"}))
        target.append(folder, [sent])
        assert read_back(target, folder)[sent.raw].ref.flags == sent.ref.flags

    def test_reported_uids_are_the_stored_messages(self, target: MailTarget) -> None:
        folder = unique("Uids")
        target.create_folder(folder)
        sent = [message(5), message(6)]
        results = target.append(folder, sent)
        if not target.capabilities.reports_appended_uid:
            assert all(r.uid is None for r in results)
            return
        by_uid = {m.ref.uid: m.raw for m in target.fetch(folder, [r.uid for r in results if r.uid])}
        assert [by_uid[r.uid] for r in results if r.uid] == [m.raw for m in sent]

    def test_set_flags_replaces_the_flags(self, target: MailTarget) -> None:
        folder = unique("Flags")
        target.create_folder(folder)
        target.append(folder, [message(7, frozenset({"\\Flagged"}))])
        [ref] = list(target.list_messages(folder))
        target.set_flags(folder, [ref.uid], frozenset({"\\Seen", "\\Answered"}))
        [after] = list(target.list_messages(folder))
        assert after.flags == frozenset({"\\Seen", "\\Answered"})

    def test_select_counts_what_was_appended(self, target: MailTarget) -> None:
        folder = unique("Count")
        target.create_folder(folder)
        empty = target.select(folder)
        target.append(folder, [message(8), message(9)])
        state = target.select(folder)
        assert empty.count == 0 and state.count == 2
        if empty.next_uid is not None and state.next_uid is not None:
            assert state.next_uid >= empty.next_uid + 2

    def test_a_message_over_the_declared_limit_is_one_refusal(self, target: MailTarget) -> None:
        limit = target.capabilities.max_message_bytes
        if limit is None:
            pytest.skip("the target declares no max_message_bytes")
        folder = unique("Limit")
        target.create_folder(folder)
        results = target.append(folder, [message(10), message(11, size=limit + 1024), message(12)])
        assert results[0].error is None and results[2].error is None
        assert results[1].error  # the server's own words
        assert len(read_back(target, folder)) == 2

    def test_name_case_follows_the_declared_rule(self, target: MailTarget) -> None:
        folder = unique("Case")
        target.create_folder(folder)
        lower = Folder((folder.path[0].lower(),))
        target.create_folder(lower)
        paths = {f.path for f in target.folders()}
        if target.capabilities.case_insensitive_names:
            assert not (folder.path in paths and lower.path in paths)
        else:
            assert folder.path in paths and lower.path in paths
