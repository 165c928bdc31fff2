"""Calendar objects the tests write on the source server (our own, no provenance needed)."""

from __future__ import annotations

BERLIN = """BEGIN:VTIMEZONE
TZID:Europe/Berlin
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE
"""


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode("utf-8")


def team_meeting(summary: str = "Team meeting") -> bytes:
    """Weekly, forever, Berlin time: one week moved, one cancelled, one exdate'd."""
    return crlf(
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//skylift tests//EN\n"
        + BERLIN
        + "BEGIN:VEVENT\nUID:team-weekly@old.example\nDTSTAMP:20200101T000000Z\n"
        "DTSTART;TZID=Europe/Berlin:20200106T100000\n"
        "DTEND;TZID=Europe/Berlin:20200106T110000\n"
        f"RRULE:FREQ=WEEKLY;BYDAY=MO\nSUMMARY:{summary}\n"
        "EXDATE;TZID=Europe/Berlin:20200120T100000\n"
        "ORGANIZER;CN=Boss:mailto:boss@old.example\n"
        "ATTENDEE;CN=Jane;PARTSTAT=ACCEPTED:mailto:jane@old.example\n"
        "ATTENDEE;CN=Partner:mailto:someone@partner.example\n"
        "ATTACH:https://files.old.example/agenda.pdf\n"
        "BEGIN:VALARM\nACTION:DISPLAY\nTRIGGER:-PT15M\nDESCRIPTION:Reminder\nEND:VALARM\n"
        "END:VEVENT\n"
        "BEGIN:VEVENT\nUID:team-weekly@old.example\nDTSTAMP:20200101T000000Z\n"
        "RECURRENCE-ID;TZID=Europe/Berlin:20200113T100000\n"
        "DTSTART;TZID=Europe/Berlin:20200114T150000\n"
        "DTEND;TZID=Europe/Berlin:20200114T160000\n"
        f"SUMMARY:{summary} (moved)\nORGANIZER;CN=Boss:mailto:boss@old.example\n"
        "END:VEVENT\n"
        "BEGIN:VEVENT\nUID:team-weekly@old.example\nDTSTAMP:20200101T000000Z\n"
        "RECURRENCE-ID;TZID=Europe/Berlin:20200127T100000\n"
        "DTSTART;TZID=Europe/Berlin:20200127T100000\n"
        "DTEND;TZID=Europe/Berlin:20200127T110000\n"
        f"SUMMARY:{summary}\nSTATUS:CANCELLED\nORGANIZER;CN=Boss:mailto:boss@old.example\n"
        "END:VEVENT\nEND:VCALENDAR\n"
    )


def task(uid: str = "task-1@old.example", summary: str = "File the report") -> bytes:
    return crlf(
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//skylift tests//EN\nBEGIN:VTODO\n"
        f"UID:{uid}\nDTSTAMP:20200101T000000Z\nDUE;VALUE=DATE:20200301\n"
        f"SUMMARY:{summary}\nSTATUS:NEEDS-ACTION\nEND:VTODO\nEND:VCALENDAR\n"
    )


def big_event(size: int) -> bytes:
    """An event with an inline attachment of about *size* bytes."""
    import base64

    blob = base64.b64encode(b"\0" * (size * 3 // 4)).decode()
    folded = "\n ".join(blob[i : i + 74] for i in range(0, len(blob), 74))
    return crlf(
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//skylift tests//EN\nBEGIN:VEVENT\n"
        "UID:big-one@old.example\nDTSTAMP:20200101T000000Z\nDTSTART:20200301T090000Z\n"
        "SUMMARY:Huge attachment\n"
        f"ATTACH;ENCODING=BASE64;VALUE=BINARY;FMTTYPE=application/pdf:{folded}\n"
        "END:VEVENT\nEND:VCALENDAR\n"
    )
