"""Drift: the pinned CSDL slice still describes every Graph call and property skylift uses.

Fails when (a) a path the connector declares (``CALLS``) no longer resolves through the
slice's entity sets and navigation properties, (b) a body skylift builds names a property or
enum value the slice lacks, or (c) with ``SKYLIFT_GRAPH_CSDL`` pointing at a newer
``cleanMetadata.xml``, that file cuts a different slice for a type skylift uses: rerun
``tests/data/graph/make_slice.py CSDL COMMIT``, review the diff, bump the line in
tests/data/SOURCES.md together.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from skylift.connectors.dav.graph.calendar import CALLS
from skylift.connectors.dav.graph.events import UID_PROPERTY, plan_object
from skylift.connectors.directory.graph import CALLS as DIRECTORY_CALLS
from tests.data.graph.make_slice import SLICE, cut
from tests.servers.graph_schema import check_body, resolve

RICH = b"""BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//t//t//EN\r
BEGIN:VEVENT\r
UID:rich@old.example\r
DTSTAMP:20260101T000000Z\r
DTSTART;TZID=Europe/Berlin:20260113T090000\r
DTEND;TZID=Europe/Berlin:20260113T100000\r
RRULE:FREQ=MONTHLY;BYDAY=2TU;UNTIL=20261231T000000Z\r
SUMMARY:Board\r
DESCRIPTION:Agenda\r
LOCATION:Room 1\r
CATEGORIES:Work,Board\r
CLASS:PRIVATE\r
TRANSP:TRANSPARENT\r
ORGANIZER;CN=Ann:mailto:ann@old.example\r
ATTENDEE;ROLE=OPT-PARTICIPANT;CN=Bob:mailto:bob@old.example\r
ATTENDEE;CUTYPE=ROOM:mailto:room@old.example\r
BEGIN:VALARM\r
ACTION:DISPLAY\r
TRIGGER:-PT15M\r
END:VALARM\r
END:VEVENT\r
END:VCALENDAR\r
"""


def test_every_endpoint_skylift_calls_resolves_in_the_pinned_slice() -> None:
    for _verb, path in CALLS:
        kind, _many, _ = resolve("/v1.0" + path.replace("{id}", "x"))
        expected = {"calendars": "calendar", "attachments": "attachment",
                    "createUploadSession": "action:createUploadSession"}  # fmt: skip
        assert kind == expected.get(path.rsplit("/", 1)[1], "event"), path


def test_every_directory_endpoint_resolves_in_the_pinned_slice() -> None:
    for _verb, path in DIRECTORY_CALLS:
        kind, _many, _ = resolve("/v1.0" + path.replace("{id}", "x"))
        expected = {"users": "user", "groups": "group"}.get(path.split("/")[1], "$batch")
        if path.endswith("/members"):
            expected = "directoryObject"
        elif path.endswith("$ref"):
            expected = "$ref"
        assert kind == expected, path


def test_every_property_skylift_sends_is_in_the_pinned_slice() -> None:
    plan = plan_object(RICH)
    body = {**plan.master, "singleValueExtendedProperties": [{"id": UID_PROPERTY, "value": "u"}]}
    body["transactionId"] = "t"
    check_body("event", body)  # raises SchemaError on drift
    check_body(
        "action:createUploadSession",
        {
            "AttachmentItem": {
                "attachmentType": "file",
                "name": "big.png",
                "size": 5,
                "contentType": "image/png",
            }
        },
    )
    check_body("attachment", {"@odata.type": "#microsoft.graph.fileAttachment", "name": "a.png",
                              "contentType": "image/png", "contentBytes": "iVBORw=="})  # fmt: skip
    assert body["recurrence"]["pattern"]["type"] == "relativeMonthly"


@pytest.mark.skipif("SKYLIFT_GRAPH_CSDL" not in os.environ, reason="no newer CSDL given")
def test_a_newer_csdl_cuts_the_same_slice() -> None:
    pinned = json.loads(SLICE.read_text())
    fresh = cut(Path(os.environ["SKYLIFT_GRAPH_CSDL"]))
    for name, entry in pinned["types"].items():
        assert fresh["types"].get(name) == entry, f"{name} changed: rerun make_slice.py, review"


def test_every_directory_property_skylift_sends_is_in_the_pinned_slice() -> None:
    from skylift.connectors.directory.graph import GROUP_PREFIX, GraphDirectory

    directory = GraphDirectory.__new__(GraphDirectory)
    directory.domain = "new.example"
    fields: dict[str, object] = {
        "user_name": "ann", "given_name": "Ann", "family_name": "Lee", "active": False,
        "title": "CTO", "department": "IT", "phone": "+1 555", "email": "ann@new.example",
        "other_emails": ("a@old.example",), "external_id": "abc", "display_name": "Ann Lee",
    }  # fmt: skip
    body = directory._user_body(fields)
    body["passwordProfile"] = {"password": "x", "forceChangePasswordNextSignIn": True}
    check_body("user", body)
    check_body("group", {"displayName": "G", "mailEnabled": False, "mailNickname": "g",
                         "securityEnabled": True, "uniqueName": GROUP_PREFIX + "abc"})  # fmt: skip


def test_every_contacts_endpoint_and_property_is_in_the_pinned_slice() -> None:
    from skylift.connectors.dav.graph.contacts import CALLS as CONTACT_CALLS
    from skylift.connectors.dav.graph.vcard import to_contact

    for _verb, path in CONTACT_CALLS:
        kind, _many, _ = resolve("/v1.0" + path.replace("{id}", "x"))
        expected = "contactFolder" if path.endswith("contactFolders") else "contact"
        assert kind == ("profilePhoto" if path.endswith("$value") else expected), path
    card = (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:c1\r\nFN:Ann Lee\r\nN:Lee;Ann;M;;\r\nNICKNAME:A\r\n"
        "EMAIL:ann@old.example\r\nTEL;TYPE=CELL:+1\r\nTEL;TYPE=HOME:+2\r\nTEL;TYPE=WORK:+3\r\n"
        "ADR;TYPE=WORK:;;1 Main St;Town;ST;12345;US\r\nORG:Acme;IT\r\nTITLE:CTO\r\nNOTE:hi\r\n"
        "URL:https://acme.example\r\nBDAY:1980-02-03\r\nCATEGORIES:VIP\r\nEND:VCARD\r\n"
    )
    _uid, body, _photo, left = to_contact(card.encode())
    check_body("contact", body)
    assert left == []


def test_every_to_do_endpoint_and_property_is_in_the_pinned_slice() -> None:
    from skylift.connectors.dav.graph.todo import CALLS as TODO_CALLS
    from skylift.connectors.dav.graph.todo import task_body

    for _verb, path in TODO_CALLS:
        kind, _many, _ = resolve("/v1.0" + path.replace("{id}", "x"))
        assert kind == ("todoTaskList" if path.endswith("/lists") else "todoTask"), path
    task = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VTODO\r\nUID:t1\r\n"
        "DTSTAMP:20260101T000000Z\r\nSUMMARY:Report\r\nDESCRIPTION:Soon\r\n"
        "DTSTART:20270101T090000Z\r\nDUE:20270108T170000Z\r\nRRULE:FREQ=WEEKLY\r\n"
        "PRIORITY:1\r\nCATEGORIES:A\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT1H\r\n"
        "END:VALARM\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
    )
    _, body, left = task_body(task.encode())
    assert left == [] and body["recurrence"]["pattern"]["type"] == "weekly"
    check_body("todoTask", body)  # raises SchemaError on drift
    check_body("todoTaskList", {"displayName": "Work"})
