"""Wave notices through a submission port that wants a sign-in: SMTP AUTH with a password, and
XOAUTH2 with an Entra app's app-only token, as Exchange Online's SMTP AUTH takes it.

The relay is a real Postfix (unpacked privately) whose submission services ask a real
Dovecot's auth service over ``smtpd_sasl_type = dovecot``; that Dovecot checks passwords from
its passwd file and XOAUTH2 tokens locally as JWTs (``tests/servers/dovecot_oauth.py``), and
takes the relayed notices by LMTP into the users' mailboxes. The token endpoint is the
loopback fake of the cloud tests; an app must hold ``SMTP.SendAsApp``, as in Exchange Online.
One Postfix, four ports: ``auth`` (STARTTLS required, AUTH only after TLS, relay only when
signed in), ``slow`` (the same, but at most two messages per client a minute: the third gets
Postfix's 4xx), ``clear`` (no TLS offered at all) and the plain port of the base fixture.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from imapclient import IMAPClient

from skylift.demo.dovecot import free_port, make_self_signed_cert
from tests.conftest import _need_dovecot
from tests.mailtools import run_skylift
from tests.servers import postfix
from tests.servers.dovecot_oauth import OAuthDovecot
from tests.servers.lmtp_dovecot import LmtpDovecot
from tests.servers.token_endpoint import TokenEndpoint

PASSWORD = "mailbox-pw"
SENDER_PW = "relay-pw-Zq9-never-printed"
SECRET = "smtp-app-secret-never-printed"
SENDER = "it@new.example"
WAVES = {"a": 3, "b": 4, "c": 3, "d": 1}  # wave -> users in it (each test has its own)


@dataclass
class SubmissionDovecot(LmtpDovecot, OAuthDovecot):
    """LMTP delivery plus an auth listener on TCP that Postfix's submission ports ask."""

    auth_port: int = 0

    def _config(self) -> str:
        text = super()._config()
        listener = (
            f"  inet_listener sasl {{\n    address = 127.0.0.1\n    port = {self.auth_port}\n  }}\n"
        )
        if "service auth {\n  user = root\n}" in text:
            return text.replace(
                "service auth {\n  user = root\n}",
                "service auth {\n  user = root\n" + listener + "}",
            )
        return text + "service auth {\n" + listener + "}\n"


@dataclass
class Relay:
    dovecot: SubmissionDovecot
    mta: postfix.PostfixServer
    tokens: TokenEndpoint
    ca: Path  # the relay's certificate and the token endpoint's CA, one bundle
    ports: dict[str, int]
    waves: Path
    root: Path
    apps: dict[str, str]

    def url(self, port: str) -> str:
        return f"smtp://localhost:{self.ports[port]}"

    def count(self, user: str) -> int:
        with IMAPClient("127.0.0.1", port=self.dovecot.imap_port, ssl=False, timeout=10) as imap:
            imap.login(user, PASSWORD)
            return int(imap.select_folder("INBOX", readonly=True)[b"EXISTS"])

    def wait_count(self, user: str, want: int, timeout: float = 20.0) -> int:
        deadline = time.monotonic() + timeout
        while (got := self.count(user)) < want and time.monotonic() < deadline:
            time.sleep(0.2)
        return got


def _users(wave: str) -> list[str]:
    return [f"{wave}{n}@new.example" for n in range(1, WAVES[wave] + 1)]


def _submission(port: int, auth_port: int, *extra: str) -> str:
    options = [
        "syslog_name=postfix/submission",
        "smtpd_tls_security_level=encrypt",
        "smtpd_tls_auth_only=yes",
        "smtpd_sasl_auth_enable=yes",
        "smtpd_sasl_type=dovecot",
        f"smtpd_sasl_path=inet:127.0.0.1:{auth_port}",
        "smtpd_relay_restrictions=permit_sasl_authenticated,reject",
        "smtpd_recipient_restrictions=permit_sasl_authenticated,reject",
        *extra,
    ]
    return f"127.0.0.1:{port} inet n - n - - smtpd\n" + "".join(f"  -o {o}\n" for o in options)


@pytest.fixture(scope="module")
def relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Relay]:
    _need_dovecot()
    if postfix.find_install() is None:
        pytest.fail("Postfix is not set up: run scripts/setup.sh (it unpacks Debian's postfix)")
    root = tmp_path_factory.mktemp("notify-auth")
    tokens = TokenEndpoint(root / "tokens").start()
    tenant = tokens.add_tenant("new.example")
    imap_only = tokens.add_app("new.example", secret=SECRET)  # IMAP/POP roles only
    smtp_app = tokens.add_app("new.example", secret=SECRET)
    smtp_app.roles = ["SMTP.SendAsApp"]
    dovecot = SubmissionDovecot(
        root / "dovecot", lmtp_port=free_port(), auth_port=free_port(), separator="/",
        issuer=f"https://sts.windows.net/{tenant.tid}/", full_access={SENDER},
    )  # fmt: skip
    dovecot.add_user(SENDER, SENDER_PW)
    for wave in WAVES:
        for user in _users(wave):
            dovecot.add_user(user, PASSWORD)
    tokens.write_validation_key(dovecot.key_dir)
    dovecot.start()
    (root / "tls").mkdir()
    cert, key = make_self_signed_cert(root / "tls", "localhost")
    bundle = root / "trust.pem"
    bundle.write_text(cert.read_text() + Path(tokens.ca_file).read_text())
    ports = {name: free_port() for name in ("auth", "slow", "clear")}
    slow = ("smtpd_client_message_rate_limit=2", "smtpd_client_event_limit_exceptions=")
    mta = postfix.start(
        root,
        relay_domains=["new.example"],
        main={"relay_transport": f"lmtp:inet:127.0.0.1:{dovecot.lmtp_port}"},
        tls_cert=(cert, key),
        services=[
            _submission(ports["auth"], dovecot.auth_port),
            _submission(ports["slow"], dovecot.auth_port, *slow),
            f"127.0.0.1:{ports['clear']} inet n - n - - smtpd\n  -o smtpd_tls_security_level=none\n",
        ],
    )
    rows = [f"{u},{u.split('@')[0]},env:X,{wave}" for wave in WAVES for u in _users(wave)]
    waves = root / "waves.csv"
    waves.write_text("EmailAddress,UserName,Password,Wave\n" + "\n".join(rows) + "\n")
    (root / "pw").write_text(SENDER_PW + "\n")
    apps = {"imap-only": imap_only.client_id, "smtp": smtp_app.client_id}
    yield Relay(dovecot, mta, tokens, bundle, ports, waves, root, apps)
    mta.stop()
    dovecot.cleanup()
    tokens.stop()


def _notify_args(relay: Relay, wave: str, port: str, state: str, *extra: object) -> list[object]:
    return ["notify", "--wave", wave, "--waves", relay.waves, "--template", "done",
            "--config", relay.root / "autoconfig.toml", "--domain", "new.example", "--target-profile", "microsoft365",
            "--state", relay.root / state, "--from", SENDER, "--smtp", relay.url(port),
            "--smtp-ca", relay.ca, "--rate", "600", "--json", *extra]  # fmt: skip


def _notify(relay: Relay, wave: str, port: str, state: str, *extra: object, env=None):
    return run_skylift(*_notify_args(relay, wave, port, state, *extra), env=env)


def _password(relay: Relay) -> list[object]:
    return ["--smtp-user", SENDER, "--smtp-password-file", relay.root / "pw"]


def _oauth(relay: Relay, app: str) -> list[object]:
    return ["--smtp-auth", "oauth2", "--target-oauth-tenant", "new.example",
            "--target-oauth-client-id", relay.apps[app],
            "--target-oauth-authority", relay.tokens.url]  # fmt: skip


@pytest.fixture(scope="module", autouse=True)
def _config(relay: Relay) -> None:
    (relay.root / "autoconfig.toml").write_text(
        '[domains."new.example"]\ndisplay_name = "New Example"\n'
        '[domains."new.example".onprem.imap]\nhost = "mail.old.example"\nport = 993\n'
        'socket = "SSL"\n[domains."new.example".onprem.smtp]\nhost = "mail.old.example"\n'
        'port = 587\nsocket = "STARTTLS"\n'
    )


def _one_line(result: subprocess.CompletedProcess[str], code: int, *words: str) -> str:
    assert result.returncode == code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("skylift: error: "), result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def test_password_sign_in_delivers_each_notice_once(relay: Relay) -> None:
    first = _notify(relay, "a", "auth", "a.db", *_password(relay))
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["totals"] == {"sent": 3}
    for user in _users("a"):
        assert relay.wait_count(user, 1) == 1
    log = relay.mta.log()
    assert f"sasl_method=PLAIN, sasl_username={SENDER}" in log  # signed in, after STARTTLS
    again = _notify(relay, "a", "auth", "a.db", *_password(relay))
    assert json.loads(again.stdout)["totals"] == {"already-sent": 3}
    assert [relay.count(u) for u in _users("a")] == [1, 1, 1]
    assert SENDER_PW not in first.stdout + first.stderr + again.stdout + again.stderr


def test_without_sign_in_the_submission_port_refuses_every_notice(relay: Relay) -> None:
    result = _notify(relay, "d", "auth", "d-none.db")
    assert result.returncode == 1
    (item,) = json.loads(result.stdout)["items"]
    assert item["status"] == "failed" and "554 5.7.1" in item["error"]
    assert "does the relay want a sign-in?" in item["error"]
    assert relay.count("d1@new.example") == 0


def test_a_wrong_password_stops_the_run_in_one_line(relay: Relay) -> None:
    (relay.root / "bad-pw").write_text("not-it\n")
    result = _notify(relay, "d", "auth", "d-bad.db", "--smtp-user", SENDER,
                     "--smtp-password-file", relay.root / "bad-pw")  # fmt: skip
    _one_line(result, 3, "refused the login of it@new.example", "535")
    empty = relay.root / "empty-pw"
    empty.write_text("\n")
    no_file = _notify(relay, "d", "auth", "d-bad.db", "--smtp-user", SENDER,
                      "--smtp-password-file", empty)  # fmt: skip
    _one_line(no_file, 2, "is empty")
    assert relay.count("d1@new.example") == 0


def test_no_password_or_token_is_sent_where_there_is_no_tls(relay: Relay) -> None:
    result = _notify(relay, "d", "clear", "d-clear.db", "--smtp-allow-plaintext", *_password(relay))
    _one_line(result, 3, "does not offer STARTTLS", "refusing to send the SMTP password in clear")
    assert "sasl_method" not in relay.mta.log().split("postfix/smtpd")[-1]


def test_xoauth2_needs_the_smtp_send_as_app_permission(relay: Relay) -> None:
    env = {"SKYLIFT_TARGET_OAUTH_CLIENT_SECRET": SECRET}
    refused = _notify(relay, "d", "auth", "d-oauth.db", *_oauth(relay, "imap-only"), env=env)
    _one_line(refused, 3, "SMTP.SendAsApp")
    assert SECRET not in refused.stdout + refused.stderr
    sent = _notify(relay, "d", "auth", "d-oauth.db", *_oauth(relay, "smtp"), env=env)
    assert sent.returncode == 0, sent.stderr
    assert json.loads(sent.stdout)["totals"] == {"sent": 1}
    assert relay.wait_count("d1@new.example", 1) == 1
    assert f"sasl_method=XOAUTH2, sasl_username={SENDER}" in relay.mta.log()
    assert SECRET not in sent.stdout + sent.stderr
    half = _notify(relay, "d", "auth", "d-oauth2.db", "--target-oauth-client-id", "x", env=env)
    _one_line(half, 2, "--target-oauth-client-id", "add --smtp-auth oauth2")


def test_a_relay_that_defers_mid_batch_stops_and_the_rerun_sends_the_rest(relay: Relay) -> None:
    users = _users("b")
    deferred = _notify(relay, "b", "slow", "b.db", *_password(relay))
    assert deferred.returncode == 1, deferred.stderr
    summary = json.loads(deferred.stdout)
    assert summary["totals"] == {"sent": 2, "deferred": 2}
    third = summary["items"][2]
    assert third["status"] == "deferred"
    assert re.search(r"deferred the message: 4\d\d 4\.\d\.\d .*too much mail", third["error"]), (
        third
    )
    assert "the relay is deferring" in deferred.stderr and "rerun later" in deferred.stderr
    rest = _notify(relay, "b", "auth", "b.db", *_password(relay))
    assert rest.returncode == 0, rest.stderr
    assert json.loads(rest.stdout)["totals"] == {"already-sent": 2, "sent": 2}
    assert [relay.wait_count(u, 1) for u in users] == [1, 1, 1, 1]
    time.sleep(1)
    assert [relay.count(u) for u in users] == [1, 1, 1, 1]  # nobody got it twice


def test_ctrl_c_sends_no_more_and_the_rerun_sends_the_rest(relay: Relay) -> None:
    users = _users("c")
    args = [*_notify_args(relay, "c", "auth", "c.db", *_password(relay))]
    args[args.index("--rate") + 1] = "4"  # 15 s between messages: time to press Ctrl-C
    proc = subprocess.Popen([sys.executable, "-m", "skylift", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert relay.wait_count(users[0], 1) == 1
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "stopping after the current batch" in err and "Resume with the same command" in err
    assert json.loads(out)["totals"] == {"sent": 1, "not-started": 2}
    rest = _notify(relay, "c", "auth", "c.db", *_password(relay))
    assert json.loads(rest.stdout)["totals"] == {"already-sent": 1, "sent": 2}
    assert [relay.wait_count(u, 1) for u in users] == [1, 1, 1]
