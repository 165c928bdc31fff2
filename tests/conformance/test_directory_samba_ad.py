"""A Samba AD domain controller joins the directory conformance suite as a source (the
``ad`` preset: objectGUID anchors, uSNChanged deltas, ranged members), opened through the
registry over LDAPS. It shares the session's one DC (tests/conftest.py) and works in an OU
of its own.

Opt-out: AD is not a target here. The LDAP target writes the OpenLDAP shapes —
inetOrgPerson users and groupOfNames groups identified by entryUUID — and AD has neither
groupOfNames nor entryUUID (it has group and objectGUID), so an AD target needs a connector
of its own (with sAMAccountName rules and userAccountControl for disable).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from skylift.connectors import directory_source
from skylift.connectors.directory.base import SourceSettings
from skylift.connectors.endpoint import Endpoint
from skylift.model.account import Secret
from tests.dirsync.samba_ad import ADMIN_PASSWORD, AdWriter, SambaAD

from .directory import DirectorySourceContract, SourceCase

USERS = frozenset({"conf-ann", "conf-bob", "conf-cy", "conf-dee"})
MEMBERS = frozenset({"conf-ann", "conf-bob"})


@pytest.fixture(scope="module")
def ad_seed(samba_ad: SambaAD) -> Iterator[tuple[AdWriter, str, dict[str, str]]]:
    writer = AdWriter(samba_ad)
    ou = writer.ou(f"Conformance{uuid.uuid4().hex[:6]}")
    dns = {login: writer.user(ou, login) for login in sorted(USERS)}
    writer.group(ou, "Conformance Team", [dns[m] for m in sorted(MEMBERS)])
    yield writer, ou, dns
    writer.close()


class TestSambaAdSource(DirectorySourceContract):
    @pytest.fixture
    def source_case(
        self, samba_ad: SambaAD, ad_seed: tuple[AdWriter, str, dict[str, str]]
    ) -> SourceCase:
        writer, ou, dns = ad_seed
        settings = SourceSettings(
            base=ou,
            bind_dn=samba_ad.admin_dn,
            password=Secret(ADMIN_PASSWORD),
            preset="ad",
            attributes=frozenset({"sAMAccountName", "cn", "mail", "title"}),
        )
        endpoint = Endpoint.parse(samba_ad.url, ca_file=str(samba_ad.ca_file))

        def touch(login: str) -> None:
            writer.replace(dns[login], title="Lead")

        def rename(login: str, new: str) -> None:
            dns[login] = writer.rename(dns[login], f"CN={new}")

        return SourceCase(
            open_source=lambda: directory_source(endpoint, settings),
            login_attr="samaccountname",
            users=USERS,
            group="Conformance Team",
            members=MEMBERS,
            touch=touch,
            rename=rename,
        )
