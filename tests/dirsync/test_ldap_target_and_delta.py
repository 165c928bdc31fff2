"""LDAP -> LDAP sync, delta runs and the --every loop, against real slapd and SCIM servers."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

from tests.dirsync.conftest import MAPPING, STAFF, TARGET_SUFFIX, Sync, scim_users
from tests.dirsync.servers import ADMIN_PASSWORD, ScimServer, Slapd


def ldap_entries(
    server: Slapd, base: str, flt: str, *attrs: str
) -> dict[str, dict[str, list[str]]]:
    """Entries below *base* as {dn: {attr: values}}, read with ldapsearch."""
    out = subprocess.run(
        ["ldapsearch", "-LLL", "-o", "ldif-wrap=no", "-x", "-H", server.url, "-D", server.admin_dn,
         "-w", ADMIN_PASSWORD, "-b", base, flt, *attrs],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    entries: dict[str, dict[str, list[str]]] = {}
    for block in out.strip().split("\n\n"):
        lines = [ln for ln in block.splitlines() if ": " in ln]
        if not lines:
            continue
        dn = lines[0].split(": ", 1)[1]
        attrs_of: dict[str, list[str]] = {}
        for ln in lines[1:]:
            key, value = ln.split(": ", 1)
            attrs_of.setdefault(key, []).append(value)
        entries[dn] = attrs_of
    return entries


def test_ldap_target_gets_users_groups_and_changes(
    ldap_sync: Sync, source: Slapd, ldap_target: Slapd
) -> None:
    first = ldap_sync.json("--apply")
    assert first["applied"] == 253 and not first["failed"]
    people = f"ou=People,{TARGET_SUFFIX}"
    users = ldap_entries(
        ldap_target, people, "(objectClass=inetOrgPerson)", "uid", "mail", "employeeType", "sn"
    )
    assert len(users) == 240
    jane = users[f"uid=user00007@new.example,{people}"]
    assert jane["mail"] == ["user00007@new.example"] and jane["sn"] == ["Family7"]
    assert users[f"uid=user00024@new.example,{people}"]["employeeType"] == ["disabled"]
    groups = ldap_entries(ldap_target, f"ou=Groups,{TARGET_SUFFIX}", "(cn=all-staff)", "member")
    assert len(groups[f"cn=all-staff,ou=Groups,{TARGET_SUFFIX}"]["member"]) == 12

    assert ldap_sync.json("--apply")["items"] == []

    source.ldap(
        f"dn: uid=user00030,{STAFF}\nchangetype: modify\n"
        "replace: mail\nmail: renamed30@old.example\n\n"
        f"dn: uid=user00031,{STAFF}\nchangetype: delete\n"
    )
    result = ldap_sync.json("--apply")
    assert {(c["action"], c["name"]) for c in result["items"]} == {
        ("update", "renamed30@new.example"),
        ("disable", "user00031@new.example"),
        ("update", "dept007"),  # user00031 leaves its department
    }
    users = ldap_entries(ldap_target, people, "(objectClass=inetOrgPerson)", "uid", "employeeType")
    assert f"uid=renamed30@new.example,{people}" in users  # renamed in place (modrdn)
    assert f"uid=user00030@new.example,{people}" not in users
    assert users[f"uid=user00031@new.example,{people}"]["employeeType"] == ["disabled"]
    assert ldap_sync.json("--apply")["items"] == []


def test_delta_reads_only_changed_entries(scim_sync: Sync, source: Slapd, scim: ScimServer) -> None:
    assert scim_sync.json("--apply")["delta"] is False
    source.ldap(f"dn: uid=user00040,{STAFF}\nchangetype: modify\nreplace: title\ntitle: Director\n")
    scim_sync.json("--apply")
    source.ldap(
        f"dn: uid=user00041,{STAFF}\nchangetype: modify\nreplace: title\ntitle: Manager\n\n"
        f"dn: uid=user00042,{STAFF}\nchangetype: delete\n"
    )
    done = scim_sync.run("--apply")
    assert done.returncode == 0, done.stderr
    assert "read 252 source entries (delta: 1 changed)" in done.stderr
    users = scim_users(scim)
    assert users["user00040@new.example"]["title"] == "Director"
    assert users["user00041@new.example"]["title"] == "Manager"
    assert users["user00042@new.example"]["active"] is False  # deletion seen by the anchor listing

    full = scim_sync.json("--apply", "--full")
    assert full["delta"] is False and full["items"] == []


def test_every_keeps_syncing_and_survives_a_target_outage(
    source: Slapd, scim: ScimServer, tmp_path: Path
) -> None:
    from skylift.connectors.endpoint import Endpoint
    from skylift.engine.directory.mapping import default_mapping
    from skylift.model.account import Secret
    from skylift.runners.dirsync import SyncOptions, run_every

    options = SyncOptions(
        source=Endpoint.parse(source.url),
        base="dc=old,dc=example",
        bind_dn=source.admin_dn,
        bind_password=Secret(ADMIN_PASSWORD),
        target=Endpoint.parse(scim.url),
        mapping=default_mapping("openldap"),
        state=tmp_path / "every.db",
        apply=True,
        scim_token=Secret(scim.token),
    )
    results = []
    logs: list[str] = []
    worst = run_every(options, timedelta(seconds=0), logs.append, results.append, runs=2)
    assert worst == 0
    assert [r.applied for r in results] == [253, 0]
    assert len(scim_users(scim)) == 240

    scim.stop()
    worst = run_every(options, timedelta(seconds=0), logs.append, results.append, runs=1)
    assert worst == 3 and logs[-1].startswith("run failed, retrying in 0:00:00: cannot reach")


def test_every_from_the_command_line_syncs_until_ctrl_c(scim_sync: Sync, scim: ScimServer) -> None:
    import os
    import signal
    import sys
    import time

    mapping = scim_sync.workdir / "mapping.toml"
    scim_sync.run("--out", str(scim_sync.workdir))  # writes the mapping file, previews
    cmd = [
        sys.executable, "-m", "skylift", "dirsync", "--source", scim_sync.source.url,
        "--base", "dc=old,dc=example", "--bind", scim_sync.source.admin_dn,
        "--target", scim_sync.target_url, "--mapping", str(mapping),
        "--state", str(scim_sync.workdir / "state.db"), "--apply", "--every", "1h",
    ]  # fmt: skip
    loop = subprocess.Popen(
        cmd,
        env=os.environ | scim_sync.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while len(scim_users(scim)) < 240 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert len(scim_users(scim)) == 240
        loop.send_signal(signal.SIGINT)
        _out, err = loop.communicate(timeout=60)
    finally:
        if loop.poll() is None:
            loop.kill()
            loop.wait()
    assert loop.returncode == 130, err
    assert "Traceback" not in err
    resumed = scim_sync.json("--apply")  # the interrupted loop left a consistent state
    assert not resumed["failed"] and scim_sync.json("--apply")["items"] == []


def test_a_mapping_that_reads_a_new_attribute_reaches_unchanged_users(
    scim_sync: Sync, scim: ScimServer, tmp_path: Path
) -> None:
    assert scim_sync.json("--apply")["applied"] == 253
    assert scim_sync.json("--apply")["delta"] is True
    mapping = tmp_path / "title-from-cn.toml"  # cn was never read before: not in any snapshot
    mapping.write_text(MAPPING.replace("[scope]", 'title = "cn"\n\n[scope]'), encoding="utf-8")
    result = scim_sync.json("--apply", "--mapping", str(mapping))
    assert result["delta"] is False  # a full read, though nothing changed in the source
    assert result["counts"]["update"] == 240
    assert scim_users(scim)["user00007@new.example"]["title"] == "Given7 Family7"


def test_ctrl_c_during_an_apply_stops_after_the_change_in_hand(
    scim_sync: Sync, scim: ScimServer
) -> None:
    import json
    import os
    import signal
    import sys
    import time

    import httpx

    mapping = scim_sync.workdir / "mapping.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    cmd = [
        sys.executable, "-m", "skylift", "dirsync", "--source", scim_sync.source.url,
        "--base", "dc=old,dc=example", "--bind", scim_sync.source.admin_dn,
        "--target", scim_sync.target_url, "--mapping", str(mapping),
        "--state", str(scim_sync.workdir / "state.db"), "--apply", "--json",
    ]  # fmt: skip
    run = subprocess.Popen(
        cmd, env=os.environ | scim_sync.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    headers = {"Authorization": f"Bearer {scim.token}"}

    def on_target() -> int:
        page = httpx.get(f"{scim.http_url}/Users", params={"count": 1}, headers=headers)
        return int(page.json().get("totalResults", 0))

    deadline = time.monotonic() + 120
    while on_target() < 20 and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.02)
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=60)
    assert run.returncode == 130, err
    assert "stopping after the current batch; Ctrl-C again to abort" in err
    assert "Resume with the same command" in err and "Traceback" not in err
    result = json.loads(out)
    assert result["totals"]["stopped"] > 0 and not result["failed"]
    assert 20 <= result["applied"] == on_target() < 240  # stopped part way, nothing unsaid
    resumed = scim_sync.json("--apply")  # the rerun writes exactly what was left
    assert resumed["applied"] == 253 - result["applied"] and not resumed["failed"]
    assert len(scim_users(scim)) == 240 and scim_sync.json("--apply")["items"] == []
