"""PST/OST files from real clients: counts agree with Debian's readpst, errors are clear."""

from __future__ import annotations

import email
import email.policy
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import icalendar
import pytest
import vobject

from skylift.connectors.mail.pst.connector import PstSource
from skylift.errors import ArchiveError

from .conftest import DATA, open_archive

PST = DATA / "pst"
MAIL_FILES = [
    "aspose/test.pst",
    "aspose/DestinationPst.pst",
    "aspose/PersonalStorageFile.ost",
    "java-libpst/dist-list.pst",
    "ruby-msg/200-recipients.pst",
    "ruby-msg/attachAndInline.pst",
    "ruby-msg/msgInMsg.pst",
    "pst-extractor/enron.pst",
]


def readpst_counts(path: Path, out: Path) -> dict[tuple[str, ...], Counter[str]]:
    """Files per folder and type that ``readpst -j 0 -r -e -D`` writes (the reference)."""
    if shutil.which("readpst") is None:
        pytest.skip("readpst is not installed (Debian: pst-utils)")
    out.mkdir()
    subprocess.run(
        ["readpst", "-j", "0", "-r", "-e", "-D", "-q", "-o", str(out), str(path)],
        check=True,
        capture_output=True,
    )
    (top,) = list(out.iterdir())  # one directory named for the store
    counts: dict[tuple[str, ...], Counter[str]] = {}
    for file in top.rglob("*"):
        if file.is_file():
            folder = file.parent.relative_to(top).parts
            counts.setdefault(folder, Counter())[file.suffix.lstrip(".")] += 1
    return counts


def our_counts(source: PstSource) -> dict[tuple[str, ...], int]:
    counts = {}
    for folder in source.folders():
        if folder.selectable:
            n = source.select(folder).count
            if n:
                counts[() if folder.path == source.top_path else folder.path] = n
    return counts


@pytest.mark.parametrize("name", [*MAIL_FILES, "OST 2013"])
def test_mail_per_folder_matches_readpst(name: str, tmp_path: Path, ost_2013: Path) -> None:
    path = ost_2013 if name == "OST 2013" else PST / name
    reference = readpst_counts(path, tmp_path / "readpst")
    with PstSource(path) as source:
        assert our_counts(source) == {k: c["eml"] for k, c in reference.items() if c["eml"]}
        non_mail = source.non_mail_counts()
    # readpst writes appointments as .ics and contacts as .vcf (it skips distribution lists)
    assert non_mail["IPM.Appointment"] == sum(c["ics"] for c in reference.values())
    assert non_mail["IPM.Contact"] == sum(c["vcf"] for c in reference.values())


def test_messages_are_rebuilt_as_mime_with_bodies_and_attachments() -> None:
    with PstSource(PST / "aspose/test.pst") as source:
        inbox = next(f for f in source.folders() if f.is_inbox)
        refs = list(source.list_messages(inbox))
        messages = list(source.fetch(inbox, [r.uid for r in refs]))
    by_subject = {}
    for message in messages:
        parsed = email.message_from_bytes(message.raw, policy=email.policy.default)
        by_subject[str(parsed["Subject"])] = parsed
        assert parsed["From"] and parsed["Date"], "transport headers kept"
        assert message.ref.internaldate is not None
    # Outlook's read state: four of the six were opened, "message 1" and "message 2" not
    assert {s: m.ref.flags for s, m in zip(by_subject, messages, strict=True)}["message 1"] == set()
    assert sum("\\Seen" in m.ref.flags for m in messages) == 4
    multi = by_subject["Multiple attachments"]
    names = [part.get_filename() for part in multi.iter_attachments()]
    assert len(names) == 3 and all(names)
    assert multi.get_body(("html",)) is not None and multi.get_body(("plain",)) is not None


def test_sent_items_without_transport_headers_get_synthesized_headers() -> None:
    with PstSource(PST / "aspose/test.pst") as source:
        sent = next(f for f in source.folders() if f.role == "sent")
        refs = list(source.list_messages(sent))
        message = next(source.fetch(sent, [refs[0].uid]))
    parsed = email.message_from_bytes(message.raw, policy=email.policy.default)
    assert "saqib.razzaq@xp.local" in str(parsed["From"])
    assert parsed["To"] and parsed["Date"]
    assert str(parsed["Subject"]) in {"message 2", "check sent date of this message"}  # no \x01


def test_rebuilt_bytes_are_identical_between_runs() -> None:
    def prints() -> dict[str, str]:
        with PstSource(PST / "pst-extractor/enron.pst") as source:
            out = {}
            for folder in source.folders():
                if folder.selectable:
                    uids = [r.uid for r in source.list_messages(folder)]
                    out.update({m.ref.uid: m.fingerprint for m in source.fetch(folder, uids)})
            return out

    first = prints()
    assert len(first) == 71
    assert prints() == first


def test_rtf_only_body_and_non_ascii_top_folder() -> None:
    with PstSource(PST / "ruby-msg/msgInMsg.pst") as source:
        assert source.top_path == ("INBOX",)
        trash = [f for f in source.folders() if f.role == "trash"]
        assert [f.path for f in trash] == [("削除済みアイテム",)]
        inbox = next(f for f in source.folders() if f.is_inbox)
        (ref,) = source.list_messages(inbox)
        (message,) = source.fetch(inbox, [ref.uid])
    parsed = email.message_from_bytes(message.raw, policy=email.policy.default)
    types = [part.get_content_type() for part in parsed.walk()]
    assert "text/rtf" in types or "text/plain" in types
    assert len(list(parsed.iter_attachments())) == 2


def test_password_protected_pst_is_a_clear_error() -> None:
    with pytest.raises(ArchiveError, match="password-protected"):
        open_archive("pst", PST / "java-libpst/passworded.pst")
    source = open_archive("pst", PST / "java-libpst/passworded.pst", ignore_pst_password="yes")
    with source:
        assert isinstance(source, PstSource)
        assert source.non_mail_counts()["IPM.Contact"] == 1


def test_ost_named_file_that_is_a_pst_opens_by_its_header() -> None:
    with open_archive("ost", PST / "aspose/PersonalStorageFile.ost") as source:
        assert any(f.is_inbox for f in source.folders())


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not a PST/OST file"),
        (b"From someone\nSubject: an mbox\n\n", "not a PST/OST file"),
        (b"!BDN" + b"\0" * 100, "truncated PST/OST"),
    ],
)
def test_broken_pst_is_a_clear_error(tmp_path: Path, content: bytes, message: str) -> None:
    broken = tmp_path / "broken.pst"
    broken.write_bytes(content)
    with pytest.raises(ArchiveError, match=message):
        open_archive("pst", broken)


def test_truncated_pst_is_a_clear_error(tmp_path: Path) -> None:
    truncated = tmp_path / "cut.pst"
    truncated.write_bytes((PST / "aspose/test.pst").read_bytes()[:600_000])
    with pytest.raises(ArchiveError, match=r"cut\.pst"):
        source = open_archive("pst", truncated)
        for folder in source.folders():
            if folder.selectable:
                uids = [r.uid for r in source.list_messages(folder)]
                list(source.fetch(folder, uids))
        raise ArchiveError(f"{truncated}: read without noticing: {source.problems}")


def test_calendar_and_contacts_are_exported_as_ics_and_vcf(tmp_path: Path, ost_2013: Path) -> None:
    with PstSource(PST / "aspose/test.pst") as source:
        written = source.export_non_mail(tmp_path / "test")
    assert written == {"ics": 1, "vcf": 1}
    (ics,) = (tmp_path / "test").rglob("*.ics")
    event = icalendar.Calendar.from_ical(ics.read_bytes()).walk("VEVENT")[0]
    assert str(event["summary"]) == "Weekly meeting"
    assert str(event["location"]) == "Room 5"
    assert event.decoded("dtstart").isoformat() == "2011-06-22T05:30:00+00:00"
    (vcf,) = (tmp_path / "test").rglob("*.vcf")
    card = vobject.readOne(vcf.read_text())
    assert card.email.value == "saqib.razzaq@xp.local"
    assert sorted(t.value for t in card.contents["tel"]) == [
        "1110001234",
        "1112223333",
        "3334443333",
    ]

    with PstSource(ost_2013) as source:
        assert source.export_non_mail(tmp_path / "ost") == {"ics": 169}  # readpst: 169 .ics
    weekly = next((tmp_path / "ost").rglob("*repeats every monday*.ics"))
    rule = icalendar.Calendar.from_ical(weekly.read_bytes()).walk("VEVENT")[0]["rrule"]
    assert rule["FREQ"] == ["WEEKLY"] and rule["COUNT"] == [10] and rule["BYDAY"] == ["MO"]


def test_distribution_lists_are_counted_not_exported(tmp_path: Path) -> None:
    with PstSource(PST / "java-libpst/dist-list.pst") as source:
        written = source.export_non_mail(tmp_path)
    assert written == {"ics": 1, "vcf": 1, "skipped:IPM.DistList": 1}
