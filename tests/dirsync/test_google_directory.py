"""dirsync from a real OpenLDAP into Google Workspace (Admin SDK) through the checked fake.

Every Directory API request is validated against the pinned discovery slice (``fake.errors``
stays empty). The sync is driven as a user would: preview writes nothing; apply creates the
users (suspended where the source locks them), groups and nested memberships; a rerun
changes nothing; a leaver is suspended first (disable), deleted with ``--on-leave delete``;
the threshold stops a run that would remove too many.
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
from tests.servers.google_fake import GoogleFake
from tests.servers.token_endpoint import TokenEndpoint

ADMIN = "admin@new.example"
SCOPES = {
    "https://www.googleapis.com/auth/admin.directory.user",
    "https://www.googleapis.com/auth/admin.directory.group",
}
MAPPING = f"""
preset = "openldap"

[users]
userName = {{ from = "mail", transforms = ["lower", "domain:@old.example=@new.example"] }}
"emails.work" = {{ from = "mail", transforms = ["lower", "domain:@old.example=@new.example"] }}

[scope]
user_ous = ["{STAFF}"]
"""


@pytest.fixture
def world(
    tmp_path: Path, ldap_tools: None
) -> Iterator[tuple[Slapd, GoogleFake, Path, TokenEndpoint]]:
    source = Slapd(tmp_path / "source", SOURCE_SUFFIX).start(org_text(users=30, groups=3))
    tokens = TokenEndpoint(tmp_path / "tokens", lifetime=60).start()
    key = tokens.add_service_account("new.example", {ADMIN}, SCOPES)
    fake = GoogleFake(tokens).start()
    fake.domain = "new.example"
    fake.admins = {ADMIN}
    fake.page_size = 500
    yield source, fake, key, tokens
    fake.stop()
    tokens.stop()
    source.stop()


def _sync(world: tuple[Slapd, GoogleFake, Path, TokenEndpoint], tmp_path: Path, *args: str) -> dict:  # type: ignore[type-arg]
    source, fake, key, tokens = world
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(MAPPING)
    cmd = [
        sys.executable, "-m", "skylift", "dirsync", "--source", source.url, "--base", SOURCE_SUFFIX,
        "--bind", source.admin_dn, "--mapping", str(mapping), "--state", str(tmp_path / "s.db"),
        "--target-profile", "google-workspace", "--target-api-base", fake.api_base,
        "--target-oauth-service-account", str(key), "--target-admin", ADMIN,
        "--target-base", "new.example", "--target-ca", str(tokens.ca_file), "--json", *args,
    ]  # fmt: skip
    env = os.environ | {"SKYLIFT_LDAP_PASSWORD": ADMIN_PASSWORD, "PYTHONPATH": child_pythonpath()}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240)
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_google_directory_sync_end_to_end(
    world: tuple[Slapd, GoogleFake, Path, TokenEndpoint], tmp_path: Path
) -> None:
    source, fake, _, _ = world
    preview = _sync(world, tmp_path)
    assert preview["mode"] == "preview" and preview["counts"]["create"] == 30 + 4
    assert fake.users == {}

    first = _sync(world, tmp_path, "--apply")
    assert not first["failed"], first
    assert fake.errors == [], fake.errors
    users = {u["primaryEmail"]: u for u in fake.users.values()}
    assert len(users) == 30
    seven = users["user00007@new.example"]
    assert seven["name"]["givenName"] == "Given7" and seven["externalIds"][0]["value"]
    assert "password" not in seven and fake.passwords_set == 30
    assert users["user00024@new.example"]["suspended"] is True  # locked at the source
    groups = {g["name"]: g for g in fake.dgroups.values()}
    assert len(groups) == 4
    nested = fake.members[groups["all-staff"]["id"]]
    assert nested == {groups[f"dept{g:03d}"]["id"] for g in range(3)}

    calls = len(fake.calls)
    again = _sync(world, tmp_path, "--apply")
    assert again["applied"] == 0 and again["items"] == []
    assert all(c.method == "GET" for c in fake.calls[calls:])  # a rerun writes nothing

    source.ldap(f"dn: uid=user00005,{STAFF}\nchangetype: delete\n")
    gone = _sync(world, tmp_path, "--apply")
    assert not gone["failed"]
    assert users["user00005@new.example"]["id"] in fake.users
    assert fake.users[users["user00005@new.example"]["id"]]["suspended"] is True  # disable first
    deleted = _sync(world, tmp_path, "--apply", "--on-leave", "delete")
    assert not deleted["failed"]
    assert users["user00005@new.example"]["id"] not in fake.users
    assert fake.errors == []
