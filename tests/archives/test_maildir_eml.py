"""Maildir and EML trees from real tools: flags, keywords, layouts, odd names, reruns."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from skylift.model.mail import Folder, Message

from .conftest import DATA, open_archive

MAILDIR = DATA / "maildir"


def read_all(scheme: str, root: Path) -> dict[tuple[str, ...], list[Message]]:
    out = {}
    with open_archive(scheme, root) as source:
        for folder in source.folders():
            if folder.selectable:
                source.select(folder)
                uids = [r.uid for r in source.list_messages(folder)]
                out[folder.path] = list(source.fetch(folder, uids))
    return out


def test_windows_safe_info_separator_and_flags() -> None:
    """mu's test Maildir writes "!2,FS" instead of ":2,FS"; tmp/ is never read."""
    (inbox,) = read_all("maildir", MAILDIR / "mu-testdir").values()
    assert len(inbox) == 19
    flags = {m.ref.uid: m.ref.flags for m in inbox}
    assert flags["1220863087.12663_15.mindcrime"] == {"$Forwarded", "\\Seen"}
    assert flags["1220863087.12663_7.mindcrime"] == {"\\Answered", "\\Seen"}
    assert not any("!" in uid or ":" in uid for uid in flags)


def test_folders_without_new_or_tmp_and_marker_files() -> None:
    """Trees copied from git lack empty new/ and tmp/; mu's .noindex markers are no mail."""
    content = read_all("maildir", MAILDIR / "mu-testdir2")
    assert {path: len(m) for path, m in content.items()} == {
        ("Foo",): 3,
        ("bar",): 8,
        ("wom_bat",): 3,
    }


def test_nested_fs_layout() -> None:
    content = read_all("maildir", MAILDIR / "notmuch-default")
    assert {path: len(m) for path, m in content.items()} == {
        ("INBOX",): 26,
        ("bar",): 4,
        ("bar", "baz"): 4,
        ("foo",): 5,
        ("foo", "baz"): 4,
    }


def test_dates_from_mtime_or_name_when_copied_carelessly(tmp_path: Path) -> None:
    root = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True)
    kept = root / "cur" / "1500000000.M1P1.host:2,S"
    kept.write_bytes(b"Subject: a\r\n\r\nx\r\n")
    os.utime(kept, (1400000000, 1400000000))  # Dovecot set mtime to the INTERNALDATE
    copied = root / "cur" / "1500000000.M2P1.host:2,S"
    copied.write_bytes(b"Subject: b\r\n\r\ny\r\n")  # mtime: now, long after delivery
    (inbox,) = read_all("maildir", root).values()
    dates = {m.ref.uid: int(m.ref.internaldate.timestamp()) for m in inbox}
    assert dates == {"1500000000.M1P1.host": 1400000000, "1500000000.M2P1.host": 1500000000}


def test_dovecot_and_courier_keywords(tmp_path: Path) -> None:
    root = tmp_path / "Maildir"
    sub = root / ".Work.Projekte &AMQ-"  # Maildir++ name in modified UTF-7
    for directory in (root, sub):
        for part in ("cur", "new", "tmp"):
            (directory / part).mkdir(parents=True)
    (root / "cur" / "1.M1.h:2,Sab").write_bytes(b"Subject: k\r\n\r\nx\r\n")
    (root / "dovecot-keywords").write_text("0 $Label1\n1 Important\n")
    (sub / "cur" / "2.M2.h:2,").write_bytes(b"Subject: c\r\n\r\ny\r\n")
    (sub / "courierimapkeywords").mkdir()
    (sub / "courierimapkeywords" / ":list").write_text("Urgent\nLater\n\n2.M2.h:0 1\n")
    content = read_all("maildir", root)
    assert list(content) == [("INBOX",), ("Work", "Projekte Ä")]
    assert content[("INBOX",)][0].ref.flags == {"\\Seen", "$Label1", "Important"}
    assert content[("Work", "Projekte Ä")][0].ref.flags == {"Urgent", "Later"}
    with open_archive("maildir", root) as source:
        work = next(f for f in source.folders() if f.path == ("Work",))
        assert not work.selectable  # a hierarchy node without its own Maildir


def test_rerun_keeps_uids_while_a_client_changes_flags(tmp_path: Path) -> None:
    root = tmp_path / "lkml"
    shutil.copytree(MAILDIR / "mu-testdir", root)
    inbox = Folder(("INBOX",))

    def uids() -> tuple[str, set[str]]:
        with open_archive("maildir", root) as source:
            return source.select(inbox).validity, {r.uid for r in source.list_messages(inbox)}

    first = uids()
    name = next(p for p in (root / "cur").iterdir() if p.name.endswith("!2,S"))
    name.rename(name.with_name(name.name + "F"))  # the user flags it in their client
    assert uids() == first


def test_eml_tree_keeps_bytes_and_uses_the_date_header(tmp_path: Path) -> None:
    content = read_all("eml", DATA / "eml")
    assert {p: len(m) for p, m in content.items()} == {
        ("INBOX",): 0,
        ("flanker",): 2,
        ("mime4j",): 2,
        ("notmuch",): 2,
    }
    signed = next(m for m in content[("notmuch",)] if m.ref.uid == "smime-multipart-signed.eml")
    assert signed.raw == (DATA / "eml/notmuch/smime-multipart-signed.eml").read_bytes()
    no_header = content[("mime4j",)][
        0 if content[("mime4j",)][0].ref.uid.startswith("malformed") else 1
    ]
    assert no_header.ref.internaldate is not None  # no Date header: the file's mtime
