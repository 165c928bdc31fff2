"""A small demo organization on real Dovecot servers and one running ``skylift web`` over it.

The source holds the demo's five mailboxes (demo/organization.py), the target refuses
messages over 1 MB as a hosted suite does, and chloe has one 1.5 MB message: the one item
that cannot arrive, with Dovecot's own words. waves.csv is the demo's (three people in wave
1, two in wave 2). ``skylift web`` runs as the user runs it, in its own process, with an
admin and a viewer account made by ``skylift web adduser``; Chromium is Debian's, driven by
Playwright.
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
from typing import Any

import httpx
import pytest

from skylift.cli.demo import write_waves
from skylift.demo.dovecot import DovecotServer, free_port
from skylift.demo.organization import PEOPLE, DemoMessage, demo_messages, fill_mailbox

CHROMIUM = "/usr/bin/chromium"
PASSWORDS = {"admin": "admin-password-1", "manager": "viewer-password-1",
             "guesser": "guesser-password-1"}  # fmt: skip
BIG = DemoMessage(
    "INBOX",
    b"From: Dmitri <dmitri@old.example>\r\nTo: chloe@old.example\r\nSubject: site photos\r\n"
    b"Message-ID: <big.1@old.example>\r\n\r\n" + b"x" * 76 + (b"\r\n" + b"y" * 76) * 20_000,
    ("\\Seen",),
    demo_messages("chloe", 1)[0].date,
)

WAVE_DATES = """
[waves.1]
start = 2026-12-05T20:00:00Z
end = 2026-12-07T06:00:00Z
"""


@dataclass
class Org:
    root: Path
    state: Path
    waves: Path
    source: DovecotServer
    target: DovecotServer


@pytest.fixture(scope="session")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Org]:
    root = tmp_path_factory.mktemp("web")
    users = {name: f"{name}-old-pw" for name, _ in PEOPLE}
    source = DovecotServer(root / "old", users=users, separator=".")
    target = DovecotServer(
        root / "cloud", users={f"{n}@new.example": f"{n}-new-pw" for n in users},
        separator="/", special_use_autocreate=True, quota_max_mail_size="1M",
    )  # fmt: skip
    source.start()
    target.start()
    try:
        for name, password in users.items():
            mail = demo_messages(name, 40) + ([BIG] if name == "chloe" else [])
            fill_mailbox(source.imap_port, name, password, mail, ".")
        (root / "users.csv").write_text(
            "EmailAddress,UserName,Password,TargetPassword\n"
            + "".join(f"{n}@new.example,{n},{p},{n}-new-pw\n" for n, p in users.items())
        )
        state = root / "skylift.db"
        assessed = skylift("assess", "--source", source.imap_url(), "--users",
                           str(root / "users.csv"), "--out", str(root / "assessment"))  # fmt: skip
        assert assessed.returncode == 0, assessed.stderr
        for name, role in (("admin", "admin"), ("manager", "viewer"), ("guesser", "viewer")):
            (root / f"{name}.pw").write_text(PASSWORDS[name] + "\n")
            done = skylift("web", "adduser", name, "--role", role, "--password-file",
                           str(root / f"{name}.pw"), "--state", str(state))  # fmt: skip
            assert done.returncode == 0, done.stderr
        yield Org(root, state, write_waves(root), source, target)
    finally:
        source.cleanup()
        target.cleanup()


def skylift(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "skylift", *args], capture_output=True,
                          text=True, timeout=60)  # fmt: skip


@dataclass
class Web:
    url: str
    log: Path


@pytest.fixture(scope="session")
def web(org: Org) -> Iterator[Web]:
    config = org.root / "autoconfig.toml"
    config.write_text(WAVE_DATES)
    yield from run_web(org, org.state, "web", "--config", str(config),
                       "--setup-url", "https://autoconfig.new.example",
                       "--assessment", str(org.root / "assessment"))  # fmt: skip


def run_web(org: Org, state: Path, name: str, *extra: str, ca: Path | None = None) -> Iterator[Web]:
    """``skylift web`` over *state* and the org's waves until the generator is closed.

    With *ca* it serves HTTPS (give ``--tls-cert``/``--tls-key`` in *extra*) as localhost.
    """
    port = free_port()
    log = org.root / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "skylift", "web", "--state", str(state),
             "--listen", f"127.0.0.1:{port}", "--waves", str(org.waves),
             "--source", org.source.imap_url(), "--target", org.target.imap_url(),
             "--access-log", str(org.root / f"{name}-access.log"), *extra],
            stdout=out, stderr=subprocess.STDOUT, env=os.environ.copy(),
        )  # fmt: skip
    url = f"https://localhost:{port}" if ca else f"http://127.0.0.1:{port}"
    verify: Any = ssl.create_default_context(cafile=str(ca)) if ca else True
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(url + "/login", timeout=2, verify=verify)
            break
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"skylift web did not start: {log.read_text()}") from None
            time.sleep(0.1)
    yield Web(url, log)
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium missing: sudo apt-get install -y chromium")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def log_in(browser: Any, web: Web, name: str) -> Any:
    """A new browser page logged in as *name* on the overview."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(web.url + "/")
    assert "/login" in page.url
    page.fill("#name", name)
    page.fill("#password", PASSWORDS[name])
    page.click("#login")
    page.wait_for_url(web.url + "/")
    return page


def session(web: Web, name: str) -> tuple[httpx.Client, str]:
    """An HTTP client with *name*'s session cookie, and the CSRF token of its forms."""
    client = httpx.Client(base_url=web.url, timeout=10)
    login = client.get("/login")
    csrf = login.text.split('name="csrf" value="')[1].split('"')[0]
    answer = client.post("/login", data={"name": name, "password": PASSWORDS[name], "csrf": csrf})
    assert answer.status_code == 303, answer.text
    page = client.get("/")
    token = page.text.split('name="csrf" value="')[1].split('"')[0]
    return client, token
