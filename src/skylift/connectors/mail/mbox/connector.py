"""mbox archives: one file, or a Thunderbird folder tree with ``.sbd`` directories.

Library: none beyond the standard library's ``os`` and ``re`` — a streaming scanner of our
own. The stdlib ``mailbox.mbox`` opens the file read-write when it can, reads it line by
line in Python (too slow for 100 MB/s), splits at every ``From`` line, and knows neither
mboxrd unescaping nor Thunderbird's status headers. This scanner reads 1 MiB blocks with
``os.pread`` (memory flat in file size), takes as a message separator only a ``From`` line
at the start of the file or after an empty line (so old Thunderbird's unquoted ``From``
lines in bodies do not split a message), and unescapes one ``>`` of ``>From`` lines
(mboxrd; the endpoint option ``mbox_format=mboxo`` or ``mboxcl2`` keeps them). A
``Content-Length`` header (mboxcl/mboxcl2) ends a message where it is shown to be right.
Message uids are byte offsets of the From_ line.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from skylift.connectors.mail.archive_paths import (
    archive_root,
    file_identity,
    open_readonly,
    role_for_name,
    safe_entries,
)
from skylift.connectors.mail.base import Capabilities, MailConnector, MailSource
from skylift.connectors.mail.mbox.scan import MboxEntry, scan, strip_separator
from skylift.connectors.mail.mbox.scan import unescape as unescape_mboxrd
from skylift.errors import ArchiveError, FolderNotFound
from skylift.model.account import Login
from skylift.model.mail import Folder, FolderState, Message, MessageRef

_NOT_MBOX_SUFFIXES = (".msf", ".dat", ".json", ".html", ".sqlite", ".mab", ".rdf", ".js", ".txt")


class MboxConnector(MailConnector):
    """``mbox:///path`` — a single mbox file, or a directory tree of them."""

    def open_source(self, login: Login) -> MboxSource:
        root, archive = archive_root(self.endpoint, login)
        unescape = self.endpoint.options.get("mbox_format", "mboxrd").lower() not in (
            "mboxo",
            "mboxcl2",
        )
        return MboxSource(root, archive, unescape=unescape)


class MboxSource(MailSource):
    """A user's mbox archive, read-only; a Thunderbird tree becomes a folder tree."""

    capabilities = Capabilities(separator=None, keeps_internaldate=True, custom_flags=True)

    def __init__(self, root: Path, archive: Path, *, unescape: bool = True) -> None:
        self.root = root
        self.archive = archive
        self.unescape = unescape
        self._files: dict[tuple[str, ...], Path | None] | None = None
        self._entries: dict[tuple[str, ...], dict[str, MboxEntry]] = {}

    # -- folders -----------------------------------------------------------------------

    def folders(self) -> list[Folder]:
        return [
            Folder(path, role=role_for_name(path[-1]), selectable=file is not None)
            for path, file in self._folder_files().items()
        ]

    def _folder_files(self) -> dict[tuple[str, ...], Path | None]:
        if self._files is None:
            if self.archive.is_file():
                self._files = {("INBOX",): self.archive}
            else:
                self._files = {}
                self._walk(self.archive, ())
        return self._files

    def _walk(self, directory: Path, prefix: tuple[str, ...]) -> None:
        """Add the mbox files of *directory* (parents before their ``.sbd`` children)."""
        assert self._files is not None
        files: dict[str, Path] = {}
        subdirs: dict[str, Path] = {}
        for entry in safe_entries(directory, self.root):
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                name = entry.name[:-4] if entry.name.endswith(".sbd") else entry.name
                subdirs[name] = Path(entry.path)
            elif entry.is_file() and _looks_like_mbox(Path(entry.path)):
                name = entry.name
                for suffix in (".mbox", ".mbx"):
                    if name.lower().endswith(suffix):
                        name = name[: -len(suffix)]
                files[name] = Path(entry.path)
        for name in sorted(files.keys() | subdirs.keys()):
            self._files[(*prefix, name)] = files.get(name)
            if name in subdirs:
                self._walk(subdirs[name], (*prefix, name))

    def _file(self, folder: Folder) -> Path:
        file = self._folder_files().get(folder.path)
        if file is None:
            raise FolderNotFound(f"no mbox folder {folder.display()!r} in {self.archive}")
        return file

    # -- messages ----------------------------------------------------------------------

    def select(self, folder: Folder) -> FolderState:
        file = self._file(folder)
        entries = {str(e.offset): e for e in scan(file, self.unescape)}
        self._entries[folder.path] = entries
        return FolderState(validity=file_identity(file), count=len(entries))

    def list_messages(self, folder: Folder) -> Iterator[MessageRef]:
        if folder.path not in self._entries:
            self.select(folder)
        for entry in self._entries[folder.path].values():
            yield entry.ref

    def fetch(self, folder: Folder, uids: Sequence[str]) -> Iterator[Message]:
        if folder.path not in self._entries:
            self.select(folder)
        entries = self._entries[folder.path]
        path = self._file(folder)
        fd = open_readonly(path)
        cut_off: list[MboxEntry] = []
        try:
            for uid in uids:
                entry = entries.get(uid)
                if entry is None:
                    continue
                if entry.cut_off:
                    cut_off.append(entry)
                    continue
                raw = os.pread(fd, entry.end - entry.body_start, entry.body_start)
                if not entry.counted:
                    raw = strip_separator(raw)
                if self.unescape:
                    raw = unescape_mboxrd(raw)
                yield Message(entry.ref, raw)
        finally:
            os.close(fd)
        if cut_off:  # after the rest of the batch, so only this message fails
            raise ArchiveError(
                f"{path}: the message at byte {cut_off[0].offset} is cut off (the file ends "
                "in the middle of it; is this a truncated copy?)"
            )


def _looks_like_mbox(path: Path) -> bool:
    """An mbox is empty or begins with "From "; *.mbox files are taken whatever they hold."""
    name = path.name.lower()
    if name.endswith((".mbox", ".mbx")):
        return True
    if name.endswith(_NOT_MBOX_SUFFIXES):
        return False
    try:
        fd = open_readonly(path)
    except ArchiveError:
        return False
    try:
        head = os.read(fd, 5)
    finally:
        os.close(fd)
    return head in (b"", b"From ")
