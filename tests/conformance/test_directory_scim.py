"""A SCIM 2.0 provider (the scim2-server package's server) joins the directory conformance
suite as a target, opened through the registry. SCIM is a target only: it has no change feed
to read from, so it opts out of the source contract (the registry refuses it as a source)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from skylift.connectors import directory_source, directory_target
from skylift.connectors.directory.base import SourceSettings, TargetSettings
from skylift.connectors.endpoint import Endpoint
from skylift.errors import ConfigError
from skylift.model.account import Secret
from tests.dirsync.servers import ScimServer

from .directory import DirectoryTargetContract, TargetCase


@pytest.fixture(scope="module")
def scim_server() -> Iterator[ScimServer]:
    server = ScimServer().start()
    yield server
    server.stop()


class TestScimTarget(DirectoryTargetContract):
    @pytest.fixture
    def target_case(self, scim_server: ScimServer) -> TargetCase:
        settings = TargetSettings(token=Secret(scim_server.token))
        return TargetCase(
            open_target=lambda: directory_target(Endpoint.parse(scim_server.url), settings)
        )


def test_scim_is_refused_as_a_source_in_one_line(scim_server: ScimServer) -> None:
    with pytest.raises(ConfigError, match="cannot be a directory source"):
        directory_source(Endpoint.parse(scim_server.url), SourceSettings(base=""))
