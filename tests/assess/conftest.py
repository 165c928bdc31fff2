"""A real Dovecot with the things assess must find: shared and public namespaces (ACL),
a storage quota, big items, a deep folder, reserved and case-colliding names."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import imapclient
import pytest

from skylift.demo.dovecot import DOVECOT, DovecotServer

MASTER = ("skylift-admin", "master-secret-1")
PASSWORDS = {"alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw", "dave": "dave-pw"}


@dataclass
class AssessDovecot(DovecotServer):
    """Dovecot plus ACLs, an other-users namespace, a public namespace and a storage quota."""

    quota_storage: str = "1M"

    @property
    def public_root(self) -> Path:
        return self.mail_root / "public"

    def _config(self) -> str:
        base = super()._config()
        base = base.replace(
            "mail_plugins = $mail_plugins quota", "mail_plugins = $mail_plugins quota acl"
        )
        base = base.replace(
            "protocol imap {\n  mail_plugins = $mail_plugins imap_quota\n}",
            "protocol imap {\n  mail_plugins = $mail_plugins imap_quota imap_acl\n}",
        )
        sep = self.separator
        layout = ":LAYOUT=fs" if sep == "/" else ""
        return base + (
            "plugin {\n"
            "  acl = vfile\n"
            # A master login sees the mailbox as its owner does (else ACLs hide everything).
            "  acl_user = %u\n"
            f"  acl_shared_dict = file:{self.mail_root}/shared-mailboxes.db\n"
            f"  quota_rule2 = *:storage={self.quota_storage}\n"
            "}\n"
            "namespace shared {\n  type = shared\n"
            f"  separator = {sep}\n  prefix = shared{sep}%%u{sep}\n"
            f"  location = maildir:{self.mail_root}/%%u/Maildir{layout}:"
            f"INDEXPVT={self.mail_root}/%u/shared/%%u\n"
            "  subscriptions = no\n  list = children\n}\n"
            "namespace public {\n  type = public\n"
            f"  separator = {sep}\n  prefix = Public{sep}\n"
            f"  location = maildir:{self.public_root}{layout}:INDEXPVT={self.mail_root}/%u/public\n"
            "  subscriptions = no\n  list = children\n}\n"
        )

    def add_public_folder(self, name: str) -> None:
        """A public folder everyone may read (Maildir with a dovecot-acl file)."""
        folder = self.public_root / (f".{name}" if self.separator == "." else name)
        for sub in ("cur", "new", "tmp"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        (folder / "dovecot-acl").write_text("anyone lrs\n")
        (folder / "maildirfolder").touch()
        if os.getuid() == 0:
            for path in [self.public_root, *self.public_root.rglob("*")]:
                shutil.chown(path, "dovecot", "dovecot")


def message(subject: str, size: int = 0) -> bytes:
    body = b"x" * max(0, size)
    lines = b"\r\n".join(body[i : i + 76] for i in range(0, len(body), 76))
    return (
        f"From: a@example.com\r\nTo: b@example.com\r\nSubject: {subject}\r\n"
        f"Message-ID: <{subject.replace(' ', '.')}@example.com>\r\n\r\n".encode()
        + lines
        + b"\r\n"
    )


@pytest.fixture(scope="session")
def dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AssessDovecot]:
    if not Path(DOVECOT).exists():
        pytest.skip("dovecot is not installed (Debian: apt-get install dovecot-imapd)")
    server = AssessDovecot(
        root=tmp_path_factory.mktemp("dovecot-assess"),
        users=dict(PASSWORDS),
        separator=".",
        quota_messages=100000,
        quota_storage="1M",
        master_user=MASTER,
    )
    server.start()
    try:
        yield server
    finally:
        server.cleanup()


def imap(server: DovecotServer, user: str) -> imapclient.IMAPClient:
    client = imapclient.IMAPClient("127.0.0.1", port=server.imap_port, ssl=False)
    client.login(user, PASSWORDS[user])
    return client
