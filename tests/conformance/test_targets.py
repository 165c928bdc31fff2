"""Every mail target joins the target suite: the in-memory reference, Dovecot and Cyrus (both
namespace layouts) over IMAP, and Dovecot with an APPENDLIMIT."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from skylift.connectors import mail_connector
from skylift.connectors.endpoint import Endpoint
from skylift.connectors.mail.base import MailTarget
from skylift.connectors.mail.memory import MemoryMailbox
from skylift.demo.dovecot import DovecotServer
from skylift.model.account import Login, Secret
from tests.conftest import new_cyrus_user
from tests.servers.cyrus import CyrusServer

from .conftest import PASSWORD, USER
from .target_contract import MailTargetContract


def open_imap_target(url: str, user: str, password: str) -> MailTarget:
    """Open a target the way the engine does: scheme registry, then open_target(login)."""
    endpoint = Endpoint.parse(url, allow_plaintext=True)
    return mail_connector(endpoint).open_target(Login(user, Secret(password)))


class TestMemoryTarget(MailTargetContract):
    @pytest.fixture
    def target(self) -> MailTarget:
        return MemoryMailbox()


class TestMemoryTargetWithLimit(MailTargetContract):
    @pytest.fixture
    def target(self) -> MailTarget:
        return MemoryMailbox(max_message_bytes=4096)


class TestDovecotTarget(MailTargetContract):
    @pytest.fixture
    def target(self, dovecot: DovecotServer) -> Iterator[MailTarget]:
        box = open_imap_target(dovecot.imap_url(), USER, PASSWORD)
        yield box
        box.close()


@pytest.fixture(params=["debian", "upstream"])
def cyrus_target_user(
    request: pytest.FixtureRequest, cyrus_debian: CyrusServer, cyrus_upstream: CyrusServer
) -> tuple[CyrusServer, str, str]:
    server = cyrus_debian if request.param == "debian" else cyrus_upstream
    return (server, *new_cyrus_user(server))


class TestCyrusTarget(MailTargetContract):
    @pytest.fixture
    def target(self, cyrus_target_user: tuple[CyrusServer, str, str]) -> Iterator[MailTarget]:
        server, user, password = cyrus_target_user
        box = open_imap_target(server.imap_url(), user, password)
        yield box
        box.close()
