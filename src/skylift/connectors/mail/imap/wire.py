"""The two IMAP exchanges on the copy path, written and read here rather than by imapclient.

Measured on the benchmark (``bench/README.md``): imapclient's FETCH parser walks every
response byte by byte in Python, and its single APPEND goes through imaplib, which rewrites
line endings with a regex over the whole message. These are the two costs a migration pays
per message, so this module does exactly those two things:

* :func:`append_command` builds one APPEND with non-synchronising literals (LITERAL+,
  RFC 7888) for one message or a MULTIAPPEND batch (RFC 3502): the bytes go out untouched,
  in a few large writes, and the batch costs one round trip and one server transaction.
* :func:`parse_fetch` reads the untagged FETCH data imaplib collected for
  ``UID FETCH (UID RFC822.SIZE FLAGS INTERNALDATE [BODY.PEEK[]])`` with a few regular
  expressions over the short non-literal parts; the message bytes are never scanned.

Everything else (login, LIST, SELECT, STORE, …) stays with imapclient.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from imapclient.datetime_util import datetime_to_INTERNALDATE, parse_to_datetime

SMALL_WRITE = 256 * 1024  # pieces below this are gathered into one write

_UID = re.compile(rb"\bUID (\d+)", re.I)
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)", re.I)
_FLAGS = re.compile(rb"\bFLAGS \(([^)]*)\)", re.I)
_DATE = re.compile(rb'\bINTERNALDATE "([^"]+)"', re.I)
_BODY_LITERAL = re.compile(rb"\bBODY\[\] \{\d+\}$", re.I)
_BODY_NIL = re.compile(rb"\bBODY\[\] NIL", re.I)


@dataclass(frozen=True)
class FetchedItem:
    """One message's answer to a UID FETCH; *body* is None when BODY[] was not asked."""

    uid: int
    size: int | None
    flags: tuple[bytes, ...]
    internaldate: datetime | None
    body: bytes | None


def uid_set(uids: Iterable[int]) -> bytes:
    """``[1, 2, 3, 7]`` -> ``b"1:3,7"``: a compact RFC 3501 sequence set."""
    out: list[str] = []
    start = prev = None
    for uid in sorted(set(uids)):
        if prev is not None and uid == prev + 1:
            prev = uid
            continue
        if start is not None:
            out.append(f"{start}:{prev}" if prev != start else str(start))
        start = prev = uid
    if start is not None:
        out.append(f"{start}:{prev}" if prev != start else str(start))
    return ",".join(out).encode()


def append_command(
    tag: bytes,
    mailbox: bytes,
    messages: Sequence[tuple[bytes, Iterable[str], datetime | None]],
) -> Iterator[bytes]:
    """Yield the pieces of ``tag APPEND mailbox (flags) "date" {n+}CRLF<bytes> ... CRLF``.

    *mailbox* is already quoted/encoded. Each message is (raw bytes, flags, internal
    date). Short pieces are gathered up to SMALL_WRITE; a large message is yielded as it is
    (no copy). The caller writes the pieces in order without waiting for the server.
    """
    buf = bytearray(tag + b" APPEND " + mailbox)
    for raw, flags, date in messages:
        buf += b" (" + " ".join(sorted(flags)).encode() + b")"
        if date is not None:
            buf += b' "' + datetime_to_INTERNALDATE(date).encode() + b'"'
        buf += b" {" + str(len(raw)).encode() + b"+}\r\n"
        if len(raw) >= SMALL_WRITE:
            yield bytes(buf)
            buf.clear()
            yield raw
        else:
            buf += raw
            if len(buf) >= SMALL_WRITE:
                yield bytes(buf)
                buf.clear()
    buf += b"\r\n"
    yield bytes(buf)


def parse_fetch(data: Sequence[bytes | tuple[bytes, bytes] | None]) -> Iterator[FetchedItem]:
    """Read imaplib's untagged FETCH data: ``(head, literal)`` tuples and plain lines.

    A response with a literal arrives as ``(b'7 (UID 9 ... BODY[] {123}', body)`` followed
    by the rest of its line (``b')'`` or more items); one without, as a single line.
    Responses without UID (unsolicited flag updates) are skipped.
    """
    i = 0
    n = len(data)
    while i < n:
        item = data[i]
        i += 1
        if item is None:
            continue
        body: bytes | None = None
        if isinstance(item, tuple):
            text, literal = item[0], item[1]
            if _BODY_LITERAL.search(text):
                body = literal
            # The rest of this response's line follows as a plain piece.
            while i < n and isinstance(data[i], bytes) and not _starts_response(data[i]):
                text += b" " + data[i]  # type: ignore[operator]
                i += 1
        else:
            text = item
            if _BODY_NIL.search(text):
                body = b""
        uid = _UID.search(text)
        if uid is None:
            continue
        size = _SIZE.search(text)
        flags = _FLAGS.search(text)
        date = _DATE.search(text)
        yield FetchedItem(
            uid=int(uid.group(1)),
            size=int(size.group(1)) if size else None,
            flags=tuple(flags.group(1).split()) if flags else (),
            internaldate=parse_internaldate(date.group(1)) if date else None,
            body=body,
        )


_RESPONSE_START = re.compile(rb"^\d+ \(")
_INTERNALDATE = re.compile(
    rb"^ ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)$"
)
_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        [
            b"jan",
            b"feb",
            b"mar",
            b"apr",
            b"may",
            b"jun",
            b"jul",
            b"aug",
            b"sep",
            b"oct",
            b"nov",
            b"dec",
        ]
    )
}
_ZONES: dict[int, timezone] = {}


def parse_internaldate(text: bytes) -> datetime:
    """``b"04-Mar-2021 05:06:07 +0100"`` -> an aware datetime.

    Zones are shared objects: a 100,000-message listing holds one per offset, not one per
    message (imapclient makes a new tzinfo each time).
    """
    m = _INTERNALDATE.match(text)
    month = _MONTHS.get(m.group(2).lower()) if m else None
    if m is None or month is None:
        return parse_to_datetime(text, normalise=False)  # unusual form: imapclient's parser
    minutes = int(m.group(8)) * 60 + int(m.group(9))
    offset = -minutes if m.group(7) == b"-" else minutes
    zone = _ZONES.get(offset)
    if zone is None:
        zone = _ZONES.setdefault(offset, timezone(timedelta(minutes=offset)))
    return datetime(
        int(m.group(3)), month, int(m.group(1)),
        int(m.group(4)), int(m.group(5)), int(m.group(6)), tzinfo=zone,
    )  # fmt: skip


def _starts_response(piece: bytes | tuple[bytes, bytes] | None) -> bool:
    return isinstance(piece, bytes) and bool(_RESPONSE_START.match(piece))
