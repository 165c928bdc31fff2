"""End to end: `skylift migrate` from archives into a real Dovecot, twice, with a bad file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from imapclient import IMAPClient

from skylift.demo.dovecot import DovecotServer

from ..conformance.mailbox import LOGICAL_MAILBOX, load_into_imap, write_mbox_tree
from .conftest import DATA

USERS = {"jane": "jane-pw", "bob": "bob-pw", "carl": "carl-pw"}


@pytest.fixture
def target(tmp_path: Path) -> Iterator[DovecotServer]:
    if not Path("/usr/sbin/dovecot").exists():
        pytest.fail("dovecot is not installed: apt-get install dovecot-imapd dovecot-pop3d")
    with DovecotServer(root=tmp_path / "dovecot", users=dict(USERS), separator="/") as server:
        yield server


Summary = dict  # type: ignore[type-arg]


def migrate(
    scheme: str, root: Path, users_csv: Path, server: DovecotServer, state: Path
) -> tuple[int, Summary]:
    return migrate_url(f"{scheme}://{root}", users_csv, server, state)


def migrate_url(
    source: str, users_csv: Path, server: DovecotServer, state: Path
) -> tuple[int, Summary]:
    """Run ``skylift migrate --json`` as a user would (loopback: no TLS needed)."""
    src = str(Path(__file__).resolve().parents[2] / "src")
    result = subprocess.run(
        [
            sys.executable, "-m", "skylift", "migrate",
            "--source", source, "--target", server.imap_url(),
            "--users", str(users_csv), "--state", str(state), "--json",
        ],
        capture_output=True,
        text=True,
        env=os.environ | {"PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])},
        timeout=120,
    )  # fmt: skip
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, json.loads(result.stdout)


def by_mailbox(summary: Summary) -> dict[str, Summary]:
    return {m["mailbox"]: m for m in summary["items"]}


def test_mbox_and_pst_archives_migrate_once_and_a_bad_file_fails_alone(
    tmp_path: Path, target: DovecotServer
) -> None:
    archives = tmp_path / "archives"
    write_mbox_tree(archives / "jane-thunderbird")
    shutil.copy(DATA / "pst/aspose/test.pst", archives / "bob.pst")
    (archives / "carl.pst").write_bytes(b"this is no PST at all")
    mbox_csv = tmp_path / "mbox.csv"
    mbox_csv.write_text("File,EmailAddress,TargetPassword\njane-thunderbird,jane,jane-pw\n")
    pst_csv = tmp_path / "pst.csv"
    pst_csv.write_text(
        "File,EmailAddress,TargetPassword\ncarl.pst,carl,carl-pw\nbob.pst,bob,bob-pw\n"
    )
    state = tmp_path / "state.db"

    code, summary = migrate("mbox", archives, mbox_csv, target, state)
    assert code == 0
    assert by_mailbox(summary)["jane"]["copied"] == sum(len(m) for m in LOGICAL_MAILBOX.values())

    code, summary = migrate("pst", archives, pst_csv, target, state)
    assert code == 1  # carl's file is broken (an item failure, not a connection one) …
    runs = by_mailbox(summary)
    assert "not a PST/OST file" in runs["carl"]["error"]
    assert runs["bob"]["copied"] == 14  # … and bob's mail still moved

    for scheme, csv in (("mbox", mbox_csv), ("pst", pst_csv)):  # reruns copy nothing
        _code, summary = migrate(scheme, archives, csv, target, state)
        assert all(m["copied"] == 0 for m in summary["items"])

    with IMAPClient("127.0.0.1", port=target.imap_port, ssl=False) as client:
        client.login("bob", USERS["bob"])
        assert client.select_folder("Inbox", readonly=True)[b"EXISTS"] == 6
        assert client.select_folder("Sent Items", readonly=True)[b"EXISTS"] == 5


def test_pop3_migrates_once_and_a_rerun_copies_only_new_mail(
    tmp_path: Path, target: DovecotServer
) -> None:
    """POP3 and target are two users of one Dovecot; the POP3 side keeps all its mail."""
    target.add_user("old-pop", "pop-pw")
    load_into_imap("127.0.0.1", target.imap_port, "old-pop", "pop-pw", inbox_only=True)
    users = tmp_path / "users.csv"
    users.write_text("EmailAddress,UserName,Password,TargetPassword\njane,old-pop,pop-pw,jane-pw\n")
    state = tmp_path / "state.db"
    source_url = target.pop3_url()

    def run() -> int:
        code, summary = migrate_url(source_url, users, target, state)
        assert code == 0, summary
        return int(by_mailbox(summary)["jane"]["copied"])

    assert run() == len(LOGICAL_MAILBOX[("INBOX",)])
    assert run() == 0
    with IMAPClient("127.0.0.1", port=target.imap_port, ssl=False) as client:
        client.login("old-pop", "pop-pw")
        client.append(
            "INBOX", b"Subject: late\r\nDate: Mon, 6 Jan 2020 10:00:00 +0000\r\n\r\nx\r\n"
        )
        assert client.select_folder("INBOX", readonly=True)[b"EXISTS"] == 5  # nothing deleted
    assert run() == 1


def test_pst_calendar_and_contact_items_are_exported_beside_the_report(
    tmp_path: Path, target: DovecotServer
) -> None:
    from tests.mailtools import run_skylift

    archives = tmp_path / "archives"
    archives.mkdir()
    shutil.copy(DATA / "pst/aspose/test.pst", archives / "bob.pst")
    users = tmp_path / "pst.csv"
    users.write_text("File,EmailAddress,TargetPassword\nbob.pst,bob,bob-pw\n")
    report = tmp_path / "report"
    result = run_skylift(
        "migrate", "--source", f"pst://{archives}", "--target", target.imap_url(),
        "--users", users, "--state", tmp_path / "s.db", "--report-dir", report,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads((report / "migrate.json").read_text())
    assert summary["items"][0]["non_mail"] == {"ics": 1, "vcf": 1}
    assert len(list((report / "non-mail" / "bob").rglob("*.ics"))) == 1
    assert len(list((report / "non-mail" / "bob").rglob("*.vcf"))) == 1


def test_lf_archive_rerun_with_a_lost_state_file_copies_nothing(
    tmp_path: Path, target: DovecotServer
) -> None:
    """The target serves CRLF and counts CRLF sizes; identity must not depend on sizes."""
    archive = tmp_path / "jane.mbox"
    archive.write_bytes(
        b"From a@old.example Mon Jan  1 10:00:00 2018\n"
        b"Subject: one\nMessage-ID: <1@x>\n\nline one\nline two\n\n"
        b"From b@old.example Mon Jan  1 11:00:00 2018\n"
        b"Subject: two\n\nno message id here\n"
    )
    users = tmp_path / "u.csv"
    users.write_text("File,EmailAddress,TargetPassword\njane.mbox,jane,jane-pw\n")
    code, first = migrate("mbox", tmp_path, users, target, tmp_path / "a.db")
    assert code == 0 and first["totals"]["copied"] == 2
    code, again = migrate("mbox", tmp_path, users, target, tmp_path / "b.db")
    assert code == 0
    assert again["totals"]["copied"] == 0 and again["totals"]["already_there"] == 2
