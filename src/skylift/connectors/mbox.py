"""mbox archives: one file, or a Thunderbird folder tree with ``.sbd`` directories.

Library: none beyond the standard library's ``os`` and ``re`` — a streaming scanner of our
own. The stdlib ``mailbox.mbox`` opens the file read-write when it can, reads it line by
line in Python (too slow for 100 MB/s), splits at every ``From`` line, and knows neither
mboxrd unescaping nor Thunderbird's status headers. This scanner reads 1 MiB blocks with
``os.pread`` (memory flat in file size), takes as a message separator only a ``From`` line
at the start of the file or after an empty line (so old Thunderbird's unquoted ``From``
lines in bodies do not split a message), and unescapes one ``>`` of ``>From`` lines
(mboxrd; ``?mbox_format=mboxo`` keeps them). Message uids are byte offsets of the From_ line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from skylift.connectors.archive_paths import (
    archive_root,
    date_header,
    file_identity,
    open_readonly,
    role_for_name,
    safe_entries,
)
from skylift.connectors.base import Capabilities, MailConnector, MailSource
from skylift.errors import ArchiveError, FolderNotFound
from skylift.model.account import Login
from skylift.model.mail import Folder, FolderState, Message, MessageRef

CHUNK = 1 << 20
HEAD_LIMIT = 64 * 1024
_NOT_MBOX_SUFFIXES = (".msf", ".dat", ".json", ".html", ".sqlite", ".mab", ".rdf", ".js", ".txt")

# mboxrd quoting: one ">" more on every line that is ">"* + "From ". Searching for the
# literal "\n>" is ten times faster than a MULTILINE "^>"; a piece's first line is checked apart.
_ESCAPED = re.compile(rb"\n>(>*From )")
_ESCAPED_FIRST = re.compile(rb">+From ")
_FROM_DATE = re.compile(
    rb"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)\s+"
    rb"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s+(\d{1,2})\s+"
    rb"(\d{1,2}):(\d\d)(?::(\d\d))?\s+(?:([+-]\d{4}|[A-Za-z]{1,5})\s+)?(\d{4})"
    rb"(?:\s+([+-]\d{4}))?"
)
_MONTHS = {
    m: i + 1 for i, m in enumerate(b"Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split())
}
_HEADER = re.compile(
    rb"^(Status|X-Status|X-Mozilla-Status|X-Mozilla-Keys|X-Keywords):[ \t]*([^\r\n]*)",
    re.IGNORECASE | re.MULTILINE,
)
_MOZ_READ, _MOZ_REPLIED, _MOZ_MARKED, _MOZ_EXPUNGED, _MOZ_FORWARDED = 0x1, 0x2, 0x4, 0x8, 0x1000


@dataclass(frozen=True)
class _Entry:
    """Where one message sits in the file and what its From_ line and headers say."""

    offset: int
    body_start: int
    end: int
    ref: MessageRef
    cut_off: bool = False  # the file ends inside this message (a truncated copy)


class MboxConnector(MailConnector):
    """``mbox:///path`` — a single mbox file, or a directory tree of them."""

    def open_source(self, login: Login) -> MboxSource:
        root, archive = archive_root(self.endpoint, login)
        unescape = self.endpoint.options.get("mbox_format", "mboxrd").lower() != "mboxo"
        return MboxSource(root, archive, unescape=unescape)


class MboxSource(MailSource):
    """A user's mbox archive, read-only; a Thunderbird tree becomes a folder tree."""

    capabilities = Capabilities(separator=None, keeps_internaldate=True, custom_flags=True)

    def __init__(self, root: Path, archive: Path, *, unescape: bool = True) -> None:
        self.root = root
        self.archive = archive
        self.unescape = unescape
        self._files: dict[tuple[str, ...], Path | None] | None = None
        self._entries: dict[tuple[str, ...], dict[str, _Entry]] = {}

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
        entries = {str(e.offset): e for e in _scan(file, self.unescape)}
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
        cut_off: list[_Entry] = []
        try:
            for uid in uids:
                entry = entries.get(uid)
                if entry is None:
                    continue
                if entry.cut_off:
                    cut_off.append(entry)
                    continue
                raw = os.pread(fd, entry.end - entry.body_start, entry.body_start)
                raw = _strip_separator(raw)
                if self.unescape:
                    raw = _unescape(raw)
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


def _unescape(raw: bytes) -> bytes:
    """Undo mboxrd quoting: drop one ">" from each ">"* + "From " line."""
    raw = _ESCAPED.sub(rb"\n\1", raw)
    return raw[1:] if _ESCAPED_FIRST.match(raw) else raw


def _strip_separator(raw: bytes) -> bytes:
    """Drop the empty line an mbox writer puts after each message."""
    if raw.endswith(b"\r\n\r\n"):
        return raw[:-2]
    if raw.endswith(b"\n\n"):
        return raw[:-1]
    return raw


class _Message:
    """Collects what the scanner sees of one message until the next separator."""

    def __init__(self, offset: int, from_line: bytes, body_start: int) -> None:
        self.offset = offset
        self.from_line = from_line
        self.body_start = body_start
        self.head = bytearray()
        self.escaped = 0
        self.tail = b""

    def feed(self, buf: bytes, start: int, end: int, count_escaped: bool) -> None:
        """Take in buf[start:end], which begins at a line start (no copy of the block)."""
        if start >= end:
            return
        if len(self.head) < HEAD_LIMIT:
            self.head += buf[start : min(end, start + HEAD_LIMIT - len(self.head))]
        if count_escaped:
            self.escaped += len(_ESCAPED.findall(buf, start, end))
            self.escaped += bool(_ESCAPED_FIRST.match(buf, start, end))
        if end - start >= 4:
            self.tail = buf[end - 4 : end]
        else:
            self.tail = (self.tail + buf[start:end])[-4:]

    def entry(self, end: int) -> _Entry | None:
        """The finished message; None for one Thunderbird marked expunged (deleted)."""
        length = end - self.body_start
        tail = self.tail
        strip = 2 if tail.endswith(b"\r\n\r\n") else 1 if tail.endswith(b"\n\n") else 0
        flags, expunged = _flags(bytes(self.head))
        if expunged:
            return None
        when = _from_line_date(self.from_line) or date_header(bytes(self.head))
        ref = MessageRef(
            uid=str(self.offset),
            size=length - strip - self.escaped,
            flags=flags,
            internaldate=when,
        )
        return _Entry(self.offset, self.body_start, end, ref)


def _scan(path: Path, unescape: bool) -> Iterator[_Entry]:
    """Yield the messages of the mbox at *path*, reading it once in blocks.

    Blocks are cut after their last newline so every piece handed on starts at a line start.
    """
    fd = open_readonly(path)
    try:
        first = os.pread(fd, 5, 0)
        if not first:
            return
        if first != b"From ":
            raise ArchiveError(f"{path}: not an mbox file (it does not start with a From_ line)")
        offset = 0  # file offset of buf[0]
        carry = b""
        current: _Message | None = None
        prev_blank = True  # the (virtual) line before the file start counts as empty
        while True:
            chunk = os.pread(fd, CHUNK, offset + len(carry))
            buf = carry + chunk
            if not chunk:
                if not buf:
                    break
                cut = len(buf)  # last line without a newline
            else:
                last_nl = buf.rfind(b"\n")
                if last_nl < 0:
                    carry = buf
                    continue
                cut = last_nl + 1
            for start in _separators(buf, cut, prev_blank):
                if current is not None:
                    current.feed(buf, _piece_pos(current, offset), start, unescape)
                    entry = current.entry(offset + start)
                    if entry is not None:
                        yield entry
                line_end = buf.find(b"\n", start, cut)
                line_end = cut if line_end < 0 else line_end + 1
                current = _Message(offset + start, buf[start:line_end], offset + line_end)
            if current is None:  # pragma: no cover - the file starts with "From "
                raise ArchiveError(f"{path}: not an mbox file")
            current.feed(buf, _piece_pos(current, offset), cut, unescape)
            prev_blank = _last_line_blank(buf, cut)
            offset += cut
            carry = buf[cut:]
            if not chunk:
                break
        if current is not None:
            entry = current.entry(offset)
            if entry is not None:
                if not current.tail.endswith(b"\n"):
                    entry = _Entry(entry.offset, entry.body_start, entry.end, entry.ref, True)
                yield entry
    except OSError as exc:
        raise ArchiveError(f"{path}: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)


def _piece_pos(current: _Message, offset: int) -> int:
    """Where the not-yet-fed part of *current* begins inside the piece at *offset*."""
    return max(current.body_start - offset, 0)


def _separators(buf: bytes, cut: int, prev_blank: bool) -> Iterator[int]:
    """Offsets in buf[:cut] of From_ lines that follow an empty line (or start the file)."""
    if prev_blank and buf.startswith(b"From ", 0, cut):
        yield 0
    pos = buf.find(b"\nFrom ", 0, cut)
    while pos >= 0:
        line_start = buf.rfind(b"\n", 0, pos) + 1
        if pos - line_start == 0 or (pos - line_start == 1 and buf[line_start] == 13):
            yield pos + 1  # the line before is empty ("\n" or "\r\n")
        pos = buf.find(b"\nFrom ", pos + 1, cut)


def _last_line_blank(buf: bytes, cut: int) -> bool:
    if cut == 0 or buf[cut - 1] != 10:
        return False
    start = buf.rfind(b"\n", 0, cut - 1) + 1
    return cut - start == 1 or (cut - start == 2 and buf[start] == 13)


def _from_line_date(line: bytes) -> datetime | None:
    """The delivery time an mbox writer put on the From_ line (asctime, UTC unless given)."""
    match = _FROM_DATE.search(line)
    if not match:
        return None
    month, day, hour, minute, second, zone1, year, zone2 = match.groups()
    try:
        when = datetime(
            int(year),
            _MONTHS[month],
            int(day),
            int(hour),
            int(minute),
            int(second or 0),
            tzinfo=UTC,
        )
    except ValueError:
        return None
    zone = zone2 or zone1
    if zone and zone[:1] in (b"+", b"-"):
        sign = 1 if zone[:1] == b"+" else -1
        minutes = int(zone[1:3]) * 60 + int(zone[3:5])
        when = when.replace(tzinfo=timezone(sign * timedelta(minutes=minutes)))
    return when


def _flags(head: bytes) -> tuple[frozenset[str], bool]:
    """Flags from Status/X-Status (mutt, pine, Dovecot) and X-Mozilla-* (Thunderbird)."""
    header_end = re.search(rb"\r?\n\r?\n", head)
    headers = head[: header_end.start()] if header_end else head
    flags: set[str] = set()
    expunged = False
    for match in _HEADER.finditer(headers):
        name = match.group(1).lower()
        value = match.group(2).decode("ascii", "replace").strip()
        if name == b"status":
            if "R" in value:
                flags.add("\\Seen")
        elif name == b"x-status":
            for letter, flag in (("A", "\\Answered"), ("F", "\\Flagged"), ("T", "\\Draft")):
                if letter in value:
                    flags.add(flag)
            if "D" in value:
                flags.add("\\Deleted")
        elif name == b"x-mozilla-status":
            try:
                bits = int(value, 16)
            except ValueError:
                continue
            for bit, flag in (
                (_MOZ_READ, "\\Seen"),
                (_MOZ_REPLIED, "\\Answered"),
                (_MOZ_MARKED, "\\Flagged"),
                (_MOZ_FORWARDED, "$Forwarded"),
            ):
                if bits & bit:
                    flags.add(flag)
            expunged = bool(bits & _MOZ_EXPUNGED)
        else:  # X-Mozilla-Keys, X-Keywords: keywords separated by spaces or commas
            flags.update(k for k in re.split(r"[\s,]+", value) if k)
    return frozenset(flags), expunged
