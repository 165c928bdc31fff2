"""The AD preset against a real Samba AD DC, into the scim2-server SCIM target."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from skylift.connectors.directory.ldap import PRESETS, LdapDirectorySource, open_ldap
from skylift.connectors.endpoint import Endpoint
from skylift.model.account import Secret
from tests.dirsync.conftest import BIG_GROUP_MEMBERS, child_pythonpath, scim_groups, scim_users
from tests.dirsync.samba_ad import ADMIN_PASSWORD, DISABLED, AdWriter, SambaAD
from tests.dirsync.servers import ScimServer

BUILT_IN = {
    "Domain Admins",
    "Enterprise Admins",
    "Schema Admins",
    "Administrators",
    "Domain Users",
    "Domain Computers",
    "Users",
    "Guests",
}


@dataclass
class AdSync:
    """``skylift dirsync --preset ad`` from the Samba DC over LDAPS, as a user runs it."""

    ad: SambaAD
    scim: ScimServer
    workdir: Path
    scope: tuple[str, ...] = ()
    source_url: str = ""

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [
            sys.executable, "-m", "skylift", "dirsync", "--preset", "ad",
            "--source", self.source_url or self.ad.url, "--ca-file", str(self.ad.ca_file), "--base", self.ad.base,
            "--bind", self.ad.admin_dn, "--target", self.scim.url,
            "--state", str(self.workdir / "state.db"), *self.scope, *args,
        ]  # fmt: skip
        env = {
            "SKYLIFT_LDAP_PASSWORD": ADMIN_PASSWORD,
            "SKYLIFT_SCIM_TOKEN": self.scim.token,
            "PYTHONPATH": child_pythonpath(),
        }
        return subprocess.run(
            cmd, capture_output=True, text=True, env=os.environ | env, timeout=300
        )

    def json(self, *args: str) -> dict:  # type: ignore[type-arg]
        done = self.run("--json", *args)
        assert done.returncode == 0, done.stderr
        assert ADMIN_PASSWORD not in done.stdout + done.stderr
        return json.loads(done.stdout)  # type: ignore[no-any-return]


def planned(result: dict, kind: str) -> set[str]:  # type: ignore[type-arg]
    return {c["name"] for c in result["items"] if c["kind"] == kind}


def member_ids(group: dict) -> set[str]:  # type: ignore[type-arg]
    return {m["value"] for m in group.get("members", [])}


def test_ad_preset_end_to_end_rename_move_and_disable_keep_memberships(
    samba_ad: SambaAD, scim: ScimServer, tmp_path: Path
) -> None:
    ad = AdWriter(samba_ad)
    ou = ad.ou("E2E")
    sub = ad.ou("Moved", ou)
    alice, bob, carol, dave = (ad.user(ou, n) for n in ("alice", "bob", "carol", "dave"))
    ad.replace(carol, userAccountControl=DISABLED)
    team = ad.group(ou, "Team", [alice, bob, carol, dave])
    ad.group(ou, "Pair", [alice, bob])
    mapping = tmp_path / "mapping.toml"  # the scope from a mapping file, users and groups
    mapping.write_text(f'preset = "ad"\n[scope]\nuser_ous = ["{ou}"]\ngroup_ous = ["{ou}"]\n')
    sync = AdSync(samba_ad, scim, tmp_path, ("--mapping", str(mapping)))

    first = sync.json("--apply")
    assert first["applied"] == 6 and not first["failed"]
    users = scim_users(scim)
    assert set(users) == {f"{n}@old.example" for n in ("alice", "bob", "carol", "dave")}
    assert users["alice@old.example"]["externalId"] == ad.guid(alice)  # objectGUID
    assert users["carol@old.example"]["active"] is False  # userAccountControl bit 2
    assert users["dave@old.example"]["active"] is True
    ids = {name.split("@")[0]: u["id"] for name, u in users.items()}
    assert member_ids(scim_groups(scim)["Team"]) == set(ids.values())

    usn = ad.usn_changed(team)
    alice = ad.rename(alice, "CN=alice-renamed")  # rename in place
    ad.rename(bob, "CN=bob", sub)  # move to another OU within scope
    ad.replace(dave, userAccountControl=DISABLED)
    assert ad.usn_changed(team) == usn  # AD leaves the group untouched: the quirk at stake

    delta = sync.json("--apply")
    assert delta["delta"] is True
    assert {(c["action"], c["name"]) for c in delta["items"]} == {("disable", "dave@old.example")}
    groups = scim_groups(scim)
    assert member_ids(groups["Team"]) == set(ids.values())  # nobody lost a membership
    assert member_ids(groups["Pair"]) == {ids["alice"], ids["bob"]}
    assert scim_users(scim)["dave@old.example"]["active"] is False

    assert sync.json("--apply")["items"] == []  # steady state: nothing planned
    assert sync.json("--apply", "--full")["items"] == []
    ad.close()


def test_built_in_and_critical_objects_are_not_planned(
    samba_ad: SambaAD, scim: ScimServer, tmp_path: Path
) -> None:
    ad = AdWriter(samba_ad)
    ou = ad.ou("Builtins")
    ad.group(ou, "Sales", [ad.user(ou, "erin")])
    ad.close()

    plan = AdSync(samba_ad, scim, tmp_path).json()  # the whole domain, default scope
    groups = planned(plan, "group")
    assert "Sales" in groups and "Everyone Big" in groups
    assert not groups & BUILT_IN
    assert not {g for g in groups if "Admins" in g or "Operators" in g}
    assert "erin@old.example" in planned(plan, "user")
    skipped = " ".join(plan["problems"]).lower()  # Administrator, krbtgt, Guest: not even that
    assert "administrator" not in skipped and "krbtgt" not in skipped

    scoped = AdSync(samba_ad, scim, tmp_path, ("--ou", ou)).json()  # --ou alone: users only
    assert planned(scoped, "user") == {"erin@old.example"}
    assert not planned(scoped, "group") & BUILT_IN


def test_group_ou_gives_groups_a_scope_of_their_own(
    samba_ad: SambaAD, scim: ScimServer, tmp_path: Path
) -> None:
    ad = AdWriter(samba_ad)
    ou = ad.ou("Scoped")
    people = ad.ou("People", ou)
    wanted = ad.ou("CloudGroups", ou)
    other = ad.ou("LocalGroups", ou)
    frank = ad.user(people, "frank")
    ad.group(wanted, "Cloud Team", [frank])
    ad.group(other, "Printer Admins Local", [frank])
    ad.close()

    starttls = f"ldap://127.0.0.1:{samba_ad.port}"  # StartTLS, verified with --ca-file
    sync = AdSync(samba_ad, scim, tmp_path, ("--ou", people, "--group-ou", wanted), starttls)
    plan = sync.json()
    assert planned(plan, "group") == {"Cloud Team"}
    assert planned(plan, "user") == {"frank@old.example"}
    done = sync.json("--apply")
    assert set(scim_groups(scim)) == {"Cloud Team"} and not done["failed"]


def test_group_of_1600_members_is_read_in_ranges(
    samba_ad: SambaAD, scim: ScimServer, tmp_path: Path
) -> None:
    # The connector itself, with a window smaller than AD's 1,500 to cross several ranges.
    endpoint = Endpoint.parse(samba_ad.url, ca_file=str(samba_ad.ca_file), timeout=30.0)
    for window in (PRESETS["ad"].member_range, 500):
        preset = dataclasses.replace(PRESETS["ad"], member_range=window)
        conn = open_ldap(endpoint, samba_ad.admin_dn, Secret(ADMIN_PASSWORD))
        source = LdapDirectorySource(conn, f"OU=Big,{samba_ad.base}", preset, {"cn"}, "", 10)
        (big,) = list(source.read_entries("group"))
        source.close()
        members = big.all("member")
        assert len(members) == len(set(members)) == BIG_GROUP_MEMBERS, window

    big_ou = f"OU=Big,{samba_ad.base}"
    sync = AdSync(samba_ad, scim, tmp_path, ("--ou", big_ou, "--group-ou", big_ou))
    done = sync.json("--apply")
    assert done["applied"] == BIG_GROUP_MEMBERS + 1 and not done["failed"]
    assert len(member_ids(scim_groups(scim)["Everyone Big"])) == BIG_GROUP_MEMBERS
    assert sync.json("--apply", "--full")["items"] == []
