"""Fixtures: a seeded slapd source, an empty slapd target and a SCIM 2.0 server, all real."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

import skylift
from tests.dirsync.samba_ad import BIG_GROUP_MEMBERS
from tests.dirsync.servers import ADMIN_PASSWORD, SLAPD, ScimServer, Slapd, org_text

SOURCE_SUFFIX = "dc=old,dc=example"
TARGET_SUFFIX = "dc=new,dc=example"
STAFF = f"ou=Staff,ou=People,{SOURCE_SUFFIX}"
MAPPING = f"""
preset = "openldap"

[users]
userName = {{ from = "mail", transforms = ["lower", "domain:@old.example=@new.example"] }}
"emails.work" = {{ from = "mail", transforms = ["lower", "domain:@old.example=@new.example"] }}

[scope]
user_ous = ["{STAFF}"]
"""


__all__ = ["BIG_GROUP_MEMBERS"]  # the Samba AD DC fixture is in tests/conftest.py, shared


def _need(program: str, package: str) -> None:
    if not Path(program).exists() and shutil.which(Path(program).name) is None:
        pytest.skip(f"{program} is not installed (apt-get install {package})")


@pytest.fixture
def ldap_tools() -> None:
    """Skip a test that needs slapd and ldap-utils where they are missing."""
    _need(SLAPD, "slapd")
    _need("ldapmodify", "ldap-utils")


@pytest.fixture
def source(tmp_path: Path, ldap_tools: None) -> Iterator[Slapd]:
    server = Slapd(tmp_path / "source", SOURCE_SUFFIX).start(org_text())
    yield server
    server.stop()


@pytest.fixture
def ldap_target(tmp_path: Path, ldap_tools: None) -> Iterator[Slapd]:
    server = Slapd(tmp_path / "target", TARGET_SUFFIX).start()
    yield server
    server.stop()


@pytest.fixture
def scim() -> Iterator[ScimServer]:
    server = ScimServer().start()
    yield server
    server.stop()


@dataclass
class Sync:
    """Runs ``skylift dirsync`` as a user would, against the fixtures' servers."""

    source: Slapd
    target_url: str
    workdir: Path
    env: dict[str, str]
    extra: tuple[str, ...] = ()
    source_url: str = ""

    def run(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        mapping = self.workdir / "mapping.toml"
        mapping.write_text(MAPPING, encoding="utf-8")
        cmd = [
            sys.executable, "-m", "skylift", "dirsync",
            "--source", self.source_url or self.source.url, "--base", SOURCE_SUFFIX, "--bind", self.source.admin_dn,
            "--target", self.target_url, "--mapping", str(mapping),
            "--state", str(self.workdir / "state.db"), *self.extra, *args,
        ]  # fmt: skip
        return subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            env=os.environ | self.env | (env or {}),
            timeout=240,
        )

    def run_journal(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [
            sys.executable,
            "-m",
            "skylift",
            "dirsync-journal",
            "--state",
            str(self.workdir / "state.db"),
            *args,
        ]
        return subprocess.run(
            cmd, capture_output=True, text=True, env=os.environ | self.env, timeout=60, check=True
        )

    def json(self, *args: str) -> dict:  # type: ignore[type-arg]
        done = self.run("--json", *args)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)  # type: ignore[no-any-return]


@pytest.fixture
def scim_sync(source: Slapd, scim: ScimServer, tmp_path: Path) -> Sync:
    env = {
        "SKYLIFT_LDAP_PASSWORD": ADMIN_PASSWORD,
        "SKYLIFT_SCIM_TOKEN": scim.token,
        "PYTHONPATH": child_pythonpath(),
    }
    return Sync(source, scim.url, tmp_path, env)


@pytest.fixture
def ldap_sync(source: Slapd, ldap_target: Slapd, tmp_path: Path) -> Sync:
    env = {
        "SKYLIFT_LDAP_PASSWORD": ADMIN_PASSWORD,
        "SKYLIFT_TARGET_LDAP_PASSWORD": ADMIN_PASSWORD,
        "PYTHONPATH": child_pythonpath(),
    }
    extra = ("--target-bind", ldap_target.admin_dn, "--target-base", TARGET_SUFFIX)
    return Sync(source, ldap_target.url, tmp_path, env, extra)


def child_pythonpath() -> str:
    """Keep skylift importable in the child when it runs from a checkout (PYTHONPATH=src)."""
    src = str(Path(skylift.__file__).resolve().parent.parent)
    return os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH", "")) if p)


def scim_users(scim: ScimServer) -> dict[str, dict]:  # type: ignore[type-arg]
    """Every SCIM user by userName, read straight from the server."""
    out = {}
    start = 1
    headers = {"Authorization": f"Bearer {scim.token}"}
    while True:
        page = httpx.get(
            f"{scim.http_url}/Users", params={"startIndex": start, "count": 500}, headers=headers
        ).json()
        for r in page.get("Resources", []):
            out[r["userName"]] = r
        start += len(page.get("Resources", []))
        if not page.get("Resources") or start > page["totalResults"]:
            return out


def scim_groups(scim: ScimServer) -> dict[str, dict]:  # type: ignore[type-arg]
    headers = {"Authorization": f"Bearer {scim.token}"}
    page = httpx.get(f"{scim.http_url}/Groups", params={"count": 1000}, headers=headers).json()
    return {r["displayName"]: r for r in page.get("Resources", [])}
