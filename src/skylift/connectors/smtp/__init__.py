"""Send messages through an SMTP relay: ``smtp://host:587`` (STARTTLS) or ``smtps://host:465``.

``smtp://`` always upgrades with STARTTLS and refuses a server that does not offer it,
except on a loopback address with ``allow_plaintext`` (a local relay in a test or on the
same machine). Sign-in is AUTH with a user and password, or XOAUTH2 with a token provider
(the cloud issue's app-only tokens, ``connectors/auth/oauth.py``), through smtplib; neither
is ever sent before TLS, not even to loopback. A relay's 4xx answer (throttling, a full
queue, "421 too much mail") is a TransientError with its words, so the caller waits and
retries; a 5xx is final for that message; a failed connection or sign-in ends the run.
"""

from __future__ import annotations

import base64
import contextlib
import smtplib
import ssl
from email.message import EmailMessage

from skylift.connectors.auth.oauth import TokenProvider
from skylift.connectors.auth.sasl import xoauth2_string
from skylift.connectors.endpoint import Endpoint
from skylift.errors import AuthError, ConfigError, ConnectError, ItemRejected, TransientError
from skylift.model.account import Secret

SCHEMES = ("smtp", "smtps")


def _words(said: bytes | str) -> str:
    text = said.decode(errors="replace") if isinstance(said, bytes) else said
    return " ".join(text.split())[:300]


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
        if oauth is not None and not user:
            raise ConfigError("XOAUTH2 needs the mailbox to send as: give --smtp-user or --from")
        self.endpoint, self.user, self.password, self.oauth = endpoint, user, password, oauth
        self._client: smtplib.SMTP | None = None

    @property
    def signs_in(self) -> bool:
        return self.oauth is not None or bool(self.user)

    def _connect(self) -> smtplib.SMTP:
        e = self.endpoint
        where = e.display()
        try:
            if e.scheme == "smtps":
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    e.host, e.port or 465, timeout=e.connect_timeout, context=e.ssl_context()
                )
                secure = True
            else:
                client = smtplib.SMTP(e.host, e.port or 587, timeout=e.connect_timeout)
                client.ehlo()
                secure = client.has_extn("starttls")
                if secure:
                    client.starttls(context=e.ssl_context())
                    client.ehlo()
                elif not (e.allow_plaintext and e.is_loopback()):
                    client.quit()
                    raise ConnectError(
                        f"{where} does not offer STARTTLS; refusing to send in clear"
                    )
            if self.signs_in:
                if not secure:
                    client.quit()
                    what = "token" if self.oauth else "password"
                    raise ConnectError(
                        f"{where} does not offer STARTTLS; refusing to send the SMTP {what} in clear"
                    )
                self._sign_in(client, where)
        except smtplib.SMTPAuthenticationError as exc:
            raise AuthError(
                f"{where} refused the login of {self.user}: {exc.smtp_code} {_words(exc.smtp_error)}"
            ) from None
        except ssl.SSLError as exc:
            raise ConnectError(f"TLS with {where} failed: {exc.reason or exc}") from None
        except (OSError, smtplib.SMTPException) as exc:
            if isinstance(exc, ConnectError | AuthError):
                raise
            raise ConnectError(f"cannot reach {where}: {exc}") from None
        return client

    def _sign_in(self, client: smtplib.SMTP, where: str) -> None:
        offered = client.esmtp_features.get("auth", "").upper().split()
        if not offered:
            client.quit()
            raise ConnectError(
                f"{where} offers no AUTH after STARTTLS; is this the submission port?"
            )
        if self.oauth is None:
            client.login(self.user, self.password.reveal() if self.password else "")
            return
        if "XOAUTH2" not in offered:
            client.quit()
            raise ConnectError(
                f"{where} does not offer AUTH XOAUTH2 (it offers {' '.join(offered)})"
            )
        token = self.oauth.token(self.user)
        blob = base64.b64encode(xoauth2_string(self.user, token)).decode()
        code, said = client.docmd("AUTH", "XOAUTH2 " + blob)
        if code == 334:  # the error is a base64 JSON challenge; an empty line ends the exchange
            detail = _words(base64.b64decode(said + b"==", validate=False))
            code, said = client.docmd("")
            said = f"{_words(said)} ({detail})".encode()
        if code != 235:
            hint = self.oauth.login_refused_hint(self.user, "SMTP")
            raise AuthError(
                f"{where} refused XOAUTH2 for {self.user}: {code} {_words(said)}; {hint}"
            )

    def send(self, message: EmailMessage) -> None:
        """Hand *message* to the relay; a 4xx is a TransientError, a 5xx an ItemRejected, each
        with the relay's words; a relay that cannot be reached or signed in to is a
        ConnectError/AuthError (no later message would go either)."""
        if self._client is None:
            self._client = self._connect()
        where = self.endpoint.display()
        try:
            refused = self._client.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [c for c, _m in exc.recipients.values()]
            words = "; ".join(f"{r}: {c} {_words(m)}" for r, (c, m) in exc.recipients.items())
            self._reset()
            if codes and all(400 <= c < 500 for c in codes):
                raise TransientError(f"{where} deferred {words}") from None
            raise ItemRejected(f"{where} refused {words}{self._hint(words)}") from None
        except smtplib.SMTPResponseException as exc:
            self._reset(quit_first=exc.smtp_code != 421)
            words = f"{exc.smtp_code} {_words(exc.smtp_error)}"
            if 400 <= exc.smtp_code < 500:
                raise TransientError(f"{where} deferred the message: {words}") from None
            raise ItemRejected(f"{where} refused the message: {words}{self._hint(words)}") from None
        except (OSError, smtplib.SMTPException) as exc:
            self._reset(quit_first=False)
            raise TransientError(f"sending through {where} failed: {exc}") from None
        if refused:
            raise ItemRejected(f"{where} refused {', '.join(refused)}")

    def _hint(self, words: str) -> str:
        if self.signs_in or not any(w in words for w in ("5.7.1", "5.7.0", "530")):
            return ""
        return "; does the relay want a sign-in? (--smtp-user, or --smtp-auth oauth2)"

    def _reset(self, *, quit_first: bool = True) -> None:
        if quit_first:
            self.close()
        self._client = None

    def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self._client.quit()
            self._client = None
