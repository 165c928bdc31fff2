"""docs/clients.md's "Try it on the demo organization", run as written in bash: the kept demo,
the service and the lookup before and after a real ``cutover --wave 1``, the T-7 notice
previewed and sent through the demo's Postfix, and the help-desk report."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import imapclient

from skylift.demo.dovecot import free_port
from tests.mailtools import run_skylift

DOC = Path(__file__).parents[2] / "docs" / "clients.md"


def _block() -> str:
    section = DOC.read_text().split("## Try it on the demo organization", 1)[1]
    return section.split("```sh\n", 1)[1].split("```", 1)[0]


def _inbox_subjects(port: int, login: str, password: str) -> list[str]:
    with imapclient.IMAPClient("127.0.0.1", port, ssl=False) as client:
        client.login(login, password)
        client.select_folder("INBOX", readonly=True)
        found = client.fetch(client.search(["ALL"]), ["BODY.PEEK[HEADER.FIELDS (SUBJECT)]"])
        return [v[b"BODY[HEADER.FIELDS (SUBJECT)]"].decode().strip() for v in found.values()]


def test_the_documented_demo_walkthrough_shows_the_settings_change_at_the_cut_over() -> None:
    home = Path(tempfile.mkdtemp(prefix="cw-", dir="/tmp"))  # short: Dovecot's socket paths
    port = free_port()
    script = "set -euo pipefail\n" + _block().replace("8443", str(port))
    script = script.replace("skylift demo --stop\n", "")  # the test stops it, after looking
    env = os.environ | {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env |= {"COLUMNS": "200"}
    proc = subprocess.Popen(
        ["bash", "-c", script], cwd=home, env=env, text=True, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    demo = home / "skylift-demo"
    try:
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out
        looked = re.findall(r"^alice@new\.example: (onprem|migrating|cloud) \(", out, re.M)
        assert looked == ["onprem", "cloud"], out
        hosts = re.findall(r"<hostname>([^<]+)</hostname>", out)
        assert set(hosts[:2]) == {"127.0.0.1"} and set(hosts[2:]) == {
            "outlook.office365.com", "smtp.office365.com"
        }, hosts  # fmt: skip
        wave_1 = [r.split(",")[0] for r in (demo / "waves.csv").read_text().splitlines()[1:] if r]
        review = sorted(p.name for p in (demo / "review").iterdir())
        assert review == sorted(f"{u}.t-7.eml" for u in wave_1)
        env_file = dict(
            line.split("=", 1) for line in (demo / "demo.env").read_text().splitlines()[1:]
        )
        subjects = _inbox_subjects(int(env_file["DEMO_TARGET"].rsplit(":", 1)[1]),
                                   "alice@new.example", "alice-new-pw")  # fmt: skip
        preview = (demo / "review" / "alice@new.example.t-7.eml").read_text()
        subject = next(line for line in preview.splitlines() if line.startswith("Subject:"))
        assert subjects.count(subject) == 1, subjects  # sent once, carried by the cut-over
        report = (demo / "support" / "support.html").read_text()
        assert "moved (cloud)" in report
        assert f"http://127.0.0.1:{port}/setup?emailaddress=alice%40new.example" in report
        again = run_skylift(
            "notify", "--wave", "1", "--waves", demo / "waves.csv", "--template", "t-7",
            "--config", demo / "autoconfig.toml", "--target-profile", "microsoft365",
            "--smtp", env_file["DEMO_MTA"], "--smtp-allow-plaintext", "--from", "it@new.example",
            "--state", demo / "skylift.db", "--json",
        )  # fmt: skip
        assert again.returncode == 0 and '"already-sent": ' in again.stdout, again.stdout
    finally:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGTERM)  # the service, if the script stopped early
        proc.wait()
        run_skylift("demo", "--stop", "--workdir", demo)
        shutil.rmtree(home, ignore_errors=True)
