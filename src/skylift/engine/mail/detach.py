"""Oversize messages made to fit: large attachments move to a document library (``--detach-over``).

A message over the target's limit would otherwise stay behind. Its largest attachments are
taken out, largest first, until the message fits; each is replaced by a small text part
naming the file and its link in the library. The original ``.eml`` is stored in the library
too, so the message stays recoverable byte for byte. The rewritten message carries
``X-Skylift-Detached: sha256=<fingerprint of the original>; size=<bytes>`` so ``verify`` can
pair it with its source message. Only the standard library's ``email`` package is used.
"""

from __future__ import annotations

import email
import email.charset
import email.policy
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message

HEADER = "X-Skylift-Detached"
_POLICY = email.policy.compat32.clone(linesep="\r\n")
_QP_UTF8 = email.charset.Charset("utf-8")
_QP_UTF8.body_encoding = email.charset.QP  # the link stays readable in the raw message


@dataclass(frozen=True)
class Detached:
    """One attachment taken out: its file name and decoded bytes."""

    name: str
    data: bytes


@dataclass(frozen=True)
class DetachResult:
    raw: bytes
    detached: list[Detached]


def detached_header(value: str) -> tuple[str, int] | None:
    """(original fingerprint, original size) from an ``X-Skylift-Detached`` value."""
    fields = dict(part.strip().split("=", 1) for part in value.split(";") if "=" in part)
    try:
        return fields["sha256"], int(fields["size"])
    except (KeyError, ValueError):
        return None


def header_of(raw: bytes) -> tuple[str, int] | None:
    """The detached header of a raw message, if it has one."""
    end = raw.find(b"\r\n\r\n")
    head = email.message_from_bytes(raw[: end + 4] if end >= 0 else raw, policy=_POLICY)
    value = head.get(HEADER)
    return detached_header(str(value)) if value else None


def _attachments(msg: Message) -> list[Message]:
    return [
        part
        for part in msg.walk()
        if not part.is_multipart()
        and (part.get_filename() or part.get_content_disposition() == "attachment")
    ]


def detach(
    raw: bytes, limit: int, fingerprint: str, link: Callable[[str], str]
) -> DetachResult | None:
    """*raw* rewritten to at most *limit* bytes, or None when taking out every attachment
    is not enough (or there is none). *link* gives the library URL of a detached file name."""
    msg = email.message_from_bytes(raw, policy=_POLICY)
    parts = sorted(_attachments(msg), key=lambda p: len(p.as_bytes()), reverse=True)
    if not parts:
        return None
    taken: list[Detached] = []
    names: set[str] = set()
    for part in parts:
        name = part.get_filename() or f"attachment-{len(taken) + 1}"
        stem, n = name, 1
        while name in names:
            n += 1
            name = f"{n}-{stem}"
        names.add(name)
        data = part.get_payload(decode=True) or b""
        taken.append(Detached(name, data if isinstance(data, bytes) else b""))
        text = (
            f"The attachment {name} ({len(data)} bytes) was too large for this mailbox and "
            f"was moved to the document library:\r\n{link(name)}\r\n"
        )
        for key in list(part.keys()):
            del part[key]
        part["Content-Type"] = "text/plain"
        part["Content-Disposition"] = "inline"
        part.set_payload(text, charset=_QP_UTF8)
        if "X-Skylift-Detached" not in msg:
            msg[HEADER] = f"sha256={fingerprint}; size={len(raw)}"
        out = msg.as_bytes(policy=_POLICY)
        if len(out) <= limit:
            return DetachResult(out, taken)
    return None
