"""SASL XOAUTH2 for IMAP and POP3: the bearer-token login Exchange Online and Gmail accept.

The string is ``user=<mailbox>\\x01auth=Bearer <token>\\x01\\x01`` (Google's XOAUTH2 protocol
page; Microsoft's "Authenticate an IMAP, POP or SMTP connection using OAuth"). Exchange does
not offer OAUTHBEARER (RFC 7628), so XOAUTH2 it is. On failure Gmail first sends a base64
JSON challenge and waits for an empty line; Exchange answers ``NO AUTHENTICATE failed.`` at
once. The token is revealed only into the bytes on the wire.
"""

from __future__ import annotations

import base64
import poplib
from typing import Any

from skylift.connectors.auth.oauth import TokenProvider
from skylift.errors import AuthError
from skylift.model.account import Secret

EXPIRED_WORDS = "AccessTokenExpired"


def xoauth2_string(user: str, token: Secret) -> bytes:
    """The raw (not yet base64) XOAUTH2 initial response."""
    return f"user={user}\x01auth=Bearer {token.reveal()}\x01\x01".encode()


class XOAuth2:
    """An imapclient ``sasl_login`` mechanism: the string first, then an empty answer.

    The token is taken when the server asks for it, not before AUTHENTICATE, so a server
    that makes us wait (Dovecot's auth penalty, a slow Exchange front end) still gets a
    token with all of its life left.
    """

    def __init__(self, user: str, provider: TokenProvider) -> None:
        self._user, self._provider, self.calls = user, provider, 0
        self.token: Secret | None = None
        self.server_said = ""

    def __call__(self, challenge: bytes) -> bytes:
        self.calls += 1
        if self.calls == 1:
            self.token = self._provider.token(self._user)
            return xoauth2_string(self._user, self.token)
        self.server_said = challenge.decode("utf-8", "replace")[:200]
        return b""  # Gmail's error challenge: an empty line ends the exchange


def refused(provider: TokenProvider, user: str, where: str, said: str, protocol: str) -> AuthError:
    """The one line for a mail server that refuses an app-only token for *user*."""
    hint = provider.login_refused_hint(user, protocol)
    return AuthError(
        f"{where} refused {provider.describe()} for {user} ({said.strip() or 'no reason given'})"
        + (f"; fix: {hint}" if hint else "")
    )


def imap_login(client: Any, provider: TokenProvider, user: str, where: str) -> None:
    """Log *client* (an IMAPClient) in as *user* with a token; AuthError if refused."""
    from imapclient.exceptions import LoginError

    provider.token(user)  # a refusal at the token endpoint surfaces before we talk IMAP
    for attempt in (1, 2):
        mech = XOAuth2(user, provider)
        try:
            client.sasl_login("XOAUTH2", mech)
            return
        except LoginError as exc:
            if attempt == 1 and mech.token is not None and provider.expiring(mech.token):
                provider.invalidate()  # it expired on the way: once more with a fresh one
                continue
            said = str(exc).replace("b'", "").replace("'", "")
            raise refused(provider, user, where, said, "IMAP") from None


def pop3_login(conn: poplib.POP3, provider: TokenProvider, user: str, where: str) -> None:
    """``AUTH XOAUTH2`` on a POP3 connection (``+`` then the base64 string, RFC 5034)."""
    blob = base64.b64encode(xoauth2_string(user, provider.token(user))).decode()
    try:
        conn._putcmd("AUTH XOAUTH2")  # type: ignore[attr-defined]
        first = conn._getresp()  # type: ignore[attr-defined]
        if first.startswith(b"+OK"):
            return
        conn._putcmd(blob)  # type: ignore[attr-defined]
        conn._getresp()  # type: ignore[attr-defined]
    except poplib.error_proto as exc:
        said = exc.args[0].decode("utf-8", "replace") if exc.args else ""
        raise refused(provider, user, where, said, "POP") from None
