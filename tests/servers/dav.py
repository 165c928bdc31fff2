"""Radicale and Xandikos, each as a source and a target server, once per test session.

Shared by ``tests/dav`` and ``tests/conformance`` (registered in ``tests/conftest.py``):
each test makes its own users, so tests never see each other's collections. The Radicale
source allows proxy login by ``ADMIN``; the Radicale target takes objects of at most
``RADICALE_LIMIT`` bytes. Xandikos sits behind :class:`~skylift.demo.http_front.HttpFront`
for passwords, under ``/dav/`` with ``.well-known`` answered by a 302.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import pytest

from skylift.demo.radicale import RadicaleServer
from skylift.demo.xandikos import XandikosServer

ADMIN, ADMIN_PASSWORD = "migrator", "admin-secret-3"
RADICALE_LIMIT = 200_000


class DavServer(Protocol):
    @property
    def port(self) -> int: ...
    @property
    def http_url(self) -> str: ...
    def url(self, scheme: str = "caldav") -> str: ...
    def add_user(self, name: str, password: str) -> None: ...


@pytest.fixture(scope="session")
def radicale_servers(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[DavServer, DavServer]]:
    root = tmp_path_factory.mktemp("radicale")
    source = RadicaleServer(root / "source", admin=(ADMIN, ADMIN_PASSWORD))
    target = RadicaleServer(root / "target", max_resource_size=RADICALE_LIMIT, read_only="locked")
    with source, target:
        yield source, target


@pytest.fixture(scope="session")
def xandikos_servers(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[DavServer, DavServer]]:
    root = tmp_path_factory.mktemp("xandikos")
    with XandikosServer(root / "source") as source, XandikosServer(root / "target") as target:
        yield source, target
