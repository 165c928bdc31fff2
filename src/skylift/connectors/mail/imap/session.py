"""Opening one IMAP session: TLS, STARTTLS, the plaintext rule, login, and what a failure means.

Kept apart from the mailbox operations so the transport rules (``docs/migrate.md``) are in one
short module: ``imaps://`` is implicit TLS; ``imap://`` upgrades with STARTTLS when offered; a
password is sent without TLS only to 127.0.0.0/8 or with ``--allow-plaintext``.
"""

from __future__ import annotations

import contextlib
import imaplib
import socket
import ssl
from typing import Any

import imapclient
from imapclient.exceptions import LoginError

from skylift.connectors.endpoint import Endpoint
from skylift.connectors.throttle_hints import imap_backoff, imap_throttled
from skylift.errors import AuthError, ConfigError, ConnectError, TokenExpired, TransientError
from skylift.model.account import Login

# Errors that mean the connection is gone or hung: worth a reconnect and retry.
NETWORK_ERRORS = (imaplib.IMAP4.abort, OSError, socket.timeout, ssl.SSLError, EOFError)


def transient_from(exc: BaseException) -> TransientError:
    """Turn a dropped connection, BYE or throttling answer into a TransientError.

    The wait is the server's own (Exchange's Suggested Backoff Time, also when it came on the
    NO before the BYE that imaplib reports); None lets the retry rule double its backoff.
    """
    text = str(exc) or type(exc).__name__
    retry_after = imap_backoff(text)
    if "AccessTokenExpired" in text:  # Exchange ends a session whose token expired
        return TokenExpired(f"IMAP session ended: {text}")
    return TransientError(f"IMAP connection problem: {text}", retry_after=retry_after)


def is_throttling(text: str) -> bool:
    """True when a NO/BAD answer asks us to slow down rather than refusing the item."""
    return imap_throttled(text)


def text_of(value: Any) -> str:
    """An IMAP atom or string as text (imapclient hands back bytes)."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def connect(ep: Endpoint) -> imapclient.IMAPClient:
    """A connected client with TLS settled; the password rule is enforced before login."""
    port = ep.port or (993 if ep.scheme == "imaps" else 143)
    where = f"{ep.host}:{port}"
    try:
        client = imapclient.IMAPClient(
            ep.host,
            port=port,
            ssl=ep.scheme == "imaps",
            ssl_context=ep.ssl_context() if ep.scheme == "imaps" else None,
            timeout=imapclient.SocketTimeout(
                connect=min(ep.connect_timeout, ep.timeout), read=ep.timeout
            ),
        )
    except ssl.SSLCertVerificationError as exc:
        raise ConnectError(
            f"TLS certificate of {where} not trusted ({exc.verify_message}); pass the CA "
            "with --source-ca/--target-ca, or --insecure-source/--insecure-target"
        ) from None
    except TimeoutError:
        raise ConnectError(ep.no_greeting(where)) from None
    except ssl.SSLError as exc:
        raise ConnectError(f"TLS with {where} failed ({exc.reason or exc})") from None
    except (OSError, imaplib.IMAP4.error) as exc:
        raise ConnectError(f"cannot connect to {where}: {exc}") from None
    client.normalise_times = False
    if ep.scheme == "imap":
        if b"STARTTLS" in client.capabilities():
            try:
                client.starttls(ep.ssl_context())
            except ssl.SSLCertVerificationError as exc:
                close_quietly(client)
                raise ConnectError(
                    f"TLS certificate of {where} not trusted ({exc.verify_message}); pass "
                    "the CA with --source-ca/--target-ca, or --insecure-source/--insecure-target"
                ) from None
            except (OSError, imaplib.IMAP4.error) as exc:
                close_quietly(client)
                raise ConnectError(f"STARTTLS with {where} failed: {exc}") from None
        elif not (ep.is_loopback() or ep.allow_plaintext):
            close_quietly(client)
            raise ConnectError(
                f"{where} offers no STARTTLS; refusing to send a password in clear "
                "(use imaps://, or --allow-plaintext if you accept the risk)"
            )
    return client


def login(client: imapclient.IMAPClient, endpoint: Endpoint, who: Login) -> None:
    """Sign in as *who*: app-only XOAUTH2, proxy login by an admin, or the user's password."""
    if endpoint.oauth is not None:  # app-only OAuth2, SASL XOAUTH2 (connectors/auth/sasl.py)
        from skylift.connectors.auth.sasl import imap_login

        try:
            return imap_login(client, endpoint.oauth, who.user, endpoint.display())
        except NETWORK_ERRORS as exc:
            raise transient_from(exc) from None
    try:
        if who.admin:
            if who.admin_password is None:
                raise ConfigError(f"no password for admin {who.admin}")
            client.plain_login(
                who.admin, who.admin_password.reveal(), authorization_identity=who.user
            )
        else:
            if who.password is None:
                raise ConfigError(f"no password for {who.user}")
            client.login(who.user, who.password.reveal())
    except LoginError as exc:
        via = f" via admin {who.admin}" if who.admin else ""
        detail = str(exc)
        if is_throttling(detail):
            raise transient_from(exc) from None
        raise AuthError(
            f"login refused for {who.user}{via} on {endpoint.display()}: {detail}"
        ) from None
    except NETWORK_ERRORS as exc:
        raise transient_from(exc) from None


def close_quietly(client: imapclient.IMAPClient) -> None:
    with contextlib.suppress(Exception):
        client.shutdown()
