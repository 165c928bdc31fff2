"""Calendars, address books and their objects as every DAV-ish connector yields and accepts them.

An :class:`Item` carries the object's raw bytes untouched (one iCalendar object resource or
one vCard); the engine parses them, connectors never do beyond finding the UID. The UID is
the identity across servers, hrefs are only where an object happens to live.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum


class DavKind(StrEnum):
    """What a collection holds."""

    CALENDAR = "calendar"
    ADDRESSBOOK = "addressbook"

    @property
    def suffix(self) -> str:
        return ".ics" if self is DavKind.CALENDAR else ".vcf"

    @property
    def content_type(self) -> str:
        return "text/calendar" if self is DavKind.CALENDAR else "text/vcard"


CALENDAR_COMPONENTS = frozenset({"VEVENT", "VTODO", "VJOURNAL"})


@dataclass(frozen=True)
class Collection:
    """One calendar or address book.

    *name* is the last path segment, the key a collection keeps across servers; *href* is
    where it lives on this server ("" for a file source). *components* is the calendar's
    supported component set (empty for address books). *sync_token* and *ctag* are the
    server's change markers when it offers them: equal markers mean nothing changed.
    *data_versions* are the vCard versions an address book declares it takes (empty: not
    said) and *max_resource_size* the largest object it takes, when the server tells.
    """

    kind: DavKind
    name: str
    display_name: str = ""
    color: str = ""
    description: str = ""
    components: frozenset[str] = frozenset()
    href: str = ""
    sync_token: str | None = None
    ctag: str | None = None
    data_versions: frozenset[str] = frozenset()
    max_resource_size: int | None = None

    @property
    def change_marker(self) -> str | None:
        return self.sync_token or self.ctag


@dataclass(frozen=True)
class ItemRef:
    """An object as listed, without its content: where it lives and its current ETag."""

    href: str
    etag: str | None = None


@dataclass(frozen=True)
class Item:
    """One calendar object resource or vCard with its raw bytes.

    *uid* is None when the object has none (old vCards) or cannot be parsed; *error* says
    why an object a source could not read is unusable (the engine reports and skips it).
    """

    kind: DavKind
    href: str
    raw: bytes = field(repr=False)
    uid: str | None = None
    etag: str | None = None
    error: str | None = None

    @property
    def content_hash(self) -> str:
        return content_hash(self.raw)


@dataclass(frozen=True)
class PutResult:
    """What the target said to one write: the href and new ETag, or its refusal.

    *note*: stored, but not as it was (a rule the target needs, e.g. a recurrence Graph has
    no pattern for expanded into single events); the report shows it and the original is
    exported.
    """

    href: str
    etag: str | None = None
    error: str | None = None
    conflict: bool = False
    note: str | None = None


def content_hash(raw: bytes) -> str:
    """A short, stable fingerprint of an object's bytes for the ledger."""
    return hashlib.sha256(raw).hexdigest()[:32]


@dataclass(frozen=True)
class ItemRecord:
    """What the ledger remembers of one copied object (never its content).

    *content_hash* is the hash of the bytes written to the target; *source_etag* and
    *target_etag* are each side's ETag right after the copy.
    """

    uid: str
    source_href: str
    source_etag: str | None
    target_href: str
    target_etag: str | None
    content_hash: str


def decode_dav_text(raw: bytes) -> str:
    """Decode iCalendar/vCard bytes: UTF-8 (BOM dropped), else Windows-1252 as Outlook wrote."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")
