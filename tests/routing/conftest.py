"""A staged move on loopback: on-prem Postfix -> LMTP source Dovecot, cloud edge Postfix ->
LMTP target Dovecot. The Dovecots and the cloud edge live for the session; each test gets
its own on-prem Postfix (its own maps), its own users and its own state file."""

from __future__ import annotations

import itertools
import os
import smtplib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import make_msgid
from pathlib import Path

import imapclient
import pytest

from skylift.cli import build_app
from skylift.cli.common import run_cli
from skylift.demo.dovecot import make_self_signed_cert
from tests.mailtools import run_skylift
from tests.servers.lmtp_dovecot import LmtpDovecot
from tests.servers.postfix import PostfixServer, find_install

DOMAIN = "corp.example"
CLOUD_NAME = "mx.cloud.test"
_NAMES = itertools.count(1)


def _need_postfix() -> None:
    if find_install() is None:
        pytest.fail(
            "Postfix is not set up: run scripts/setup.sh (it unpacks it into .cache/postfix)"
        )


@pytest.fixture(scope="session")
def source_mail(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LmtpDovecot]:
    server = LmtpDovecot(tmp_path_factory.mktemp("route-source"), separator=".").start()
    yield server
    server.cleanup()


@pytest.fixture(scope="session")
def target_mail(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LmtpDovecot]:
    server = LmtpDovecot(
        tmp_path_factory.mktemp("route-target"), separator="/", special_use_autocreate=True
    ).start()
    yield server
    server.cleanup()


def _cert(name: str, tag: str) -> tuple[Path, Path]:
    folder = Path(f"/tmp/skylift-cert-{tag}-{os.getpid()}")
    folder.mkdir(exist_ok=True)
    return make_self_signed_cert(folder, name)


@pytest.fixture(scope="session")
def cloud_cert() -> tuple[Path, Path]:
    return _cert(CLOUD_NAME, "cloud")


def _edge(target: LmtpDovecot, cert: tuple[Path, Path]) -> PostfixServer:
    """The cloud's inbound MX: TLS with *cert*, recipients checked against the mailboxes."""
    return PostfixServer(
        hostname=CLOUD_NAME,
        relay_domains=[DOMAIN],
        tls_cert=cert,
        main={
            "relay_transport": f"lmtp:inet:127.0.0.1:{target.lmtp_port}",
            "smtpd_recipient_restrictions": "reject_unverified_recipient",
            "unverified_recipient_reject_code": "550",
            "address_verify_poll_count": "10",
            "address_verify_poll_delay": "1s",
        },
    ).start()


@pytest.fixture(scope="session")
def cloud_edge(target_mail: LmtpDovecot, cloud_cert: tuple[Path, Path]) -> Iterator[PostfixServer]:
    _need_postfix()
    edge = _edge(target_mail, cloud_cert)
    yield edge
    edge.stop()


@dataclass
class Org:
    """One test's organization: its users, files and on-prem MTA."""

    tmp: Path
    source: LmtpDovecot
    target: LmtpDovecot
    edge: PostfixServer
    onprem: PostfixServer
    users: dict[str, int]  # address -> wave
    cert: tuple[Path, Path]

    @property
    def state(self) -> Path:
        return self.tmp / "state.db"

    @property
    def users_csv(self) -> Path:
        return self.tmp / "users.csv"

    @property
    def waves_csv(self) -> Path:
        return self.tmp / "waves.csv"

    @property
    def relay(self) -> str:
        return f"smtp://127.0.0.1:{self.edge.smtp_port}"

    def wave(self, n: int) -> list[str]:
        return [u for u, w in self.users.items() if w == n]

    def route(self, command: str, wave: int, *extra: str, relay: str | None = None):  # type: ignore[no-untyped-def]
        return run_skylift(
            command, "--wave", wave, "--waves", self.waves_csv, "--users", self.users_csv,
            "--source", self.source.imap_url(), "--target", self.target.imap_url(),
            "--state", self.state, "--mta", "postfix",
            "--postfix-config-dir", self.onprem.config_dir,
            "--postfix-command-dir", self.onprem.command_directory,
            "--cloud-relay", relay or self.relay, "--cloud-tls-name", CLOUD_NAME, *extra,
        )  # fmt: skip

    def send(self, rcpt: str, subject: str = "hello") -> str:
        """Mail *rcpt* through the on-prem MTA, as the internet would; return its Message-ID."""
        mid = make_msgid(domain="sender.test")
        raw = (
            f"From: someone@sender.test\r\nTo: {rcpt}\r\nSubject: {subject}\r\n"
            f"Message-ID: {mid}\r\n\r\n{subject} body\r\n"
        ).encode()
        with smtplib.SMTP("127.0.0.1", self.onprem.smtp_port) as client:
            client.sendmail("someone@sender.test", [rcpt], raw)
        return mid


def password(user: str) -> str:
    return f"{user.split('@')[0]}-pw"


def count(server: LmtpDovecot, user: str, mid: str) -> int:
    """How many messages with Message-ID *mid* are in *user*'s INBOX on *server*."""
    with imapclient.IMAPClient("127.0.0.1", server.imap_port, ssl=False) as client:
        client.login(user, password(user))
        client.select_folder("INBOX", readonly=True)
        return len(client.search(["HEADER", "Message-ID", mid]))


def wait_count(server: LmtpDovecot, user: str, mid: str, want: int = 1, timeout: float = 20) -> int:
    deadline = time.monotonic() + timeout
    while True:
        n = count(server, user, mid)
        if n >= want or time.monotonic() > deadline:
            return n
        time.sleep(0.1)


def inbox_bodies(server: LmtpDovecot, user: str) -> list[bytes]:
    with imapclient.IMAPClient("127.0.0.1", server.imap_port, ssl=False) as client:
        client.login(user, password(user))
        client.select_folder("INBOX", readonly=True)
        uids = client.search(["ALL"])
        return [v[b"BODY[]"] for v in client.fetch(uids, ["BODY.PEEK[]"]).values()]


def onprem_mta(org_tmp: Path, source: LmtpDovecot, cert: tuple[Path, Path]) -> PostfixServer:
    """The on-prem MTA: relays corp.example to the source by LMTP unless a map says otherwise."""
    mta = PostfixServer(hostname="mx.onprem.test", relay_domains=[DOMAIN])
    conf = mta.config_dir
    mta.postconf(
        {
            "relay_transport": f"lmtp:inet:127.0.0.1:{source.lmtp_port}",
            "transport_maps": f"hash:{conf}/skylift_transport",
            "relay_recipient_maps": f"hash:{conf}/skylift_relay_recipients",
            "smtp_tls_policy_maps": f"hash:{conf}/skylift_tls_policy",
            "smtp_tls_CAfile": str(cert[0]),
        }
    )
    return mta


@pytest.fixture
def org(
    tmp_path: Path,
    source_mail: LmtpDovecot,
    target_mail: LmtpDovecot,
    cloud_edge: PostfixServer,
    cloud_cert: tuple[Path, Path],
) -> Iterator[Org]:
    """Users in waves 2 and 3 with mailboxes on both sides, maps exported, on-prem MTA up."""
    n = next(_NAMES)
    users = {f"w2a{n}@{DOMAIN}": 2, f"w2b{n}@{DOMAIN}": 2, f"w3a{n}@{DOMAIN}": 3}
    for user in users:
        source_mail.add_user(user, password(user))
        target_mail.add_user(user, password(user))
    rows = [f"{u},{u},{password(u)},{password(u)}" for u in users]
    header = "EmailAddress,UserName,Password,TargetPassword"
    (tmp_path / "users.csv").write_text(header + "\n" + "\n".join(rows) + "\n")
    waves = [f"{r},{users[r.split(',')[0]]},2" for r in rows]
    (tmp_path / "waves.csv").write_text(header + ",Wave,Parallel\n" + "\n".join(waves) + "\n")
    mta = onprem_mta(tmp_path, source_mail, cloud_cert).start()
    state = tmp_path / "state.db"
    argv = [
        "route", "export", "--format", "postfix", "--out", str(mta.config_dir), "--state", str(state),
        "--users", str(tmp_path / "users.csv"), "--cloud-relay", f"smtp://127.0.0.1:{cloud_edge.smtp_port}",
        "--cloud-tls-name", CLOUD_NAME, "--postfix-command-dir", str(mta.command_directory),
    ]  # fmt: skip
    assert run_cli(build_app(argv), argv) == 0  # in-process: the same command, a second sooner
    mta.reload()  # the smtpd that answered the start-up check looked before the maps existed
    yield Org(tmp_path, source_mail, target_mail, cloud_edge, mta, users, cloud_cert)
    mta.stop()
