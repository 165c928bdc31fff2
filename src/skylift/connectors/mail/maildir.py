"""Maildir trees: Maildir++ (Courier, Dovecot default) and nested (Dovecot ``LAYOUT=fs``).

Library: the standard library's ``os`` plus ``imapclient.imap_utf7`` for folder names. The
stdlib ``mailbox.Maildir`` needs ``new/`` and ``tmp/`` to exist (trees copied from git or
zip files often lack them), counts marker files as messages, knows only ``:`` as the info
separator and nothing of keywords; reading the directory ourselves is shorter than working
around it. Flags come from the file name's info part (``:2,FRS``, ``!2,`` on Windows-safe
trees), keywords from ``dovecot-keywords`` or Courier's ``courierimapkeywords/:list``; the
uid is the base file name (stable while flags change the rest of the name); the date is the
file's mtime (what Dovecot serves as INTERNALDATE), or the delivery time in the name when the
mtime is later than that (a copy that did not keep times).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from imapclient import imap_utf7

from skylift.connectors.mail.archive_paths import (
    archive_root,
    directory_identity,
    read_file,
    role_for_name,
    safe_entries,
)
from skylift.connectors.mail.base import Capabilities, MailConnector, MailSource
from skylift.errors import ArchiveError, FolderNotFound
from skylift.model.account import Login
from skylift.model.mail import Folder, FolderState, Message, MessageRef

_INFO = re.compile(r"^(?P<base>.+?)(?:[:!;]2,(?P<flags>[A-Za-z]*))?$")
_FLAG_LETTERS = {
    "D": "\\Draft",
    "F": "\\Flagged",
    "P": "$Forwarded",
    "R": "\\Answered",
    "S": "\\Seen",
    "T": "\\Deleted",
}
_NAME_TIME = re.compile(r"^(\d{9,11})\.")
_MUTF7_SHIFT = re.compile(r"&[A-Za-z0-9+,]*-")
_COPY_SLACK_SECONDS = 86400


class MaildirConnector(MailConnector):
    """``maildir:///var/mail/jane/`` — one user's Maildir root."""

    def open_source(self, login: Login) -> MaildirSource:
        root, archive = archive_root(self.endpoint, login)
        if not archive.is_dir():
            raise ArchiveError(f"{archive}: not a Maildir (not a directory)")
        return MaildirSource(root, archive)


class MaildirSource(MailSource):
    """A Maildir tree, read-only: files are only opened for reading, never renamed."""

    capabilities = Capabilities(separator=None, keeps_internaldate=True, custom_flags=True)

    def __init__(self, root: Path, archive: Path) -> None:
        self.root = root
        self.archive = archive
        self._dirs: dict[tuple[str, ...], Path | None] | None = None
        self._files: dict[tuple[str, ...], dict[str, Path]] = {}

    # -- folders -----------------------------------------------------------------------

    def folders(self) -> list[Folder]:
        return [
            Folder(path, role=role_for_name(path[-1]), selectable=d is not None)
            for path, d in self._folder_dirs().items()
        ]

    def _folder_dirs(self) -> dict[tuple[str, ...], Path | None]:
        if self._dirs is None:
            found: dict[tuple[str, ...], Path | None] = {}
            if _is_maildir(self.archive):
                found[("INBOX",)] = self.archive
            for entry in safe_entries(self.archive, self.root):
                if not entry.is_dir() or entry.name in ("cur", "new", "tmp", ".", ".."):
                    continue
                if entry.name.startswith("."):  # Maildir++: .Parent.Child
                    if _is_maildir(Path(entry.path)):
                        parts = tuple(_decode_name(p) for p in entry.name[1:].split("."))
                        found[parts] = Path(entry.path)
                else:
                    self._walk_fs(Path(entry.path), (_decode_name(entry.name),), found)
            for path in list(found):  # hierarchy nodes without a Maildir of their own
                for depth in range(1, len(path)):
                    found.setdefault(path[:depth], None)
            self._dirs = dict(sorted(found.items()))
        return self._dirs

    def _walk_fs(
        self, directory: Path, path: tuple[str, ...], found: dict[tuple[str, ...], Path | None]
    ) -> None:
        """Nested layout: a directory is a folder when it holds cur/ or new/."""
        if _is_maildir(directory):
            found[path] = directory
        for entry in safe_entries(directory, self.root):
            is_folder = entry.is_dir() and entry.name not in ("cur", "new", "tmp")
            if is_folder and not entry.name.startswith("."):
                self._walk_fs(Path(entry.path), (*path, _decode_name(entry.name)), found)

    def _dir(self, folder: Folder) -> Path:
        directory = self._folder_dirs().get(folder.path)
        if directory is None:
            raise FolderNotFound(f"no Maildir folder {folder.display()!r} in {self.archive}")
        return directory

    # -- messages ----------------------------------------------------------------------

    def _scan(self, folder: Folder) -> dict[str, Path]:
        directory = self._dir(folder)
        files: dict[str, Path] = {}
        for sub in ("new", "cur"):
            if not (directory / sub).is_dir():
                continue
            for entry in safe_entries(directory / sub, self.root):
                if entry.name.startswith(".") or not entry.is_file():
                    continue
                match = _INFO.match(entry.name)
                assert match is not None
                files[match["base"]] = Path(entry.path)
        self._files[folder.path] = files
        return files

    def select(self, folder: Folder) -> FolderState:
        files = self._scan(folder)
        return FolderState(validity=directory_identity(self._dir(folder)), count=len(files))

    def list_messages(self, folder: Folder) -> Iterator[MessageRef]:
        files = self._scan(folder)
        keywords = _keywords(self._dir(folder))
        for uid, path in files.items():
            try:
                yield _ref(uid, path, keywords)
            except FileNotFoundError:
                continue  # moved or deleted by a mail client in the meantime

    def fetch(self, folder: Folder, uids: Sequence[str]) -> Iterator[Message]:
        files = self._files.get(folder.path) or self._scan(folder)
        keywords = _keywords(self._dir(folder))
        for uid in uids:
            path = files.get(uid)
            if path is None or not path.exists():
                path = self._scan(folder).get(uid)
                files = self._files[folder.path]
            if path is None:
                continue
            try:
                raw = read_file(path)
                yield Message(_ref(uid, path, keywords, size=len(raw)), raw)
            except FileNotFoundError:
                continue


def _is_maildir(directory: Path) -> bool:
    return (directory / "cur").is_dir() or (directory / "new").is_dir()


def _decode_name(name: str) -> str:
    """Folder names on disk are modified UTF-7 (RFC 3501) when they hold non-ASCII."""
    if not _MUTF7_SHIFT.search(name):
        return name
    try:
        return str(imap_utf7.decode(name.encode("ascii")))
    except (UnicodeError, ValueError):
        return name


def _ref(uid: str, path: Path, keywords: dict[str, str], size: int | None = None) -> MessageRef:
    match = _INFO.match(path.name)
    assert match is not None
    flags: set[str] = set()
    for letter in match["flags"] or "":
        if letter in _FLAG_LETTERS:
            flags.add(_FLAG_LETTERS[letter])
        elif letter in keywords:
            flags.add(keywords[letter])
    for keyword in keywords.get(f"courier:{uid}", "").split():
        flags.add(keyword)
    st = os.stat(path)
    return MessageRef(
        uid=uid,
        size=st.st_size if size is None else size,
        flags=frozenset(flags),
        internaldate=_date(uid, st.st_mtime),
    )


def _date(uid: str, mtime: float) -> datetime:
    """The mtime, unless it is later than the delivery time in the name (a careless copy)."""
    match = _NAME_TIME.match(uid)
    if match and mtime > int(match.group(1)) + _COPY_SLACK_SECONDS:
        return datetime.fromtimestamp(int(match.group(1)), tz=UTC)
    return datetime.fromtimestamp(int(mtime), tz=UTC)


def _keywords(directory: Path) -> dict[str, str]:
    """Letter -> keyword from dovecot-keywords, plus "courier:<uid>" -> keywords."""
    result: dict[str, str] = {}
    dovecot = directory / "dovecot-keywords"
    if dovecot.is_file():
        for line in dovecot.read_text("utf-8", "replace").splitlines():
            index, _, name = line.partition(" ")
            if index.isdigit() and name and int(index) < 26:
                result[chr(ord("a") + int(index))] = name.strip()
    courier = directory / "courierimapkeywords" / ":list"
    if courier.is_file():
        names, _, assignments = courier.read_text("utf-8", "replace").partition("\n\n")
        table = names.splitlines()
        for line in assignments.splitlines():
            base, _, numbers = line.rpartition(":")
            words = [table[int(n)] for n in numbers.split() if n.isdigit() and int(n) < len(table)]
            if base:
                result[f"courier:{base}"] = " ".join(words)
    return result
