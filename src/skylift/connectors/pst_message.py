"""Rebuild an RFC 5322 message from an Outlook item's properties (used by the PST source).

An Outlook message is not stored as MIME: it is a set of MAPI properties (transport headers
when it came in over SMTP, plain/HTML/RTF bodies, attachments as sub-objects). This module
turns those into deterministic bytes — the same item always gives the same bytes, MIME
boundaries included — so the ledger's fingerprints stay stable between runs.
"""

from __future__ import annotations

import email.utils
import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email import encoders
from email.header import Header
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.policy import SMTP
from typing import Any

# MAPI property tags (MS-OXPROPS) this module reads.
PR_MESSAGE_CLASS = 0x001A
PR_SUBJECT = 0x0037
PR_CLIENT_SUBMIT_TIME = 0x0039
PR_SENT_REPRESENTING_NAME = 0x0042
PR_SENT_REPRESENTING_EMAIL = 0x0065
PR_SENDER_NAME = 0x0C1A
PR_SENDER_EMAIL = 0x0C1F
PR_RECIPIENT_TYPE = 0x0C15
PR_MESSAGE_DELIVERY_TIME = 0x0E06
PR_MESSAGE_FLAGS = 0x0E07
PR_MESSAGE_SIZE = 0x0E08
PR_INTERNET_MESSAGE_ID = 0x1035
PR_IN_REPLY_TO = 0x1042
PR_REFERENCES = 0x1039
PR_LAST_VERB_EXECUTED = 0x1081
PR_FLAG_STATUS = 0x1090
PR_DISPLAY_NAME = 0x3001
PR_EMAIL_ADDRESS = 0x3003
PR_CREATION_TIME = 0x3007
PR_SMTP_ADDRESS = 0x39FE
PR_INTERNET_CPID = 0x3FDE
PR_SENDER_SMTP = 0x5D01
PR_SENT_REPRESENTING_SMTP = 0x5D02
PR_ATTACH_DATA = 0x3701
PR_ATTACH_FILENAME = 0x3704
PR_ATTACH_METHOD = 0x3705
PR_ATTACH_LONG_FILENAME = 0x3707
PR_ATTACH_MIME_TAG = 0x370E
PR_ATTACH_CONTENT_ID = 0x3712

MSGFLAG_READ, MSGFLAG_UNSENT = 0x1, 0x8
ATTACH_BY_VALUE, ATTACH_EMBEDDED_MSG = 1, 5
_VERB_FLAGS = {102: "\\Answered", 103: "\\Answered", 104: "$Forwarded"}
_RECIPIENT_HEADERS = {1: "To", 2: "Cc", 3: "Bcc"}
_MIME_HEADERS = re.compile(
    r"^(content-type|content-transfer-encoding|mime-version|content-disposition|content-id)$",
    re.IGNORECASE,
)
_CODEPAGES = {65001: "utf-8", 20127: "us-ascii", 28591: "iso-8859-1", 50220: "iso-2022-jp"}
_CODEPAGES |= {51932: "euc-jp", 932: "shift_jis", 936: "gb2312", 950: "big5", 1200: "utf-16"}

Properties = Mapping[int, Any]


def properties(item: Any) -> dict[int, Any]:
    """Property tag -> pypff record entry, from an item's first record set."""
    found: dict[int, Any] = {}
    for index in range(item.number_of_record_sets):
        for entry in item.get_record_set(index).entries:
            found.setdefault(entry.entry_type, entry)
        break
    return found


def text(props: Properties, tag: int) -> str | None:
    entry = props.get(tag)
    if entry is None or entry.value_type not in (0x1E, 0x1F):
        return None
    try:
        value = entry.data_as_string
    except (OSError, ValueError):
        return None
    return value or None


def integer(props: Properties, tag: int) -> int | None:
    entry = props.get(tag)
    if entry is None or entry.value_type not in (0x02, 0x03, 0x14):
        return None
    try:
        return int(entry.data_as_integer)
    except (OSError, ValueError, TypeError):
        return None


def when(props: Properties, tag: int) -> datetime | None:
    entry = props.get(tag)
    if entry is None or entry.value_type != 0x40:
        return None
    try:
        value = entry.data_as_datetime
    except (OSError, ValueError, OverflowError):
        return None
    if value is None or value.year < 1971:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def flags_of(props: Properties) -> frozenset[str]:
    """IMAP flags from the read/unsent bits, the follow-up flag and the last verb."""
    flags: set[str] = set()
    message_flags = integer(props, PR_MESSAGE_FLAGS) or 0
    if message_flags & MSGFLAG_READ:
        flags.add("\\Seen")
    if message_flags & MSGFLAG_UNSENT:
        flags.add("\\Draft")
    if integer(props, PR_FLAG_STATUS) == 2:
        flags.add("\\Flagged")
    verb = integer(props, PR_LAST_VERB_EXECUTED)
    if verb in _VERB_FLAGS:
        flags.add(_VERB_FLAGS[verb])
    return frozenset(flags)


def date_of(props: Properties) -> datetime | None:
    """Delivery time, else submit time, else creation time (the INTERNALDATE to keep)."""
    return (
        when(props, PR_MESSAGE_DELIVERY_TIME)
        or when(props, PR_CLIENT_SUBMIT_TIME)
        or when(props, PR_CREATION_TIME)
    )


def build_message(item: Any, props: Properties) -> bytes:
    """The item as RFC 5322 bytes with CRLF line endings."""
    seed = hashlib.sha256(str(item.identifier).encode()).hexdigest()[:24]
    header_lines = _transport_header_lines(item.transport_headers or "")
    if not header_lines:
        header_lines = _synthesized_headers(item, props)
    body = _body(item, props, seed)
    for part in body.walk():
        del part["MIME-Version"]
    entity = body.as_bytes(policy=SMTP)
    return (
        "".join(header_lines).encode("utf-8", "surrogateescape") + b"MIME-Version: 1.0\r\n" + entity
    )


def _transport_header_lines(headers: str) -> list[str]:
    """The SMTP headers as received, minus the MIME headers of the body we rebuild."""
    lines = headers.replace("\r\n", "\n").split("\n")
    fields: list[list[str]] = []
    for line in lines:
        if not line.strip():
            if fields:
                break
            continue
        if line[:1] in (" ", "\t") and fields:
            fields[-1].append(line)
        elif ":" in line:
            fields.append([line])
    kept = [f for f in fields if not _MIME_HEADERS.match(f[0].split(":", 1)[0].strip())]
    return ["\r\n".join(f) + "\r\n" for f in kept]


def _synthesized_headers(item: Any, props: Properties) -> list[str]:
    """Headers for an item that never went through SMTP (sent items, drafts)."""
    out: list[str] = []
    date = when(props, PR_CLIENT_SUBMIT_TIME) or date_of(props)
    if date:
        out.append(f"Date: {email.utils.format_datetime(date)}\r\n")
    sender = _address(
        text(props, PR_SENT_REPRESENTING_NAME) or text(props, PR_SENDER_NAME),
        text(props, PR_SENT_REPRESENTING_SMTP)
        or text(props, PR_SENDER_SMTP)
        or text(props, PR_SENT_REPRESENTING_EMAIL)
        or text(props, PR_SENDER_EMAIL),
    )
    if sender:
        out.append(f"From: {sender}\r\n")
    by_type: dict[int, list[str]] = {}
    recipients = item.recipients
    if recipients is not None:
        for index in range(recipients.number_of_record_sets):
            rprops = {e.entry_type: e for e in recipients.get_record_set(index).entries}
            address = _address(
                text(rprops, PR_DISPLAY_NAME),
                text(rprops, PR_SMTP_ADDRESS) or text(rprops, PR_EMAIL_ADDRESS),
            )
            if address:
                by_type.setdefault(integer(rprops, PR_RECIPIENT_TYPE) or 1, []).append(address)
    for kind, name in _RECIPIENT_HEADERS.items():
        if by_type.get(kind):
            out.append(f"{name}: " + ",\r\n ".join(by_type[kind]) + "\r\n")
    subject = text(props, PR_SUBJECT)
    if subject:
        out.append(f"Subject: {_encode_words(subject)}\r\n")
    for tag, name in (
        (PR_INTERNET_MESSAGE_ID, "Message-ID"),
        (PR_IN_REPLY_TO, "In-Reply-To"),
        (PR_REFERENCES, "References"),
    ):
        value = text(props, tag)
        if value:
            out.append(f"{name}: {value}\r\n")
    return out


def _address(name: str | None, address: str | None) -> str | None:
    if not name and not address:
        return None
    return email.utils.formataddr((_encode_words(name) if name else "", address or ""))


def _encode_words(value: str) -> str:
    if value.isascii():
        return value
    return Header(value, "utf-8").encode(linesep="\r\n")


def _body(item: Any, props: Properties, seed: str) -> MIMEBase:
    """Plain and HTML as alternatives (RTF when it is the only body), then attachments."""
    charset = _CODEPAGES.get(integer(props, PR_INTERNET_CPID) or 65001) or "utf-8"
    parts: list[MIMEBase] = []
    plain, html, rtf = item.plain_text_body, item.html_body, None
    if plain:
        parts.append(_leaf("text", "plain", plain, charset="utf-8"))
    if html:
        parts.append(_leaf("text", "html", html, charset=charset))
    if not parts:
        rtf = item.rtf_body
        parts.append(
            _leaf("text", "rtf", rtf) if rtf else _leaf("text", "plain", b"", charset="utf-8")
        )
    body: MIMEBase
    if len(parts) > 1:
        body = MIMEMultipart("alternative", boundary=f"=_alt_{seed}")
        for part in parts:
            body.attach(part)
    else:
        body = parts[0]
    attachments = [_attachment(item.get_attachment(i)) for i in range(item.number_of_attachments)]
    if not attachments:
        return body
    mixed = MIMEMultipart("mixed", boundary=f"=_mix_{seed}")
    mixed.attach(body)
    for attachment in attachments:
        mixed.attach(attachment)
    return mixed


def _leaf(maintype: str, subtype: str, payload: bytes, **params: str) -> MIMEBase:
    part = MIMEBase(maintype, subtype)
    for name, value in params.items():
        part.set_param(name, value)
    part.set_payload(payload)
    encoders.encode_base64(part)
    return part


def _attachment(attachment: Any) -> MIMEBase:
    props = properties(attachment)
    name = (
        text(props, PR_ATTACH_LONG_FILENAME)
        or text(props, PR_ATTACH_FILENAME)
        or text(props, PR_DISPLAY_NAME)
        or "attachment"
    )
    method = integer(props, PR_ATTACH_METHOD)
    if method == ATTACH_EMBEDDED_MSG:
        # libpff-python does not expose the embedded item itself; say so in the message.
        note = (
            f"An Outlook message was attached here ({name!r}). skylift could not convert "
            "embedded Outlook messages with this version of libpff-python.\r\n"
        )
        part = _leaf("text", "plain", note.encode("utf-8"), charset="utf-8")
        part.add_header("Content-Disposition", "attachment", filename=f"{name}.txt")
        return part
    size = attachment.size or 0
    data = attachment.read_buffer(size) if size else b""
    maintype, _, subtype = (
        text(props, PR_ATTACH_MIME_TAG) or "application/octet-stream"
    ).partition("/")
    part = _leaf(maintype or "application", subtype or "octet-stream", data)
    content_id = text(props, PR_ATTACH_CONTENT_ID)
    if content_id:
        part.add_header("Content-ID", f"<{content_id.strip('<>')}>")
    part.add_header("Content-Disposition", "inline" if content_id else "attachment", filename=name)
    return part
