"""One running ``skylift autoconfig serve`` (HTTPS, signed profiles) shared by the client tests.

The organization: new.example moving from an on-prem IMAP host to Microsoft 365. ann is in
wave 1 (already over, by the wave plan), bob in wave 2 (in the future), cat in wave 3 whose
route the tests flip in the routing registry, and nobody else exists.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from skylift.demo.dovecot import free_port, make_self_signed_cert

CONFIG = """
[domains."new.example"]
display_name = "New Example"
[domains."new.example".onprem.imap]
host = "mail.old.example"
port = 143
socket = "STARTTLS"
[domains."new.example".onprem.smtp]
host = "mail.old.example"
port = 587
socket = "STARTTLS"
[waves.1]
start = 2020-01-01T20:00:00Z
end = 2020-01-03T06:00:00Z
[waves.2]
start = 2099-01-03T20:00:00Z
end = 2099-01-05T06:00:00Z
[waves.3]
start = 2099-02-03T20:00:00Z
end = 2099-02-05T06:00:00Z
"""
WAVES = (
    "EmailAddress,UserName,Password,DisplayName,Language,Wave,Parallel\n"
    "ann@new.example,ann,env:X,Ann Arbor,en,1,2\n"
    "bob@new.example,bob,env:X,Bob Berg,de,2,2\n"
    "cat@new.example,cat,env:X,Cat Chen,en,3,2\n"
)


@dataclass
class Org:
    root: Path
    config: Path
    waves: Path
    state: Path
    cert: Path
    sign_cert: Path


@pytest.fixture(scope="session")
def org(tmp_path_factory: pytest.TempPathFactory) -> Org:
    root = tmp_path_factory.mktemp("clients")
    (root / "tls").mkdir()
    (root / "sign").mkdir()
    cert, _ = make_self_signed_cert(root / "tls", "localhost")
    sign_cert, _ = make_self_signed_cert(root / "sign", "profiles.new.example")
    (root / "autoconfig.toml").write_text(CONFIG)
    (root / "waves.csv").write_text(WAVES)
    return Org(
        root, root / "autoconfig.toml", root / "waves.csv", root / "state.db", cert, sign_cert
    )


@dataclass
class Service:
    url: str
    log: Path
    client: httpx.Client


@pytest.fixture(scope="session")
def service(org: Org) -> Iterator[Service]:
    port = free_port()
    log = org.root / "access.log"
    url = f"https://localhost:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "skylift", "autoconfig", "serve", "--domain", "new.example",
         "--listen", f"127.0.0.1:{port}", "--state", str(org.state), "--waves", str(org.waves),
         "--config", str(org.config), "--target-profile", "microsoft365",
         "--tls-cert", str(org.cert), "--tls-key", str(org.root / "tls" / "key.pem"),
         "--sign-cert", str(org.sign_cert), "--sign-key", str(org.root / "sign" / "key.pem"),
         "--public-url", url, "--access-log", str(log)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=os.environ.copy(),
    )  # fmt: skip
    client = httpx.Client(
        base_url=url, verify=ssl.create_default_context(cafile=str(org.cert)), timeout=10
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            client.get("/mail/config-v1.1.xml")
            break
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read().decode() if proc.stdout else ""
                proc.kill()
                raise RuntimeError(f"autoconfig serve did not start: {out}") from None
            time.sleep(0.1)
    yield Service(url, log, client)
    client.close()
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
