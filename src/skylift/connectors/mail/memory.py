"""An in-memory mail server: the reference implementation of the contracts.

Not a mock of IMAP: it is a mailbox store of its own with UIDs, UIDVALIDITY, UIDNEXT and
MODSEQ, used to test the engine's algorithm over thousands of random histories in seconds
(the property tests in ``tests/engine/``). It can be told to fail after a number of appends,
the way a connection drops mid-batch, to prove the resume logic.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from skylift.connectors.mail.base import Capabilities, MailTarget
from skylift.errors import FolderNotFound, TransientError
from skylift.model.mail import AppendResult, Folder, FolderState, Message, MessageRef


@dataclass
class MemoryFolder:
    validity: int
    next_uid: int = 1
    modseq: int = 1
    messages: dict[int, tuple[bytes, frozenset[str], datetime | None, int]] = field(
        default_factory=dict
    )  # uid -> (raw, flags, date, modseq)
    subscribed: bool = True


class MemoryMailbox(MailTarget):
    """One user's mailbox; the same object serves as source and target."""

    def __init__(self, separator: str = "/", max_message_bytes: int | None = None) -> None:
        self.capabilities = Capabilities(
            separator=separator,
            reports_appended_uid=True,
            batch_append=True,
            changes_since=True,
            max_message_bytes=max_message_bytes,
        )
        self.store: dict[tuple[str, ...], MemoryFolder] = {("INBOX",): MemoryFolder(validity=1)}
        self._validity = 1
        self.fail_after_appends: int | None = None  # drop the "connection" after N appends
        self.reject_larger_than: int | None = None

    # -- test helpers -----------------------------------------------------------------
    def put(self, path: tuple[str, ...], raw: bytes, flags: frozenset[str] = frozenset()) -> int:
        folder = self.store.setdefault(path, self._new_folder())
        uid = folder.next_uid
        folder.next_uid += 1
        folder.modseq += 1
        folder.messages[uid] = (raw, flags, None, folder.modseq)
        return uid

    def change_flags(self, path: tuple[str, ...], uid: int, flags: frozenset[str]) -> None:
        folder = self.store[path]
        raw, _, date, _ = folder.messages[uid]
        folder.modseq += 1
        folder.messages[uid] = (raw, flags, date, folder.modseq)

    def renumber(self, path: tuple[str, ...]) -> None:
        """Give the folder a new UIDVALIDITY and new UIDs, as a server rebuild does."""
        old = self.store[path]
        new = self._new_folder()
        for raw, flags, date, _ in old.messages.values():
            new.messages[new.next_uid] = (raw, flags, date, new.modseq)
            new.next_uid += 1
        self.store[path] = new

    def _new_folder(self) -> MemoryFolder:
        self._validity += 1
        return MemoryFolder(validity=self._validity)

    def _get(self, folder: Folder) -> MemoryFolder:
        try:
            return self.store[folder.path]
        except KeyError:
            raise FolderNotFound(f"no folder {folder.display()!r}") from None

    # -- source -----------------------------------------------------------------------
    def folders(self) -> list[Folder]:
        return [
            Folder(path=p, role="inbox" if p == ("INBOX",) else None, subscribed=f.subscribed)
            for p, f in sorted(self.store.items(), key=lambda kv: (kv[0] != ("INBOX",), kv[0]))
        ]

    def select(self, folder: Folder) -> FolderState:
        f = self._get(folder)
        return FolderState(str(f.validity), len(f.messages), f.next_uid, f.modseq)

    def _ref(
        self, uid: int, item: tuple[bytes, frozenset[str], datetime | None, int]
    ) -> MessageRef:
        return MessageRef(str(uid), len(item[0]), item[1], item[2])

    def list_messages(self, folder: Folder) -> Iterator[MessageRef]:
        for uid, item in sorted(self._get(folder).messages.items()):
            yield self._ref(uid, item)

    def list_changed(self, folder: Folder, since_modseq: int) -> Iterator[MessageRef]:
        for uid, item in sorted(self._get(folder).messages.items()):
            if item[3] > since_modseq:
                yield self._ref(uid, item)

    def fetch(self, folder: Folder, uids: Sequence[str]) -> Iterator[Message]:
        f = self._get(folder)
        for u in uids:
            item = f.messages.get(int(u))
            if item is not None:
                yield Message(self._ref(int(u), item), item[0])

    # -- target -----------------------------------------------------------------------
    def create_folder(self, folder: Folder) -> None:
        for depth in range(1, len(folder.path) + 1):
            if folder.path[:depth] not in self.store:
                self.store[folder.path[:depth]] = self._new_folder()

    def subscribe(self, folder: Folder) -> None:
        self._get(folder).subscribed = True

    def append(self, folder: Folder, messages: Sequence[Message]) -> list[AppendResult]:
        f = self._get(folder)
        out = []
        for m in messages:
            if self.fail_after_appends is not None:
                if self.fail_after_appends <= 0:
                    raise TransientError("connection dropped (memory server)")
                self.fail_after_appends -= 1
            if self.reject_larger_than is not None and len(m.raw) > self.reject_larger_than:
                out.append(AppendResult(error="[LIMIT] message too large"))
                continue
            limit = self.capabilities.max_message_bytes
            if limit is not None and len(m.raw) > limit:
                out.append(AppendResult(error=f"[TOOBIG] larger than APPENDLIMIT={limit}"))
                continue
            uid = f.next_uid
            f.next_uid += 1
            f.modseq += 1
            f.messages[uid] = (m.raw, m.ref.flags, m.ref.internaldate, f.modseq)
            out.append(AppendResult(uid=str(uid)))
        return out

    def set_flags(self, folder: Folder, uids: Sequence[str], flags: frozenset[str]) -> None:
        for u in uids:
            self.change_flags(folder.path, int(u), flags)
