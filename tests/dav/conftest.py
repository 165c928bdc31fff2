"""Two real Radicale servers (source and target) and helpers to seed and run skylift."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from skylift.connectors.base import Endpoint
from skylift.connectors.dav import DavAccount, DavConnector
from skylift.demo.radicale import RadicaleServer
from skylift.model.account import Login, Secret
from skylift.model.dav import Collection, DavKind

DATA = Path(__file__).resolve().parent.parent / "data"
SOURCE_USER, SOURCE_PASSWORD = "jane@old.example", "source-secret-1"
TARGET_USER, TARGET_PASSWORD = "jane@new.example", "target-secret-2"
ADMIN, ADMIN_PASSWORD = "migrator", "admin-secret-3"


@dataclass
class DavPair:
    source: RadicaleServer
    target: RadicaleServer
    state: Path
    workdir: Path

    def env(self, **extra: str) -> dict[str, str]:
        return os.environ | {
            "SKYLIFT_SOURCE_USER": SOURCE_USER,
            "SKYLIFT_SOURCE_PASSWORD": SOURCE_PASSWORD,
            "SKYLIFT_TARGET_PASSWORD": TARGET_PASSWORD,
            **extra,
        }

    def run(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run the skylift CLI as a user would."""
        return subprocess.run(
            [sys.executable, "-m", "skylift", *args],
            capture_output=True,
            text=True,
            env=env or self.env(),
            timeout=120,
        )

    def migrate(self, kind: DavKind, *extra: str) -> subprocess.CompletedProcess[str]:
        command, scheme = (
            ("migrate-calendars", "caldav+http")
            if kind is DavKind.CALENDAR
            else ("migrate-contacts", "carddav+http")
        )
        return self.run(
            command,
            "--source",
            self.source.url(scheme),
            "--target",
            self.target.url(scheme),
            "--user",
            TARGET_USER,
            "--state",
            str(self.state),
            *extra,
        )

    def account(self, side: str, kind: DavKind) -> DavAccount:
        server, user, password = (
            (self.source, SOURCE_USER, SOURCE_PASSWORD)
            if side == "source"
            else (self.target, TARGET_USER, TARGET_PASSWORD)
        )
        endpoint = Endpoint.parse(server.url("caldav+http"))
        return DavConnector(endpoint, kind).open(Login(user, Secret(password)))


@pytest.fixture
def dav_pair(tmp_path: Path) -> Iterator[DavPair]:
    source = RadicaleServer(
        tmp_path / "source", users={SOURCE_USER: SOURCE_PASSWORD}, admin=(ADMIN, ADMIN_PASSWORD)
    )
    target = RadicaleServer(
        tmp_path / "target", users={TARGET_USER: TARGET_PASSWORD}, max_resource_size=200_000
    )
    with source, target:
        yield DavPair(source, target, tmp_path / "skylift.db", tmp_path)


def seed(account: DavAccount, spec: Collection, objects: dict[str, bytes]) -> Collection:
    """Create *spec* on a server and store *objects* (name -> bytes) in it."""
    collection = account.create_collection(spec)
    for name, raw in objects.items():
        result = account.put(collection, name, raw)
        assert result.error is None, result.error
    return collection
