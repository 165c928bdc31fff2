"""A conflict blocks memberships once, plainly, and reruns stay quiet (real slapd and SCIM)."""

from __future__ import annotations

import json

from tests.dirsync.conftest import STAFF, Sync, scim_groups, scim_users
from tests.dirsync.servers import ScimServer, Slapd

CONFLICT = f"""dn: uid=user00001,{STAFF}
changetype: modify
replace: mail
mail: user00002@old.example
"""


def apply(sync: Sync, *args: str) -> dict:  # type: ignore[type-arg]
    done = sync.run("--json", "--apply", *args)
    assert done.returncode == 1, done.stderr  # applied, but a conflict left objects unsynced
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def quiet(result: dict) -> bool:  # type: ignore[type-arg]
    """No change planned: only the conflict and the memberships it blocks are reported."""
    counts = {k: v for k, v in result["counts"].items() if k not in ("conflict", "blocked")}
    actions = {c["action"] for c in result["items"]}
    return not any(counts.values()) and actions <= {"conflict", "blocked"}


def test_conflicting_mail_blocks_memberships_once_and_reruns_plan_nothing(
    scim_sync: Sync, source: Slapd, scim: ScimServer
) -> None:
    source.ldap(CONFLICT)
    first = apply(scim_sync)
    again = apply(scim_sync)  # delta
    assert quiet(again), again["items"]
    assert first["counts"]["conflict"] == 1 and first["counts"]["blocked"] == 2
    assert first["blocked"] == [
        f"blocked: 1 membership(s) of group dept001 wait for a conflict to be fixed: "
        f"uid=user00001,{STAFF}",
        f"blocked: 1 membership(s) of group dept002 wait for a conflict to be fixed: "
        f"uid=user00002,{STAFF}",
    ]
    assert "user00002@new.example" not in scim_users(scim)  # neither claimant was created

    for rerun in (again, apply(scim_sync, "--full")):  # delta, then full
        assert quiet(rerun), rerun["items"]
        assert rerun["blocked"] == first["blocked"] and rerun["applied"] == 0

    text = scim_sync.run("--apply").stdout  # what a person reads: each block said once
    assert text.count("membership(s) of group dept001") == 1
    assert text.count("membership(s) of group dept002") == 1
    assert "summary: conflict 1, blocked 2" in text

    source.ldap(CONFLICT.replace("user00002@old.example", "user00001@old.example"))
    fixed = scim_sync.json("--apply")  # the data is fixed: the held memberships follow
    assert fixed["blocked"] == [] and not fixed["failed"]
    users = scim_users(scim)
    groups = scim_groups(scim)
    for n in (1, 2):
        member_ids = {m["value"] for m in groups[f"dept{n:03d}"]["members"]}
        assert users[f"user{n:05d}@new.example"]["id"] in member_ids
    assert scim_sync.json("--apply")["items"] == []
