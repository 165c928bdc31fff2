"""Wave notices: reviewed in a folder, sent through a real Postfix on loopback (STARTTLS), and
delivered by LMTP into a real Dovecot mailbox; a second run sends nothing."""

from __future__ import annotations

import email
import email.policy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from imapclient import IMAPClient

from skylift.demo.dovecot import DovecotServer, free_port, make_self_signed_cert
from tests.mailtools import run_skylift
from tests.servers import postfix

PASSWORD = "notice-pw"


@dataclass
class LmtpDovecot(DovecotServer):
    """A Dovecot that also accepts LMTP on 127.0.0.1, as the mailbox store behind an MTA."""

    lmtp_port: int = 0

    def _config(self) -> str:
        text = super()._config().replace("protocols = imap pop3", "protocols = imap pop3 lmtp")
        return text.replace(
            "service lmtp {\n  unix_listener lmtp {\n    mode = 0600\n  }\n}",
            "service lmtp {\n  inet_listener lmtp {\n    address = 127.0.0.1\n"
            f"    port = {self.lmtp_port}\n  }}\n}}",
        )


@dataclass
class Mail:
    dovecot: LmtpDovecot
    mta: postfix.PostfixServer
    cert: Path

    @property
    def smtp(self) -> str:
        return f"smtp://localhost:{self.mta.smtp_port}"

    def inbox(self, user: str) -> list[email.message.EmailMessage]:
        with IMAPClient("127.0.0.1", port=self.dovecot.imap_port, ssl=False, timeout=10) as imap:
            imap.login(user, PASSWORD)
            imap.select_folder("INBOX")
            fetched = imap.fetch(imap.search("ALL"), ["RFC822"])
            return [
                email.message_from_bytes(v[b"RFC822"], policy=email.policy.default)
                for _, v in sorted(fetched.items())
            ]  # type: ignore[misc]


@pytest.fixture(scope="module")
def mail(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mail]:
    root = tmp_path_factory.mktemp("notify")
    dovecot = LmtpDovecot(root / "dovecot", lmtp_port=free_port())
    for user in ("ann@new.example", "bob@new.example", "cat@new.example"):
        dovecot.add_user(user, PASSWORD)
    dovecot.start()
    (root / "tls").mkdir()
    cert, key = make_self_signed_cert(root / "tls", "localhost")
    mta = postfix.start(
        root,
        relay_domains=["new.example"],
        main={"relay_transport": f"lmtp:inet:127.0.0.1:{dovecot.lmtp_port}"},
        tls_cert=(cert, key),
    )
    yield Mail(dovecot, mta, cert)
    mta.stop()
    dovecot.stop()


def _notify(org, *extra):
    return run_skylift("notify", "--wave", "2", "--waves", org.waves, "--users", org.waves,
                       "--template", "t-7", "--config", org.config, "--state", org.root / "notices.db",
                       "--target-profile", "microsoft365", "--public-url", "https://setup.new.example",
                       "--from", "it@new.example", "--json", *extra)  # fmt: skip


def test_dry_run_folder_holds_exactly_what_would_be_sent(org, tmp_path):
    folder = tmp_path / "review"
    result = _notify(org, "--dry-run", folder)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["totals"] == {"written": 1}
    (eml,) = folder.iterdir()
    assert eml.name == "bob@new.example.t-7.eml"
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert message["To"] == "bob@new.example" and message["Content-Language"] == "de"
    body = message.get_content()
    assert "Hallo Bob Berg" in body and "Welle 2" in body  # bob's Language column is de
    assert "Sat 03 Jan 2099 20:00" in body and "outlook.office365.com:993" in body
    assert "mail.old.example:143" in body
    assert "https://setup.new.example/setup?emailaddress=bob%40new.example" in body


def test_notices_land_in_the_mailbox_once_unless_resent(org, mail):
    first = _notify(org, "--smtp", mail.smtp, "--smtp-ca", mail.cert, "--rate", "600")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["totals"] == {"sent": 1}
    mail.mta.wait_for_log(r"to=<bob@new\.example>.*status=sent")
    assert "TLS connection established from localhost" in mail.mta.log()  # STARTTLS was used
    (got,) = mail.inbox("bob@new.example")
    assert got["Subject"].startswith("Ihr Postfach zieht am Sat 03 Jan 2099 20:00 um")
    assert got["From"] == "it@new.example"
    assert mail.inbox("ann@new.example") == []  # wave 1 is not wave 2

    again = _notify(org, "--smtp", mail.smtp, "--smtp-ca", mail.cert)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["totals"] == {"already-sent": 1}
    assert len(mail.inbox("bob@new.example")) == 1

    resent = _notify(org, "--smtp", mail.smtp, "--smtp-ca", mail.cert, "--resend")
    assert json.loads(resent.stdout)["totals"] == {"sent": 1}
    mail.mta.wait_for_log(r"(?s)status=sent.*to=<bob@new\.example>.*status=sent")
    assert len(mail.inbox("bob@new.example")) == 2


def test_a_relay_the_ca_does_not_vouch_for_is_refused_in_one_line(org, mail):
    result = _notify(org, "--smtp", mail.smtp, "--resend")  # no --smtp-ca: self-signed cert
    assert result.returncode == 3 and result.stdout == ""
    (line,) = result.stderr.strip().splitlines()  # once for the run, not once per user
    assert line.startswith("skylift: error: TLS with smtp://localhost")
    nothing = _notify(org, "--template", "t-9")
    assert nothing.returncode == 2 and "give --smtp URL" in nothing.stderr
