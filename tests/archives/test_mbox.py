"""mbox files written by real clients: separators, escaping, line endings, flags, damage."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from skylift.errors import ArchiveError
from skylift.model.mail import Folder, Message

from .conftest import DATA, open_archive

MBOX = DATA / "mbox"
INBOX = Folder(("INBOX",))


def read_mbox(path: Path, **options: str) -> list[Message]:
    with open_archive("mbox", path, **options) as source:
        source.select(INBOX)
        return list(source.fetch(INBOX, [r.uid for r in source.list_messages(INBOX)]))


@pytest.mark.parametrize(
    ("name", "count"),
    [
        ("mail-box/mbox.src.mbox", 45),
        ("mail-box/mbox.win.mbox", 45),
        ("mime4j/mbox.rlug", 5),
        ("thunderbird/mbox_mboxrd.mbox", 2),
        ("thunderbird/mbox_modern.mbox", 2),
        # An unquoted "From " line inside a body is not a separator (Python's mailbox says 3).
        ("thunderbird/mbox_unquoted.mbox", 2),
    ],
)
def test_message_counts(name: str, count: int) -> None:
    assert len(read_mbox(MBOX / name)) == count


def test_split_matches_mime4j_oracle() -> None:
    messages = read_mbox(MBOX / "mime4j/mbox.rlug")
    for index, message in enumerate(messages):
        expected = (MBOX / f"mime4j/expected/mbox.rlug-{index}.eml").read_bytes()
        # mime4j keeps the blank separator line that the mbox writer added; we drop it
        assert message.raw + b"\n" == expected


def test_crlf_mbox_gives_the_same_messages_as_lf() -> None:
    lf = read_mbox(MBOX / "mail-box/mbox.src.mbox")
    crlf = read_mbox(MBOX / "mail-box/mbox.win.mbox")

    def without_length(raw: bytes) -> bytes:  # the two differ only in Content-Length
        lines = raw.replace(b"\r\n", b"\n").split(b"\n")
        return b"\n".join(ln for ln in lines if not ln.startswith(b"Content-Length:"))

    assert [without_length(m.raw) for m in crlf] == [without_length(m.raw) for m in lf]
    assert all(m.raw.endswith(b"\r\n") and not m.raw.endswith(b"\r\n\r\n\r\n") for m in crlf)


def test_mboxrd_escaping_is_undone_unless_asked_to_keep_it() -> None:
    (first, _) = read_mbox(MBOX / "thunderbird/mbox_mboxrd.mbox")
    assert b"\nFrom (should be escaped).\n" in first.raw
    (kept, _) = read_mbox(MBOX / "thunderbird/mbox_mboxrd.mbox", mbox_format="mboxo")
    assert b"\n>From (should be escaped).\n" in kept.raw


def test_from_line_date_is_the_internaldate() -> None:
    first = read_mbox(MBOX / "thunderbird/mbox_mboxrd.mbox")[0]
    assert first.ref.internaldate is not None
    assert first.ref.internaldate.isoformat() == "2011-07-08T12:08:34+00:00"
    # "From " with no date at all: the Date header is used
    unquoted = read_mbox(MBOX / "thunderbird/mbox_unquoted.mbox")[0]
    assert unquoted.ref.internaldate is not None
    assert unquoted.ref.internaldate.isoformat() == "2005-08-22T17:20:08+00:00"


def test_status_headers_become_flags(tmp_path: Path) -> None:
    mbox = tmp_path / "flags.mbox"
    mbox.write_bytes(
        b"From a@example.com Mon Jan  6 10:00:00 2020\n"
        b"Subject: read and answered\nStatus: RO\nX-Status: A\n\nbody\n\n"
        b"From - Tue Jan  7 10:00:00 2020\n"
        b"Subject: thunderbird marked\nX-Mozilla-Status: 0005\nX-Mozilla-Keys: $label1 work\n\n"
        b"body\n\n"
        b"From - Wed Jan  8 10:00:00 2020\n"
        b"Subject: deleted in thunderbird, not yet compacted\nX-Mozilla-Status: 0009\n\nbody\n\n"
        b"From - Thu Jan  9 10:00:00 2020\nSubject: new\n\nStatus: RO in the body is no flag\n"
    )
    flags = [m.ref.flags for m in read_mbox(mbox)]
    assert flags == [
        {"\\Seen", "\\Answered"},
        {"\\Seen", "\\Flagged", "$label1", "work"},
        set(),
    ]


def test_truncated_mbox_fails_only_the_cut_message(tmp_path: Path) -> None:
    whole = (MBOX / "mime4j/mbox.rlug").read_bytes()
    cut = tmp_path / "cut.mbox"
    cut.write_bytes(whole[: len(whole) - 700])
    with open_archive("mbox", cut) as source:
        source.select(INBOX)
        uids = [r.uid for r in source.list_messages(INBOX)]
        assert len(uids) == 5
        got: list[Message] = []
        with pytest.raises(ArchiveError, match="cut off"):
            for message in source.fetch(INBOX, uids):
                got.append(message)
        assert len(got) == 4


def test_file_that_is_not_an_mbox_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.mbox"
    bogus.write_bytes(b"Dear diary,\n")
    with open_archive("mbox", bogus) as source, pytest.raises(ArchiveError, match="not an mbox"):
        source.select(INBOX)


def test_thunderbird_tree_with_odd_names(tmp_path: Path) -> None:
    root = tmp_path / "Local Folders"
    (root / "Inbox.sbd" / "Ünïcode & spaces.sbd").mkdir(parents=True)
    msg = (MBOX / "thunderbird/mbox_modern.mbox").read_bytes()
    (root / "Inbox").write_bytes(msg)
    (root / "Inbox.msf").write_bytes(b"// index")
    (root / "Trash").write_bytes(b"")
    (root / "Inbox.sbd" / "Ünïcode & spaces").write_bytes(msg)
    (root / "Inbox.sbd" / "Ünïcode & spaces.sbd" / "deeper.mbox").write_bytes(msg)
    (root / "popstate.dat").write_bytes(b"# not mail")
    with open_archive("mbox", root) as source:
        folders = {f.path: f for f in source.folders()}
    assert list(folders) == [
        ("Inbox",),
        ("Inbox", "Ünïcode & spaces"),
        ("Inbox", "Ünïcode & spaces", "deeper"),
        ("Trash",),
    ]
    assert folders[("Trash",)].role == "trash"
    assert folders[("Inbox",)].is_inbox


def test_rerun_lists_the_same_uids_and_appending_keeps_them(tmp_path: Path) -> None:
    mbox = tmp_path / "grow.mbox"
    mbox.write_bytes((MBOX / "mail-box/mbox.src.mbox").read_bytes())

    def listing() -> tuple[str, list[str]]:
        with open_archive("mbox", mbox) as source:
            state = source.select(INBOX)
            return state.validity, [r.uid for r in source.list_messages(INBOX)]

    first = listing()
    assert listing() == first
    with open(mbox, "ab") as handle:  # new mail arrives at the end
        handle.write(b"From x@example.com Mon Jan  6 10:00:00 2020\nSubject: new\n\nhi\n\n")
    validity, uids = listing()
    assert validity == first[0] and uids[:-1] == first[1] and len(uids) == 46


def test_memory_stays_flat_for_a_large_message(tmp_path: Path) -> None:
    """A 40 MiB message streams through the scanner in 1 MiB blocks (size is exact)."""
    big = tmp_path / "big.mbox"
    with open(big, "wb") as handle:
        handle.write(b"From a@example.com Mon Jan  6 10:00:00 2020\nSubject: big\n\n")
        line = b"A" * 75 + b"\n"
        handle.write(line * (40 * 1024 * 1024 // len(line)))
        handle.write(b"\nFrom b@example.com Mon Jan  6 10:00:01 2020\nSubject: small\n\nx\n")
    with open_archive("mbox", big) as source:
        refs = list(source.list_messages(INBOX))
    assert [r.size for r in refs][1] == len(b"Subject: small\n\nx\n")
    assert refs[0].size == os.path.getsize(big) - len(
        b"\nFrom b@example.com Mon Jan  6 10:00:01 2020\nSubject: small\n\nx\n"
    ) - len(b"From a@example.com Mon Jan  6 10:00:00 2020\n")


def _counted(headers: bytes, body: bytes) -> bytes:
    return headers + b"Content-Length: %d\n\n" % len(body) + body


# An mboxcl2 file as mutt writes it, with the cases Content-Length must settle.
CL_UNQUOTED = b"Hi,\n\nFrom the desk of Jane: this line is body text.\n>From stays as stored\n"
CL_NO_NEWLINE = b"The last line has no newline"
CL_LAST = b"Bye.\n\nFrom here on, still the body.\n"
CL_MESSAGES = [
    _counted(b"From: a@x\nSubject: unquoted From line\n", CL_UNQUOTED),
    _counted(b"From: b@x\nSubject: no final newline\n", CL_NO_NEWLINE),
    # a wrong length (too short) is ignored: the message ends at the next From_ line
    b"From: c@x\nSubject: wrong length\nContent-Length: 3\n\nplain body\n",
    _counted(b"From: d@x\nSubject: last, counted to the end of the file\n", CL_LAST),
]


def write_mboxcl2(path: Path) -> Path:
    separator = b"From jane@x Mon Jan  6 10:00:00 2020\n"
    path.write_bytes(
        separator
        + CL_MESSAGES[0]
        + b"\n"
        + separator
        + CL_MESSAGES[1]
        + b"\n"  # the From_ line follows without an empty line: only the length tells
        + separator
        + CL_MESSAGES[2]
        + b"\n"
        + separator
        + CL_MESSAGES[3]
    )
    return path


def test_content_length_finds_message_ends_in_mboxcl2(tmp_path: Path) -> None:
    path = write_mboxcl2(tmp_path / "mutt.mboxcl2")
    messages = read_mbox(path, mbox_format="mboxcl2")
    assert [m.raw for m in messages] == CL_MESSAGES
    assert [m.ref.size for m in messages] == [len(m) for m in CL_MESSAGES]


def test_content_length_split_holds_with_mboxrd_unquoting(tmp_path: Path) -> None:
    """The default format still splits by Content-Length; only ">From" lines are unquoted."""
    messages = read_mbox(write_mboxcl2(tmp_path / "mutt.mboxcl2"))
    assert len(messages) == 4
    assert messages[0].raw == CL_MESSAGES[0].replace(b">From stays", b"From stays")
    assert [m.raw for m in messages[1:]] == CL_MESSAGES[1:]
