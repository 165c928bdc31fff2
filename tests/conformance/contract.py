"""The conformance suite every mail source joins.

A connector's test module subclasses :class:`MailSourceContract` and provides one fixture,
``case``, returning a :class:`ConformanceCase`: how to open the source holding the logical
mailbox of :mod:`tests.conformance.mailbox`, and what that format can keep (a format without
flags, say, declares ``keeps_flags=False`` with its reason). The same tests then check that
the same folders, bytes, flags and dates come out, that uids are stable, and that reading
changes nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import datetime

import pytest

from skylift.connectors.mail.base import MailSource
from skylift.errors import FolderNotFound
from skylift.model.mail import Folder, Message

from .mailbox import LOGICAL_MAILBOX, LogicalMessage


@dataclass
class ConformanceCase:
    """One source under test.

    *folders*: which logical folders the format holds (POP3: only INBOX).
    *keeps_flags*/*keeps_keywords*: False where the format stores none (say why in *notes*).
    *date_from_header*: the format keeps no delivery time, so the Date header is the date.
    *exact_list_sizes*: list_messages reports the exact byte size (PST gives an estimate).
    *snapshot*: returns something that must be equal before and after a full read (the
    archive's files, the server's flag state) — reading must change nothing.
    """

    open_source: Callable[[], MailSource]
    folders: tuple[tuple[str, ...], ...] = tuple(LOGICAL_MAILBOX)
    keeps_flags: bool = True
    keeps_keywords: bool = True
    date_from_header: bool = False
    exact_list_sizes: bool = True
    snapshot: Callable[[], Hashable] | None = None
    notes: dict[str, str] = field(default_factory=dict)

    def expected_flags(self, message: LogicalMessage) -> frozenset[str]:
        if not self.keeps_flags:
            return frozenset()
        if not self.keeps_keywords:
            return message.flags - message.keywords
        return message.flags

    def expected_date(self, message: LogicalMessage) -> datetime:
        return message.date_header if self.date_from_header else message.internaldate


def _key(path: tuple[str, ...]) -> tuple[str, ...]:
    """INBOX is case-insensitive (RFC 3501); every other name is compared as is."""
    return ("INBOX",) if len(path) == 1 and path[0].upper() == "INBOX" else path


def read_everything(source: MailSource) -> dict[tuple[str, ...], list[Message]]:
    """Every message of every selectable folder, fetched in one batch per folder."""
    result: dict[tuple[str, ...], list[Message]] = {}
    for folder in source.folders():
        if not folder.selectable:
            continue
        source.select(folder)
        uids = [ref.uid for ref in source.list_messages(folder)]
        result[_key(folder.path)] = list(source.fetch(folder, uids))
    return result


class MailSourceContract:
    """Tests every MailSource passes; subclass it and provide a ``case`` fixture."""

    @pytest.fixture
    def content(self, case: ConformanceCase) -> dict[tuple[str, ...], list[Message]]:
        with case.open_source() as source:
            return read_everything(source)

    def test_folders_list_parents_before_children(self, case: ConformanceCase) -> None:
        with case.open_source() as source:
            seen: set[tuple[str, ...]] = set()
            paths = [f.path for f in source.folders()]
            listed = set(paths)
            for path in paths:
                for depth in range(1, len(path)):
                    if path[:depth] in listed:
                        assert path[:depth] in seen, f"{path} listed before its parent"
                seen.add(path)

    def test_same_folders_hold_mail(
        self, case: ConformanceCase, content: dict[tuple[str, ...], list[Message]]
    ) -> None:
        with_mail = {path for path, messages in content.items() if messages}
        assert with_mail == set(case.folders)

    def test_same_bytes_in_every_folder(
        self, case: ConformanceCase, content: dict[tuple[str, ...], list[Message]]
    ) -> None:
        for path in case.folders:
            got = Counter(m.fingerprint for m in content[path])
            want = Counter(m.fingerprint for m in LOGICAL_MAILBOX[path])
            assert got == want, f"messages differ in {path}"

    def test_same_flags(
        self, case: ConformanceCase, content: dict[tuple[str, ...], list[Message]]
    ) -> None:
        for path in case.folders:
            by_print = {m.fingerprint: m for m in content[path]}
            for logical in LOGICAL_MAILBOX[path]:
                got = by_print[logical.fingerprint].ref.flags - {"\\Recent"}
                assert got == case.expected_flags(logical), f"flags of {logical.raw[:80]!r}"

    def test_same_dates(
        self, case: ConformanceCase, content: dict[tuple[str, ...], list[Message]]
    ) -> None:
        for path in case.folders:
            by_print = {m.fingerprint: m for m in content[path]}
            for logical in LOGICAL_MAILBOX[path]:
                got = by_print[logical.fingerprint].ref.internaldate
                assert got is not None
                assert got == case.expected_date(logical), f"date of {logical.raw[:80]!r}"

    def test_listing_matches_fetch(self, case: ConformanceCase) -> None:
        with case.open_source() as source:
            for folder in source.folders():
                if not folder.selectable:
                    continue
                state = source.select(folder)
                refs = {ref.uid: ref for ref in source.list_messages(folder)}
                assert state.count == len(refs)
                fetched = {m.ref.uid: m for m in source.fetch(folder, list(refs))}
                assert fetched.keys() == refs.keys()
                for uid, message in fetched.items():
                    assert message.ref.size == len(message.raw)
                    if case.exact_list_sizes:
                        assert refs[uid].size == len(message.raw), f"size of {uid} in {folder}"

    def test_uids_and_validity_stable_between_runs(self, case: ConformanceCase) -> None:
        def listing() -> dict[tuple[str, ...], tuple[str, dict[str, str]]]:
            out = {}
            with case.open_source() as source:
                for folder in source.folders():
                    if folder.selectable:
                        state = source.select(folder)
                        refs = list(source.list_messages(folder))
                        uids = [r.uid for r in refs]
                        prints = {m.ref.uid: m.fingerprint for m in source.fetch(folder, uids)}
                        out[folder.path] = (state.validity, prints)
            return out

        assert listing() == listing()

    def test_vanished_uid_is_left_out(self, case: ConformanceCase) -> None:
        with case.open_source() as source:
            folders = [f for f in source.folders() if f.selectable]
            # INBOX, or (an archive may have none) the first folder that holds mail
            inbox = next((f for f in folders if f.is_inbox), None) or next(
                f for f in folders if source.select(f).count
            )
            source.select(inbox)
            uids = [ref.uid for ref in source.list_messages(inbox)]
            assert uids, "the folder under test holds mail"
            fetched = list(source.fetch(inbox, [*uids[:1], "999999999"]))
            assert [m.ref.uid for m in fetched] == uids[:1]

    def test_unknown_folder_is_folder_not_found(self, case: ConformanceCase) -> None:
        with case.open_source() as source, pytest.raises(FolderNotFound):
            source.select(Folder(("No such folder",)))

    def test_capabilities_tell_the_truth(self, case: ConformanceCase) -> None:
        """The engine plans by the declared capabilities, so they must match behaviour."""
        with case.open_source() as source:
            capabilities = source.capabilities
            if not capabilities.folders:
                assert [_key(f.path) for f in source.folders()] == [("INBOX",)]
            if not capabilities.keeps_internaldate:
                assert case.date_from_header, "no delivery time kept, yet dates are not headers"

    def test_reading_changes_nothing(self, case: ConformanceCase) -> None:
        if case.snapshot is None:
            pytest.skip("no snapshot given for this source")
        before = case.snapshot()
        with case.open_source() as source:
            read_everything(source)
        assert case.snapshot() == before
