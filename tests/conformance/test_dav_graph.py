"""Microsoft Graph's calendar and contacts target joins the DAV conformance suite, against the
schema-checked loopback fake (tests/servers/graph_fake.py), opened through the registry as
``migrate-calendars --target-profile microsoft365`` opens it.

Graph is no DAV server; where its semantics differ the test is an opt-out with the reason,
and what a migration relies on (the same content back, create-only, a rerun that copies
nothing, a delete that removes) is checked as for every DAV target.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator

import pytest

from skylift.connectors import dav_connector
from skylift.connectors.auth.oauth import GRAPH_SCOPE, EntraTokens
from skylift.connectors.endpoint import Endpoint
from skylift.model.account import Login, Secret
from skylift.model.dav import DavKind
from tests.servers.graph_contacts_fake import GraphContactsFake
from tests.servers.token_endpoint import TokenEndpoint

from .dav import DavCase, DavTargetContract, Openers, seed_through

SECRET = "conformance-app-secret"
OPT_OUTS = {
    "test_collection_is_made_once_with_its_properties": "a Graph calendar or contact folder "
    "has one name; there is no display name apart from it to keep",
    "test_marker_changes_on_every_write": "Graph has no collection change marker (no CTag); "
    "every run lists the collection, and the ledger keeps reruns to what changed",
}


def same_event(got: bytes, want: bytes) -> bool:
    """Graph rebuilds the event from its own fields: the same UID, summary and instants."""
    import icalendar

    def key(raw: bytes) -> tuple[object, ...]:
        (event,) = icalendar.Calendar.from_ical(raw).walk("VEVENT")
        return (str(event["UID"]), str(event["SUMMARY"]), event.decoded("DTSTART"),
                event.decoded("DTEND"))  # fmt: skip

    return key(got) == key(want)


_users = itertools.count(1)


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GraphContactsFake, Endpoint]]:
    tokens = TokenEndpoint(tmp_path_factory.mktemp("graph-tokens"), lifetime=600).start()
    tokens.add_tenant("example.test")
    app = tokens.add_app("example.test", secret=SECRET)
    app.graph_roles = {"Calendars.ReadWrite", "Contacts.ReadWrite"}
    fake = GraphContactsFake(tokens).start()
    oauth = EntraTokens(
        "target", "example.test", app.client_id, secret=Secret(SECRET), authority=tokens.url,
        ca_file=str(tokens.ca_file), scope=GRAPH_SCOPE,
        roles=("Calendars.ReadWrite", "Contacts.ReadWrite"),
    )  # fmt: skip
    endpoint = dataclasses.replace(
        Endpoint.parse(f"graph+{fake.api_base}", allow_plaintext=True), oauth=oauth
    )
    yield fake, endpoint
    assert fake.errors == [], fake.errors  # every request matched the pinned schema
    fake.stop()
    tokens.stop()


class TestGraphTarget(DavTargetContract):
    @pytest.fixture(params=list(DavKind))
    def case(
        self, request: pytest.FixtureRequest, graph: tuple[GraphContactsFake, Endpoint]
    ) -> DavCase:
        kind: DavKind = request.param
        _, endpoint = graph
        connector = dav_connector(endpoint, kind)

        def fresh() -> Openers:
            login = Login(f"user{next(_users)}@example.test", None)
            return (lambda: connector.open_target(login)), (lambda: connector.open_source(login))

        return DavCase(
            kind,
            seed_through(fresh),
            open_target=lambda: connector.open_target(
                Login(f"target{next(_users)}@example.test", None)
            ),
            exact_bytes=False,
            same=same_event if kind is DavKind.CALENDAR else None,
            notes={"size": "Graph takes events up to 4 MB, attachments apart"},
            opt_outs=OPT_OUTS,
        )
