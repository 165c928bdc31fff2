"""dirsync from a real OpenLDAP into Entra ID (Microsoft Graph) through the checked fake.

Every Graph request, and each request inside a ``$batch``, is validated against the pinned
CSDL slice (``fake.errors`` stays empty). The sync is driven as a user would: preview writes
nothing; apply creates the users (disabled where the source locks them), groups and nested
memberships, the members through ``$batch`` of at most 20 even when throttled inside the
batch; a rerun changes nothing; a leaver is disabled first, deleted with ``--on-leave delete``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dirsync.conftest import SOURCE_SUFFIX, STAFF, child_pythonpath
from tests.dirsync.servers import ADMIN_PASSWORD, Slapd, org_text
from tests.servers.graph_directory_fake import GraphDirectoryFake
from tests.servers.token_endpoint import TokenEndpoint

MAPPING = f"""
preset = "openldap"

[users]
userName = {{ from = "mail", transforms = ["lower", "domain:@old.example=@new.example"] }}
"emails.work" = {{ from = "mail", transforms = ["lower", "domain:@old.example=@new.example"] }}

[scope]
user_ous = ["{STAFF}"]
"""
World = tuple[Slapd, GraphDirectoryFake, TokenEndpoint, str, Path]


@pytest.fixture
def world(tmp_path: Path, ldap_tools: None) -> Iterator[World]:
    source = Slapd(tmp_path / "source", SOURCE_SUFFIX).start(org_text(users=30, groups=3))
    tokens = TokenEndpoint(tmp_path / "tokens", lifetime=60).start()
    tokens.add_tenant("new.example")
    app = tokens.add_app("new.example", secret="dir-secret")
    app.graph_roles = {"User.ReadWrite.All", "Group.ReadWrite.All"}
    secret = tmp_path / "secret.txt"
    secret.write_text("dir-secret")
    fake = GraphDirectoryFake(tokens, domain="new.example").start()
    fake.page_size = 500
    yield source, fake, tokens, app.client_id, secret
    fake.stop()
    tokens.stop()
    source.stop()


def _sync(world: World, tmp_path: Path, *args: str) -> dict:  # type: ignore[type-arg]
    source, fake, tokens, client_id, secret = world
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(MAPPING)
    cmd = [
        sys.executable, "-m", "skylift", "dirsync", "--source", source.url, "--base", SOURCE_SUFFIX,
        "--bind", source.admin_dn, "--mapping", str(mapping), "--state", str(tmp_path / "s.db"),
        "--target-profile", "microsoft365", "--target-api-base", fake.api_base,
        "--target-oauth-tenant", "new.example", "--target-oauth-client-id", client_id,
        "--target-oauth-client-secret-file", str(secret), "--target-oauth-authority", tokens.url,
        "--target-base", "new.example", "--target-ca", str(tokens.ca_file), "--json", *args,
    ]  # fmt: skip
    env = os.environ | {"SKYLIFT_LDAP_PASSWORD": ADMIN_PASSWORD, "PYTHONPATH": child_pythonpath()}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240)
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_entra_directory_sync_end_to_end(world: World, tmp_path: Path) -> None:
    source, fake, _, _, _ = world
    preview = _sync(world, tmp_path)
    assert preview["mode"] == "preview" and preview["counts"]["create"] == 30 + 4
    assert fake.users == {}

    fake.batch_throttle = 3  # three member additions answered 429 inside a batch
    first = _sync(world, tmp_path, "--apply")
    assert not first["failed"], first
    assert fake.errors == [], fake.errors
    users = {u["userPrincipalName"]: u for u in fake.users.values()}
    assert len(users) == 30
    seven = users["user00007@new.example"]
    assert seven["givenName"] == "Given7" and seven["onPremisesImmutableId"]
    assert "passwordProfile" not in seven and fake.passwords_set == 30
    assert users["user00024@new.example"]["accountEnabled"] is False  # locked at the source
    groups = {g["displayName"]: g for g in fake.groups.values()}
    assert len(groups) == 4 and all(g["uniqueName"].startswith("skylift-") for g in groups.values())
    nested = fake.members[groups["all-staff"]["id"]]
    assert nested == {groups[f"dept{g:03d}"]["id"] for g in range(3)}
    assert sum(len(m) for m in fake.members.values()) > 20  # enough to need several batches
    assert fake.batch_sizes and max(fake.batch_sizes) <= 20
    assert fake.batch_throttle == 0

    calls = len(fake.calls)
    again = _sync(world, tmp_path, "--apply")
    assert again["applied"] == 0 and again["items"] == []
    assert all(c.method == "GET" for c in fake.calls[calls:])  # a rerun writes nothing

    source.ldap(f"dn: uid=user00005,{STAFF}\nchangetype: delete\n")
    gone = _sync(world, tmp_path, "--apply")
    assert not gone["failed"]
    five = users["user00005@new.example"]["id"]
    assert fake.users[five]["accountEnabled"] is False  # disable first
    deleted = _sync(world, tmp_path, "--apply", "--on-leave", "delete")
    assert not deleted["failed"]
    assert five not in fake.users
    assert fake.errors == []
