"""The pure parts: splitting files, preparing objects, planning, comparing occurrences."""

from __future__ import annotations

from datetime import date

import pytest

from skylift.connectors.dav.ics_files import split_calendar
from skylift.connectors.dav.vcf_files import split_vcards
from skylift.engine.dav.objects import MalformedObject, prepare, resource_name
from skylift.engine.dav.plan import Action, plan_listing, plan_object
from skylift.engine.dav.repair import repair_calendar_object
from skylift.engine.dav.vcard import logical_lines, prepare_vcard
from skylift.engine.dav.verify import compare_cards, compare_events
from skylift.model.dav import DavKind, Item, ItemRecord, ItemRef

from .calendars import team_meeting
from .conftest import DATA

V3 = frozenset({"3.0", "4.0"})


def _calendar_item(raw: bytes) -> Item:
    return Item(DavKind.CALENDAR, "x.ics", raw)


def test_a_multi_event_file_splits_by_uid_and_each_object_keeps_only_its_time_zones() -> None:
    split = split_calendar(
        (DATA / "ics/recurring-ical-events/machbar_16_feb_2019.ics").read_bytes()
    )
    assert len(split.objects) == 58 and not split.errors
    for raw in split.objects.values():
        text = raw.decode()
        assert text.count("BEGIN:VCALENDAR") == 1
        assert ("BEGIN:VTIMEZONE" in text) == ("TZID=Europe/Berlin" in text)


def test_overrides_stay_with_their_master_even_when_they_come_first() -> None:
    split = split_calendar((DATA / "ics/khal/event_rrule_recuid_cancelled.ics").read_bytes())
    (raw,) = split.objects.values()
    assert raw.decode().count("BEGIN:VEVENT") == 3


def test_an_event_without_uid_gets_a_stable_one_and_method_is_dropped() -> None:
    raw = (DATA / "ics/icalendar/issue_104_broken_calendar.ics").read_bytes()
    (obj,) = split_calendar(raw).objects.values()
    first, second = prepare(_calendar_item(obj)), prepare(_calendar_item(obj))
    assert first.uid == second.uid and first.uid.startswith("skylift-")
    assert f"UID:{first.uid}" in first.raw.decode() and "METHOD:" not in first.raw.decode()


def test_organizer_and_attendee_domains_are_rewritten_and_nothing_else_changes() -> None:
    prepared = prepare(_calendar_item(team_meeting()), {"old.example": "new.example"})
    text = prepared.raw.decode()
    assert "mailto:boss@new.example" in text and "mailto:jane@new.example" in text
    assert "@old.example" in text  # the UID and the attachment URL are not addresses
    assert "UID:team-weekly@old.example" in text
    untouched = prepare(_calendar_item(team_meeting()))
    assert untouched.raw == team_meeting()


def test_an_out_of_range_utc_offset_leaves_byte_for_byte_and_only_structure_is_refused() -> None:
    raw = (DATA / "ics/khal/invalid_tzoffset.ics").read_bytes()
    assert prepare(_calendar_item(raw)).raw == raw  # no strict parser in the way
    unclosed = raw.replace(b"END:VCALENDAR", b"")
    with pytest.raises(MalformedObject, match="BEGIN:VCALENDAR is never closed"):
        prepare(_calendar_item(unclosed))


def test_the_repair_rule_changes_only_the_out_of_range_offsets() -> None:
    raw = (DATA / "ics/khal/invalid_tzoffset.ics").read_bytes().replace(b"\r\n", b"\n")
    repaired = repair_calendar_object(raw.replace(b"\n", b"\r\n"))
    assert repaired is not None
    assert repaired.changes == ["TZOFFSETFROM:+5328 -> +2359"]
    assert repaired.raw == raw.replace(b"\n", b"\r\n").replace(
        b"TZOFFSETFROM:+5328", b"TZOFFSETFROM:+2359"
    )
    assert repair_calendar_object(team_meeting()) is None  # nothing to repair: no guess


def test_vcard_21_becomes_30_with_decoded_text_and_named_types() -> None:
    (card,) = split_vcards((DATA / "vcf/ez-vcard/outlook-2003.vcf").read_bytes())[0]
    raw, uid = prepare_vcard(card, V3)
    text = raw.decode()
    assert text.startswith("BEGIN:VCARD\r\nVERSION:3.0\r\n")
    assert "ORG:Company\\, The;TheDepartment" in text
    assert "TEL;TYPE=HOME,VOICE:HomePhone" in text and "CHARSET" not in text
    assert uid == prepare_vcard(card, V3)[1]  # stable across runs


def test_cards_compare_field_by_field() -> None:
    card = (
        b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a\r\nFN:Ann\r\nTEL;TYPE=work,voice:1\r\nEND:VCARD\r\n"
    )
    reordered = (
        b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann\r\nTEL;TYPE=VOICE;TYPE=WORK:1\r\nUID:a\r\n"
        b"END:VCARD\r\n"
    )
    assert compare_cards(card, reordered) == []
    assert compare_cards(card, card.replace(b"TEL;TYPE=work,voice:1", b"TEL:2")) != []


def test_a_lost_exception_shows_up_as_a_moved_occurrence() -> None:
    original = team_meeting()
    text = original.decode()
    master_only = text[: text.index("BEGIN:VEVENT", text.index("END:VEVENT"))] + "END:VCALENDAR\r\n"
    problems = compare_events(original, master_only.encode(), date(2020, 1, 1), date(2020, 3, 1))
    assert any("missing on the target: Team meeting (moved)" in p for p in problems)
    assert compare_events(original, original, date(2020, 1, 1), date(2021, 1, 1)) == []


def _record(uid: str = "u1", etag: str = '"s1"', target_etag: str = '"t1"') -> ItemRecord:
    return ItemRecord(uid, "/src/u1.ics", etag, "/dst/u1.ics", target_etag, "hash1")


def test_unchanged_objects_are_skipped_without_fetching() -> None:
    plan = plan_listing([ItemRef("/src/u1.ics", '"s1"')], [_record()], {"/dst/u1.ics": '"t1"'})
    assert plan.fetch == [] and [s.action for s in plan.steps] == [Action.SKIP]


def test_changed_source_is_fetched_and_updated_in_place_with_if_match() -> None:
    plan = plan_listing([ItemRef("/src/u1.ics", '"s2"')], [_record()], {"/dst/u1.ics": '"t1"'})
    assert plan.fetch == ["/src/u1.ics"]
    step = plan_object(
        "u1", "/src/u1.ics", "/dst/u1.ics", "hash2", _record(), {"/dst/u1.ics": '"t1"'}
    )
    assert (step.action, step.target_href, step.if_match) == (Action.UPDATE, "/dst/u1.ics", '"t1"')


def test_deletions_propagate_only_when_asked_and_only_if_the_target_copy_is_ours() -> None:
    listing = {"/dst/u1.ics": '"t1"'}
    kept = plan_listing([], [_record()], listing)
    assert kept.steps[0].action is Action.SKIP
    gone = plan_listing([], [_record()], listing, propagate_deletes=True)
    assert (gone.steps[0].action, gone.steps[0].if_match) == (Action.DELETE, '"t1"')
    edited = plan_listing([], [_record()], {"/dst/u1.ics": '"t9"'}, propagate_deletes=True)
    assert edited.steps[0].action is Action.SKIP


def test_an_object_changed_on_both_sides_is_not_overwritten() -> None:
    step = plan_object(
        "u1", "/src/u1.ics", "/dst/u1.ics", "hash2", _record(), {"/dst/u1.ics": '"t9"'}
    )
    assert step.action is Action.FAIL


def test_resource_names_are_safe_for_any_uid() -> None:
    assert resource_name("abc@old.example", DavKind.CALENDAR) == "abc@old.example.ics"
    odd = resource_name("a/b c?", DavKind.ADDRESSBOOK)
    assert "/" not in odd and odd.endswith(".vcf")


def test_vcard_40_becomes_30_only_for_a_target_that_takes_no_40() -> None:
    (card,) = split_vcards((DATA / "vcf/thunderbird/v4-uri-jpeg.vcf").read_bytes())[0]
    assert b"VERSION:4.0" in prepare_vcard(card, V3)[0]  # kept where 4.0 is taken
    raw, _ = prepare_vcard(card, frozenset({"3.0"}))
    text = "".join(logical_lines(raw.decode()))
    assert "VERSION:3.0" in text and "data:image" not in text
    assert "PHOTO;TYPE=JPEG;ENCODING=b:/9j/4AAQSkZJRg" in text


def test_a_bare_carriage_return_in_a_value_stays_inside_the_value() -> None:
    cards, _ = split_vcards((DATA / "vcf/thunderbird/export.vcf").read_bytes())
    raw, _ = prepare_vcard(cards[1], frozenset({"3.0"}))
    assert "X-CUSTOM3:custom\\n3" in raw.decode()
