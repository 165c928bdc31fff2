"""Helpers for tests: fill a real IMAP server with messages and read everything back."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import imapclient

from skylift.model.mail import fingerprint


@dataclass(frozen=True)
class Item:
    raw: bytes
    flags: tuple[str, ...] = ()
    date: datetime | None = None


def connect(port: int, user: str, password: str) -> imapclient.IMAPClient:
    client = imapclient.IMAPClient("127.0.0.1", port=port, ssl=False, timeout=30)
    client.normalise_times = False
    client.login(user, password)
    return client


def seed(port: int, user: str, password: str, folders: dict[str, list[Item]], sep: str) -> None:
    """Create *folders* (names given with '/'; a leading '=' means the raw IMAP name)."""
    c = connect(port, user, password)
    try:
        for name, items in folders.items():
            imap_name = name[1:] if name.startswith("=") else name.replace("/", sep)
            if name != "INBOX":
                parts = imap_name.split(sep)
                for depth in range(1, len(parts) + 1):
                    sub = sep.join(parts[:depth])
                    if not c.folder_exists(sub):
                        c.create_folder(sub)
                        c.subscribe_folder(sub)
            for i in range(0, len(items), 50):
                chunk = items[i : i + 50]
                result = c.multiappend(
                    imap_name,
                    [
                        {"msg": it.raw, "flags": list(it.flags)}
                        | ({"date": it.date} if it.date else {})
                        for it in chunk
                    ],
                )
                assert not isinstance(result, tuple) or result[0] == "OK", result
    finally:
        c.logout()


def dump(port: int, user: str, password: str) -> dict[str, list[tuple[str, frozenset[str], str]]]:
    """Every folder (with '/' as separator) -> sorted (fingerprint, flags, date) of its messages."""
    c = connect(port, user, password)
    out: dict[str, list[tuple[str, frozenset[str], str]]] = {}
    try:
        for _, delim, name in c.list_folders():
            sep = delim.decode() if isinstance(delim, bytes) else delim
            info = c.select_folder(name, readonly=True)
            rows = []
            if info[b"EXISTS"]:
                data = c.fetch(c.search("ALL"), ["BODY.PEEK[]", "FLAGS", "INTERNALDATE"])
                for item in data.values():
                    flags = frozenset(
                        f.decode() for f in item[b"FLAGS"] if f.decode() != "\\Recent"
                    )
                    date = item[b"INTERNALDATE"].astimezone(UTC).isoformat()
                    rows.append((fingerprint(item[b"BODY[]"]), flags, date))
            out[name.replace(sep, "/") if sep else name] = sorted(rows, key=repr)
    finally:
        c.logout()
    return out


def raw_bodies(port: int, user: str, password: str, folder: str) -> list[bytes]:
    c = connect(port, user, password)
    try:
        c.select_folder(folder, readonly=True)
        data = c.fetch(c.search("ALL"), ["BODY.PEEK[]"])
        return [v[b"BODY[]"] for v in data.values()]
    finally:
        c.logout()


def message(n: int, *, size: int = 0, message_id: str | None = "auto", extra: bytes = b"") -> bytes:
    mid = f"<m{n}@example.test>" if message_id == "auto" else message_id
    head = (
        f"From: Sender {n} <s{n}@old.example>\r\nTo: user@old.example\r\nSubject: Message {n}\r\n"
    )
    head += "Date: Mon, 01 Jan 2018 10:00:00 +0000\r\n"
    if mid:
        head += f"Message-ID: {mid}\r\n"
    body = f"Body of message {n}.\r\n".encode() + extra + b"x" * size + b"\r\n"
    return head.encode() + b"\r\n" + body


def when(days: int) -> datetime:
    return datetime(2019, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=2))) + timedelta(days=days)


def run_skylift(
    *args: Any, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a user would, in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "skylift", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=os.environ | {"COLUMNS": "200"} | (env or {}),
    )


def write_users(path: Path, rows: list[tuple[str, ...]], header: str) -> Path:
    path.write_text(header + "\n" + "\n".join(",".join(r) for r in rows) + "\n")
    return path
