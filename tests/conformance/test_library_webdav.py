"""A real WebDAV server (wsgidav) passes the library contract through the registry.

It does not keep file times: wsgidav, like SharePoint and Nextcloud, refuses a PROPPATCH of
``getlastmodified`` (403), so that test skips on the capability.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from skylift.connectors import library_target
from skylift.connectors.endpoint import Endpoint
from skylift.connectors.library.base import LibraryTarget
from skylift.model.account import Login, Secret
from tests.conformance.library import LibraryContract
from tests.servers.webdav import WebDavServer

_count = itertools.count()


@pytest.fixture(scope="module")
def webdav(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDavServer]:
    with WebDavServer(tmp_path_factory.mktemp("webdav") / "root") as server:
        yield server


class TestWebDavLibrary(LibraryContract):
    @pytest.fixture(autouse=True)
    def _server(self, webdav: WebDavServer) -> None:
        self.server = webdav

    def library(self) -> LibraryTarget:
        base = f"/lib{next(_count)}/"
        (Path(self.server.root) / base.strip("/")).mkdir()
        endpoint = Endpoint.parse(self.server.url(base))
        return library_target(endpoint, Login(self.server.user, Secret(self.server.password)))

    def test_wrong_password_is_a_login_error(self) -> None:
        from skylift.errors import AuthError

        with pytest.raises(AuthError):
            library_target(Endpoint.parse(self.server.url()), Login(self.server.user, Secret("no")))
