"""Talk to a mail path as a sender does: check a recipient, send a probe (smtplib).

``check_recipient`` asks the next hop ``MAIL FROM:<>`` / ``RCPT TO:`` and ends with RSET, so
a cut-over knows every moved user resolves on the cloud side before mail is routed there.
``send`` hands over one message and says, per recipient, what the server answered.
Both speak SMTP (``smtp://``) or LMTP (``lmtp://``, RFC 2033).
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass

from skylift.errors import ConnectError


@dataclass(frozen=True)
class Answer:
    """A server's reply to one recipient."""

    code: int
    text: str

    @property
    def ok(self) -> bool:
        return 200 <= self.code < 300


def _open(scheme: str, host: str, port: int, timeout: float) -> smtplib.SMTP:
    try:
        if scheme == "lmtp":
            # smtplib's LMTP greets with LHLO (its ehlo_msg) and otherwise speaks as SMTP.
            client: smtplib.SMTP = smtplib.LMTP(
                host, port, local_hostname="skylift.probe", timeout=timeout
            )
        else:
            client = smtplib.SMTP(host, port, local_hostname="skylift.probe", timeout=timeout)
        client.ehlo_or_helo_if_needed()
        return client
    except (OSError, smtplib.SMTPException) as exc:
        raise ConnectError(f"{scheme}://{host}:{port} did not answer: {exc}") from None


def _words(raw: bytes | str) -> str:
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
    return " ".join(text.split())


def check_recipients(
    scheme: str, host: str, port: int, recipients: list[str], *, timeout: float = 30.0
) -> dict[str, Answer]:
    """Recipient -> the next hop's answer to ``RCPT TO`` (nothing is sent)."""
    client = _open(scheme, host, port, timeout)
    answers: dict[str, Answer] = {}
    try:
        for rcpt in recipients:
            code, text = client.mail("")
            if code >= 400:
                answers[rcpt] = Answer(code, _words(text))
                client.rset()
                continue
            code, text = client.rcpt(rcpt)
            answers[rcpt] = Answer(code, _words(text))
            client.rset()
    except (OSError, smtplib.SMTPException) as exc:
        raise ConnectError(f"{scheme}://{host}:{port} dropped the check: {exc}") from None
    finally:
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()
    return answers


def send(
    scheme: str, host: str, port: int, sender: str, recipients: list[str], raw: bytes,
    *, timeout: float = 30.0,
) -> dict[str, Answer]:  # fmt: skip
    """Hand *raw* to the server for *recipients*; recipient -> its answer."""
    client = _open(scheme, host, port, timeout)
    try:
        refused = client.sendmail(sender, recipients, raw)
    except smtplib.SMTPRecipientsRefused as exc:
        refused = exc.recipients
    except (OSError, smtplib.SMTPException) as exc:
        raise ConnectError(f"{scheme}://{host}:{port} refused the probe: {exc}") from None
    finally:
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()
    answers = {r: Answer(250, "accepted") for r in recipients}
    for rcpt, (code, text) in refused.items():
        answers[rcpt] = Answer(code, _words(text))
    return answers
