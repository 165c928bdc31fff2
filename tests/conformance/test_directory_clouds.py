"""Entra ID (Microsoft Graph) and Google's Admin SDK Directory join the directory target
conformance suite, against their schema-checked loopback fakes, opened through the registry
with app-only tokens as ``dirsync --target-profile microsoft365|google-workspace`` opens
them. What each cloud does not store is named in ``keeps``/``notes``."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from skylift.connectors import directory_target
from skylift.connectors.auth.oauth import GRAPH_SCOPE, EntraTokens, GoogleTokens
from skylift.connectors.directory.base import TargetSettings
from skylift.connectors.endpoint import Endpoint
from skylift.model.account import Secret
from tests.servers.google_fake import GoogleFake
from tests.servers.graph_directory_fake import GraphDirectoryFake
from tests.servers.token_endpoint import TokenEndpoint

from .directory import DirectoryTargetContract, TargetCase

DOMAIN = "new.example"
ADMIN = f"admin@{DOMAIN}"
GOOGLE_SCOPES = {
    "https://www.googleapis.com/auth/admin.directory.user",
    "https://www.googleapis.com/auth/admin.directory.group",
    "https://www.googleapis.com/auth/admin.directory.group.member",
}


@pytest.fixture(scope="module")
def tokens(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenEndpoint]:
    server = TokenEndpoint(tmp_path_factory.mktemp("dir-tokens"), lifetime=600).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def entra(tokens: TokenEndpoint) -> Iterator[Endpoint]:
    tokens.add_tenant(DOMAIN)
    app = tokens.add_app(DOMAIN, secret="dir-secret")
    app.graph_roles = {"User.ReadWrite.All", "Group.ReadWrite.All"}
    fake = GraphDirectoryFake(tokens, domain=DOMAIN).start()
    oauth = EntraTokens(
        "target", DOMAIN, app.client_id, secret=Secret("dir-secret"), authority=tokens.url,
        ca_file=str(tokens.ca_file), scope=GRAPH_SCOPE,
        roles=("User.ReadWrite.All", "Group.ReadWrite.All"),
    )  # fmt: skip
    base = Endpoint.parse(f"graph-directory+{fake.api_base}", allow_plaintext=True)
    yield dataclasses.replace(base, oauth=oauth)
    assert fake.errors == [], fake.errors
    fake.stop()


@pytest.fixture(scope="module")
def google(tokens: TokenEndpoint) -> Iterator[Endpoint]:
    key = tokens.add_service_account(DOMAIN, {ADMIN}, GOOGLE_SCOPES)
    fake = GoogleFake(tokens).start()
    fake.domain, fake.admins = DOMAIN, {ADMIN}
    oauth = GoogleTokens(
        "target", key, scope=" ".join(sorted(GOOGLE_SCOPES)), ca_file=str(tokens.ca_file)
    )
    base = Endpoint.parse(f"google-directory+{fake.api_base}", allow_plaintext=True)
    yield dataclasses.replace(base, oauth=oauth)
    assert fake.errors == [], fake.errors
    fake.stop()


class TestEntraDirectory(DirectoryTargetContract):
    @pytest.fixture
    def target_case(self, entra: Endpoint) -> TargetCase:
        return TargetCase(open_target=lambda: directory_target(entra, TargetSettings(base=DOMAIN)))


class TestGoogleDirectory(DirectoryTargetContract):
    @pytest.fixture
    def target_case(self, google: Endpoint) -> TargetCase:
        settings = TargetSettings(base=DOMAIN, bind_dn=ADMIN)
        return TargetCase(open_target=lambda: directory_target(google, settings))
