"""A deterministic mail corpus for the IMAP benchmark, written straight into Maildirs.

Writing the source's Maildir files directly (instead of APPENDing them) fills 1 GB in
seconds and leaves the benchmark's clock for the migration itself. Dovecot indexes the
files on first access; :func:`bench.servers.warm_up` does that before timing starts.

The mix imitates a real organisation: mostly small text messages, a tenth with an
attachment, a tail of multi-MB ones; some without Message-ID, some sharing a Message-ID
with another message (list copies, resends), a few byte-identical twins in one folder,
system flags and keywords, dates over five years.
"""

from __future__ import annotations

import base64
import os
import random
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

# (name parts, share of a user's messages)
FOLDERS: list[tuple[tuple[str, ...], float]] = [
    (("INBOX",), 0.40),
    (("Sent",), 0.15),
    (("Drafts",), 0.01),
    (("Trash",), 0.04),
    (("Junk",), 0.03),
    (("Archive",), 0.06),
    (("Archive", "2021"), 0.08),
    (("Archive", "2022"), 0.08),
    (("Projects",), 0.02),
    (("Projects", "Alpha"), 0.05),
    (("Projects", "Beta"), 0.04),
    (("Lists", "dovecot"), 0.04),
]
KEYWORDS = ["$Forwarded", "$MDNSent", "Work", "Later", "$Label1"]
FLAG_LETTERS = {"\\Draft": "D", "\\Flagged": "F", "\\Answered": "R", "\\Seen": "S"}
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)

_PROSE = (
    "the migration of mailboxes runs overnight and every folder must arrive intact with its "
    "flags dates and attachments please check the quarterly report budget meeting agenda "
    "invoice contract draft review notes schedule project alpha beta release server backup "
    "customer order shipping thanks regards hello colleagues tomorrow friday office travel "
)
_WORDS = _PROSE.split()


def _text_block(seed: int, size: int = 1 << 20) -> bytes:
    rng = random.Random(seed)
    out, n = [], 0
    while n < size:
        line = " ".join(rng.choices(_WORDS, k=rng.randint(6, 14))).capitalize() + "."
        out.append(line)
        n += len(line) + 2
    return ("\r\n".join(out)).encode()


_TEXT = _text_block(7)


@dataclass(frozen=True)
class CorpusMessage:
    """One generated message and where it goes."""

    folder: tuple[str, ...]
    raw: bytes
    flags: frozenset[str]
    date: datetime


def _size_class(rng: random.Random, scale: float) -> int:
    """Attachment bytes for one message: none, small, large or multi-MB (the tail)."""
    r = rng.random()
    if r < 0.885:
        return 0
    if r < 0.985:
        return int(rng.lognormvariate(10.4, 0.8) * scale)  # ~33 KB median
    if r < 0.9988:
        return int(rng.lognormvariate(12.9, 0.6) * scale)  # ~400 KB median
    return int(rng.uniform(2, 15) * 1024 * 1024 * scale)  # 2-15 MB tail


def _text(rng: random.Random, n: int) -> bytes:
    """A slice of prose with clean CRLF line ends (a cut must not leave a lone CR or LF)."""
    start = rng.randrange(0, len(_TEXT) - n - 1) if n < len(_TEXT) else 0
    cut = _TEXT[start : start + n]
    return cut.replace(b"\r\n", b"\n").replace(b"\r", b"").replace(b"\n", b"\r\n")


def _message(
    rng: random.Random, user: str, index: int, message_id: str | None, date: datetime, scale: float
) -> bytes:
    peer = f"colleague{rng.randint(1, 200)}@example.org"
    subject = _text(rng, rng.randint(12, 60)).replace(b"\r\n", b" ").decode()
    headers = [
        f"Return-Path: <{peer}>",
        f"Received: from mx{rng.randint(1, 9)}.example.org by mail.example.com; "
        f"{format_datetime(date)}",
        f"From: Colleague <{peer}>",
        f"To: {user}@example.com",
        f"Subject: {subject}",
        f"Date: {format_datetime(date)}",
        "MIME-Version: 1.0",
    ]
    if message_id is not None:
        headers.append(f"Message-ID: {message_id}")
    body_text = _text(rng, int(rng.lognormvariate(7.8, 1.0)) + 40)
    attachment = _size_class(rng, scale)
    if not attachment:
        headers.append("Content-Type: text/plain; charset=utf-8")
        return ("\r\n".join(headers)).encode() + b"\r\n\r\n" + body_text + b"\r\n"
    boundary = f"=_b{user}{index}"
    headers.append(f'Content-Type: multipart/mixed; boundary="{boundary}"')
    payload = base64.encodebytes(rng.randbytes(attachment * 3 // 4)).replace(b"\n", b"\r\n")
    parts = [
        ("\r\n".join(headers)).encode(),
        b"",
        f"--{boundary}".encode(),
        b"Content-Type: text/plain; charset=utf-8",
        b"",
        body_text,
        f"--{boundary}".encode(),
        f'Content-Type: application/octet-stream; name="file{index}.bin"'.encode(),
        b"Content-Transfer-Encoding: base64",
        f'Content-Disposition: attachment; filename="file{index}.bin"'.encode(),
        b"",
        payload.rstrip(b"\r\n"),
        f"--{boundary}--".encode(),
        b"",
    ]
    return b"\r\n".join(parts)


def _flags(rng: random.Random, folder: tuple[str, ...]) -> frozenset[str]:
    flags = set()
    if folder != ("INBOX",) or rng.random() < 0.8:
        flags.add("\\Seen")
    if rng.random() < 0.10:
        flags.add("\\Answered")
    if rng.random() < 0.05:
        flags.add("\\Flagged")
    if folder == ("Drafts",):
        flags.add("\\Draft")
    if rng.random() < 0.08:
        flags.add(rng.choice(KEYWORDS))
    return frozenset(flags)


def user_messages(
    user: str, count: int, scale: float = 1.0, seed: int = 0
) -> Iterator[CorpusMessage]:
    """Yield *count* messages for *user*; the same arguments always give the same bytes."""
    rng = random.Random(f"{seed}:{user}")
    names = [f for f, _ in FOLDERS]
    weights = [w for _, w in FOLDERS]
    earlier_ids: list[str] = []
    previous: CorpusMessage | None = None
    for i in range(count):
        folder = rng.choices(names, weights)[0]
        r = rng.random()
        if previous is not None and r < 0.005:
            # A byte-identical twin in the same folder: two messages, both must arrive.
            yield CorpusMessage(previous.folder, previous.raw, previous.flags, previous.date)
            continue
        if r < 0.035:
            mid = None  # no Message-ID at all
        elif r < 0.075 and earlier_ids:
            mid = rng.choice(earlier_ids)  # same Message-ID, different content
        else:
            mid = f"<{seed}.{i}.{rng.getrandbits(40):x}@{user}.example.com>"
            earlier_ids.append(mid)
        date = EPOCH + timedelta(seconds=rng.randrange(0, 5 * 365 * 86400))
        raw = _message(rng, user, i, mid, date, scale)
        previous = CorpusMessage(folder, raw, _flags(rng, folder), date)
        yield previous


def extra_messages(user: str, count: int, seed: int = 1) -> Iterator[CorpusMessage]:
    """New mail arriving after the first migration (for the 1%-new rerun)."""
    yield from user_messages(user, count, seed=1000 + seed)


class MaildirWriter:
    """Writes messages into a Dovecot Maildir++ tree ('.' separator), flags in file names."""

    def __init__(self, maildir: Path) -> None:
        self.maildir = maildir
        self._keywords: dict[Path, dict[str, str]] = {}
        self._n = 0

    def _folder_dir(self, folder: tuple[str, ...]) -> Path:
        path = self.maildir if folder == ("INBOX",) else self.maildir / ("." + ".".join(folder))
        if path not in self._keywords:
            for sub in ("cur", "new", "tmp"):
                (path / sub).mkdir(parents=True, exist_ok=True)
            if path != self.maildir:
                (path / "maildirfolder").touch()
            self._keywords[path] = {}
        return path

    def add(self, msg: CorpusMessage) -> None:
        path = self._folder_dir(msg.folder)
        letters = "".join(sorted(FLAG_LETTERS[f] for f in msg.flags if f in FLAG_LETTERS))
        kw = self._keywords[path]
        for f in sorted(msg.flags):
            if f.startswith("\\"):
                continue
            if f not in kw:
                kw[f] = chr(ord("a") + len(kw))
            letters += kw[f]
        self._n += 1
        stamp = int(msg.date.timestamp())
        name = f"{stamp}.M{self._n}P1Q1.bench,S={len(msg.raw)},W={len(msg.raw)}:2,{letters}"
        file = path / "cur" / name
        file.write_bytes(msg.raw)
        os.utime(file, (stamp, stamp))

    def finish(self, owner: str | None) -> None:
        """Write the keyword tables and the subscriptions; hand the tree to *owner*."""
        folders = []
        for path, kw in self._keywords.items():
            if kw:
                (path / "dovecot-keywords").write_text(
                    "".join(f"{ord(letter) - ord('a')} {name}\n" for name, letter in kw.items())
                )
            if path != self.maildir:
                folders.append(path.name[1:])
        (self.maildir / "subscriptions").write_text("".join(f"{f}\n" for f in sorted(folders)))
        if owner:
            for root, _dirs, files in os.walk(self.maildir.parent):
                shutil.chown(root, owner, owner)
                for name in files:
                    shutil.chown(os.path.join(root, name), owner, owner)


def fill_user(
    maildir: Path, user: str, count: int, scale: float, owner: str | None
) -> tuple[int, int]:
    """Write *user*'s corpus into *maildir*; returns (messages, bytes)."""
    writer = MaildirWriter(maildir)
    n = size = 0
    for msg in user_messages(user, count, scale):
        writer.add(msg)
        n += 1
        size += len(msg.raw)
    writer.finish(owner)
    return n, size
