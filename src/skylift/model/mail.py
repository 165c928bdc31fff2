"""Mail data as every connector yields and accepts it.

A folder path is a tuple of decoded name parts, so no separator character ever leaks
between servers: ``("Archive", "2019")`` is "Archive.2019" on one server and
"Archive/2019" on another.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Folder:
    """One mail folder.

    *role* is the special use ("sent", "trash", …) when the server declares or the name
    implies one; *selectable* is False for pure hierarchy nodes (\\Noselect).
    """

    path: tuple[str, ...]
    role: str | None = None
    subscribed: bool = True
    selectable: bool = True

    def display(self, separator: str = "/") -> str:
        return separator.join(self.path)

    @property
    def is_inbox(self) -> bool:
        return len(self.path) == 1 and self.path[0].upper() == "INBOX"


@dataclass(frozen=True)
class FolderState:
    """What a selected folder says about itself.

    *validity* changes when the ids in the folder are no longer the same messages
    (IMAP UIDVALIDITY, a file's identity for archives). *next_uid* and *modseq* let a rerun
    skip an unchanged folder without listing it; None where the source cannot tell.
    """

    validity: str
    count: int
    next_uid: int | None = None
    modseq: int | None = None


@dataclass(frozen=True, slots=True)
class MessageRef:
    """A message as listed, without its content.

    *uid* is stable within (folder, validity): the IMAP UID, a POP3 UIDL, an archive offset.
    *msgid* and *labels* come from a source with labels (Gmail's X-GM-MSGID and X-GM-LABELS,
    the labels as folder paths); empty elsewhere.
    """

    uid: str
    size: int
    flags: frozenset[str] = frozenset()
    internaldate: datetime | None = None
    msgid: str | None = None
    labels: frozenset[tuple[str, ...]] = frozenset()


@dataclass(frozen=True)
class Message:
    """A message with its raw RFC 5322 bytes, exactly as the source holds them."""

    ref: MessageRef
    raw: bytes = field(repr=False)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.raw)


@dataclass(frozen=True)
class AppendResult:
    """Outcome of placing one message on a target.

    *uid* is the target's new UID when the server reports it (UIDPLUS), else None.
    *error* is the server's own words when it refused the message.
    """

    uid: str | None = None
    error: str | None = None


def normalize_line_endings(raw: bytes) -> bytes:
    """Return *raw* with every line ending as CRLF, the form IMAP servers hand back."""
    return raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")


def fingerprint(raw: bytes) -> str:
    """Content identity of a message: SHA-256 over its bytes with CRLF line endings.

    Line endings are normalised because a server may store a bare-LF message and serve it
    back with CRLF; every other byte counts, so two messages that differ anywhere differ here.
    """
    crlf = raw.count(b"\r\n")
    if raw.count(b"\n") == crlf == raw.count(b"\r"):
        return hashlib.sha256(raw).hexdigest()  # already CRLF throughout: hash without copying
    return hashlib.sha256(normalize_line_endings(raw)).hexdigest()
