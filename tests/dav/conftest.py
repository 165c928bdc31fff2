"""Real CalDAV/CardDAV servers, each started once per test session, and helpers.

Radicale and Xandikos each run as a source and a target server for the whole session
(``tests/servers/dav.py``, shared with the conformance suite);
every test gets its own users on them (``jane<N>@old.example`` / ``jane<N>@new.example``),
so tests never see each other's collections. ``dav_pair`` is the Radicale pair (the only
server here with proxy login and a size limit); ``any_pair`` runs a test against both.
Xandikos sits behind :class:`~skylift.demo.http_front.HttpFront` for passwords, under
``/dav/`` with ``.well-known`` answered by a 302.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from skylift.connectors.dav.client import DavAccount, DavHttpConnector
from skylift.connectors.endpoint import Endpoint
from skylift.model.account import Login, Secret
from skylift.model.dav import Collection, DavKind
from tests.servers.dav import DavServer

DATA = Path(__file__).resolve().parent.parent / "data"
SOURCE_PASSWORD, TARGET_PASSWORD = "source-secret-1", "target-secret-2"
SERVER_KINDS = ("radicale", "xandikos")
_numbers = itertools.count(1)


@dataclass
class DavPair:
    source: DavServer
    target: DavServer
    state: Path
    workdir: Path
    source_user: str = "jane@old.example"
    target_user: str = "jane@new.example"
    server: str = "radicale"

    def env(self, **extra: str) -> dict[str, str]:
        return os.environ | {
            "SKYLIFT_SOURCE_USER": self.source_user,
            "SKYLIFT_SOURCE_PASSWORD": SOURCE_PASSWORD,
            "SKYLIFT_TARGET_PASSWORD": TARGET_PASSWORD,
            **extra,
        }

    def sides(self) -> tuple[str, ...]:
        """``--source URL --target URL --user TARGET_USER``: what most commands here start with."""
        return ("--source", self.source.url(), "--target", self.target.url(),
                "--user", self.target_user)  # fmt: skip

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
            cwd=self.workdir,
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
            self.target_user,
            "--state",
            str(self.state),
            *extra,
        )

    def account(self, side: str, kind: DavKind) -> DavAccount:
        server, user, password = (
            (self.source, self.source_user, SOURCE_PASSWORD)
            if side == "source"
            else (self.target, self.target_user, TARGET_PASSWORD)
        )
        # Test setup goes straight to the DAV root; discovery has tests of its own.
        root = getattr(server, "root_url", server.url)
        endpoint = Endpoint.parse(root("caldav+http"))
        return DavHttpConnector(endpoint, kind).open(Login(user, Secret(password)))


def _pair(servers: tuple[DavServer, DavServer], tmp_path: Path, server: str) -> DavPair:
    source, target = servers
    n = next(_numbers)
    pair = DavPair(
        source,
        target,
        tmp_path / "skylift.db",
        tmp_path,
        f"jane{n}@old.example",
        f"jane{n}@new.example",
        server,
    )
    source.add_user(pair.source_user, SOURCE_PASSWORD)
    target.add_user(pair.target_user, TARGET_PASSWORD)
    return pair


@pytest.fixture
def dav_pair(radicale_servers: tuple[DavServer, DavServer], tmp_path: Path) -> DavPair:
    """Radicale to Radicale, fresh users."""
    return _pair(radicale_servers, tmp_path, "radicale")


@pytest.fixture(params=SERVER_KINDS)
def any_pair(request: pytest.FixtureRequest, tmp_path: Path) -> DavPair:
    """The same server software on both sides, once per kind, fresh users."""
    servers = request.getfixturevalue(f"{request.param}_servers")
    return _pair(servers, tmp_path, request.param)


@pytest.fixture
def mixed_pair(
    radicale_servers: tuple[DavServer, DavServer],
    xandikos_servers: tuple[DavServer, DavServer],
    tmp_path: Path,
) -> DavPair:
    """A Radicale source and a Xandikos target (its parser is the stricter), fresh users."""
    pair = _pair((radicale_servers[0], xandikos_servers[1]), tmp_path, "radicale->xandikos")
    return pair


def seed(account: DavAccount, spec: Collection, objects: dict[str, bytes]) -> Collection:
    """Create *spec* on a server and store *objects* (name -> bytes) in it."""
    collection = account.create_collection(spec)
    for name, raw in objects.items():
        result = account.put(collection, name, raw)
        assert result.error is None, result.error
    return collection
