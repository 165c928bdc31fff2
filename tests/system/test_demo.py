"""``skylift demo``: the README's first command, and ``--keep`` / ``--stop`` as a new user runs them."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

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


def test_keep_leaves_servers_whose_printed_commands_work_and_stop_ends_them(
    short_dir: Path,
) -> None:
    root = short_dir / "kept"
    kept = run_skylift("demo", "--keep", "--workdir", root, "--messages", "3")
    assert kept.returncode == 0, kept.stderr
    servers = json.loads((root / "demo-servers.json").read_text())
    pids = [s["pid"] for s in servers.values()]
    try:
        assert all(_alive(p) for p in pids)
        commands = [
            shlex.split(line)[1:]
            for line in kept.stderr.splitlines()
            if line.startswith("skylift ") and " demo " not in line
        ]
        assert [c[0] for c in commands] == ["assess", "plan", "migrate", "migrate", "verify"]
        for args in commands:  # pasted as printed, in the printed order
            ran = run_skylift(*args)
            assert ran.returncode == 0, (args, ran.stderr)
        again = run_skylift("demo", "--keep", "--workdir", root)
        assert again.returncode == 2 and "already running" in again.stderr
    finally:
        stopped = run_skylift("demo", "--stop", "--workdir", root)
    assert stopped.returncode == 0, stopped.stderr
    assert not any(_alive(p) for p in pids)
    assert (root / "users.csv").exists()  # the data stays
    twice = run_skylift("demo", "--stop", "--workdir", root)
    assert twice.returncode == 2 and "no demo servers are running" in twice.stderr
