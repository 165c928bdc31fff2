"""Gmail's labels against a front that speaks X-GM-EXT-1 as Google documents it, in front of
real Dovecots (``tests/servers/gmail_front.py`` says what it reproduces and what it cannot).

One mailbox, as Gmail shows it: m1 has three labels (``\\Inbox``, Work, Travel), m2 only
``\\Inbox``, m4 only Work, m3 none (archived: only in ``[Gmail]/All Mail``). What each ends as:

- Gmail -> IMAP (``--gmail-labels folders``): m1 in INBOX, Work and Travel (three copies, one
  per label folder), All Mail holds only m3; nothing twice in a folder, a rerun copies nothing.
- Gmail -> IMAP (``--gmail-labels keywords``): every message once; m1 in INBOX with keywords
  Work and Travel, m4 in Work, m3 in All Mail.
- Gmail -> Gmail: m1 uploaded once, then labelled Work and Travel (``STORE +X-GM-LABELS``);
  the target shows it with the same three labels and once in All Mail.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from skylift.demo.dovecot import DovecotServer
from skylift.model.mail import fingerprint
from tests.conftest import MASTER, _need_dovecot
from tests.mailtools import Item, connect, dump, message, run_skylift, seed, when, write_users
from tests.servers.gmail_front import ALL_MAIL, GmailFront

M1, M2, M3, M4 = (message(n, size=300) for n in (1, 2, 3, 4))
NAMES = {fingerprint(m): n for n, m in (("m1", M1), ("m2", M2), ("m3", M3), ("m4", M4))}
GUS = ("gus@old.example", "gus-pw")


def _item(raw: bytes, days: int) -> Item:
    return Item(raw, ("\\Seen",), when(days))


@pytest.fixture
def gmail(tmp_path: Path) -> Iterator[tuple[DovecotServer, GmailFront]]:
    """A Gmail mailbox: Dovecot holds a copy per label folder; the front makes them one."""
    _need_dovecot()
    server = DovecotServer(
        tmp_path / "gmail", users={GUS[0]: GUS[1], "gus@new.example": "gus-new-pw"},
        master_user=MASTER, separator="/",
    ).start()  # fmt: skip
    seed(server.imap_port, f"{GUS[0]}*{MASTER[0]}", MASTER[1], {
        "INBOX": [_item(M1, 1), _item(M2, 2)],
        "Work": [_item(M1, 1), _item(M4, 4)],
        "Travel": [_item(M1, 1)],
        f"={ALL_MAIL}": [_item(M1, 1), _item(M2, 2), _item(M3, 3), _item(M4, 4)],
    }, sep="/")  # fmt: skip
    front = GmailFront(server.imap_port, MASTER)
    yield server, front
    front.close()
    server.cleanup()


def _names(rows: list[tuple[str, frozenset[str], str]]) -> list[str]:
    return sorted(NAMES[fp] for fp, _, _ in rows)


def _run(front: GmailFront, target: str, users: Path, state: Path, *extra: str) -> dict:
    result = run_skylift("migrate", "--source", front.url(), "--target", target,
                         "--users", users, "--state", state, "--json", *extra)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def _verified(
    front: GmailFront, target: DovecotServer, users: Path, state: Path, *extra: str
) -> None:
    """``skylift verify`` compares each folder with what migrate copies there: no difference."""
    result = run_skylift("verify", "--source", front.url(), "--target", target.imap_url(),
                         "--users", users, "--state", state, "--deep", *extra)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_gmail_front_speaks_x_gm_ext_1_as_google_documents_it(gmail) -> None:
    _, front = gmail
    c = connect(front.port, *GUS)
    try:
        assert b"X-GM-EXT-1" in c.capabilities()
        listed = {name: flags for flags, _, name in c.list_folders()}
        assert b"\\All" in listed[ALL_MAIL]
        ids: dict[str, set[int]] = {}
        labels: dict[str, list[str]] = {}
        for folder in ("INBOX", "Work", "Travel", ALL_MAIL):
            c.select_folder(folder, readonly=True)
            uids = c.search("ALL")
            bodies = c.fetch(uids, ["BODY.PEEK[]"])
            gm = c.fetch(uids, ["X-GM-MSGID", "X-GM-LABELS"])
            for uid in uids:
                name = NAMES[fingerprint(bodies[uid][b"BODY[]"])]
                ids.setdefault(name, set()).add(gm[uid][b"X-GM-MSGID"])
                labels[name] = sorted(x.decode() for x in gm[uid][b"X-GM-LABELS"])
    finally:
        c.logout()
    assert all(len(v) == 1 for v in ids.values()), ids  # one id per message, every folder
    assert labels == {"m1": ["Travel", "Work", "\\Inbox"], "m2": ["\\Inbox"], "m3": [],
                      "m4": ["Work"]}  # fmt: skip


def test_labels_become_folders_without_duplicates_then_keywords_mode(
    gmail, target_server: DovecotServer, tmp_path: Path
) -> None:
    _, front = gmail
    users = write_users(tmp_path / "u.csv", [("alice@new.example", *GUS, "alice-new-pw")],
                        "EmailAddress,UserName,Password,TargetPassword")  # fmt: skip
    report = _run(front, target_server.imap_url(), users, tmp_path / "f.db")
    got = dump(target_server.imap_port, "alice@new.example", "alice-new-pw")
    assert _names(got["INBOX"]) == ["m1", "m2"]
    assert _names(got["Work"]) == ["m1", "m4"]
    assert _names(got["Travel"]) == ["m1"]
    assert _names(got[ALL_MAIL]) == ["m3"]  # only the message with no label
    folders = {f["source"]: f for f in report["items"][0]["folders"]}
    assert folders[ALL_MAIL]["in_other_labels"] == 3 and report["totals"]["copied"] == 6
    again = _run(front, target_server.imap_url(), users, tmp_path / "f.db")
    assert again["totals"]["copied"] == 0
    _verified(front, target_server, users, tmp_path / "f.db")

    users = write_users(tmp_path / "k.csv", [("bob@new.example", *GUS, "bob-new-pw")],
                        "EmailAddress,UserName,Password,TargetPassword")  # fmt: skip
    report = _run(front, target_server.imap_url(), users, tmp_path / "k.db",
                  "--gmail-labels", "keywords")  # fmt: skip
    got = dump(target_server.imap_port, "bob@new.example", "bob-new-pw")
    assert report["totals"]["copied"] == 4  # every message once
    assert _names(got["INBOX"]) == ["m1", "m2"] and _names(got["Work"]) == ["m4"]
    assert got.get("Travel", []) == [] and _names(got[ALL_MAIL]) == ["m3"]
    flags = {NAMES[fp]: f for fp, f, _ in got["INBOX"]}
    assert flags["m1"] == {"\\Seen", "Work", "Travel"} and flags["m2"] == {"\\Seen"}
    _verified(front, target_server, users, tmp_path / "k.db", "--gmail-labels", "keywords")
    # Verified as folders, the keywords copy is missing m1 in Work and Travel: verify can fail.
    wrong = run_skylift("verify", "--source", front.url(), "--target", target_server.imap_url(),
                        "--users", users, "--state", tmp_path / "k.db")  # fmt: skip
    assert wrong.returncode == 1, wrong.stdout + wrong.stderr


def test_gmail_to_gmail_adds_labels_instead_of_uploading_twice(gmail, tmp_path: Path) -> None:
    _, front = gmail
    target = DovecotServer(tmp_path / "gmail-target", users={"gus@new.example": "gus-new-pw"},
                           master_user=MASTER, separator="/").start()  # fmt: skip
    to_front = GmailFront(target.imap_port, MASTER)
    try:
        users = write_users(tmp_path / "g.csv", [("gus@new.example", *GUS, "gus-new-pw")],
                            "EmailAddress,UserName,Password,TargetPassword")  # fmt: skip
        report = _run(front, to_front.url(), users, tmp_path / "g.db")
        uploads = sorted(NAMES[fp] for fp in to_front.uploaded)
        assert uploads == ["m1", "m2", "m3", "m4"], uploads  # each message uploaded once
        assert sorted(x[3] for x in to_front.label_stores) == [("Travel",), ("Work",)]
        assert sum(f["labels_added"] for f in report["items"][0]["folders"]) == 2
        c = connect(to_front.port, "gus@new.example", "gus-new-pw")
        try:
            c.select_folder("INBOX", readonly=True)
            uids = c.search("ALL")
            bodies = c.fetch(uids, ["BODY.PEEK[]"])
            labels = c.fetch(uids, ["X-GM-LABELS"])
            seen = {NAMES[fingerprint(bodies[u][b"BODY[]"])]: sorted(
                x.decode() for x in labels[u][b"X-GM-LABELS"]) for u in uids}  # fmt: skip
        finally:
            c.logout()
        assert seen == {"m1": ["Travel", "Work", "\\Inbox"], "m2": ["\\Inbox"]}
        c = connect(target.imap_port, f"gus@new.example*{MASTER[0]}", MASTER[1])
        try:
            c.select_folder(ALL_MAIL, readonly=True)
            everything = c.fetch(c.search("ALL"), ["BODY.PEEK[]"]).values()
        finally:
            c.logout()
        all_mail = sorted(NAMES[fingerprint(d[b"BODY[]"])] for d in everything)
        assert all_mail == ["m1", "m2", "m3", "m4"]  # once each
        again = _run(front, to_front.url(), users, tmp_path / "g.db")
        assert again["totals"]["copied"] == 0 and len(to_front.uploaded) == 4
    finally:
        to_front.close()
        target.cleanup()
