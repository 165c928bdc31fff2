"""A user's archive is read-only for skylift and path arguments never leave the given root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from skylift.connectors import MAIL_CONNECTORS, mail_connector
from skylift.connectors.endpoint import Endpoint
from skylift.errors import ArchiveError, ConfigError
from skylift.model.mail import Folder

from .conftest import DATA, open_archive


@pytest.mark.parametrize("scheme", ["pop3", "pop3s", "mbox", "maildir", "eml", "pst", "ost"])
def test_every_source_scheme_is_registered(scheme: str) -> None:
    assert scheme in MAIL_CONNECTORS
    assert mail_connector(Endpoint.parse(f"{scheme}://localhost/x")) is not None


def test_mapping_csv_paths_are_relative_to_the_root() -> None:
    with open_archive("pst", DATA / "pst", user="ruby-msg/msgInMsg.pst") as source:
        assert any(f.is_inbox for f in source.folders())


@pytest.mark.parametrize("user", ["../mbox/thunderbird/mbox_modern.mbox", "/etc/passwd"])
def test_paths_that_leave_the_root_are_refused(user: str) -> None:
    with pytest.raises(ConfigError):
        open_archive("mbox", DATA / "pst", user=user)


def test_a_folder_where_a_pst_is_expected_says_what_to_do() -> None:
    with pytest.raises(ArchiveError, match="File column"):
        open_archive("pst", DATA / "pst")


def test_missing_archive_is_an_error_for_that_user_only() -> None:
    with pytest.raises(ArchiveError, match="no such file"):
        open_archive("pst", DATA / "pst", user="nobody.pst")


def test_symlinks_out_of_the_tree_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.eml").write_bytes(b"Subject: not yours\r\n\r\nx\r\n")
    root = tmp_path / "export"
    (root / "Inbox").mkdir(parents=True)
    (root / "Inbox" / "mine.eml").write_bytes(b"Subject: mine\r\n\r\nx\r\n")
    (root / "Inbox" / "leak.eml").symlink_to(outside / "secret.eml")
    (root / "Leak").symlink_to(outside)
    (root / "Inbox" / "alias.eml").symlink_to(root / "Inbox" / "mine.eml")  # inside: fine
    with open_archive("eml", root) as source:
        assert [f.path for f in source.folders()] == [("INBOX",), ("Inbox",)]
        inbox = Folder(("Inbox",))
        assert sorted(r.uid for r in source.list_messages(inbox)) == ["alias.eml", "mine.eml"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_archive_is_a_clear_error(tmp_path: Path) -> None:
    locked = tmp_path / "locked.mbox"
    locked.write_bytes(b"From a Mon Jan  6 10:00:00 2020\n\nx\n")
    locked.chmod(0)
    with pytest.raises(ArchiveError, match="permission denied"):
        open_archive("mbox", locked)


def test_unreadable_file_inside_a_tree_fails_that_item(tmp_path: Path) -> None:
    """A directory where a message file should be (or an I/O error) fails just that item."""
    root = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True)
    (root / "cur" / "1.M1.h:2,S").write_bytes(b"Subject: fine\r\n\r\nx\r\n")
    (root / "cur" / "2.M2.h:2,S").mkdir()  # not a file: skipped, never a traceback
    with open_archive("maildir", root) as source:
        inbox = Folder(("INBOX",))
        assert source.select(inbox).count == 1
        assert [m.ref.uid for m in source.fetch(inbox, ["1.M1.h", "2.M2.h"])] == ["1.M1.h"]


def test_archives_are_opened_read_only(tmp_path: Path) -> None:
    """Reading works on a read-only copy (no write, lock or rename is attempted)."""
    root = tmp_path / "ro"
    root.mkdir()
    mbox = root / "Inbox"
    mbox.write_bytes((DATA / "mbox/thunderbird/mbox_modern.mbox").read_bytes())
    before = (mbox.stat().st_mtime_ns, mbox.stat().st_size, sorted(os.listdir(root)))
    mbox.chmod(0o444)
    root.chmod(0o555)
    try:
        with open_archive("mbox", root) as source:
            folder = source.folders()[0]
            uids = [r.uid for r in source.list_messages(folder)]
            assert len(list(source.fetch(folder, uids))) == 2
    finally:
        root.chmod(0o755)
    assert (mbox.stat().st_mtime_ns, mbox.stat().st_size, sorted(os.listdir(root))) == before
