"""POP3 against Dovecot's POP3 joins the conformance suite (INBOX only, no flags)."""

import pytest
from imapclient import IMAPClient

from skylift.connectors.mail.pop3 import Pop3Source
from skylift.demo.dovecot import DovecotServer, free_port
from skylift.errors import AuthError, ConnectError
from skylift.model.mail import Folder

from .conftest import PASSWORD, USER, flags_untouched
from .contract import ConformanceCase, MailSourceContract
from .mailbox import load_into_imap
from .sources import open_url

INBOX = Folder(("INBOX",))


class TestPop3(MailSourceContract):
    @pytest.fixture
    def case(self, dovecot: DovecotServer) -> ConformanceCase:
        return ConformanceCase(
            open_source=lambda: open_url(dovecot.pop3_url(), USER, PASSWORD),
            folders=(("INBOX",),),
            keeps_flags=False,
            date_from_header=True,
            notes={"all": "POP3 has one folder, no flags and no delivery time"},
            snapshot=lambda: flags_untouched(dovecot),
        )


def test_wrong_password_is_an_auth_error(dovecot: DovecotServer) -> None:
    with pytest.raises(AuthError, match="refused"):
        open_url(dovecot.pop3_url(), USER, "wrong")


def test_unreachable_server_is_a_connect_error() -> None:
    with pytest.raises(ConnectError):
        open_url(f"pop3://127.0.0.1:{free_port()}", USER, PASSWORD, timeout=2.0)


def test_rerun_lists_old_uids_unchanged_plus_new_mail(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """UIDL is stable between sessions, so a rerun sees exactly the new message as new."""
    server = DovecotServer(root=tmp_path_factory.mktemp("pop3-rerun"), users={"r": "pw"})
    with server:
        load_into_imap("127.0.0.1", server.imap_port, "r", "pw", inbox_only=True)
        with open_url(server.pop3_url(), "r", "pw") as source:
            first = {ref.uid for ref in source.list_messages(INBOX)}
        with IMAPClient("127.0.0.1", port=server.imap_port, ssl=False) as client:
            client.login("r", "pw")
            client.append(
                "INBOX", b"Subject: new\r\nDate: Mon, 6 Jan 2020 10:00:00 +0000\r\n\r\nhi\r\n"
            )
        with open_url(server.pop3_url(), "r", "pw") as source:
            second = {ref.uid for ref in source.list_messages(INBOX)}
            assert source.select(INBOX).count == 5  # nothing was deleted by the first run
    assert first < second and len(second - first) == 1


def test_stls_is_used_and_the_certificate_checked(tmp_path_factory: pytest.TempPathFactory) -> None:
    server = DovecotServer(root=tmp_path_factory.mktemp("pop3-tls"), users={"t": "pw"}, tls=True)
    with server:
        load_into_imap("127.0.0.1", server.imap_port, "t", "pw", inbox_only=True)
        with open_url(server.pop3_url(), "t", "pw", ca_file=str(server.cert_file)) as source:
            assert isinstance(source, Pop3Source)
            assert source.conn.sock.version() is not None  # the session runs inside TLS
            assert source.select(INBOX).count == 4
        with pytest.raises(ConnectError, match=r"TLS|certificate"):
            open_url(server.pop3_url(), "t", "pw")  # self-signed, no CA given
