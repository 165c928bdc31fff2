"""EML folders: a directory tree of ``.eml`` files (Thunderbird, Lotus Notes, Outlook exports).

Library: the standard library only (``os`` to walk, a small header regex for the Date). Each
file is one RFC 5322 message, served byte for byte; files in the root form INBOX, each
subdirectory a folder. The uid is the file name, stable while the file stays where it is.
EML keeps no flags and no delivery time, so the date is the Date header (else the mtime).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from skylift.connectors.mail.archive_paths import (
    archive_root,
    date_header,
    directory_identity,
    file_identity,
    mtime_of,
    read_file,
    role_for_name,
    safe_entries,
)
from skylift.connectors.mail.base import Capabilities, MailConnector, MailSource
from skylift.errors import FolderNotFound
from skylift.model.account import Login
from skylift.model.mail import Folder, FolderState, Message, MessageRef

HEAD_LIMIT = 64 * 1024
SUFFIX = ".eml"


class EmlConnector(MailConnector):
    """``eml:///exports/jane/`` — a folder tree of .eml files (or one .eml file)."""

    def open_source(self, login: Login) -> EmlSource:
        root, archive = archive_root(self.endpoint, login)
        return EmlSource(root, archive)


class EmlSource(MailSource):
    """A tree of .eml files, read-only."""

    capabilities = Capabilities(
        separator=None, keeps_internaldate=False, custom_flags=False, folders=True
    )

    def __init__(self, root: Path, archive: Path) -> None:
        self.root = root
        self.archive = archive
        self._dirs: dict[tuple[str, ...], Path] | None = None

    def folders(self) -> list[Folder]:
        return [Folder(path, role=role_for_name(path[-1])) for path in self._folder_dirs()]

    def _folder_dirs(self) -> dict[tuple[str, ...], Path]:
        if self._dirs is None:
            found: dict[tuple[str, ...], Path] = {("INBOX",): self.archive}
            if self.archive.is_dir():
                self._walk(self.archive, (), found)
            self._dirs = dict(sorted(found.items()))
        return self._dirs

    def _walk(
        self, directory: Path, path: tuple[str, ...], found: dict[tuple[str, ...], Path]
    ) -> None:
        for entry in safe_entries(directory, self.root):
            if entry.is_dir() and not entry.name.startswith("."):
                found[(*path, entry.name)] = Path(entry.path)
                self._walk(Path(entry.path), (*path, entry.name), found)

    def _files(self, folder: Folder) -> dict[str, Path]:
        directory = self._folder_dirs().get(folder.path)
        if directory is None:
            raise FolderNotFound(f"no EML folder {folder.display()!r} in {self.archive}")
        if directory.is_file():
            return {directory.name: directory}
        return {
            entry.name: Path(entry.path)
            for entry in safe_entries(directory, self.root)
            if entry.name.lower().endswith(SUFFIX) and entry.is_file()
        }

    def select(self, folder: Folder) -> FolderState:
        files = self._files(folder)
        directory = self._folder_dirs()[folder.path]
        validity = (
            file_identity(directory) if directory.is_file() else directory_identity(directory)
        )
        return FolderState(validity=validity, count=len(files))

    def list_messages(self, folder: Folder) -> Iterator[MessageRef]:
        for uid, path in self._files(folder).items():
            try:
                yield _ref(uid, path, read_file(path, HEAD_LIMIT), os.stat(path).st_size)
            except FileNotFoundError:
                continue

    def fetch(self, folder: Folder, uids: Sequence[str]) -> Iterator[Message]:
        files = self._files(folder)
        for uid in uids:
            path = files.get(uid)
            if path is None:
                continue
            try:
                raw = read_file(path)
            except FileNotFoundError:
                continue
            yield Message(_ref(uid, path, raw, len(raw)), raw)


def _ref(uid: str, path: Path, head: bytes, size: int) -> MessageRef:
    return MessageRef(uid=uid, size=size, internaldate=date_header(head) or mtime_of(path))
