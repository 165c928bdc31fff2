"""POP3 mailboxes (RFC 1939 with UIDL, STLS and APOP): the INBOX of a small-office host.

Library: the standard library's ``poplib`` — complete for RFC 1939/2449/2595, and nothing
better-kept exists on PyPI. POP3 has one folder and no flags; messages are identified by
their UIDL, which stays the same between sessions, so a rerun copies only new mail. skylift
never sends DELE, and reads with ``TOP n <all lines>`` where the server offers TOP, because
RETR makes servers such as Dovecot mark a message seen. TLS as for every endpoint:
``pop3s://`` or STLS with a verified certificate; a password goes in the clear only to
127.0.0.0/8 unless the user allowed plaintext.
"""

from __future__ import annotations

import contextlib
import poplib
import ssl
from collections.abc import Iterator, Sequence

from skylift.connectors.mail.archive_paths import date_header
from skylift.connectors.mail.base import Capabilities, MailConnector, MailSource
from skylift.errors import AuthError, ConfigError, ConnectError, FolderNotFound, TransientError
from skylift.model.account import Login
from skylift.model.mail import Folder, FolderState, Message, MessageRef

# poplib refuses lines over 2048 bytes; RFC 5322 allows 998 and real mail has longer ones.
poplib._MAXLINE = max(poplib._MAXLINE, 1 << 20)  # type: ignore[attr-defined]

INBOX = Folder(("INBOX",), role="inbox")
ALL_LINES = 2**31 - 1
VALIDITY = "pop3-uidl"


class Pop3Connector(MailConnector):
    """``pop3://host:110`` (STLS when offered) or ``pop3s://host:995``."""

    def open_source(self, login: Login) -> Pop3Source:
        endpoint = self.endpoint
        implicit_tls = endpoint.scheme == "pop3s"
        port = endpoint.port or (995 if implicit_tls else 110)
        try:
            connect = min(endpoint.connect_timeout, endpoint.timeout)
            if implicit_tls:
                conn: poplib.POP3 = poplib.POP3_SSL(
                    endpoint.host, port, timeout=connect, context=endpoint.ssl_context()
                )
            else:
                conn = poplib.POP3(endpoint.host, port, timeout=connect)
            conn.sock.settimeout(endpoint.timeout)  # greeting read: now each answer's timeout
        except TimeoutError:
            raise ConnectError(endpoint.no_greeting(f"{endpoint.host}:{port}")) from None
        except ssl.SSLError as exc:
            raise ConnectError(f"{endpoint.display()}: TLS failed ({exc.reason or exc})") from exc
        except (OSError, poplib.error_proto) as exc:
            raise ConnectError(f"cannot reach {endpoint.display()}: {exc}") from exc
        try:
            capabilities = _capa(conn)
            secure = implicit_tls
            if not secure and "STLS" in capabilities:
                conn.stls(context=endpoint.ssl_context())
                secure = True
                capabilities = _capa(conn)
            if not secure and not (endpoint.is_loopback() or endpoint.allow_plaintext):
                raise ConnectError(
                    f"{endpoint.display()} offers no TLS (no STLS); refusing to send a password "
                    "in plain text (use pop3s:// or allow plaintext explicitly)"
                )
            if endpoint.oauth is not None:  # app-only OAuth2 (connectors/auth/sasl.py)
                from skylift.connectors.auth.sasl import pop3_login

                pop3_login(conn, endpoint.oauth, login.user, endpoint.display())
            else:
                _login(conn, login, endpoint.options.get("master_separator", "*"))
        except ssl.SSLError as exc:
            _quietly_close(conn)
            raise ConnectError(f"{endpoint.display()}: TLS failed ({exc.reason or exc})") from exc
        except (ConnectError, ConfigError, TransientError):
            _quietly_close(conn)
            raise
        except (OSError, poplib.error_proto) as exc:
            _quietly_close(conn)
            raise ConnectError(f"{endpoint.display()}: {_words(exc)}") from exc
        return Pop3Source(conn, has_top="TOP" in capabilities)


def _capa(conn: poplib.POP3) -> dict[str, list[str]]:
    try:
        return conn.capa()
    except poplib.error_proto:
        return {}  # a pre-RFC 2449 server


def _login(conn: poplib.POP3, login: Login, master_separator: str) -> None:
    user, password = login.user, login.password
    if login.admin:  # Dovecot/Courier master users: "user*admin" with the admin's password
        user, password = f"{login.user}{master_separator}{login.admin}", login.admin_password
    if password is None:
        raise ConfigError(f"no password given for POP3 user {login.user!r}")
    apop_offered = conn.timestamp.search(conn.welcome) is not None  # type: ignore[call-overload]
    if apop_offered and not login.admin:
        try:
            conn.apop(user, password.reveal())
            return
        except poplib.error_proto:
            pass  # APOP needs the password stored in clear on the server; try USER/PASS
    try:
        conn.user(user)
        conn.pass_(password.reveal())
    except poplib.error_proto as exc:
        raise AuthError(f"POP3 login refused for {login.user!r}: {_words(exc)}") from exc


def _words(exc: BaseException) -> str:
    text = exc.args[0] if exc.args else exc
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)


def _quietly_close(conn: poplib.POP3) -> None:
    with contextlib.suppress(OSError):
        conn.close()


class Pop3Source(MailSource):
    """A logged-in POP3 session: one folder, no flags, never a DELE."""

    capabilities = Capabilities(
        separator=None, keeps_internaldate=False, custom_flags=False, folders=False
    )

    def __init__(self, conn: poplib.POP3, *, has_top: bool) -> None:
        self.conn = conn
        self.has_top = has_top
        self._numbers: dict[str, int] = {}

    def folders(self) -> list[Folder]:
        return [INBOX]

    def _check(self, folder: Folder) -> None:
        if not folder.is_inbox:
            raise FolderNotFound(f"POP3 has only INBOX, not {folder.display()!r}")

    def select(self, folder: Folder) -> FolderState:
        self._check(folder)
        count, _size = self._call(self.conn.stat)
        return FolderState(validity=VALIDITY, count=count)

    def list_messages(self, folder: Folder) -> Iterator[MessageRef]:
        self._check(folder)
        try:
            _, uid_lines, _ = self._call(self.conn.uidl)
        except poplib.error_proto as exc:
            raise ConnectError(
                f"the POP3 server refused UIDL ({_words(exc)}); skylift needs UIDL to know "
                "which messages a previous run copied"
            ) from exc
        _, size_lines, _ = self._call(self.conn.list)
        sizes = dict(line.split()[:2] for line in size_lines)
        self._numbers = {}
        for line in uid_lines:
            number, uid = line.decode("ascii", "replace").split()[:2]
            self._numbers[uid] = int(number)
            yield MessageRef(uid=uid, size=int(sizes.get(number.encode(), b"0")))

    def fetch(self, folder: Folder, uids: Sequence[str]) -> Iterator[Message]:
        self._check(folder)
        if not self._numbers:
            for _ in self.list_messages(folder):
                pass
        for uid in uids:
            number = self._numbers.get(uid)
            if number is None:
                continue
            try:
                if self.has_top:
                    _, lines, _ = self._call(self.conn.top, number, ALL_LINES)
                else:
                    _, lines, _ = self._call(self.conn.retr, number)
            except poplib.error_proto:
                continue  # gone in the meantime
            raw = b"\r\n".join(lines) + b"\r\n"
            yield Message(MessageRef(uid=uid, size=len(raw), internaldate=date_header(raw)), raw)

    def _call(self, method, *args):  # type: ignore[no-untyped-def]
        """Run one POP3 command; a lost connection or a locked mailbox is worth a retry."""
        try:
            return method(*args)
        except (TimeoutError, ConnectionError, ssl.SSLError) as exc:
            raise TransientError(f"POP3 connection lost: {exc}") from exc
        except poplib.error_proto as exc:
            if "[IN-USE]" in _words(exc) or "[SYS/TEMP]" in _words(exc):
                raise TransientError(f"POP3 server busy: {_words(exc)}") from exc
            raise

    def close(self) -> None:
        """QUIT ends the session; with no DELE sent, the server deletes nothing."""
        try:
            self.conn.quit()
        except (OSError, poplib.error_proto):
            _quietly_close(self.conn)
