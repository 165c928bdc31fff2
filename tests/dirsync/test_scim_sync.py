"""LDAP source -> SCIM 2.0 target, end to end through ``skylift dirsync``, real servers."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.dirsync.conftest import (
    SOURCE_SUFFIX,
    STAFF,
    Sync,
    child_pythonpath,
    scim_groups,
    scim_users,
)
from tests.dirsync.servers import ADMIN_PASSWORD, ScimServer, Slapd, free_port, org_text
from tests.mailtools import run_skylift

USERS = 240
GROUPS = 13  # 12 departments + all-staff
LOCKED = [f"user{i:05d}@new.example" for i in range(24, USERS, 25)]


def test_preview_changes_nothing_and_writes_the_diff(
    scim_sync: Sync, scim: ScimServer, tmp_path: Path
) -> None:
    out = tmp_path / "diff"
    result = scim_sync.json("--out", str(out))

    assert result["mode"] == "preview"
    assert result["counts"]["create"] == USERS + GROUPS
    assert scim_users(scim) == {}
    plan = json.loads((out / "dirsync-plan.json").read_text())
    assert {c["reason"] for c in plan["changes"]} == {"create"}
    csv_lines = (out / "dirsync-plan.csv").read_text().splitlines()
    assert csv_lines[0].startswith("action,kind,name")
    assert len(csv_lines) == 1 + USERS + GROUPS

    filtered = scim_sync.json("--filter", "(title=Engineer 1)")
    assert filtered["counts"]["create"] == len(range(1, USERS, 7)) + GROUPS
    leavers_only = scim_sync.json("--ou", f"ou=Leavers,ou=People,{SOURCE_SUFFIX}")
    assert leavers_only["counts"]["create"] == GROUPS  # nobody works in Leavers yet


def test_first_sync_creates_all_and_a_rerun_changes_nothing(
    scim_sync: Sync, scim: ScimServer
) -> None:
    first = scim_sync.json("--apply")
    assert first["applied"] == USERS + GROUPS and not first["failed"]

    users = scim_users(scim)
    assert len(users) == USERS
    jane = users["user00007@new.example"]
    assert jane["emails"][0]["value"] == "user00007@new.example"
    assert jane["name"] == {"givenName": "Given7", "familyName": "Family7"}
    assert jane["externalId"]  # the source anchor (entryUUID)
    assert sorted(u for u, r in users.items() if not r["active"]) == LOCKED
    groups = scim_groups(scim)
    assert len(groups) == GROUPS
    dept3 = {m["value"] for m in groups["dept003"]["members"]}
    assert users["user00003@new.example"]["id"] in dept3 and len(dept3) == USERS // 12
    nested = {m["value"] for m in groups["all-staff"]["members"]}
    assert nested == {groups[f"dept{g:03d}"]["id"] for g in range(12)}

    again = scim_sync.json("--apply")
    assert again["items"] == [] and again["applied"] == 0
    assert scim_users(scim) == users  # not even a version bump

    jobs = run_skylift(
        "jobs", "--state", scim_sync.workdir / "state.db", "--kind", "directory", "--all", "--json"
    )
    units = json.loads(jobs.stdout)["items"]
    assert [(u["kind"], u["state"]) for u in units] == [("directory", "done")] * 2
    assert units[1]["items"] == USERS + GROUPS and units[0]["items"] == 0


def test_rename_disable_delete_move_and_membership_propagate(
    scim_sync: Sync, source: Slapd, scim: ScimServer
) -> None:
    scim_sync.json("--apply")
    before = scim_users(scim)
    source.ldap(
        f"""dn: uid=user00010,{STAFF}
changetype: modify
replace: sn
sn: Renamed
-
replace: displayName
displayName: Given10 Renamed

dn: uid=user00011,{STAFF}
changetype: modify
add: pwdAccountLockedTime
pwdAccountLockedTime: 000001010000Z

dn: uid=user00012,{STAFF}
changetype: delete

dn: uid=user00013,{STAFF}
changetype: modrdn
newrdn: uid=user00013
deleteoldrdn: 1
newsuperior: ou=Leavers,ou=People,{SOURCE_SUFFIX}

dn: cn=dept001,ou=Groups,{SOURCE_SUFFIX}
changetype: modify
delete: member
member: uid=user00001,{STAFF}
-
add: member
member: uid=user00000,{STAFF}
"""
    )
    result = scim_sync.json("--apply")
    reasons = {(c["action"], c["name"]): c["reason"] for c in result["items"]}

    assert (
        reasons[("update", "user00010@new.example")]
        == "update: displayName changed, familyName changed"
    )
    assert reasons[("disable", "user00011@new.example")] == "disable: account disabled in source"
    assert reasons[("disable", "user00012@new.example")].startswith("disable: deleted in source")
    assert reasons[("disable", "user00013@new.example")] == (
        f"disable: left scope (moved to ou=Leavers,ou=People,{SOURCE_SUFFIX})"
    )
    assert not result["failed"]
    after = scim_users(scim)
    assert after["user00010@new.example"]["name"]["familyName"] == "Renamed"
    assert after["user00010@new.example"]["id"] == before["user00010@new.example"]["id"]
    for name in ("user00011", "user00012", "user00013"):
        assert after[f"{name}@new.example"]["active"] is False  # disabled, not deleted
    dept1 = {m["value"] for m in scim_groups(scim)["dept001"].get("members", [])}
    assert after["user00000@new.example"]["id"] in dept1
    assert after["user00001@new.example"]["id"] not in dept1

    assert scim_sync.json("--apply")["items"] == []


def test_delete_threshold_stops_a_mass_deletion_with_nothing_changed(
    scim_sync: Sync, source: Slapd, scim: ScimServer
) -> None:
    scim_sync.json("--apply")
    source.ldap(
        "".join(f"dn: uid=user{i:05d},{STAFF}\nchangetype: delete\n\n" for i in range(100, 130))
    )

    done = scim_sync.run("--apply", "--delete-threshold", "10%")
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1].startswith(
        "skylift: error: this run would disable or delete 29 objects"
    )
    assert "nothing was changed" in done.stderr and "Traceback" not in done.stderr
    assert all(r["active"] for n, r in scim_users(scim).items() if n not in LOCKED)

    done = scim_sync.run("--apply", "--delete-threshold", "30")
    assert done.returncode == 0, done.stderr
    assert sum(1 for r in scim_users(scim).values() if not r["active"]) == 29 + len(LOCKED)


def test_delete_after_hard_deletes_objects_disabled_long_enough(
    scim_sync: Sync, source: Slapd, scim: ScimServer
) -> None:
    scim_sync.json("--apply")
    source.ldap(f"dn: uid=user00005,{STAFF}\nchangetype: delete\n")
    scim_sync.json("--apply", "--delete-after", "30d")
    assert scim_users(scim)["user00005@new.example"]["active"] is False

    result = scim_sync.json("--apply", "--delete-after", "0s")
    assert [c["action"] for c in result["items"]] == ["delete"]
    assert result["items"][0]["reason"].startswith("delete: disabled since")
    assert "user00005@new.example" not in scim_users(scim)


def test_soft_match_adopts_and_conflicts_are_reported_not_merged(
    scim_sync: Sync, source: Slapd, scim: ScimServer
) -> None:
    headers = {"Authorization": f"Bearer {scim.token}"}
    schema = ["urn:ietf:params:scim:schemas:core:2.0:User"]
    existing = {"schemas": schema, "userName": "user00002@new.example", "title": "Pre-existing"}
    adopted = httpx.post(f"{scim.http_url}/Users", json=existing, headers=headers).json()
    foreign = {
        "schemas": schema,
        "userName": "user00003@new.example",
        "externalId": "other-system-42",
    }
    httpx.post(f"{scim.http_url}/Users", json=foreign, headers=headers)
    source.ldap(
        f"dn: uid=user00004,{STAFF}\nchangetype: modify\n"
        "replace: mail\nmail: user00006@old.example\n"
    )

    preview = scim_sync.json()
    report = preview["preflight"]
    assert report["likely_matches"] == [
        {
            "source": "user00002@new.example",
            "target_id": adopted["id"],
            "how": "soft-match existing target user by email",
        }
    ]
    assert any(
        "user00003@new.example" in c and "another system" in c for c in report["other_conflicts"]
    )
    assert any(
        "2 sources claim email user00006@new.example" in c for c in report["source_duplicates"]
    )

    done = scim_sync.run("--apply", "--json")
    assert done.returncode == 1  # applied, but some objects wait for a person
    result = json.loads(done.stdout)
    users = scim_users(scim)
    assert users["user00002@new.example"]["id"] == adopted["id"]  # adopted, not duplicated
    assert users["user00002@new.example"]["externalId"]
    assert users["user00003@new.example"]["externalId"] == "other-system-42"  # untouched
    assert "user00004@new.example" not in users and "user00006@new.example" not in users
    assert result["counts"]["conflict"] == 2


def test_bad_credentials_and_unreachable_servers_give_clear_errors(
    scim_sync: Sync, scim: ScimServer
) -> None:
    done = scim_sync.run(env={"SKYLIFT_LDAP_PASSWORD": "wrong-password"})
    assert done.returncode == 3
    assert done.stderr.strip().splitlines() == [
        f"skylift: error: {scim_sync.source.url} refused the bind for cn=admin,{SOURCE_SUFFIX}: "
        "invalid credentials"
    ]
    assert "wrong-password" not in done.stderr + done.stdout

    done = scim_sync.run(env={"SKYLIFT_SCIM_TOKEN": "not-the-token"})
    assert done.returncode == 3 and "refused the SCIM token (401)" in done.stderr
    assert "not-the-token" not in done.stderr + done.stdout

    closed = free_port()
    done = Sync(
        scim_sync.source, f"scim+http://127.0.0.1:{closed}/v2", scim_sync.workdir, scim_sync.env
    ).run()
    assert done.returncode == 3 and done.stderr.startswith(
        f"skylift: error: cannot reach http://127.0.0.1:{closed}/v2"
    )

    done = scim_sync.run("--filter", "(title=unbalanced")
    assert done.returncode == 2 and "bad LDAP filter '(title=unbalanced'" in done.stderr

    done = scim_sync.run("--delete-threshold", "lots")
    assert done.returncode == 2 and "--delete-threshold must be a count" in done.stderr


def test_plaintext_beyond_loopback_is_refused(scim_sync: Sync) -> None:
    done = Sync(
        scim_sync.source, "scim+http://scim.example.invalid/v2", scim_sync.workdir, scim_sync.env
    ).run()
    assert done.returncode == 2
    assert "plaintext HTTP; use scim+https:// or pass --allow-plaintext" in done.stderr


def test_journal_records_every_applied_change(scim_sync: Sync, source: Slapd) -> None:
    scim_sync.json("--apply")
    source.ldap(f"dn: uid=user00020,{STAFF}\nchangetype: modify\nreplace: title\ntitle: Chief\n")
    scim_sync.json("--apply")

    done = scim_sync.run_journal("--json", "--limit", "1")
    report = json.loads(done.stdout)
    assert report["command"] == "dirsync-journal" and report["totals"]["ok"] == 1
    [row] = report["items"]
    assert (row["action"], row["name"], row["ok"]) == ("update", "user00020@new.example", True)
    assert row["before"] == {"title": "Engineer 6"} and row["after"] == {"title": "Chief"}
    assert ADMIN_PASSWORD not in done.stdout


def test_rate_limited_provider_is_waited_for_not_failed(tmp_path: Path, ldap_tools: None) -> None:
    import time

    from tests.dirsync.servers import RateLimitedScim, org_text

    small = Slapd(tmp_path / "small", SOURCE_SUFFIX).start(org_text(users=8, groups=2))
    limited = RateLimitedScim(every=6).start()
    try:
        env = {"SKYLIFT_LDAP_PASSWORD": ADMIN_PASSWORD, "SKYLIFT_SCIM_TOKEN": limited.token}
        sync = Sync(small, limited.url, tmp_path, env | {"PYTHONPATH": child_pythonpath()})
        started = time.monotonic()
        result = sync.json("--apply")
        assert result["applied"] == 8 + 3 and not result["failed"]
        assert limited.refused >= 2
        assert time.monotonic() - started >= limited.refused  # waited Retry-After: 1 each time

        small.ldap(f"dn: uid=user00001,{STAFF}\nchangetype: modify\nreplace: title\ntitle: Lead\n")
        assert sync.json("--apply", "--full")["applied"] == 1
        assert limited.if_match and limited.if_match[-1].startswith('W/"')  # ETag honoured
    finally:
        limited.stop()
        small.stop()


def test_starttls_and_ldaps_verify_the_server_certificate(
    tmp_path: Path, scim: ScimServer, ldap_tools: None
) -> None:
    from skylift.demo.dovecot import make_self_signed_cert

    (tmp_path / "tls").mkdir()
    cert = make_self_signed_cert(tmp_path / "tls", "localhost")
    secure = Slapd(tmp_path / "secure", SOURCE_SUFFIX, cert=cert).start(org_text(users=3, groups=1))
    try:
        env = {"SKYLIFT_LDAP_PASSWORD": ADMIN_PASSWORD, "SKYLIFT_SCIM_TOKEN": scim.token}
        env |= {"PYTHONPATH": child_pythonpath()}
        untrusted = Sync(secure, scim.url, tmp_path, env).run()
        assert untrusted.returncode == 3
        assert "StartTLS with ldap://127.0.0.1" in untrusted.stderr and "failed" in untrusted.stderr

        trusted = Sync(secure, scim.url, tmp_path, env).run("--source-ca", str(cert[0]), "--json")
        assert trusted.returncode == 0, trusted.stderr
        assert json.loads(trusted.stdout)["counts"]["create"] == 3 + 2

        ldaps_url = f"ldaps://127.0.0.1:{secure.ldaps_port}"
        ldaps = Sync(secure, scim.url, tmp_path, env, source_url=ldaps_url)
        untrusted = ldaps.run()
        assert untrusted.returncode == 3 and "certificate verify failed" in untrusted.stderr
        done = ldaps.run("--ca-file", str(cert[0]), "--json")  # the old spelling still works
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["counts"]["create"] == 3 + 2
    finally:
        secure.stop()


def test_the_newest_preview_is_kept_for_the_dashboard_and_an_apply_clears_it(
    scim_sync: Sync, scim: ScimServer
) -> None:
    from skylift.runners.dirsync import read_previews

    state = scim_sync.workdir / "state.db"
    preview = scim_sync.json()
    kept = read_previews(state)
    assert len(kept) == preview["counts"]["create"] == USERS + GROUPS
    assert {(p["action"], p["reason"]) for p in kept} == {("create", "create")}
    assert {p["name"] for p in kept} == {c["name"] for c in preview["items"]}
    applied = scim_sync.json("--apply")
    assert applied["mode"] == "apply"
    assert read_previews(state) == []  # applied: nothing is pending any more
