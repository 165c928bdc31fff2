"""AD's ``targetAddress`` on a real Samba AD DC: refused while the schema lacks it (it is an
Exchange schema attribute, not in Samba's or plain AD's schema), so the wave stays on-prem
with the reason; once the schema carries it (added here as Exchange's schema update adds
it: attribute 1.2.840.113556.1.2.352, may-contain of Mail-Recipient), cut-over sets
``SMTP:local@routing domain`` and rollback removes it again."""

from __future__ import annotations

import json

import pytest
from ldap3 import BASE, MODIFY_ADD, Connection
from ldap3.operation.modify import modify_operation

from tests.dirsync.samba_ad import ADMIN_PASSWORD, AdWriter, SambaAD
from tests.routing.conftest import Org

ROUTING_DOMAIN = "corp.mail.onmicrosoft.test"


def _refresh_schema(conn: Connection) -> None:
    """``schemaUpdateNow`` on the rootDSE (ldap3's modify() refuses the empty DN)."""
    request = modify_operation(
        "", {"schemaUpdateNow": [(MODIFY_ADD, ["1"])]}, conn.auto_encode, None,
        validator=None, check_names=False,
    )  # fmt: skip
    conn.post_send_single_response(conn.send("modifyRequest", request, None))


def _extend_schema(ad: SambaAD) -> None:
    conn = ad.connect()
    schema = f"CN=Schema,CN=Configuration,{ad.base}"
    conn.add(
        f"CN=ms-Exch-Target-Address,{schema}", ["top", "attributeSchema"],
        {"lDAPDisplayName": "targetAddress", "attributeID": "1.2.840.113556.1.2.352",
         "attributeSyntax": "2.5.5.12", "oMSyntax": 64, "isSingleValued": "TRUE",
         "adminDisplayName": "ms-Exch-Target-Address", "searchFlags": 0},
    )  # fmt: skip
    _refresh_schema(conn)
    conn.modify(f"CN=Mail-Recipient,{schema}", {"mayContain": [(MODIFY_ADD, ["targetAddress"])]})
    _refresh_schema(conn)
    conn.unbind()


def _target_address(ad: SambaAD, dn: str) -> list[str]:
    conn = ad.connect()  # a fresh connection reads the schema as it is now
    conn.search(dn, "(objectClass=*)", BASE, attributes=["*"])
    value = conn.response[0]["attributes"].get("targetAddress") or []
    conn.unbind()
    return [value] if isinstance(value, str) else list(value)


def test_target_address_is_refused_without_the_exchange_schema_and_moves_with_it(
    org: Org, samba_ad: SambaAD, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SKYLIFT_LDAP_PASSWORD", ADMIN_PASSWORD)
    writer = AdWriter(samba_ad)
    ou = writer.ou(f"Routing{org.tmp.name[-8:].replace('_', '')}")
    dns = {u: writer.user(ou, u.split("@")[0], mail=u) for u in org.users}
    writer.close()
    w2a, w2b = org.wave(2)
    ad = [
        "--routing-ldap", f"ldaps://127.0.0.1:{samba_ad.ldaps_port}",
        "--routing-ldap-ca", str(samba_ad.ca_file), "--routing-ldap-base", ou,
        "--routing-ldap-bind", samba_ad.admin_dn, "--routing-attribute", "targetAddress",
        "--routing-domain", ROUTING_DOMAIN,
    ]  # fmt: skip

    refused = org.route("cutover", 2, *ad, "--json")
    assert refused.returncode == 1, refused.stderr
    users = {u["user"]: u for u in json.loads(refused.stdout)["users"]}
    assert {u["after"] for u in users.values()} == {"onprem"}
    assert all("targetAddress" in u["reason"] for u in users.values()), users

    _extend_schema(samba_ad)
    moved = org.route("cutover", 2, *ad)
    assert moved.returncode == 0, moved.stdout + moved.stderr
    for user in (w2a, w2b):
        assert _target_address(samba_ad, dns[user]) == [
            f"SMTP:{user.split('@')[0]}@{ROUTING_DOMAIN}"
        ]
    assert _target_address(samba_ad, dns[org.wave(3)[0]]) == []
    back = org.route("rollback", 2, *ad)
    assert back.returncode == 0, back.stdout + back.stderr
    assert all(_target_address(samba_ad, dns[u]) == [] for u in (w2a, w2b))
