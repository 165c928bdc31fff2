"""The one logical mailbox every connector must reproduce, and writers into each format.

The messages carry what breaks naive readers: a body line starting with "From " (mbox
separators), one already starting with ">From " (mboxrd escaping), a lone "." line (POP3
dot-stuffing), raw 8-bit UTF-8, a 1500-byte line (poplib's line limit), a base64
attachment. Internal dates differ from the Date headers so a test can tell which one a
connector reported.
"""

from __future__ import annotations

import email.utils
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from imapclient import IMAPClient, imap_utf7

from skylift.model.mail import fingerprint


@dataclass(frozen=True)
class LogicalMessage:
    raw: bytes  # CRLF line endings, as an IMAP server hands it back
    flags: frozenset[str]
    internaldate: datetime

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.raw)

    @property
    def date_header(self) -> datetime:
        header = self.raw.split(b"\r\nDate: ", 1)[1].split(b"\r\n", 1)[0].decode()
        return email.utils.parsedate_to_datetime(header)

    @property
    def keywords(self) -> frozenset[str]:
        return frozenset(f for f in self.flags if not f.startswith("\\"))


def _message(n: int, subject: str, body: str, extra_headers: str = "") -> bytes:
    date = email.utils.format_datetime(datetime(2019, 3, n, 9, 30, n, tzinfo=UTC))
    head = (
        f"From: Alice Example <alice@old.example>\r\n"
        f"To: Bob Example <bob@old.example>\r\n"
        f"Subject: {subject}\r\n"
        f"Date: {date}\r\n"
        f"Message-ID: <conformance-{n}@old.example>\r\n"
        f"{extra_headers}"
    )
    return (head + "\r\n" + body).encode("utf-8")


_ATTACHMENT = 'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n'
_ATTACHMENT_BODY = (
    "--b1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nSee the attachment.\r\n"
    '--b1\r\nContent-Type: application/octet-stream; name="data.bin"\r\n'
    "Content-Transfer-Encoding: base64\r\n"
    'Content-Disposition: attachment; filename="data.bin"\r\n\r\n'
    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4\r\n"
    "--b1--\r\n"
)


def _when(day: int, hour: int) -> datetime:
    return datetime(2020, 1, day, hour, 15, 7, tzinfo=UTC)


SEEN, ANSWERED, FLAGGED, DRAFT = "\\Seen", "\\Answered", "\\Flagged", "\\Draft"

LOGICAL_MAILBOX: dict[tuple[str, ...], list[LogicalMessage]] = {
    ("INBOX",): [
        LogicalMessage(
            _message(1, "Plain hello", "Hello Bob,\r\n\r\nsee you.\r\n"),
            frozenset({SEEN}),
            _when(1, 8),
        ),
        LogicalMessage(
            _message(
                2,
                "Lines that trip mbox",
                "First paragraph.\r\n\r\nFrom the start of this line an mbox reader may split.\r\n"
                ">From here it was quoted already.\r\n>>From twice.\r\n.\r\nA lone dot above.\r\n",
            ),
            frozenset({SEEN, ANSWERED}),
            _when(2, 9),
        ),
        LogicalMessage(
            _message(
                3,
                "=?utf-8?q?Gr=C3=BC=C3=9Fe?=",
                "Grüße aus Köln – ünïcödé body.\r\n" + "x" * 1500 + "\r\n",
                "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                "Content-Transfer-Encoding: 8bit\r\n",
            ),
            frozenset({FLAGGED, "$Label1"}),
            _when(3, 10),
        ),
        LogicalMessage(
            _message(4, "With attachment", _ATTACHMENT_BODY, _ATTACHMENT),
            frozenset(),
            _when(4, 11),
        ),
    ],
    ("Sent",): [
        LogicalMessage(
            _message(5, "Sent one", "I sent this.\r\n"), frozenset({SEEN}), _when(5, 12)
        ),
        LogicalMessage(
            _message(6, "Sent two", "And this.\r\n"), frozenset({SEEN, "$Forwarded"}), _when(6, 13)
        ),
    ],
    ("Archive", "2019"): [
        LogicalMessage(_message(7, "Old news", "Archived.\r\n"), frozenset({SEEN}), _when(7, 14)),
        LogicalMessage(
            _message(8, "Old draft", "Never sent.\r\n"), frozenset({DRAFT}), _when(8, 15)
        ),
    ],
    ("Projekte Ä",): [
        LogicalMessage(
            _message(9, "Non-ASCII folder", "In a folder with an umlaut.\r\n"),
            frozenset({SEEN}),
            _when(9, 16),
        ),
    ],
}


def _lf(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n")


# -- mbox (Thunderbird tree) -------------------------------------------------------------


def mboxrd_escape(raw: bytes) -> bytes:
    lines = raw.split(b"\n")
    return b"\n".join(b">" + ln if ln.lstrip(b">").startswith(b"From ") else ln for ln in lines)


def write_mbox_message(handle, message: LogicalMessage) -> None:  # type: ignore[no-untyped-def]
    stamp = time.asctime(message.internaldate.astimezone(UTC).timetuple())
    handle.write(f"From MAILER-DAEMON {stamp}\n".encode())
    handle.write(mboxrd_escape(_lf(message.raw)))
    handle.write(b"\n")


def write_mbox_tree(root: Path) -> Path:
    """Thunderbird layout: Inbox, Sent, Archive.sbd/2019 (no Archive file), Projekte Ä."""
    root.mkdir(parents=True, exist_ok=True)
    for path, messages in LOGICAL_MAILBOX.items():
        names = ["Inbox" if path == ("INBOX",) else p for p in path]
        directory = root.joinpath(*(f"{n}.sbd" for n in names[:-1]))
        directory.mkdir(parents=True, exist_ok=True)
        with open(directory / names[-1], "wb") as handle:
            for message in messages:
                write_mbox_message(handle, message)
        (directory / f"{names[-1]}.msf").write_bytes(b"// Thunderbird index, not mail\n")
    return root


# -- Maildir -----------------------------------------------------------------------------

_LETTERS = {SEEN: "S", ANSWERED: "R", FLAGGED: "F", DRAFT: "D", "$Forwarded": "P"}


def write_maildir(root: Path, layout: str = "maildir++") -> Path:
    """Dovecot-style Maildir: Maildir++ dot folders or LAYOUT=fs nested directories."""
    counter = 0
    for path, messages in LOGICAL_MAILBOX.items():
        if path == ("INBOX",):
            directory = root
        elif layout == "fs":
            directory = root.joinpath(*(imap_utf7.encode(p).decode() for p in path))
        else:
            directory = root / ("." + ".".join(imap_utf7.encode(p).decode() for p in path))
        for sub in ("cur", "new", "tmp"):
            (directory / sub).mkdir(parents=True, exist_ok=True)
        keywords: list[str] = []
        for message in messages:
            counter += 1
            letters = {_LETTERS[f] for f in message.flags if f in _LETTERS}
            for keyword in sorted(message.keywords - {"$Forwarded"}):
                if keyword not in keywords:
                    keywords.append(keyword)
                letters.add(chr(ord("a") + keywords.index(keyword)))
            stamp = int(message.internaldate.timestamp())
            base = f"{stamp}.M{counter}P4242.testhost,S={len(message.raw)}"
            # A message without flags waits in new/ without an info part, as delivered.
            name = f"{base}:2,{''.join(sorted(letters))}" if letters else base
            file = directory / ("cur" if letters else "new") / name
            file.write_bytes(message.raw)
            os.utime(file, (stamp, stamp))
        if keywords:
            (directory / "dovecot-keywords").write_text(
                "".join(f"{i} {k}\n" for i, k in enumerate(keywords))
            )
    return root


# -- EML tree ----------------------------------------------------------------------------


def write_eml_tree(root: Path) -> Path:
    for path, messages in LOGICAL_MAILBOX.items():
        directory = root if path == ("INBOX",) else root.joinpath(*path)
        directory.mkdir(parents=True, exist_ok=True)
        for index, message in enumerate(messages):
            (directory / f"message-{index:03d}.eml").write_bytes(message.raw)
    return root


# -- IMAP server -------------------------------------------------------------------------


def load_into_imap(
    host: str, port: int, user: str, password: str, inbox_only: bool = False
) -> None:
    """APPEND the logical mailbox over IMAP, with flags and internal dates."""
    with IMAPClient(host, port=port, ssl=False) as client:
        client.login(user, password)
        prefix, separator = client.namespace().personal[0]
        separator = separator or "/"  # Cyrus as Debian ships it: prefix "INBOX.", separator "."
        for path, messages in LOGICAL_MAILBOX.items():
            if inbox_only and path != ("INBOX",):
                continue
            name = "INBOX" if path == ("INBOX",) else prefix + separator.join(path)
            if path != ("INBOX",):
                for depth in range(1, len(path) + 1):
                    partial = prefix + separator.join(path[:depth])
                    if not client.folder_exists(partial):
                        client.create_folder(partial)
            for message in messages:
                client.append(
                    name, message.raw, flags=sorted(message.flags), msg_time=message.internaldate
                )
