"""A small sample organization's mail, generated deterministically for the demo and benches.

Realistic shapes on purpose: localized special folders, nested project folders, keywords,
duplicates, a message without Message-ID, 8-bit headers and an attachment or two.
"""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import imapclient

PEOPLE = [
    ("alice", "Alice Martin"),
    ("bob", "Bob Keller"),
    ("chloe", "Chloé Dubois"),
    ("dmitri", "Dmitri Volkov"),
    ("eva", "Eva Schneider"),
]

FOLDERS = ["INBOX", "Sent Items", "Drafts", "Deleted Items", "Projects/Apollo",
           "Projects/Zeus/2019", "Gesendete Objekte", "Rechnungen & Belege"]  # fmt: skip


@dataclass(frozen=True)
class DemoMessage:
    folder: str
    raw: bytes
    flags: tuple[str, ...]
    date: datetime


def demo_messages(user: str, count: int, seed: int = 7) -> list[DemoMessage]:
    """*count* messages for *user*, spread over the demo folders."""
    rng = random.Random(f"{seed}-{user}")
    start = datetime(2019, 1, 1, 9, 0, tzinfo=UTC)
    out = []
    for i in range(count):
        folder = FOLDERS[0] if i % 3 == 0 else rng.choice(FOLDERS)
        date = start + timedelta(hours=rng.randint(0, 24 * 365 * 5))
        sender = rng.choice(PEOPLE)
        subject = rng.choice(["Budget", "Réunion", "Weekly report", "Grüße", "Invoice", "Lunch?"])
        headers = [
            f"From: {sender[1]} <{sender[0]}@old.example>",
            f"To: {user}@old.example",
            f"Subject: {subject} #{i}",
            f"Date: {date.strftime('%a, %d %b %Y %H:%M:%S +0000')}",
        ]
        if i % 17 != 5:
            headers.append(f"Message-ID: <{user}.{i}@old.example>")
        body = f"Hello {user},\r\n\r\nThis is message {i} about {subject}.\r\n"
        if i % 11 == 0:
            blob = base64.encodebytes(rng.randbytes(rng.randint(20_000, 300_000))).replace(
                b"\n", b"\r\n"
            )
            raw = (
                (
                    "\r\n".join(headers)
                    + "\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n"
                    + "--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
                    + body
                    + "--XX\r\nContent-Type: application/octet-stream\r\n"
                    + 'Content-Disposition: attachment; filename="report.bin"\r\n'
                    + "Content-Transfer-Encoding: base64\r\n\r\n"
                ).encode()
                + blob
                + b"--XX--\r\n"
            )
        else:
            raw = ("\r\n".join(headers) + "\r\n\r\n" + body).encode("utf-8")
        flags: tuple[str, ...] = ("\\Seen",) if rng.random() < 0.7 else ()
        if rng.random() < 0.1:
            flags += ("\\Flagged",)
        if rng.random() < 0.05:
            flags += ("$Important",)
        out.append(DemoMessage(folder, raw, flags, date))
    return out


#: the organization's public folders (one name a document library cannot hold as it is)
PUBLIC_FOLDERS = ["Public/Announcements", "Public/Projects", "Public/Projects/Q1: plan?"]


def public_folder_messages(count: int = 12, seed: int = 7) -> list[DemoMessage]:
    """*count* messages spread over :data:`PUBLIC_FOLDERS` (the demo's public namespace)."""
    rng = random.Random(f"{seed}-public")
    start = datetime(2018, 6, 1, 9, 0, tzinfo=UTC)
    out = []
    for i in range(count):
        date = start + timedelta(days=rng.randint(0, 900), minutes=i)
        sender = rng.choice(PEOPLE)
        raw = (
            f"From: {sender[1]} <{sender[0]}@old.example>\r\nTo: all@old.example\r\n"
            f"Subject: Notice {i}\r\nDate: {date.strftime('%a, %d %b %Y %H:%M:%S +0000')}\r\n"
            f"Message-ID: <public.{i}@old.example>\r\n\r\nPosted to everyone ({i}).\r\n"
        ).encode()
        out.append(DemoMessage(PUBLIC_FOLDERS[i % len(PUBLIC_FOLDERS)], raw, ("\\Seen",), date))
    return out


def fill_mailbox(
    port: int, user: str, password: str, messages: list[DemoMessage], sep: str
) -> None:
    """Append *messages* into *user*'s mailbox on a plain-IMAP server on 127.0.0.1."""
    client = imapclient.IMAPClient("127.0.0.1", port=port, ssl=False, timeout=60)
    client.login(user, password)
    try:
        made = {"INBOX"}
        for m in messages:
            name = m.folder.replace("/", sep)
            if name not in made:
                parts = name.split(sep)
                for depth in range(1, len(parts) + 1):
                    sub = sep.join(parts[:depth])
                    if sub not in made and not client.folder_exists(sub):
                        client.create_folder(sub)
                        client.subscribe_folder(sub)
                    made.add(sub)
            client.append(name, m.raw, list(m.flags), m.date)
    finally:
        client.logout()
