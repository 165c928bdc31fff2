"""The directory routing writer on a real OpenLDAP: cut-over sets ``mailRoutingAddress``
(objectClass inetLocalMailRecipient, misc.schema) to the cloud's routing address, rollback
puts back exactly what each entry had, reruns change nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from ldap3 import BASE, Connection, Server

from tests.dirsync.servers import ADMIN_PASSWORD, Slapd
from tests.routing.conftest import Org

SUFFIX = "dc=corp,dc=example"
ROUTING_DOMAIN = "corp.mail.onmicrosoft.test"


def _ldif(org: Org, legacy: str) -> str:
    w2a, w2b = org.wave(2)
    out = [
        f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: corp\ndc: corp\n",
        f"dn: ou=People,{SUFFIX}\nobjectClass: organizationalUnit\nou: People\n",
    ]
    for user in org.users:
        local = user.split("@")[0]
        extra = ""
        if user == w2a:  # routed somewhere already: the rollback must bring this back
            extra = f"objectClass: inetLocalMailRecipient\nmailRoutingAddress: {legacy}\n"
        out.append(
            f"dn: uid={local},ou=People,{SUFFIX}\nobjectClass: inetOrgPerson\n{extra}uid: {local}\n"
            f"cn: {local}\nsn: {local}\nmail: {user}\n"
        )
    assert w2b
    return "\n".join(out)


@pytest.fixture
def slapd(org: Org, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Slapd]:
    server = Slapd(tmp_path / "slapd", SUFFIX).start(_ldif(org, "legacy@relay.corp.example"))
    monkeypatch.setenv("SKYLIFT_LDAP_PASSWORD", ADMIN_PASSWORD)
    yield server
    server.stop()


def _entry(slapd: Slapd, user: str) -> tuple[set[str], list[str]]:
    conn = Connection(Server("127.0.0.1", port=slapd.port), slapd.admin_dn, ADMIN_PASSWORD)
    assert conn.bind()
    dn = f"uid={user.split('@')[0]},ou=People,{SUFFIX}"
    conn.search(dn, "(objectClass=*)", BASE, attributes=["objectClass", "mailRoutingAddress"])
    attrs = conn.response[0]["attributes"]
    conn.unbind()
    routed = attrs["mailRoutingAddress"]
    return {str(c) for c in attrs["objectClass"]}, [routed] if isinstance(routed, str) else list(
        routed
    )


def _ldap(slapd: Slapd) -> list[str]:
    return [
        "--routing-ldap", slapd.url, "--routing-ldap-base", SUFFIX,
        "--routing-ldap-bind", slapd.admin_dn, "--routing-domain", ROUTING_DOMAIN,
    ]  # fmt: skip


def test_cutover_sets_mail_routing_address_and_rollback_restores_each_entry(
    org: Org, slapd: Slapd
) -> None:
    w2a, w2b = org.wave(2)
    (w3,) = org.wave(3)
    before = {u: _entry(slapd, u) for u in (w2a, w2b, w3)}
    assert before[w2a][1] == ["legacy@relay.corp.example"]
    assert "inetLocalMailRecipient" not in before[w2b][0]

    for _ in range(2):  # the second run changes nothing
        done = org.route("cutover", 2, *_ldap(slapd))
        assert done.returncode == 0, done.stdout + done.stderr
        for user in (w2a, w2b):
            classes, routed = _entry(slapd, user)
            assert routed == [f"{user.split('@')[0]}@{ROUTING_DOMAIN}"]
            assert "inetLocalMailRecipient" in classes
        assert _entry(slapd, w3) == before[w3]  # wave 3 is not touched

    for _ in range(2):
        back = org.route("rollback", 2, *_ldap(slapd))
        assert back.returncode == 0, back.stdout + back.stderr
        for user in (w2a, w2b, w3):
            assert _entry(slapd, user) == before[user], user

    again = org.route("cutover", 2, *_ldap(slapd))
    assert again.returncode == 0, again.stderr
    assert _entry(slapd, w2a)[1] == [f"{w2a.split('@')[0]}@{ROUTING_DOMAIN}"]
    back = org.route("rollback", 2, *_ldap(slapd))
    assert back.returncode == 0, back.stderr
    assert _entry(slapd, w2a) == before[w2a]  # the original value, not the first cut-over's


def test_a_user_the_directory_does_not_know_stays_on_prem(org: Org, slapd: Slapd) -> None:
    w2a, w2b = org.wave(2)
    slapd.ldap(f"dn: uid={w2b.split('@')[0]},ou=People,{SUFFIX}\nchangetype: delete\n")
    done = org.route("cutover", 2, *_ldap(slapd), "--json")
    assert done.returncode == 1, done.stderr
    users = {u["user"]: u for u in json.loads(done.stdout)["users"]}
    assert users[w2a]["after"] == "cloud"
    assert users[w2b]["after"] == "onprem"
    assert users[w2b]["reason"] == f"directory: no entry below {SUFFIX} has the address {w2b}"
    assert w2b not in (org.onprem.config_dir / "skylift_transport").read_text()
