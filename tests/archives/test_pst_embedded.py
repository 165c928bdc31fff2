"""Outlook messages attached to messages come out as message/rfc822, agreeing with readpst."""

from __future__ import annotations

import email
import email.policy
import shutil
import subprocess
from email.message import EmailMessage
from pathlib import Path

import pytest

from skylift.connectors.mail.pst import message as pst_message
from skylift.connectors.mail.pst.connector import PstSource

from .conftest import DATA

PST = DATA / "pst"
WITH_EMBEDDED = ["ruby-msg/msgInMsg.pst", "aspose/test.pst"]
READPST_RTF = "rtf-body.rtf"  # readpst adds the RTF body as an attachment of its own


def summary(inner: EmailMessage) -> tuple[str, str, tuple[str, ...]]:
    """Subject, plain body text and attachment names: what a reader sees of a message."""
    body = inner.get_body(("plain",))
    text = body.get_content() if body is not None else ""
    names = sorted(
        str(p.get_filename()) for p in inner.iter_attachments() if p.get_filename() != READPST_RTF
    )
    return str(inner["Subject"] or ""), " ".join(text.split()), tuple(names)


def embedded(raw: bytes) -> list[tuple[str, str, tuple[str, ...]]]:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    found = []
    for part in parsed.walk():
        if part.get_content_type() == "message/rfc822":
            (inner,) = part.get_payload()
            found.append(summary(inner))
    return found


def readpst_embedded(path: Path, out: Path) -> list[tuple[str, str, tuple[str, ...]]]:
    if shutil.which("readpst") is None:
        pytest.skip("readpst is not installed (Debian: pst-utils)")
    out.mkdir()
    subprocess.run(
        ["readpst", "-j", "0", "-e", "-D", "-q", "-o", str(out), str(path)],
        check=True,
        capture_output=True,
    )
    found = []
    for file in sorted(out.rglob("*.eml")):
        # readpst starts an embedded message with an mbox ">From " line: not a header
        raw = b"\n".join(
            line for line in file.read_bytes().split(b"\n") if not line.startswith(b">From ")
        )
        found += embedded(raw)
    return found


def ours(path: Path) -> list[tuple[str, str, tuple[str, ...]]]:
    found = []
    with PstSource(path) as source:
        for folder in source.folders():
            if folder.selectable:
                uids = [r.uid for r in source.list_messages(folder)]
                for message in source.fetch(folder, uids):
                    found += embedded(message.raw)
    return found


@pytest.mark.parametrize("name", WITH_EMBEDDED)
def test_embedded_messages_match_readpst(name: str, tmp_path: Path) -> None:
    mine = ours(PST / name)
    assert mine, "the file holds embedded Outlook messages"
    assert sorted(mine) == sorted(readpst_embedded(PST / name, tmp_path / "readpst"))


def test_embedded_message_keeps_its_headers_and_bytes_are_stable() -> None:
    def fetch() -> bytes:
        with PstSource(PST / "aspose/test.pst") as source:
            inbox = next(f for f in source.folders() if f.is_inbox)
            uids = [r.uid for r in source.list_messages(inbox)]
            return next(m.raw for m in source.fetch(inbox, uids) if b"message/rfc822" in m.raw)

    raw = fetch()
    assert fetch() == raw
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    inner = [p.get_payload()[0] for p in parsed.walk() if p.get_content_type() == "message/rfc822"]
    assert [str(m["Subject"]) for m in inner] == ["message 1", "message 2"]
    assert all("saqib.razzaq@xp.local" in str(m["From"]) and m["Date"] for m in inner)
    assert all(m.get_body(("html",)) is not None for m in inner)


def test_unreachable_embedded_message_is_named_in_a_text_part(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On a libpff-python whose embedded items cannot be opened, the user still sees what it was."""
    monkeypatch.setattr(pst_message, "embedded_message", lambda attachment: None)
    with PstSource(PST / "ruby-msg/msgInMsg.pst") as source:
        inbox = next(f for f in source.folders() if f.is_inbox)
        (ref,) = source.list_messages(inbox)
        (message,) = source.fetch(inbox, [ref.uid])
    parsed = email.message_from_bytes(message.raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    (note,) = [p for p in parsed.iter_attachments() if str(p.get_filename()).endswith(".txt")]
    content = note.get_content()
    assert "Microsoft Outlook テスト メッセージ" in content
    assert "Size in the PST: 7906 bytes" in content
