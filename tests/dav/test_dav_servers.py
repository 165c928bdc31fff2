"""Issue 9, calendars and contacts: byte-for-byte copies, repairs, collection properties,
redirected discovery and throttling, against real Radicale and Xandikos servers."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from skylift.demo.http_front import HttpFront
from skylift.demo.radicale import RadicaleServer
from skylift.model.dav import Collection, DavKind

from .calendars import crlf, task, team_meeting
from .conftest import DATA, SOURCE_PASSWORD, DavPair, DavServer, seed

WORK = Collection(
    DavKind.CALENDAR, "work", "Work", "#336699FF", "Meetings", frozenset({"VEVENT", "VTODO"})
)
PEOPLE = Collection(DavKind.ADDRESSBOOK, "people", "People", description="Friends and colleagues")
CARD = crlf(
    "BEGIN:VCARD\nVERSION:3.0\nUID:card-1@old.example\nFN:Ann Example\nN:Example;Ann;;;\n"
    "EMAIL;TYPE=WORK:ann@old.example\nNOTE:keeps\\, commas\nEND:VCARD\n"
)
# An event as a plain-text export writes it: LF line ends. Stored as it is by a server that
# keeps bytes (Xandikos); a copy must not "normalise" it.
LF_EVENT = (
    b"BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//skylift tests//EN\nBEGIN:VEVENT\n"
    b"UID:lf-only@old.example\nDTSTAMP:20200101T000000Z\nDTSTART:20200302T090000Z\n"
    b"SUMMARY:Written with LF\nX-CUSTOM;X-P=1:kept\nEND:VEVENT\nEND:VCALENDAR\n"
)
# khal's test file: a VTIMEZONE observance with TZOFFSETFROM:+5328. Radicale stores and
# serves it; Xandikos (icalendar) refuses it.
ODD_OFFSET = (DATA / "ics/khal/invalid_tzoffset.ics").read_bytes()
ODD_UID = "1234567890DC8-468D-B140-D2B41B1013E9"


def _served(pair: DavPair, side: str, kind: DavKind, name: str) -> dict[str, bytes]:
    """Resource name -> the bytes the server answers a GET with, for collection *name*."""
    with pair.account(side, kind) as account:
        collection = next(c for c in account.collections() if c.name == name)
        found = {}
        for ref in account.list_items(collection):
            item = account.get(ref.href)
            assert item is not None
            found[ref.href.rpartition("/")[2]] = item.raw
        return found


def _by_uid(objects: dict[str, bytes]) -> dict[str, bytes]:
    out = {}
    for raw in objects.values():
        uid = next(
            line.split(b":", 1)[1].strip() for line in raw.splitlines() if line.startswith(b"UID:")
        )
        out[uid.decode()] = raw
    return out


def test_objects_arrive_byte_for_byte(any_pair: DavPair) -> None:
    with any_pair.account("source", DavKind.CALENDAR) as source:
        seed(source, WORK, {"team.ics": team_meeting(), "task.ics": task(), "lf.ics": LF_EVENT})
    with any_pair.account("source", DavKind.ADDRESSBOOK) as source:
        seed(source, PEOPLE, {"ann.vcf": CARD})
    calendars = any_pair.migrate(DavKind.CALENDAR)
    assert calendars.returncode == 0, calendars.stdout + calendars.stderr
    contacts = any_pair.migrate(DavKind.ADDRESSBOOK)
    assert contacts.returncode == 0, contacts.stdout + contacts.stderr

    for kind, name in ((DavKind.CALENDAR, "work"), (DavKind.ADDRESSBOOK, "people")):
        before = _by_uid(_served(any_pair, "source", kind, name))
        after = _by_uid(_served(any_pair, "target", kind, name))
        assert set(before) == set(after)
        for uid, raw in before.items():
            assert after[uid] == raw, uid  # what the source serves is what the target holds


def test_an_out_of_range_utc_offset_arrives_as_the_source_serves_it(dav_pair: DavPair) -> None:
    with dav_pair.account("source", DavKind.CALENDAR) as source:
        seed(source, WORK, {"odd.ics": ODD_OFFSET})
    result = dav_pair.migrate(DavKind.CALENDAR)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "work (created): 1 created" in result.stdout
    served = _by_uid(_served(dav_pair, "source", DavKind.CALENDAR, "work"))
    assert _by_uid(_served(dav_pair, "target", DavKind.CALENDAR, "work")) == served
    assert b"TZOFFSETFROM:+5328" in served[ODD_UID]


def test_a_target_that_refuses_the_offset_gets_the_minimal_repair_and_the_original_is_kept(
    mixed_pair: DavPair,
) -> None:
    with mixed_pair.account("source", DavKind.CALENDAR) as source:
        seed(source, WORK, {"odd.ics": ODD_OFFSET, "team.ics": team_meeting()})
    served = _by_uid(_served(mixed_pair, "source", DavKind.CALENDAR, "work"))
    original = served[ODD_UID]
    result = mixed_pair.migrate(DavKind.CALENDAR, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    (report,) = json.loads(result.stdout)["items"][0]["collections"]
    assert report["counts"]["create"] == 2 and report["counts"]["fail"] == 0
    (line,) = [i for i in report["items"] if i["notice"]]
    assert line["uid"] == ODD_UID
    assert line["reason"].startswith("repaired (TZOFFSETFROM:+5328 -> +2359) after the target")
    assert "valid-calendar-data" in line["reason"]
    saved = Path(line["reason"].rpartition("original saved to ")[2])
    assert saved.read_bytes() == original  # the original, byte for byte, where it says

    stored = _by_uid(_served(mixed_pair, "target", DavKind.CALENDAR, "work"))
    # Only that line changed (Xandikos lists this event's properties in its own order).
    repaired = original.replace(b"TZOFFSETFROM:+5328", b"TZOFFSETFROM:+2359")
    assert sorted(stored[ODD_UID].splitlines()) == sorted(repaired.splitlines())
    assert b"+5328" not in stored[ODD_UID] and "team-weekly@old.example" in stored

    text = mixed_pair.migrate(DavKind.CALENDAR)  # a rerun: nothing to do, nothing repeated
    assert text.returncode == 0 and "unchanged since the last run" in text.stdout


def test_a_property_refused_in_the_mkcol_answer_is_set_by_proppatch_and_reruns_repair(
    any_pair: DavPair,
) -> None:
    with any_pair.account("source", DavKind.ADDRESSBOOK) as source:
        seed(source, PEOPLE, {"ann.vcf": CARD})
    result = any_pair.migrate(DavKind.ADDRESSBOOK)
    assert result.returncode == 0, result.stdout + result.stderr
    if any_pair.server == "xandikos":  # it refuses the description inside its 201 answer
        assert "addressbook-description refused when creating it; set by PROPPATCH" in (
            result.stdout
        )
    with any_pair.account("target", DavKind.ADDRESSBOOK) as target:
        (made,) = target.collections()
        assert (made.display_name, made.description) == ("People", "Friends and colleagues")
        # Someone changes it on the target; the next run sets it back.
        assert not target.set_properties(made.href, {"displayname": "Renamed"})
    rerun = any_pair.migrate(DavKind.ADDRESSBOOK)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "set displayname as on the source" in rerun.stdout
    with any_pair.account("target", DavKind.ADDRESSBOOK) as target:
        (made,) = target.collections()
        assert made.display_name == "People"


def test_well_known_302_discovery_finds_a_dav_root_that_is_not_slash(
    xandikos_servers: tuple[DavServer, DavServer], tmp_path: Path
) -> None:
    _, server = xandikos_servers
    server.add_user("ann@new.example", "ann-pw")
    base = server.http_url
    probe = httpx.request(
        "PROPFIND", base + ".well-known/caldav", auth=("ann@new.example", "ann-pw")
    )
    assert probe.status_code == 302 and probe.headers["Location"] == "/dav/"

    from skylift.connectors.dav.client import DavHttpConnector
    from skylift.connectors.endpoint import Endpoint
    from skylift.model.account import Login, Secret

    endpoint = Endpoint.parse(server.url("caldav+http"))
    login = Login("ann@new.example", Secret("ann-pw"))
    with DavHttpConnector(endpoint, DavKind.CALENDAR).open(login) as account:
        assert account.home.startswith("/dav/")
        made = account.create_collection(WORK)
        assert made.href.startswith("/dav/") and made.display_name == "Work"


def test_a_url_that_is_no_dav_service_is_one_line_and_exit_3(any_pair: DavPair) -> None:
    result = any_pair.run(
        "migrate-calendars",
        "--source",
        any_pair.source.url().rstrip("/") + "/.well-known/nothing/",
        "--target",
        any_pair.target.url(),
        "--user",
        any_pair.target_user,
        "--state",
        str(any_pair.state),
    )
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 3, result.stdout + result.stderr
    assert len(lines) == 1 and "Traceback" not in result.stderr


def test_a_429_with_retry_after_is_waited_out(dav_pair: DavPair) -> None:
    with dav_pair.account("source", DavKind.CALENDAR) as source:
        seed(source, WORK, {"team.ics": team_meeting()})
    with HttpFront(dav_pair.target.http_url.rstrip("/"), busy=2, retry_after="1") as front:
        result = dav_pair.run(
            "migrate-calendars",
            "--source",
            dav_pair.source.url(),
            "--target",
            f"caldav+http://127.0.0.1:{front.port}/",
            "--user",
            dav_pair.target_user,
            "--state",
            str(dav_pair.state),
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "work (created): 1 created" in result.stdout
    assert front.busy == 0  # both 429s were answered, and the run still copied everything


@pytest.mark.parametrize("password", [SOURCE_PASSWORD])
def test_the_password_front_refuses_a_wrong_password(
    xandikos_servers: tuple[DavServer, DavServer], password: str
) -> None:
    source, _ = xandikos_servers
    source.add_user("zed@old.example", password)
    url = source.http_url + "dav/"
    assert httpx.request("PROPFIND", url, auth=("zed@old.example", "wrong")).status_code == 401
    assert httpx.request("PROPFIND", url, auth=("zed@old.example", password)).status_code == 207


def test_cards_keep_their_bytes_into_a_server_that_stores_them_as_sent(
    mixed_pair: DavPair,
) -> None:
    """Radicale serves CR LF; a multiget answer parsed naively turns CR LF into LF (XML line
    ends), and Xandikos stores cards as sent, so only a copy that keeps the CRs matches."""
    with mixed_pair.account("source", DavKind.ADDRESSBOOK) as source:
        seed(source, PEOPLE, {"ann.vcf": CARD})
    target_root = mixed_pair.target.url("carddav+http") + "dav/"  # no discovery involved
    result = mixed_pair.run(
        "migrate-contacts",
        "--source",
        mixed_pair.source.url("carddav+http"),
        "--target",
        target_root,
        "--user",
        mixed_pair.target_user,
        "--state",
        str(mixed_pair.state),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    before = _by_uid(_served(mixed_pair, "source", DavKind.ADDRESSBOOK, "people"))
    after = _by_uid(_served(mixed_pair, "target", DavKind.ADDRESSBOOK, "people"))
    assert after == before and b"\r\n" in after["card-1@old.example"]


def test_a_property_the_target_still_refuses_is_reported_and_the_exit_code_says_so(
    dav_pair: DavPair,
) -> None:
    locked = Collection(
        DavKind.CALENDAR, "locked", "Shared plans", components=frozenset({"VEVENT"})
    )
    with dav_pair.account("source", DavKind.CALENDAR) as source:
        seed(source, locked, {})
    # On the target the user may read "locked" but not change it (Radicale rights: r).
    assert isinstance(dav_pair.target, RadicaleServer)
    folder = dav_pair.target.storage / "collection-root" / dav_pair.target_user / "locked"
    folder.mkdir(parents=True)
    (folder / ".Radicale.props").write_text(
        json.dumps({"tag": "VCALENDAR", "D:displayname": "Old name"})
    )
    result = dav_pair.migrate(DavKind.CALENDAR)
    assert result.returncode == 1, result.stdout + result.stderr
    assert (
        "property displayname not set (differs from the source; refused by PROPPATCH: HTTP 403"
        in result.stdout
    )
    again = dav_pair.migrate(DavKind.CALENDAR)
    assert again.returncode == 1 and "property displayname not set" in again.stdout
