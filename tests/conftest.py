"""Shared fixtures: real Dovecot servers on 127.0.0.1, each with its own temp config."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from skylift.demo.dovecot import DovecotServer
from tests.servers.cyrus import CyrusServer
from tests.servers.dav import radicale_servers, xandikos_servers  # noqa: F401 - session DAV servers

if TYPE_CHECKING:
    from tests.dirsync.samba_ad import SambaAD

MASTER = ("skylift-admin", "master-secret-1")


def _need_dovecot() -> None:
    if shutil.which("dovecot") is None and not Path("/usr/sbin/dovecot").exists():
        pytest.fail(
            "dovecot is not installed: run the README's setup command (apt-get install dovecot-imapd dovecot-pop3d)"
        )


@pytest.fixture
def source_server(tmp_path: Path) -> Iterator[DovecotServer]:
    """An on-prem style source: Maildir++ with '.' as separator, master user for proxy login."""
    _need_dovecot()
    server = DovecotServer(
        tmp_path / "source",
        users={"alice": "alice-pw", "bob": "bob-pw"},
        master_user=MASTER,
        separator=".",
    ).start()
    yield server
    server.cleanup()


@pytest.fixture
def target_server(tmp_path: Path) -> Iterator[DovecotServer]:
    """A hosted-suite style target: '/' separator, special-use folders, 1 MB message limit."""
    _need_dovecot()
    server = DovecotServer(
        tmp_path / "target",
        users={"alice@new.example": "alice-new-pw", "bob@new.example": "bob-new-pw"},
        master_user=MASTER,
        separator="/",
        special_use_autocreate=True,
        quota_max_mail_size="30M",
    ).start()
    yield server
    server.cleanup()


@pytest.fixture
def users_csv(tmp_path: Path) -> Path:
    path = tmp_path / "users.csv"
    path.write_text(
        "EmailAddress,UserName,Password,TargetPassword\n"
        "alice@new.example,alice,alice-pw,alice-new-pw\n"
        "bob@new.example,bob,bob-pw,bob-new-pw\n"
    )
    return path


# -- Cyrus IMAP: one server per layout for the whole session, a fresh user per test ----------

_CYRUS_USERS = itertools.count(1)


def _cyrus(debian_layout: bool) -> Iterator[CyrusServer]:
    server = CyrusServer(debian_layout=debian_layout)
    try:
        server.start()
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        server.cleanup()
        layout = "Debian" if debian_layout else "upstream"
        pytest.fail(f"Cyrus IMAP ({layout} layout) did not start: {exc}", pytrace=False)
    yield server
    server.cleanup()


@pytest.fixture(scope="session")
def cyrus_debian() -> Iterator[CyrusServer]:
    """Cyrus as Debian ships it: personal folders under ``INBOX.``, separator ``.``."""
    yield from _cyrus(debian_layout=True)


@pytest.fixture(scope="session")
def cyrus_upstream() -> Iterator[CyrusServer]:
    """Cyrus as upstream ships it: personal folders at the top level, separator ``/``."""
    yield from _cyrus(debian_layout=False)


def new_cyrus_user(server: CyrusServer) -> tuple[str, str]:
    """A user no other test has touched: (name, password), with an empty INBOX."""
    name = f"u{next(_CYRUS_USERS)}x{os.getpid()}"
    password = f"{name}-secret"
    server.add_user(name, password)
    return name, password


@pytest.fixture(scope="session")
def samba_ad(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SambaAD]:
    """One Samba AD DC for the whole session, shared by tests/dirsync and tests/conformance
    (provisioning is the slow part, and Samba can only listen on 389/636).

    Seeded with OU=Big: 1,600 users and one group holding them all. Tests that change the
    directory work in an OU of their own.
    """
    from tests.dirsync.samba_ad import BIG_GROUP_MEMBERS, SAMBA, SAMBA_TOOL, AdWriter, SambaAD

    for program in (SAMBA, SAMBA_TOOL):
        if not Path(program).exists():
            pytest.fail(f"{program} is missing: apt-get install samba samba-ad-dc (see setup.sh)")
    ad = SambaAD(tmp_path_factory.mktemp("samba-ad"))
    try:
        ad.provision().start()
        writer = AdWriter(ad)
        big = writer.ou("Big")
        dns = [writer.user(big, f"big{i:04d}") for i in range(BIG_GROUP_MEMBERS)]
        writer.group(big, "Everyone Big", dns)
        writer.close()
    except Exception as exc:
        ad.stop()
        pytest.fail(f"the Samba AD DC could not be set up: {exc}")
    yield ad
    ad.stop()
