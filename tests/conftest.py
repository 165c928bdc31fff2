"""Shared fixtures: real Dovecot servers on 127.0.0.1, each with its own temp config."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from skylift.demo.dovecot import DovecotServer

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
