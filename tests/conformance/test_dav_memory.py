"""The in-memory reference DAV server joins the DAV conformance suite, as source and target."""

import itertools

import pytest

from skylift.connectors.dav.memory import MemoryDavServer
from skylift.model.dav import DavKind

from .dav import DavCase, DavContract, Openers, seed_through

LIMIT = 4096  # bytes: declared in the capabilities, so too-big objects are refused
_users = itertools.count(1)


class TestMemoryDav(DavContract):
    @pytest.fixture(params=list(DavKind))
    def case(self, request: pytest.FixtureRequest) -> DavCase:
        kind: DavKind = request.param
        server = MemoryDavServer(max_resource_size=LIMIT)

        def fresh() -> Openers:
            user = f"user{next(_users)}"
            return (lambda: server.account(user, kind)), (lambda: server.account(user, kind))

        return DavCase(
            kind,
            seed_through(fresh),
            open_target=lambda: server.account(f"target{next(_users)}", kind),
        )
