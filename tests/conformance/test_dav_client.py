"""The CalDAV/CardDAV client joins the DAV conformance suite against Radicale and Xandikos.

Each test gets fresh users on the session's servers (``tests/servers/dav.py``); accounts are
opened through the registry, the way the runner opens them. The Radicale target takes
objects of at most ``RADICALE_LIMIT`` bytes, so the too-big test runs there; Xandikos
announces no limit, and that test says so.
"""

import itertools

import pytest

from skylift.connectors import dav_source, dav_target
from skylift.connectors.endpoint import Endpoint
from skylift.model.account import Login, Secret
from skylift.model.dav import DavKind
from tests.servers.dav import DavServer

from .dav import DavCase, DavContract, Openers, seed_through

PASSWORD = "conformance-secret"
_users = itertools.count(1)


def _endpoint(server: DavServer, kind: DavKind) -> Endpoint:
    scheme = "caldav+http" if kind is DavKind.CALENDAR else "carddav+http"
    root = getattr(server, "root_url", server.url)  # discovery has tests of its own
    return Endpoint.parse(root(scheme))


def _fresh(server: DavServer, kind: DavKind) -> Openers:
    user = f"conf{next(_users)}@dav.example"
    server.add_user(user, PASSWORD)
    login = Login(user, Secret(PASSWORD))
    endpoint = _endpoint(server, kind)
    return (lambda: dav_target(endpoint, kind, login)), (lambda: dav_source(endpoint, kind, login))


CASES = [(s, k) for s in ("radicale", "xandikos") for k in DavKind]


class TestDavClient(DavContract):
    @pytest.fixture(params=CASES, ids=[f"{s}-{k}" for s, k in CASES])
    def case(self, request: pytest.FixtureRequest) -> DavCase:
        software, kind = request.param
        source, target = request.getfixturevalue(f"{software}_servers")
        return DavCase(
            kind,
            seed_through(lambda: _fresh(source, kind)),
            open_target=lambda: _fresh(target, kind)[0](),
            # Both servers re-serialise iCalendar (property order within a component) and
            # keep vCards as sent; the connector serves what the server holds.
            exact_bytes=kind is DavKind.ADDRESSBOOK,
            notes={
                "bytes": f"{software} re-orders the properties of a calendar object",
                "size": f"{software} here announces no max-resource-size",
            },
        )
