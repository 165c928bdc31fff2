"""Google Calendar (``events.import``) and the People API join the DAV conformance suite as
targets, against the schema-checked loopback fake (tests/servers/google_fake.py), opened
through the registry with a service account impersonating each user, as
``migrate-calendars --target-profile google-workspace`` opens them. Where Google is no DAV
server the test is an opt-out with its reason."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator

import pytest

from skylift.connectors import dav_connector
from skylift.connectors.auth.oauth import GoogleTokens
from skylift.connectors.endpoint import Endpoint
from skylift.model.account import Login
from skylift.model.dav import DavKind
from tests.servers.google_fake import GoogleFake
from tests.servers.token_endpoint import TokenEndpoint

from .dav import DavCase, DavTargetContract, Openers, seed_through
from .test_dav_graph import same_event

SCOPES = {
    DavKind.CALENDAR: "https://www.googleapis.com/auth/calendar",
    DavKind.ADDRESSBOOK: "https://www.googleapis.com/auth/contacts",
}
USERS = [f"user{n}@example.test" for n in range(80)]
_next = itertools.count()
OPT_OUTS = {
    "test_marker_changes_on_every_write": "Google's APIs give no collection change marker "
    "here; every run lists the collection, and the ledger keeps reruns to what changed",
}

CONTACT_GROUPS = {
    "test_collection_is_made_once_with_its_properties": "an address book becomes a People "
    "contact group, which has one name and no display name apart from it",
}


@pytest.fixture(scope="module")
def google(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[DavKind, Endpoint]]:
    tokens = TokenEndpoint(tmp_path_factory.mktemp("google-tokens"), lifetime=600).start()
    key = tokens.add_service_account("example.test", set(USERS), set(SCOPES.values()))
    fake = GoogleFake(tokens).start()
    base = Endpoint.parse(f"google+{fake.api_base}", allow_plaintext=True)
    yield {
        kind: dataclasses.replace(
            base, oauth=GoogleTokens("target", key, scope=scope, ca_file=str(tokens.ca_file))
        )
        for kind, scope in SCOPES.items()
    }
    assert fake.errors == [], fake.errors  # every request matched the discovery documents
    fake.stop()
    tokens.stop()


class TestGoogleTarget(DavTargetContract):
    @pytest.fixture(params=list(DavKind))
    def case(self, request: pytest.FixtureRequest, google: dict[DavKind, Endpoint]) -> DavCase:
        kind: DavKind = request.param
        connector = dav_connector(google[kind], kind)

        def login() -> Login:
            return Login(USERS[next(_next)], None)

        def fresh() -> Openers:
            user = login()
            return (lambda: connector.open_target(user)), (lambda: connector.open_source(user))

        return DavCase(
            kind,
            seed_through(fresh),
            open_target=lambda: connector.open_target(login()),
            exact_bytes=False,
            same=same_event if kind is DavKind.CALENDAR else None,
            opt_outs=OPT_OUTS if kind is DavKind.CALENDAR else OPT_OUTS | CONTACT_GROUPS,
        )
