"""Batched APPEND and FETCH against a real Dovecot: what a migration relies on per message."""

from __future__ import annotations

import os
import signal
from datetime import UTC, datetime
from pathlib import Path

import pytest

from skylift.connectors.endpoint import Endpoint
from skylift.connectors.mail.imap.connector import ImapMailbox
from skylift.demo.dovecot import DovecotServer
from skylift.errors import TransientError
from skylift.model.account import Login, Secret
from skylift.model.mail import Folder, Message, MessageRef


def _mailbox(server: DovecotServer) -> ImapMailbox:
    return ImapMailbox(
        Endpoint.parse(server.imap_url()), Login("alice@new.example", Secret("alice-new-pw"))
    )


def _descendants_named(root: int, name: str) -> list[int]:
    """Pids under *root* whose command is *name* (from /proc: no extra dependency)."""
    parent: dict[int, int] = {}
    command: dict[int, str] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # exited meanwhile
        pid = int(text.split(" ", 1)[0])
        command[pid] = text[text.index("(") + 1 : text.rindex(")")]
        parent[pid] = int(text[text.rindex(")") + 2 :].split()[1])
    found = []
    for pid, cmd in command.items():
        up = pid
        while up in parent and up != root:
            up = parent[up]
        if up == root and cmd == name:
            found.append(pid)
    return found


def _msg(raw: bytes, flags: frozenset[str] = frozenset(), day: int = 1) -> Message:
    when = datetime(2020, 1, day, 8, 30, tzinfo=UTC)
    return Message(MessageRef(uid="0", size=len(raw), flags=flags, internaldate=when), raw)


BATCH = [
    _msg(b"Subject: one\r\nMessage-ID: <1@x>\r\n\r\nfirst\r\n", frozenset({"\\Seen"}), 1),
    _msg("Subject: Grüße\r\n\r\nKöln\r\n".encode(), frozenset({"$Label1", "\\Flagged"}), 2),
    _msg(b"Subject: bare lf\n\nline one\nline two\n", frozenset(), 3),
    _msg(b"Subject: one\r\nMessage-ID: <1@x>\r\n\r\nfirst\r\n", frozenset({"\\Seen"}), 1),
]


def test_a_batch_arrives_byte_exact_with_flags_dates_and_the_servers_uids(
    target_server: DovecotServer,
) -> None:
    box = _mailbox(target_server)
    try:
        folder = Folder(("Work",))
        box.create_folder(folder)
        results = box.append(folder, BATCH)
        assert all(r.error is None for r in results)
        uids = [r.uid for r in results]
        assert None not in uids and len(set(uids)) == len(BATCH)  # twins are two messages
        box.select(folder)
        back = {m.ref.uid: m for m in box.fetch(folder, [u for u in uids if u])}
        for sent, uid in zip(BATCH, uids, strict=True):
            got = back[str(uid)]
            assert got.raw.replace(b"\r\n", b"\n") == sent.raw.replace(b"\r\n", b"\n")
            assert got.ref.flags == sent.ref.flags
            assert got.ref.internaldate == sent.ref.internaldate
        listed = list(box.list_messages(folder))
        assert [r.uid for r in listed] == [str(u) for u in uids]
        assert [r.size for r in listed] == [len(back[str(u)].raw) for u in uids]
    finally:
        box.close()


@pytest.mark.parametrize("literal_plus", [True, False], ids=["own-writer", "imapclient"])
def test_a_refused_message_is_isolated_with_the_servers_words_and_the_rest_arrive(
    target_server: DovecotServer, literal_plus: bool
) -> None:
    too_big = _msg(b"Subject: huge\r\n\r\n" + b"x" * (31 * 1024 * 1024) + b"\r\n")
    box = _mailbox(target_server)
    box._literal_plus = literal_plus  # False: the path for servers without LITERAL+
    try:
        results = box.append(Folder(("INBOX",)), [BATCH[0], too_big, BATCH[1]])
        assert results[0].uid and results[2].uid
        assert results[1].uid is None and results[1].error
        assert "too large" in results[1].error.lower() or "limit" in results[1].error.lower()
        assert box.select(Folder(("INBOX",))).count == 2
    finally:
        box.close()


def test_a_lost_connection_during_a_batch_is_a_transient_error(
    target_server: DovecotServer,
) -> None:
    box = _mailbox(target_server)
    try:
        # The server process of this session dies, as on a crash or an OOM kill.
        assert target_server._proc is not None
        sessions = _descendants_named(target_server._proc.pid, "imap")
        assert sessions
        for pid in sessions:
            os.kill(pid, signal.SIGKILL)
        with pytest.raises(TransientError):
            box.append(Folder(("INBOX",)), BATCH)
    finally:
        box.close()
