"""Outlook PST and OST files, read with libpff-python (``pypff``).

Library: libpff-python, the Python binding of Joachim Metz's libpff — the maintained reader
of the PST/OST format (ANSI, Unicode and the 4 KiB-page OST 2013), with wheels on PyPI; the
format is far too large to parse ourselves. Only the IPM subtree (what Outlook shows) is
read; mail items become RFC 5322 messages (:mod:`skylift.connectors.mail.pst.message`), other
items (appointments, contacts, tasks, notes) are counted for the run report
(:meth:`PstSource.non_mail_counts`) and written beside it as .ics/.vcf
(:meth:`PstSource.export_non_mail`). The uid of a message is its PST node id, stable for the life of the file.
The file type is taken from the header, not the extension (an ".ost" may be a PST).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pypff

from skylift.connectors.mail.archive_paths import archive_root, file_identity, role_for_name
from skylift.connectors.mail.base import Capabilities, MailConnector, MailSource
from skylift.connectors.mail.pst.items import (
    appointment_ics,
    contact_vcf,
    named_tags,
    safe_file_name,
)
from skylift.connectors.mail.pst.message import (
    PR_MESSAGE_CLASS,
    PR_MESSAGE_SIZE,
    build_message,
    date_of,
    flags_of,
    integer,
    properties,
    subject,
    text,
)
from skylift.errors import ArchiveError, FolderNotFound
from skylift.model.account import Login
from skylift.model.mail import Folder, FolderState, Message, MessageRef

log = logging.getLogger(__name__)

PST_MAGIC = b"!BDN"
PR_CONTAINER_CLASS = 0x3613
PR_IPM_SUBTREE_ENTRYID = 0x35E0
PR_IPM_WASTEBASKET_ENTRYID = 0x35E3
PR_IPM_SENTMAIL_ENTRYID = 0x35E4
PR_PST_PASSWORD = 0x67FF
MAIL_CLASSES = ("IPM.NOTE", "IPM.SCHEDULE.MEETING", "IPM.POST", "REPORT.IPM", "IPM.OUTLOOK.RECALL")
_SUBTREE_NAMES = ("top of personal folders", "top of outlook data file", "ipm_subtree")
NON_MAIL_FOLDER_CLASSES = (
    "IPF.APPOINTMENT",
    "IPF.CONTACT",
    "IPF.TASK",
    "IPF.STICKYNOTE",
    "IPF.JOURNAL",
)


def is_mail_class(message_class: str) -> bool:
    """Notes, posts, meeting requests/responses and reports are mail; an unset class too."""
    upper = message_class.upper()
    return upper in ("", "IPM") or upper.startswith(MAIL_CLASSES)


class PstConnector(MailConnector):
    """``pst:///archives/jane.pst`` (or a folder of PSTs with a mapping CSV)."""

    def open_source(self, login: Login) -> PstSource:
        _root, archive = archive_root(self.endpoint, login)
        if archive.is_dir():
            raise ArchiveError(
                f"{archive} is a folder: name a .pst/.ost file, or give a users CSV whose File "
                "column names each user's file inside it"
            )
        ignore_password = self.endpoint.options.get("ignore_pst_password", "") in ("1", "yes")
        return PstSource(archive, ignore_password=ignore_password)


@dataclass
class _PstFolder:
    folder: Folder
    node: Any
    messages: dict[str, int] = field(default_factory=dict)  # uid -> sub-message index
    refs: list[MessageRef] | None = None  # the listing, once made (the file does not change)


class PstSource(MailSource):
    """One PST/OST file, opened read-only for the life of the source."""

    capabilities = Capabilities(separator=None, keeps_internaldate=True, custom_flags=False)

    def __init__(self, path: Path, *, ignore_password: bool = False) -> None:
        self.path = path
        self._non_mail_folders: list[tuple[tuple[str, ...], Any]] = []
        self.problems: list[str] = []
        is_ost = _check_header(path)
        self._file = pypff.file()
        self._handle = open(path, "rb")  # noqa: SIM115 - closed in close()
        try:
            self._file.open_file_object(self._handle)
        except OSError as exc:
            self._handle.close()
            raise ArchiveError(f"{path}: not a readable PST/OST file ({exc})") from exc
        store = properties(self._file.message_store) if self._file.message_store else {}
        # PidTagPstPassword is a CRC of the password in a PST; an OST keeps other data there.
        if not is_ost and integer(store, PR_PST_PASSWORD) and not ignore_password:
            self.close()
            raise ArchiveError(
                f"{path}: the PST is password-protected; remove the password in Outlook "
                "(the endpoint option ignore_pst_password=yes reads it if you are entitled to)"
            )
        self._special = {
            _entryid_nid(store, PR_IPM_WASTEBASKET_ENTRYID): "trash",
            _entryid_nid(store, PR_IPM_SENTMAIL_ENTRYID): "sent",
        }
        self._subtree_nid = _entryid_nid(store, PR_IPM_SUBTREE_ENTRYID)
        self._folders: dict[tuple[str, ...], _PstFolder] | None = None
        self._top_path: tuple[str, ...] | None = None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()
        self._handle.close()

    # -- folders -----------------------------------------------------------------------

    @property
    def top_path(self) -> tuple[str, ...] | None:
        """Where mail kept in the store's top folder itself goes (INBOX unless one exists)."""
        self._tree()
        return self._top_path

    def folders(self) -> list[Folder]:
        return [f.folder for f in self._tree().values()]

    def _tree(self) -> dict[tuple[str, ...], _PstFolder]:
        if self._folders is None:
            self._folders = {}
            self._non_mail_folders = []
            top = self._ipm_subtree()
            names = {_name(top.get_sub_folder(i)) for i in range(top.number_of_sub_folders)}
            if top.number_of_sub_messages:
                inbox_taken = any(n.upper() == "INBOX" for n in names)
                self._top_path = (_name(top) or "Top",) if inbox_taken else ("INBOX",)
                self._add(top, self._top_path)
            self._walk(top, ())
        return self._folders

    def _ipm_subtree(self) -> Any:
        """The folder Outlook shows as the mailbox: by the store's entry id, else by name."""
        try:
            root = self._file.get_root_folder()
            level = [root]
            for _depth in range(3):
                children = [
                    c
                    for node in level
                    for c in (node.get_sub_folder(i) for i in range(node.number_of_sub_folders))
                ]
                for child in children:
                    if child.identifier == self._subtree_nid:
                        return child
                named = [c for c in children if (c.name or "").lower() in _SUBTREE_NAMES]
                if named:  # an OST has one under "Root - Public" too: take the fuller one
                    return max(named, key=lambda c: c.number_of_sub_folders)
                level = children
        except OSError as exc:
            raise ArchiveError(f"{self.path}: corrupt PST/OST folder tree ({exc})") from exc
        return root

    def _walk(self, node: Any, prefix: tuple[str, ...]) -> None:
        for index in range(node.number_of_sub_folders):
            try:
                child = node.get_sub_folder(index)
            except OSError as exc:
                self.problems.append(f"{self.path}: unreadable folder under {prefix}: {exc}")
                continue
            path = (*prefix, _name(child) or f"folder-{child.identifier}")
            container = (text(properties(child), PR_CONTAINER_CLASS) or "").upper()
            if container.startswith(NON_MAIL_FOLDER_CLASSES):
                self._non_mail_folders.append((path, child))
            else:
                self._add(child, path)
            self._walk(child, path)

    def _add(self, node: Any, path: tuple[str, ...]) -> None:
        assert self._folders is not None
        for depth in range(1, len(path)):  # a mail folder below a calendar, say
            if path[:depth] not in self._folders:
                self._folders[path[:depth]] = _PstFolder(
                    Folder(path[:depth], selectable=False), None
                )
        role = self._special.get(node.identifier) or role_for_name(path[-1])
        self._folders[path] = _PstFolder(Folder(path, role=role), node)

    def _folder(self, folder: Folder) -> _PstFolder:
        entry = self._tree().get(folder.path)
        if entry is None or entry.node is None:
            raise FolderNotFound(f"no PST folder {folder.display()!r} in {self.path}")
        return entry

    # -- messages ----------------------------------------------------------------------

    def select(self, folder: Folder) -> FolderState:
        entry = self._folder(folder)
        entry.refs = list(self._list(folder, entry))
        return FolderState(validity=file_identity(self.path), count=len(entry.messages))

    def list_messages(self, folder: Folder) -> Iterator[MessageRef]:
        entry = self._folder(folder)
        if entry.refs is None:
            entry.refs = list(self._list(folder, entry))
        yield from entry.refs

    def _list(self, folder: Folder, entry: _PstFolder) -> Iterator[MessageRef]:
        entry.messages.clear()
        for index in range(entry.node.number_of_sub_messages):
            try:
                item = entry.node.get_sub_message(index)
                props = properties(item)
            except OSError as exc:
                self.problems.append(
                    f"{self.path}: unreadable item {index} in {folder.display()!r}: {exc}"
                )
                log.warning("%s", self.problems[-1])
                continue
            message_class = text(props, PR_MESSAGE_CLASS) or ""
            if not is_mail_class(message_class):
                continue
            uid = str(item.identifier)
            entry.messages[uid] = index
            yield MessageRef(
                uid=uid,
                size=integer(props, PR_MESSAGE_SIZE) or 0,
                flags=flags_of(props),
                internaldate=date_of(props),
            )

    def non_mail_items(self) -> Iterator[tuple[tuple[str, ...], Any, dict[int, Any]]]:
        """(folder path, item, properties) of every item that is not mail."""
        self._tree()
        nodes = [*self._non_mail_folders, *((p, f.node) for p, f in self._tree().items() if f.node)]
        for path, node in nodes:
            for index in range(node.number_of_sub_messages):
                try:
                    item = node.get_sub_message(index)
                    props = properties(item)
                except OSError as exc:
                    self.problems.append(f"{self.path}: unreadable item in {path}: {exc}")
                    continue
                if not is_mail_class(text(props, PR_MESSAGE_CLASS) or ""):
                    yield path, item, props

    def non_mail_counts(self) -> Counter[str]:
        """Items that are not mail (calendar, contacts, …) by message class, whole file."""
        return Counter(
            text(props, PR_MESSAGE_CLASS) or "?" for _, _, props in self.non_mail_items()
        )

    def export_non_mail(self, directory: Path) -> Counter[str]:
        """Write appointments as .ics and contacts as .vcf under *directory* (never the PST's).

        Returns how many of each were written, and "skipped:<class>" for the other items.
        """
        tags = named_tags(self._file)
        written: Counter[str] = Counter()
        for path, item, props in self.non_mail_items():
            message_class = (text(props, PR_MESSAGE_CLASS) or "").upper()
            uid = str(item.identifier)
            if message_class.startswith("IPM.APPOINTMENT"):
                kind, data = "ics", appointment_ics(uid, props, tags)
            elif message_class.startswith("IPM.CONTACT"):
                kind, data = "vcf", contact_vcf(props, tags)
            else:
                written[f"skipped:{text(props, PR_MESSAGE_CLASS)}"] += 1
                continue
            folder = directory.joinpath(*(safe_file_name(p, "folder") for p in path))
            folder.mkdir(parents=True, exist_ok=True)
            name = safe_file_name(subject(props) or "", "item")
            (folder / f"{uid}-{name}.{kind}").write_bytes(data)
            written[kind] += 1
        return written

    def fetch(self, folder: Folder, uids: Sequence[str]) -> Iterator[Message]:
        entry = self._folder(folder)
        if not entry.messages:
            for _ in self.list_messages(folder):
                pass
        for uid in uids:
            index = entry.messages.get(uid)
            if index is None:
                continue
            try:
                item = entry.node.get_sub_message(index)
                props = properties(item)
                raw = build_message(item, props)
            except OSError as exc:
                self.problems.append(f"{self.path}: message {uid} unreadable: {exc}")
                log.warning("%s", self.problems[-1])
                continue
            ref = MessageRef(
                uid=uid, size=len(raw), flags=flags_of(props), internaldate=date_of(props)
            )
            yield Message(ref, raw)


def _check_header(path: Path) -> bool:
    """Raise ArchiveError unless *path* starts like a PST/OST; True for an OST ("SO")."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(10)
            magic = header[:4]
    except OSError as exc:
        raise ArchiveError(f"{path}: {exc.strerror or exc}") from exc
    if magic != PST_MAGIC:
        raise ArchiveError(f"{path}: not a PST/OST file (no !BDN signature at the start)")
    if os.path.getsize(path) < 512:
        raise ArchiveError(f"{path}: truncated PST/OST file")
    return header[8:10] == b"SO"


def _entryid_nid(store: dict[int, Any], tag: int) -> int | None:
    """The node id at the end of a store entry id (MS-PST 2.2.2.8 EntryID)."""
    entry = store.get(tag)
    data = entry.data if entry is not None else None
    if not data or len(data) < 24:
        return None
    return int.from_bytes(data[20:24], "little")


def _name(node: Any) -> str:
    try:
        return str(node.name or "").strip()
    except OSError:
        return ""
