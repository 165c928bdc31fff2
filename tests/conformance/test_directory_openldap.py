"""OpenLDAP (slapd) joins the directory conformance suite as source and as LDAP target,
both opened through the registry as ``skylift dirsync`` opens them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from skylift.connectors import directory_source, directory_target
from skylift.connectors.directory.base import SourceSettings, TargetSettings
from skylift.connectors.endpoint import Endpoint
from skylift.model.account import Secret
from tests.dirsync.servers import ADMIN_PASSWORD, SLAPD, Slapd, org_text

from .directory import DirectorySourceContract, DirectoryTargetContract, SourceCase, TargetCase

SOURCE_SUFFIX = "dc=old,dc=example"
TARGET_SUFFIX = "dc=new,dc=example"
STAFF = f"ou=Staff,ou=People,{SOURCE_SUFFIX}"
USERS = frozenset(f"user{i:05d}" for i in range(6))


def _need_slapd() -> None:
    import shutil
    from pathlib import Path

    if not Path(SLAPD).exists() and shutil.which("slapd") is None:
        pytest.fail("slapd is not installed: apt-get install slapd ldap-utils (see setup.sh)")


@pytest.fixture(scope="module")
def source_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    _need_slapd()
    server = Slapd(tmp_path_factory.mktemp("source"), SOURCE_SUFFIX)
    server.start(org_text(users=len(USERS), groups=2, disabled_every=0))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def target_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    _need_slapd()
    server = Slapd(tmp_path_factory.mktemp("target"), TARGET_SUFFIX).start()
    yield server
    server.stop()


class TestOpenLdapTarget(DirectoryTargetContract):
    @pytest.fixture
    def target_case(self, target_server: Slapd) -> TargetCase:
        settings = TargetSettings(
            base=TARGET_SUFFIX, bind_dn=target_server.admin_dn, password=Secret(ADMIN_PASSWORD)
        )
        return TargetCase(
            open_target=lambda: directory_target(Endpoint.parse(target_server.url), settings)
        )


class TestOpenLdapSource(DirectorySourceContract):
    @pytest.fixture
    def source_case(self, source_server: Slapd) -> SourceCase:
        settings = SourceSettings(
            base=SOURCE_SUFFIX,
            bind_dn=source_server.admin_dn,
            password=Secret(ADMIN_PASSWORD),
            preset="openldap",
            attributes=frozenset({"uid", "cn", "mail", "title"}),
        )

        def touch(login: str) -> None:
            source_server.ldap(
                f"dn: uid={login},{STAFF}\nchangetype: modify\nreplace: title\ntitle: Lead\n"
            )

        def rename(login: str, new: str) -> None:
            source_server.ldap(
                f"dn: uid={login},{STAFF}\nchangetype: modrdn\nnewrdn: uid={new}\ndeleteoldrdn: 1\n"
            )

        return SourceCase(
            open_source=lambda: directory_source(Endpoint.parse(source_server.url), settings),
            login_attr="uid",
            users=USERS,
            group="dept000",
            members=frozenset(u for u in USERS if int(u[4:]) % 2 == 0),
            touch=touch,
            rename=rename,
        )
