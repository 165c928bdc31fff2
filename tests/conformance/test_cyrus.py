"""IMAP against Cyrus joins the conformance suite, in both namespace layouts.

Debian's layout files every folder under ``INBOX.``: the connector must hand out the same
logical folders (``Sent``, ``Archive/2019``) as from a server without a prefix.
"""

from __future__ import annotations

from collections.abc import Hashable

import pytest

from tests.conftest import new_cyrus_user
from tests.mailtools import connect
from tests.servers.cyrus import CyrusServer

from .contract import ConformanceCase, MailSourceContract
from .mailbox import load_into_imap
from .sources import open_url

_LOADED: dict[int, tuple[str, str]] = {}


def flag_state(server: CyrusServer, user: str, password: str) -> Hashable:
    """(folder, uid, flags) of every message, read with EXAMINE (which changes nothing)."""
    client = connect(server.port, user, password)
    state = []
    try:
        for _, _, name in client.list_folders():
            client.select_folder(name, readonly=True)
            for uid, item in client.fetch(client.search("ALL"), ["FLAGS"]).items():
                flags = sorted(f.decode() for f in item[b"FLAGS"] if f != b"\\Recent")
                state.append((name, uid, tuple(flags)))
    finally:
        client.logout()
    return tuple(sorted(state))


@pytest.fixture(params=["debian", "upstream"])
def cyrus_user(
    request: pytest.FixtureRequest, cyrus_debian: CyrusServer, cyrus_upstream: CyrusServer
) -> tuple[CyrusServer, str, str]:
    """The logical mailbox, loaded once per layout for the session."""
    server = cyrus_debian if request.param == "debian" else cyrus_upstream
    if server.port not in _LOADED:
        user, password = new_cyrus_user(server)
        load_into_imap("127.0.0.1", server.port, user, password)
        _LOADED[server.port] = (user, password)
    return (server, *_LOADED[server.port])


class TestCyrus(MailSourceContract):
    @pytest.fixture
    def case(self, cyrus_user: tuple[CyrusServer, str, str]) -> ConformanceCase:
        server, user, password = cyrus_user
        return ConformanceCase(
            open_source=lambda: open_url(server.imap_url(), user, password),
            snapshot=lambda: flag_state(server, user, password),
        )
