"""Send messages through an SMTP relay: ``smtp://host:587`` (STARTTLS) or ``smtps://host:465``.

``smtp://`` always upgrades with STARTTLS and refuses a server that does not offer it,
except on a loopback address with ``allow_plaintext`` (a local relay in a test or on the
same machine). Sign-in is AUTH with a user and password, or XOAUTH2 with a token provider
(the cloud issue's app-only tokens, ``connectors/auth/oauth.py``), through smtplib.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
from email.message import EmailMessage

from skylift.connectors.auth.oauth import TokenProvider
from skylift.connectors.auth.sasl import xoauth2_string
from skylift.connectors.endpoint import Endpoint
from skylift.errors import AuthError, ConfigError, ConnectError
from skylift.model.account import Secret

SCHEMES = ("smtp", "smtps")


class SmtpSender:
    """One connection, opened on first send, reused for the rest of the run."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        user: str = "",
        password: Secret | None = None,
        oauth: TokenProvider | None = None,
    ) -> None:
        if endpoint.scheme not in SCHEMES:
            raise ConfigError(
                f"--smtp {endpoint.display()}: use smtp://host:587 or smtps://host:465"
            )
        if not endpoint.host:
            raise ConfigError("--smtp needs a host, like smtp://relay.example:587")
        self.endpoint, self.user, self.password, self.oauth = endpoint, user, password, oauth
        self._client: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        e = self.endpoint
        where = e.display()
        try:
            if e.scheme == "smtps":
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    e.host, e.port or 465, timeout=e.connect_timeout, context=e.ssl_context()
                )
            else:
                client = smtplib.SMTP(e.host, e.port or 587, timeout=e.connect_timeout)
                client.ehlo()
                if client.has_extn("starttls"):
                    client.starttls(context=e.ssl_context())
                    client.ehlo()
                elif not (e.allow_plaintext and e.is_loopback()):
                    client.quit()
                    raise ConnectError(
                        f"{where} does not offer STARTTLS; refusing to send in clear"
                    )
            if self.oauth is not None:
                token = self.oauth.token(self.user)
                blob = xoauth2_string(self.user, token)
                code, said = client.docmd("AUTH", "XOAUTH2 " + _b64(blob))
                if code != 235:
                    raise AuthError(
                        f"{where} refused XOAUTH2 for {self.user}: {code} {said.decode(errors='replace')}"
                    )
            elif self.user:
                client.login(self.user, self.password.reveal() if self.password else "")
        except smtplib.SMTPAuthenticationError as exc:
            raise AuthError(f"{where} refused the login of {self.user}: {exc.smtp_code}") from None
        except ssl.SSLError as exc:
            raise ConnectError(f"TLS with {where} failed: {exc.reason or exc}") from None
        except (OSError, smtplib.SMTPException) as exc:
            if isinstance(exc, ConnectError | AuthError):
                raise
            raise ConnectError(f"cannot reach {where}: {exc}") from None
        return client

    def send(self, message: EmailMessage) -> None:
        """Hand *message* to the relay; a refused recipient is a ConnectError with its words."""
        if self._client is None:
            self._client = self._connect()
        try:
            refused = self._client.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            words = "; ".join(
                f"{r}: {c} {m.decode(errors='replace')}" for r, (c, m) in exc.recipients.items()
            )
            raise ConnectError(f"{self.endpoint.display()} refused {words}") from None
        except (OSError, smtplib.SMTPException) as exc:
            self._client = None
            raise ConnectError(f"sending through {self.endpoint.display()} failed: {exc}") from None
        if refused:
            raise ConnectError(f"{self.endpoint.display()} refused {', '.join(refused)}")

    def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self._client.quit()
            self._client = None


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()
