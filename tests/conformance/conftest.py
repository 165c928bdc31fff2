"""A real Dovecot on 127.0.0.1 holding the logical mailbox, for the POP3 and IMAP modules."""

from __future__ import annotations

import os
from collections.abc import Hashable, Iterator
from pathlib import Path

import pytest

from skylift.demo.dovecot import DovecotServer

from .mailbox import load_into_imap

USER, PASSWORD = "conformance", "conformance-secret"


@pytest.fixture(scope="session")
def dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DovecotServer]:
    """One server for the session; the mailbox is loaded once over IMAP APPEND."""
    if not Path("/usr/sbin/dovecot").exists():
        pytest.fail("dovecot is not installed: apt-get install dovecot-imapd dovecot-pop3d")
    server = DovecotServer(root=tmp_path_factory.mktemp("dovecot"), users={USER: PASSWORD})
    with server:
        load_into_imap("127.0.0.1", server.imap_port, USER, PASSWORD)
        PRISTINE[server.root] = maildir_flag_state(server)
        yield server


PRISTINE: dict[Path, tuple[tuple[str, str], ...]] = {}


def maildir_flag_state(server: DovecotServer) -> tuple[tuple[str, str], ...]:
    """(folder/message, flag letters) for every message: Dovecot keeps flags in file names.

    A move from new/ to cur/ is not a change (any POP3 or IMAP session does that).
    """
    root = server.user_maildir(USER)
    state = []
    for directory, _dirs, files in os.walk(root):
        if os.path.basename(directory) in ("cur", "new"):
            folder = os.path.relpath(os.path.dirname(directory), root)
            for name in files:
                base, _, letters = name.partition(":2,")
                state.append((f"{folder}/{base}", letters))
    return tuple(sorted(state))


def flags_untouched(server: DovecotServer) -> Hashable:
    """Snapshot that also fails when an earlier test in the session changed a flag.

    A changed state gives a fresh object each time, which equals nothing.
    """
    state = maildir_flag_state(server)
    return state if state == PRISTINE[server.root] else object()
