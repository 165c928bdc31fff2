"""``skylift demo``: the README's first command, and ``--keep`` / ``--stop`` as a new user runs them."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import smtplib
import tempfile
import time
from collections.abc import Iterator
from email.utils import make_msgid
from pathlib import Path

import imapclient
import pytest

from tests.mailtools import run_skylift


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A short folder: Dovecot's unix sockets under the workdir allow 107 bytes of path."""
    path = Path(tempfile.mkdtemp(prefix="sd-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def test_demo_migrates_verifies_and_cleans_up(short_dir: Path) -> None:
    result = run_skylift("demo", "--workdir", short_dir / "d", "--messages", "3")
    assert result.returncode == 0, result.stderr
    assert "every message arrived byte for byte" in result.stderr
    assert "rerun: 0 copied" in result.stderr
    # the public folders went to the document library, not left behind
    assert "public folders: 12 messages in 3 folders" in " ".join(result.stderr.split())
    library = short_dir / "d" / "document-library"
    assert (library / "Projects" / "Q1_ plan_" / "index.html").is_file()
    assert len(list(library.rglob("*.eml"))) == 12
    assert "--keep" in result.stderr  # says how to keep the servers, not commands against none
    assert not (short_dir / "d" / "demo-servers.json").exists()


def test_a_workdir_too_deep_for_unix_sockets_is_one_line(tmp_path: Path) -> None:
    deep = tmp_path / ("x" * 60) / "demo"
    result = run_skylift("demo", "--workdir", deep, "--messages", "1")
    assert result.returncode == 2
    assert result.stderr.strip().endswith(
        "path too long for the servers' sockets; use a shorter one"
    )
    assert "Traceback" not in result.stderr


def _commands(stderr: str) -> list[list[str]]:
    return [
        shlex.split(line)[1:]
        for line in stderr.splitlines()
        if line.startswith("skylift ") and " demo " not in line
    ]


class Mailboxes:
    """Where a message sent through the kept demo's on-prem Postfix lands."""

    def __init__(self, servers: dict[str, dict[str, object]]) -> None:
        self.ports = {
            side: int(str(servers[side]["url"]).rsplit(":", 1)[1]) for side in ("source", "target")
        }
        self.mta = int(str(servers["mta"]["url"]).rsplit(":", 1)[1])

    def send(self, rcpt: str, subject: str) -> str:
        mid = make_msgid(domain="sender.test")
        raw = f"From: x@sender.test\r\nTo: {rcpt}\r\nSubject: {subject}\r\nMessage-ID: {mid}\r\n\r\nhi\r\n"
        with smtplib.SMTP("127.0.0.1", self.mta) as client:
            client.sendmail("x@sender.test", [rcpt], raw.encode())
        return mid

    def count(self, side: str, rcpt: str, mid: str) -> int:
        name = rcpt.split("@")[0]
        login, password = (name, f"{name}-old-pw") if side == "source" else (rcpt, f"{name}-new-pw")
        with imapclient.IMAPClient("127.0.0.1", self.ports[side], ssl=False) as client:
            client.login(login, password)
            client.select_folder("INBOX", readonly=True)
            return len(client.search(["HEADER", "Message-ID", mid]))

    def lands(self, rcpt: str, mid: str, timeout: float = 20) -> str:
        """The side *mid* landed on (waiting for it), after checking it is on one side only."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen = {side: self.count(side, rcpt, mid) for side in ("source", "target")}
            if any(seen.values()):
                time.sleep(0.3)  # nothing else on its way
                seen = {side: self.count(side, rcpt, mid) for side in ("source", "target")}
                assert sorted(seen.values()) == [0, 1], seen
                return max(seen, key=lambda side: seen[side])
            time.sleep(0.1)
        raise AssertionError(f"{mid} did not land within {timeout}s")


def _documented() -> list[list[str]]:
    """The commands of docs/cutover.md's "The timeline on the demo organization"."""
    text = (Path(__file__).parents[2] / "docs" / "cutover.md").read_text()
    section = text.split("## The timeline on the demo organization", 1)[1].split("\n## ", 1)[0]
    lines = [line.strip() for line in section.splitlines() if line.startswith("    skylift ")]
    return [shlex.split(line)[1:] for line in lines if " demo " not in line + " "]


def _options(commands: list[list[str]]) -> list[list[str]]:
    """Each command's words without the values that differ per machine (ports, folders)."""
    return [[w for w in c if w.startswith("-") or (w.isalpha() and w.islower())] for c in commands]


WALKTHROUGH = ["assess", "plan", "migrate", "migrate", "route", "cutover", "verify", "route",
               "route", "rollback", "route", "cutover", "route"]  # fmt: skip


def test_keep_walkthrough_moves_the_mail_with_real_postfix_and_stop_ends_it(
    short_dir: Path,
) -> None:
    """docs/cutover.md's timeline on the kept demo, pasted as printed: pre-stage, delta,
    cut-over, verify, rollback, cut-over again; a message through the demo's Postfix before
    and after each step lands where the registry says, once."""
    root = short_dir / "kept"
    kept = run_skylift("demo", "--keep", "--workdir", root, "--messages", "3")
    assert kept.returncode == 0, kept.stderr
    servers = json.loads((root / "demo-servers.json").read_text())
    pids = [s["pid"] for s in servers.values()]
    try:
        assert all(_alive(p) for p in pids)
        commands = _commands(kept.stderr)
        assert [c[0] for c in commands] == WALKTHROUGH
        assert _options(commands) == _options(_documented()), "docs/cutover.md differs"
        box = Mailboxes(servers)
        first = (root / "users.csv").read_text().splitlines()[1].split(",")[0]
        side, sent = "source", []
        for args in commands:  # pasted as printed, in the printed order
            flip = args[0] in ("cutover", "rollback")
            if flip:
                assert first in (root / "waves.csv").read_text()  # a user of wave 1
                sent.append(box.send(first, f"before {args[0]}"))
                assert box.lands(first, sent[-1]) == side
            ran = run_skylift(*args)
            assert ran.returncode == 0, (args, ran.stdout, ran.stderr)
            if flip:
                side = "target" if args[0] == "cutover" else "source"
                for mid in sent:  # every message so far is on the new side, once
                    assert box.count(side, first, mid) == 1, (args[0], mid)
            if args[:2] == ["route", "probe"]:
                assert f"landed on the {side}" in ran.stdout, ran.stdout
                sent.append(box.send(first, f"after the probe on the {side}"))
                assert box.lands(first, sent[-1]) == side
        assert side == "target" and len(sent) == 7  # 3 flips, 4 probes
        # the rollback sent each folder home: no "Sent (2)" grows on the source per round trip
        name = first.split("@")[0]
        with imapclient.IMAPClient("127.0.0.1", box.ports["source"], ssl=False) as client:
            client.login(name, f"{name}-old-pw")
            folders = [f[2] for f in client.list_folders()]
        assert not [f for f in folders if f.endswith((" (2)", " (3)"))], folders
        again = run_skylift("demo", "--keep", "--workdir", root)
        assert again.returncode == 2 and "already running" in again.stderr
    finally:
        stopped = run_skylift("demo", "--stop", "--workdir", root)
    assert stopped.returncode == 0, stopped.stderr
    assert not any(_alive(p) for p in pids)
    assert (root / "users.csv").exists()  # the data stays
    assert not Path(str(servers["mta"]["config_dir"])).exists()  # Postfix's queue does not
    twice = run_skylift("demo", "--stop", "--workdir", root)
    assert twice.returncode == 2 and "no demo servers are running" in twice.stderr


def test_without_postfix_the_demo_says_so_in_one_line_and_goes_on(
    short_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from skylift.cli import build_app
    from skylift.cli.common import run_cli
    from skylift.demo import onprem_mta

    monkeypatch.setattr(onprem_mta, "find_install", lambda: None)  # nothing installed here
    monkeypatch.setenv("PATH", str(short_dir))  # and no apt-get to unpack one
    argv = ["demo", "--keep", "--workdir", str(short_dir / "d"), "--messages", "2"]
    try:
        assert run_cli(build_app(argv), argv) == 0
    finally:
        stopped = run_skylift(
            "demo", "--stop", "--workdir", short_dir / "d", env={"PATH": os.defpath}
        )
    err = capsys.readouterr().err
    said = [line for line in err.splitlines() if "Postfix" in line]
    assert said == [
        "no on-prem Postfix (no Postfix here and no apt-get/dpkg to unpack one): the demo goes "
        "on without mail routing"
    ], said
    assert "every message arrived byte for byte" in err
    assert [c[0] for c in _commands(err)] == ["assess", "plan", "migrate", "migrate", "verify"]
    assert stopped.returncode == 0, stopped.stderr
