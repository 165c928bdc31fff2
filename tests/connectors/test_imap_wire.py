"""The copy path's own IMAP wire code: APPEND building and FETCH parsing (pure logic)."""

from __future__ import annotations

from datetime import UTC, datetime

from skylift.connectors.mail.imap.wire import (
    SMALL_WRITE,
    append_command,
    parse_fetch,
    parse_internaldate,
    uid_set,
)


def test_uid_set_compresses_runs() -> None:
    assert uid_set([7, 1, 2, 3, 9, 10]) == b"1:3,7,9:10"
    assert uid_set([5]) == b"5"


def test_a_batch_is_one_append_with_nonsynchronising_literals_and_untouched_bytes() -> None:
    bare_lf = b"Subject: bare\n\nline\n"
    crlf = b"Subject: x\r\n\r\nbody\r\n"
    when = datetime(2021, 3, 4, 5, 6, 7, tzinfo=UTC)
    wire = b"".join(
        append_command(
            b"A7",
            b'"Work/Alpha"',
            [(bare_lf, {"\\Seen", "$Label1"}, when), (crlf, set(), None)],
        )
    )
    assert wire == (
        b'A7 APPEND "Work/Alpha" ($Label1 \\Seen) "04-Mar-2021 05:06:07 +0000" {20+}\r\n'
        + bare_lf
        + b" () {20+}\r\n"
        + crlf
        + b"\r\n"
    )


def test_a_large_message_is_written_as_is_not_copied_into_a_buffer() -> None:
    big = b"x" * (SMALL_WRITE + 1)
    pieces = list(append_command(b"A1", b"INBOX", [(big, set(), None)]))
    assert any(p is big for p in pieces)
    assert b"".join(pieces).endswith(big + b"\r\n")


def test_fetch_answers_are_read_with_items_before_and_after_the_literal() -> None:
    data = [
        (b'1 (UID 11 RFC822.SIZE 5 FLAGS (\\Seen $Work) INTERNALDATE '
         b'"04-Mar-2021 05:06:07 +0100" BODY[] {5}', b"hello"),
        b")",
        (b"2 (BODY[] {3}", b"abc"),
        b' UID 12 FLAGS () RFC822.SIZE 3 INTERNALDATE "01-Jan-2020 00:00:00 +0000")',
        b"3 (FLAGS (\\Deleted))",  # an unsolicited update: no UID, not ours
        b"4 (UID 14 RFC822.SIZE 0 FLAGS () BODY[] NIL)",
    ]  # fmt: skip
    items = list(parse_fetch(data))
    assert [i.uid for i in items] == [11, 12, 14]
    first, second, third = items
    assert first.body == b"hello" and first.size == 5
    assert first.flags == (b"\\Seen", b"$Work")
    assert first.internaldate is not None and first.internaldate.utcoffset().total_seconds() == 3600
    assert second.body == b"abc" and second.size == 3 and second.flags == ()
    assert third.body == b""


def test_listing_answers_have_no_body() -> None:
    data = [
        b'5 (UID 50 RFC822.SIZE 1234 FLAGS (\\Answered) INTERNALDATE "01-Jan-2020 00:00:00 +0000")'
    ]
    (item,) = parse_fetch(data)
    assert (item.uid, item.size, item.flags, item.body) == (50, 1234, (b"\\Answered",), None)


def test_internal_dates_keep_their_offset_and_share_zone_objects() -> None:
    a = parse_internaldate(b" 4-Mar-2021 05:06:07 -0530")
    b = parse_internaldate(b"17-Dec-2019 23:59:59 -0530")
    assert a == datetime(2021, 3, 4, 10, 36, 7, tzinfo=UTC)
    assert a.tzinfo is b.tzinfo
    odd = parse_internaldate(b"04-Mar-2021 05:06:07 GMT")  # not RFC 3501: imapclient parses it
    assert odd.year == 2021
