"""Public folders of a real Dovecot (a public namespace) into a real WebDAV server (wsgidav).

What a user cares about: every message lands as a file byte-identical to the source, each
folder has an index page naming subject, sender and date, a name SharePoint could not hold
is mapped by the documented rule, a rerun uploads nothing, and ``kill -9`` mid-run is
followed by a run that completes with no duplicate.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from skylift.demo.dovecot import DovecotServer
from skylift.model.mail import fingerprint
from tests.mailtools import Item, connect, message, run_skylift, seed, when
from tests.servers.webdav import WebDavServer

USER, PASSWORD = "alice", "alice-pw"


@pytest.fixture
def public_server(tmp_path: Path) -> Iterator[DovecotServer]:
    with DovecotServer(tmp_path / "dovecot", {USER: PASSWORD}, public_namespace="Public") as s:
        yield s


@pytest.fixture
def library(tmp_path: Path) -> Iterator[WebDavServer]:
    with WebDavServer(tmp_path / "library") as server:
        yield server


def _run(
    src: DovecotServer, lib: WebDavServer, state: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    return run_skylift(
        "migrate-public-folders", "--source", src.imap_url(), "--source-user", USER,
        "--target", lib.url("/"), "--target-user", lib.user, "--state", state, "--json", *extra,
        env={"SKYLIFT_SOURCE_PASSWORD": PASSWORD, "SKYLIFT_TARGET_PASSWORD": lib.password},
    )  # fmt: skip


def _source_bodies(src: DovecotServer, folder: str) -> set[str]:
    c = connect(src.imap_port, USER, PASSWORD)
    try:
        c.select_folder(folder, readonly=True)
        return {
            fingerprint(v[b"BODY[]"]) for v in c.fetch(c.search("ALL"), ["BODY.PEEK[]"]).values()
        }
    finally:
        c.logout()


def _files(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): fingerprint(p.read_bytes()) for p in root.rglob("*.eml")}


def test_public_tree_lands_byte_identical_with_index_and_mapped_names(
    public_server: DovecotServer, library: WebDavServer, tmp_path: Path
) -> None:
    seed(public_server.imap_port, USER, PASSWORD, {
        "INBOX": [Item(message(1))],  # personal: not a public folder, stays out
        "=Public.Team": [Item(message(n), date=when(n)) for n in range(2, 5)],
        "=Public.Team.Reports 2024": [Item(message(5), date=when(5))],
        '=Public.Sales: EMEA? <"best">': [Item(message(6), date=when(6))],
        "=Public.CON": [Item(message(7), date=when(7))],
    }, sep=".")  # fmt: skip
    state = tmp_path / "s.db"
    preview = _run(public_server, library, state, "--dry-run")
    assert preview.returncode == 0, preview.stderr
    assert json.loads(preview.stdout)["totals"]["to_copy"] == 6
    assert not list(library.root.rglob("*.*"))  # a dry run writes nothing

    first = _run(public_server, library, state)
    assert first.returncode == 0, first.stderr
    out = json.loads(first.stdout)
    assert out["totals"]["copied"] == 6 and out["totals"]["failed"] == 0

    root = library.root
    files = _files(root)
    assert sorted(Path(f).parent.as_posix() for f in files) == [
        "CON_",
        "Sales_ EMEA_ __best__",
        "Team",
        "Team",
        "Team",
        "Team/Reports 2024",
    ]
    for folder, there in (("Public.Team", "Team"), ("Public.CON", "CON_")):
        landed = {fp for name, fp in files.items() if Path(name).parent.as_posix() == there}
        assert landed == _source_bodies(public_server, folder)
    # the date is in the name (WebDAV cannot keep it as the file's time)
    assert any(Path(f).name.startswith("2019-03-03_100000_") for f in files)
    index = (root / "Team" / "index.html").read_text()
    assert "Message 2" in index and "s2@old.example" in index and "2019-03-03 10:00 UTC" in index
    assert 'href="Reports%202024/index.html"' in index
    mapped = {i["folder"]: i["target"] for i in out["items"] if i["renamed"]}
    assert mapped == {'Sales: EMEA? <"best">': "Sales_ EMEA_ __best__", "CON": "CON_"}

    stamps = {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}
    again = _run(public_server, library, state)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["totals"]["copied"] == 0
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()} == stamps

    # a lost state file: nothing is uploaded again either (same name, same size)
    lost = _run(public_server, library, tmp_path / "new.db")
    assert json.loads(lost.stdout)["totals"]["copied"] == 0, lost.stdout
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*.eml")} == {
        p: s for p, s in stamps.items() if p.suffix == ".eml"
    }


def test_kill_9_mid_run_resumes_without_duplicates(
    public_server: DovecotServer, library: WebDavServer, tmp_path: Path
) -> None:
    many = [Item(message(n, size=20_000), date=when(n % 300)) for n in range(600)]
    seed(public_server.imap_port, USER, PASSWORD, {"=Public.Archive": many}, sep=".")
    state = tmp_path / "s.db"
    args = [
        sys.executable, "-m", "skylift", "migrate-public-folders", "--source",
        public_server.imap_url(), "--source-user", USER, "--target", library.url("/"),
        "--target-user", library.user, "--state", str(state),
    ]  # fmt: skip
    env = os.environ | {
        "SKYLIFT_SOURCE_PASSWORD": PASSWORD,
        "SKYLIFT_TARGET_PASSWORD": library.password,
    }
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    folder = library.root / "Archive"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(folder.glob("*.eml"))) < 100:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    landed = len(list(folder.glob("*.eml")))
    assert 0 < landed < 600, "the kill must land mid-run for this test to mean anything"

    rerun = _run(public_server, library, state)
    assert rerun.returncode == 0, rerun.stderr
    totals = json.loads(rerun.stdout)["totals"]
    assert totals["copied"] + totals["already_there"] == 600
    assert totals["copied"] <= 600 - landed + 1  # at most the one file cut mid-write again
    files = _files(library.root)
    assert len(files) == 600
    assert set(files.values()) == _source_bodies(public_server, "Public.Archive")


def test_wrong_library_password_is_one_line(
    public_server: DovecotServer, library: WebDavServer, tmp_path: Path
) -> None:
    result = run_skylift(
        "migrate-public-folders", "--source", public_server.imap_url(), "--source-user", USER,
        "--target", library.url("/"), "--target-user", library.user, "--state", tmp_path / "s.db",
        env={"SKYLIFT_SOURCE_PASSWORD": PASSWORD, "SKYLIFT_TARGET_PASSWORD": "wrong"},
    )  # fmt: skip
    assert result.returncode == 3
    assert result.stderr.startswith("skylift: error:") and "Traceback" not in result.stderr
