"""The index page of a library folder: what a public folder's reader scanned in Outlook.

One ``index.html`` per folder, a table of subject, sender, date and a link to each ``.eml``
(oldest first), plus links to the sub-folders' pages. It is plain HTML with no script, so
SharePoint's and Nextcloud's previews show it as it is.
"""

from __future__ import annotations

import email.parser
import email.policy
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from html import escape
from urllib.parse import quote

INDEX = "index.html"
_HEADERS = email.parser.BytesHeaderParser(policy=email.policy.default)


@dataclass(frozen=True)
class Entry:
    """One row of an index page."""

    name: str
    subject: str
    sender: str
    date: datetime | None


def headers_of(raw: bytes) -> tuple[str, str, datetime | None]:
    """(subject, from, Date header) of a raw message, decoded; blanks when missing or bad."""
    end = raw.find(b"\r\n\r\n")
    head = raw if end < 0 else raw[: end + 4]
    try:
        msg = _HEADERS.parsebytes(head)
        subject, sender = str(msg.get("Subject", "") or ""), str(msg.get("From", "") or "")
    except Exception:  # a header the parser cannot decode: the file is still listed
        return "", "", None
    try:
        date = parsedate_to_datetime(str(msg.get("Date", "")))
    except (TypeError, ValueError):
        date = None
    if date is not None and date.tzinfo is None:
        date = date.replace(tzinfo=UTC)
    return " ".join(subject.split()), " ".join(sender.split()), date


def file_name(date: datetime | None, uid: str) -> str:
    """``2024-01-31_120000_17.eml``: the date first (a library cannot keep it as the file's
    time), the source UID to keep messages of the same second apart."""
    stamp = date.astimezone(UTC).strftime("%Y-%m-%d_%H%M%S") if date else "undated"
    return f"{stamp}_{uid}.eml"


def render(title: str, entries: list[Entry], subfolders: list[str]) -> bytes:
    """The page for folder *title* listing *entries* and linking *subfolders*' pages."""
    rows = "".join(
        f'<tr><td><a href="{quote(e.name)}">{escape(e.subject) or "(no subject)"}</a></td>'
        f"<td>{escape(e.sender)}</td>"
        f"<td>{e.date.astimezone(UTC).strftime('%Y-%m-%d %H:%M UTC') if e.date else ''}</td></tr>\n"
        for e in entries
    )
    subs = "".join(
        f'<li><a href="{quote(name)}/{INDEX}">{escape(name)}</a></li>\n' for name in subfolders
    )
    page = (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title></head><body>\n<h1>{escape(title)}</h1>\n"
        + (f"<ul>\n{subs}</ul>\n" if subs else "")
        + "<table>\n<tr><th>Subject</th><th>From</th><th>Date</th></tr>\n"
        + rows
        + "</table>\n</body></html>\n"
    )
    return page.encode("utf-8")
