"""The streaming mbox scanner: message boundaries, sizes, flags and dates in one pass.

Reads 1 MiB blocks with ``os.pread`` and never holds more than a block and one message's
first 64 KiB, so memory stays flat however large the file. Blocks are cut after their last
newline, so every piece handed on starts at a line start; separators are found with
``bytes.find`` and mboxrd quoting with a literal-prefix regex, which keeps the scan at
several hundred MB/s per CPU.

mboxcl/mboxcl2 writers (mutt, Solaris mail) give each message a ``Content-Length`` header and
may leave ``From `` lines in bodies unquoted. The header is trusted only when the bytes at the
end it gives are a From_ line (after an optional empty line) or the end of the file; then
From_ lines before that end are body text. Any other value (wrong, or counting other line
endings) is ignored and the message ends at the next From_ line after an empty line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from skylift.connectors.mail.archive_paths import date_header, open_readonly
from skylift.errors import ArchiveError
from skylift.model.mail import MessageRef

CHUNK = 1 << 20
HEAD_LIMIT = 64 * 1024
LENGTH_HEAD_LIMIT = 8 * 1024  # where a Content-Length header is looked for

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
_CONTENT_LENGTH = re.compile(rb"^Content-Length:[ \t]*(\d{1,15})[ \t]*\r?$", re.I | re.M)
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_MOZ_READ, _MOZ_REPLIED, _MOZ_MARKED, _MOZ_EXPUNGED, _MOZ_FORWARDED = 0x1, 0x2, 0x4, 0x8, 0x1000


@dataclass(frozen=True)
class MboxEntry:
    """Where one message sits in the file and what its From_ line and headers say."""

    offset: int
    body_start: int
    end: int
    ref: MessageRef
    cut_off: bool = False  # the file ends inside this message (a truncated copy)
    counted: bool = False  # the end came from Content-Length: no separator line to drop


def unescape(raw: bytes) -> bytes:
    """Undo mboxrd quoting: drop one ">" from each ">"* + "From " line."""
    raw = _ESCAPED.sub(rb"\n\1", raw)
    return raw[1:] if _ESCAPED_FIRST.match(raw) else raw


def strip_separator(raw: bytes) -> bytes:
    """Drop the empty line an mbox writer puts after each message."""
    if raw.endswith(b"\r\n\r\n"):
        return raw[:-2]
    if raw.endswith(b"\n\n"):
        return raw[:-1]
    return raw


class _Message:
    """Collects what the scanner sees of one message until the next separator."""

    def __init__(
        self, offset: int, from_line: bytes, body_start: int, counted: tuple[int, int] | None
    ) -> None:
        self.offset = offset
        self.from_line = from_line
        self.body_start = body_start
        # from a trusted Content-Length: where the message ends and the next From_ line is
        self.counted_end: int | None = counted[0] if counted else None
        self.next_from: int | None = counted[1] if counted else None
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

    def entry(self, end: int) -> MboxEntry | None:
        """The finished message; None for one Thunderbird marked expunged (deleted)."""
        counted = self.counted_end is not None and end == self.next_from
        if counted and self.counted_end is not None:
            end, strip = self.counted_end, 0
        else:
            tail = self.tail
            strip = 2 if tail.endswith(b"\r\n\r\n") else 1 if tail.endswith(b"\n\n") else 0
        length = end - self.body_start
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
        return MboxEntry(self.offset, self.body_start, end, ref, counted=counted)


def scan(path: Path, unescape: bool) -> Iterator[MboxEntry]:
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
        size = os.fstat(fd).st_size
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
            # late binding wanted: the generator asks for the message begun at its last yield
            at_boundary = lambda: current  # noqa: B023, E731
            for start in _boundaries(buf, cut, offset, prev_blank, at_boundary):
                if current is not None:
                    current.feed(buf, _piece_pos(current, offset), start, unescape)
                    entry = current.entry(offset + start)
                    if entry is not None:
                        yield entry
                line_end = buf.find(b"\n", start, cut)
                line_end = cut if line_end < 0 else line_end + 1
                body_start = offset + line_end
                current = _Message(
                    offset + start,
                    buf[start:line_end],
                    body_start,
                    _content_length_end(fd, body_start, size),
                )
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
                if not entry.counted and not current.tail.endswith(b"\n"):
                    entry = MboxEntry(
                        entry.offset, entry.body_start, entry.end, entry.ref, True, entry.counted
                    )
                yield entry
    except OSError as exc:
        raise ArchiveError(f"{path}: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)


def _piece_pos(current: _Message, offset: int) -> int:
    """Where the not-yet-fed part of *current* begins inside the piece at *offset*."""
    return max(current.body_start - offset, 0)


def _boundaries(
    buf: bytes,
    cut: int,
    offset: int,
    prev_blank: bool,
    current: Callable[[], _Message | None],
) -> Iterator[int]:
    """Where messages start in buf[:cut]: From_ lines after an empty line, unless the
    current message's trusted Content-Length says they are body text, plus the From_ line
    at the end that Content-Length gives (which need not follow an empty line).

    *current* is asked again after each boundary: the message it starts decides the next.
    """
    pending = _separators(buf, cut, prev_blank)
    candidate = next(pending, None)
    while True:
        message = current()
        next_from = message.next_from if message is not None else None
        if next_from is not None:
            while candidate is not None and offset + candidate < next_from:
                candidate = next(pending, None)  # a From_ line inside the counted body
            forced = next_from - offset
            if 0 <= forced < cut and (candidate is None or forced < candidate):
                yield forced
                continue
        if candidate is None:
            return
        yield candidate
        candidate = next(pending, None)


def _content_length_end(fd: int, body_start: int, size: int) -> tuple[int, int] | None:
    """(message end, next From_ line or the file size) when Content-Length is right."""
    head = os.pread(fd, LENGTH_HEAD_LIMIT, body_start)
    header_end = _HEADER_END.search(head)
    if header_end is None:
        return None
    match = _CONTENT_LENGTH.search(head, 0, header_end.start())
    if match is None:
        return None
    end = body_start + header_end.end() + int(match.group(1))
    if end >= size:
        return (size, size) if end == size else None
    after = os.pread(fd, 7, end)
    if after.startswith(b"From ") and os.pread(fd, 1, end - 1) == b"\n":
        return end, end
    for blank in (b"\n", b"\r\n"):
        if after.startswith(blank + b"From "):
            return end, end + len(blank)
        if after == blank and end + len(blank) == size:
            return end, size
    return None


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
