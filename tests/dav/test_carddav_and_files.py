"""vCard and iCalendar files into CardDAV/CalDAV, then CardDAV -> CardDAV, on real Radicale."""

from __future__ import annotations

import shutil
from pathlib import Path

from skylift.engine.dav.vcard import logical_lines
from skylift.engine.dav.verify import compare_cards
from skylift.model.dav import DavKind

from .conftest import DATA, SOURCE_PASSWORD, DavPair

CARDS = (
    "ez-vcard/John_Doe_ANDROID.vcf",
    "ez-vcard/rfc6350-example.vcf",
    "ez-vcard/John_Doe_IPHONE.vcf",
    "ez-vcard/outlook-2003.vcf",
    "ez-vcard/gmail-list.vcf",
    "thunderbird/v4-uri-jpeg.vcf",
    "ruby-msg/Swetlana_Novikova.vcf",
)


def _cards(pair: DavPair, side: str, name: str) -> dict[str, bytes]:
    with pair.account(side, DavKind.ADDRESSBOOK) as account:
        book = next(c for c in account.collections() if c.name == name)
        found = {}
        for item in account.fetch(book, [r.href for r in account.list_items(book)]):
            lines = logical_lines(item.raw.decode())
            found[next(x[4:] for x in lines if x.upper().startswith("UID:"))] = item.raw
        return found


def _address_book_folder(tmp: Path) -> Path:
    """One file of cards from several clients: a user's exported address book."""
    folder = tmp / "export"
    folder.mkdir()
    with (folder / "contacts.vcf").open("wb") as out:
        for name in CARDS:
            out.write((DATA / "vcf" / name).read_bytes().rstrip(b"\r\n") + b"\r\n")
    return folder


def test_vcf_file_to_carddav_then_carddav_to_carddav(any_pair: DavPair) -> None:
    dav_pair = any_pair  # both Radicale and Xandikos
    folder = _address_book_folder(dav_pair.workdir)
    to_source = dav_pair.run(
        "migrate-contacts",
        "--source",
        f"vcf://{folder}/contacts.vcf",
        "--target",
        dav_pair.source.url("carddav+http"),
        "--user",
        dav_pair.source_user,
        "--state",
        str(dav_pair.workdir / "import.db"),
        env=dav_pair.env(SKYLIFT_TARGET_PASSWORD=SOURCE_PASSWORD),
    )
    assert to_source.returncode == 1, to_source.stdout + to_source.stderr
    assert "contacts (created): 13 created, 0 updated, 0 deleted, 0 skipped, 1 failed" in (
        to_source.stdout
    )  # the Android export holds one card whose photo is cut off
    assert "malformed, skipped: invalid vCard: PHOTO is not valid base64" in to_source.stdout

    source = _cards(dav_pair, "source", "contacts")
    outlook = next(raw for raw in source.values() if b"Company\\, The" in raw).decode()
    # vCard 2.1 became 3.0: QUOTED-PRINTABLE decoded, bare types named, photo kept.
    assert "VERSION:3.0" in outlook and "QUOTED-PRINTABLE" not in outlook
    assert "NOTE:This is the note field!!\\nSecond line\\n\\nThird line is empty\\n" in "".join(
        logical_lines(outlook)
    )
    assert "TEL;TYPE=WORK,VOICE:BusinessPhone" in outlook

    again = dav_pair.run(
        "migrate-contacts",
        "--source",
        f"vcf://{folder}/contacts.vcf",
        "--target",
        dav_pair.source.url("carddav+http"),
        "--user",
        dav_pair.source_user,
        "--state",
        str(dav_pair.workdir / "import.db"),
        env=dav_pair.env(SKYLIFT_TARGET_PASSWORD=SOURCE_PASSWORD),
    )
    assert "contacts: 0 created, 0 updated, 0 deleted, 13 skipped, 1 failed" in again.stdout

    moved = dav_pair.migrate(DavKind.ADDRESSBOOK)
    assert moved.returncode == 0, moved.stdout + moved.stderr
    target = _cards(dav_pair, "target", "contacts")
    assert set(target) == set(source)
    for uid, raw in source.items():
        assert compare_cards(raw, target[uid]) == [], uid
    iphone = next(raw for raw in target.values() if b"x-ablabel" in raw.lower())
    photo = "".join(logical_lines(iphone.decode()))
    assert "PHOTO;" in photo and len(photo) > 40_000  # the 46 KB photo came along

    rerun = dav_pair.migrate(DavKind.ADDRESSBOOK)
    assert "contacts: unchanged since the last run" in rerun.stdout

    verify = dav_pair.run(
        "verify-contacts",
        "--source",
        dav_pair.source.url("carddav+http"),
        "--target",
        dav_pair.target.url("carddav+http"),
        "--user",
        dav_pair.target_user,
    )
    assert verify.returncode == 0, verify.stdout
    assert "contacts: 13 checked, identical" in verify.stdout


def test_ics_folder_to_caldav_reports_malformed_objects_and_keeps_the_rest(
    dav_pair: DavPair,
) -> None:
    folder = dav_pair.workdir / "exports"
    folder.mkdir()
    for name in (
        "icalendar/issue_104_broken_calendar.ics",
        "khal/invalid_tzoffset.ics",
        "thunderbird/importLatin1.ics",
        "recurring-ical-events/issue_223_thunderbird.ics",
        "ical.js/recur_instances.ics",
        "icalendar/pacific_fiji.ics",  # two DTSTARTs
        "recurring-ical-events/subcomponents.ics",
        "icalendar/issue_1549_binary_attachment.ics",  # no DTSTART
    ):
        shutil.copy(DATA / "ics" / name, folder)
    result = dav_pair.run(
        "migrate-calendars",
        "--source",
        f"ics://{folder}",
        "--target",
        dav_pair.target.url(),
        "--user",
        dav_pair.target_user,
        "--state",
        str(dav_pair.state),
    )
    assert result.returncode == 1
    out = result.stdout
    assert "line 13: not an iCalendar line: 'X'" in out
    # The out-of-range UTC offset (+5328) no longer stops it: Radicale takes it as it is.
    assert "invalid_tzoffset (created): 1 created" in out
    assert "X-UNKNOWN ending at line 99 skipped" in out
    assert "recur_instances (created): 0 created" in out  # Radicale refuses RDATE;VALUE=PERIOD
    assert "the target refused it: HTTP 400" in out
    assert "VEVENT has 2 DTSTART properties" in out
    assert "VEVENT without DTSTART" in out
    assert "subcomponents (created): 1 created" in out
    assert "importLatin1 (created): 4 created" in out
    assert "issue_223_thunderbird (created): 1 created" in out

    with dav_pair.account("target", DavKind.CALENDAR) as target:
        latin = next(c for c in target.collections() if c.name == "importLatin1")
        texts = [
            i.raw.decode() for i in target.fetch(latin, [r.href for r in target.list_items(latin)])
        ]
    assert any("SUMMARY:Event Två" in text for text in texts)  # Latin-1 arrived as UTF-8

    rerun = dav_pair.run(
        "migrate-calendars",
        "--source",
        f"ics://{folder}",
        "--target",
        dav_pair.target.url(),
        "--user",
        dav_pair.target_user,
        "--state",
        str(dav_pair.state),
        "--json",
    )
    import json

    counts = [c["counts"] for c in json.loads(rerun.stdout)["items"][0]["collections"]]
    assert sum(c["create"] + c["update"] for c in counts) == 0

    verify = dav_pair.run(
        "verify-calendars",
        "--source",
        f"ics://{folder}",
        "--target",
        dav_pair.target.url(),
        "--user",
        dav_pair.target_user,
        "--start",
        "2010-01-01",
        "--days",
        "5000",
    )
    assert verify.returncode == 1
    problems = [line for line in verify.stdout.splitlines() if line.startswith("  ")]
    assert problems == ["  623c13c0-6c2b-45d6-a12b-c33ad61c4868: missing on the target"]
    for line in (
        f"{dav_pair.target_user} calendar subcomponents: 1 checked, identical",
        f"{dav_pair.target_user} calendar issue_223_thunderbird: 1 checked, identical",
        f"{dav_pair.target_user} calendar importLatin1: 4 checked, identical",
        f"{dav_pair.target_user} calendar recur_instances: 1 checked, 1 problem(s)",
    ):
        assert line in verify.stdout.splitlines()
