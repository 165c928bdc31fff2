"""OpenLDAP (slapd, misc.schema's inetLocalMailRecipient) joins the routing-attribute
conformance suite, opened through the registry as ``cutover --routing-ldap`` opens it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from skylift.connectors import directory_routing
from skylift.connectors.endpoint import Endpoint
from skylift.model.account import Secret
from tests.dirsync.servers import ADMIN_PASSWORD, Slapd

from .routing import RoutingAttributeContract, RoutingCase
from .test_directory_openldap import _need_slapd

SUFFIX = "dc=corp,dc=example"


def _person(uid: str, mail: str, extra: str = "") -> str:
    return (
        f"dn: uid={uid},ou=People,{SUFFIX}\nobjectClass: inetOrgPerson\n{extra}uid: {uid}\n"
        f"cn: {uid}\nsn: {uid}\nmail: {mail}\n"
    )


LDIF = "\n".join(
    [
        f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: corp\ndc: corp\n",
        f"dn: ou=People,{SUFFIX}\nobjectClass: organizationalUnit\nou: People\n",
        _person("plain", "plain@corp.example"),
        _person(
            "legacy",
            "legacy@corp.example",
            "objectClass: inetLocalMailRecipient\nmailRoutingAddress: old@relay.corp.example\n",
        ),
        _person("twice1", "twice@corp.example"),
        _person("twice2", "twice@corp.example"),
    ]
)


@pytest.fixture
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    _need_slapd()
    server = Slapd(tmp_path_factory.mktemp("routing-ldap"), SUFFIX).start(LDIF)
    yield server
    server.stop()


class TestOpenLdapRouting(RoutingAttributeContract):
    @pytest.fixture
    def routing_case(self, slapd: Slapd) -> RoutingCase:
        def open_attribute(attribute: str):  # type: ignore[no-untyped-def]
            return directory_routing(
                Endpoint.parse(slapd.url), slapd.admin_dn, Secret(ADMIN_PASSWORD), SUFFIX, attribute
            )

        return RoutingCase(
            open=lambda: open_attribute("mailRoutingAddress"), open_attribute=open_attribute
        )
