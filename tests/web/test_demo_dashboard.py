"""The "done when" of the dashboard: ``skylift demo --keep --no-migrate``, then the commands
it prints — two accounts and ``skylift web`` — and wave 1 migrates from the dashboard.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from skylift.demo.dovecot import free_port
from tests.web.conftest import PASSWORDS, Web, session, skylift


@pytest.fixture
def kept_demo() -> Iterator[tuple[Path, list[str]]]:
    root = Path(tempfile.mkdtemp(prefix="sk-web-"))  # short: Dovecot's socket paths
    done = skylift("demo", "--keep", "--no-migrate", "--no-mta", "--messages", "5",
                   "--workdir", str(root))  # fmt: skip
    try:
        assert done.returncode == 0, done.stderr
        assert "# nothing is migrated yet; watch it happen on the dashboard" in done.stderr
        yield root, [line for line in done.stderr.splitlines() if line.startswith("skylift web")]
    finally:
        skylift("demo", "--stop", "--workdir", str(root))
        shutil.rmtree(root, ignore_errors=True)


def test_the_demo_leaves_two_waves_for_the_dashboard_to_migrate(
    kept_demo: tuple[Path, list[str]], tmp_path: Path
) -> None:
    root, commands = kept_demo
    assert (root / "waves.csv").read_text().splitlines()[1].endswith(",1,3")
    adduser, serve = commands[0], commands[2]
    assert "--role viewer" in commands[1]
    password = tmp_path / "pw"
    password.write_text(PASSWORDS["admin"] + "\n")
    made = skylift(*shlex.split(adduser)[1:], "--password-file", str(password))
    assert made.returncode == 0, made.stderr
    port = free_port()
    argv = [sys.executable, "-m", "skylift", *shlex.split(serve)[1:], "--listen",
            f"127.0.0.1:{port}"]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        web = Web(f"http://127.0.0.1:{port}", tmp_path / "log")
        client = httpx.Client(base_url=web.url, auth=("admin", PASSWORDS["admin"]), timeout=10)
        deadline = time.monotonic() + 20
        while True:
            try:
                overview = client.get("/api/overview").json()
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.1)
        assert [w["status"] for w in overview["waves"]] == ["not started", "not started"]
        browser_like, csrf = session(web, "admin")
        assert browser_like.post("/waves/1/start", data={"csrf": csrf}).status_code == 303
        while True:
            wave = client.get("/api/overview").json()["waves"][0]
            if wave["percent"] == 100:
                break
            assert time.monotonic() < deadline + 40
            time.sleep(0.2)
        assert wave["status"] == "done"
        assert wave["messages"] == 15  # three people, five messages each
    finally:
        proc.terminate()
        proc.wait(timeout=15)
