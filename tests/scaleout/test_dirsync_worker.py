"""The directory sync as one unit on a ``skylift worker``: OpenLDAP into a SCIM server, the
bind password and the SCIM token read from the worker's environment only."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.dirsync.conftest import (  # noqa: F401 - the fixtures
    MAPPING,
    SOURCE_SUFFIX,
    Sync,
    ldap_tools,
    scim,
    scim_sync,
    scim_users,
    source,
)
from tests.dirsync.servers import ScimServer
from tests.scaleout.conftest import Workers


def test_dirsync_apply_runs_on_a_worker(
    scim_sync: Sync,  # noqa: F811
    scim: ScimServer,  # noqa: F811
    workers: Workers,
    state_url: str,
) -> None:
    workers.start("w1", env=os.environ | scim_sync.env)
    mapping = scim_sync.workdir / "mapping.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    cmd = [sys.executable, "-m", "skylift", "dirsync", "--source", scim_sync.source.url,
           "--base", SOURCE_SUFFIX, "--bind", scim_sync.source.admin_dn, "--target",
           scim_sync.target_url, "--mapping", str(mapping), "--state", state_url, "--apply",
           "--runner", "celery", "--broker", workers.broker, "--wait", "--json"]  # fmt: skip
    client_env = os.environ | {"PYTHONPATH": scim_sync.env["PYTHONPATH"]}  # no secret here
    done = subprocess.run(cmd, capture_output=True, text=True, env=client_env, timeout=120)
    assert done.returncode == 0, done.stderr + done.stdout
    [unit] = json.loads(done.stdout)["items"]
    assert (unit["kind"], unit["state"], unit["worker"]) == ("directory", "done", "w1")
    created = scim_users(scim)
    assert created and unit["items"] >= len(created)
    again = subprocess.run(cmd, capture_output=True, text=True, env=client_env, timeout=120)
    assert json.loads(again.stdout)["items"][0]["items"] == 0  # nothing left to change
