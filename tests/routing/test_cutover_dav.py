"""Calendars and contacts ride in the cut-over's deltas: an event and a contact added on the
source after the pre-stage are on the target once the wave is cut over (real Radicale
servers on both sides, real Postfix routing the mail)."""

from __future__ import annotations

import json

from skylift.connectors.dav.client import DavAccount, DavHttpConnector
from skylift.connectors.endpoint import Endpoint
from skylift.model.account import Login, Secret
from skylift.model.dav import Collection, DavKind
from tests.dav.calendars import crlf
from tests.mailtools import run_skylift
from tests.routing.conftest import Org, password
from tests.servers.dav import DavServer


def _event(uid: str, summary: str) -> bytes:
    return crlf(
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//skylift tests//EN\nBEGIN:VEVENT\n"
        f"UID:{uid}\nDTSTAMP:20261201T000000Z\nDTSTART:20261214T090000Z\n"
        f"DTEND:20261214T100000Z\nSUMMARY:{summary}\nEND:VEVENT\nEND:VCALENDAR\n"
    )


def _card(uid: str, name: str) -> bytes:
    return crlf(f"BEGIN:VCARD\nVERSION:3.0\nUID:{uid}\nFN:{name}\nN:{name};;;;\nEND:VCARD\n")


def _account(server: DavServer, user: str, kind: DavKind) -> DavAccount:
    endpoint = Endpoint.parse(server.url("caldav+http"))
    return DavHttpConnector(endpoint, kind).open(Login(user, Secret(password(user))))


def _uids(server: DavServer, user: str, kind: DavKind, name: str) -> set[str]:
    """The UIDs of the objects in *user*'s collection *name* (empty when there is none)."""
    with _account(server, user, kind) as account:
        found = [c for c in account.collections() if c.name == name]
        if not found:
            return set()
        hrefs = [r.href for r in account.list_items(found[0])]
        return {
            line.split(":", 1)[1]
            for item in account.fetch(found[0], hrefs)
            for line in item.raw.decode().splitlines()
            if line.startswith("UID:")
        }


def test_an_event_and_a_contact_made_before_the_cut_over_are_on_the_target_after(
    org: Org, radicale_servers: tuple[DavServer, DavServer]
) -> None:
    dav_source, dav_target = radicale_servers
    w2a, w2b = org.wave(2)
    for user in org.users:
        dav_source.add_user(user, password(user))
        dav_target.add_user(user, password(user))
    with _account(dav_source, w2a, DavKind.CALENDAR) as account:
        work = account.create_collection(Collection(DavKind.CALENDAR, "work", "Work"))
        assert account.put(work, "kickoff.ics", _event("kickoff@corp", "Kick-off")).error is None
    with _account(dav_source, w2a, DavKind.ADDRESSBOOK) as account:
        book = account.create_collection(Collection(DavKind.ADDRESSBOOK, "people", "People"))
        assert account.put(book, "ann.vcf", _card("ann@corp", "Ann")).error is None
    # T-7 pre-stage of the calendars, as docs/calendars.md says
    staged = run_skylift(
        "migrate-calendars", "--source", dav_source.url("caldav+http"), "--target",
        dav_target.url("caldav+http"), "--users", org.users_csv, "--state", org.state,
    )  # fmt: skip
    assert staged.returncode == 0, staged.stdout + staged.stderr
    # T-1..T-0: new objects on the source, not yet on the target
    with _account(dav_source, w2a, DavKind.CALENDAR) as account:
        work = next(c for c in account.collections() if c.name == "work")
        assert account.put(work, "review.ics", _event("review@corp", "Review")).error is None
    with _account(dav_source, w2a, DavKind.ADDRESSBOOK) as account:
        book = next(c for c in account.collections() if c.name == "people")
        assert account.put(book, "bo.vcf", _card("bo@corp", "Bo")).error is None
    assert _uids(dav_target, w2a, DavKind.CALENDAR, "work") == {"kickoff@corp"}

    dav = [
        "--calendars-source", dav_source.url("caldav+http"),
        "--calendars-target", dav_target.url("caldav+http"),
        "--contacts-source", dav_source.url("carddav+http"),
        "--contacts-target", dav_target.url("carddav+http"),
    ]  # fmt: skip
    done = org.route("cutover", 2, *dav, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    users = {u["user"]: u for u in json.loads(done.stdout)["users"]}
    assert users[w2a]["after"] == "cloud"
    assert users[w2a]["dav_copied"] == 3  # review.ics now; ann and bo: contacts were never staged
    assert _uids(dav_target, w2a, DavKind.CALENDAR, "work") == {"kickoff@corp", "review@corp"}
    assert _uids(dav_target, w2a, DavKind.ADDRESSBOOK, "people") == {"ann@corp", "bo@corp"}

    again = org.route("cutover", 2, *dav, "--json")
    assert again.returncode == 0, again.stderr
    assert {u["user"]: u["dav_copied"] for u in json.loads(again.stdout)["users"]} == {
        w2a: 0, w2b: 0
    }  # fmt: skip


def test_a_calendar_server_that_cannot_be_reached_keeps_the_user_on_prem(org: Org) -> None:
    from skylift.demo.dovecot import free_port

    dead = f"caldav+http://127.0.0.1:{free_port()}/"
    done = org.route("cutover", 2, "--calendars-source", dead, "--calendars-target", dead, "--json")
    assert done.returncode == 1, done.stderr
    users = json.loads(done.stdout)["users"]
    assert {u["after"] for u in users} == {"onprem"}
    assert all(u["reason"].startswith("calendars: ") for u in users), users
    half = org.route("cutover", 2, "--contacts-source", dead)
    assert half.returncode == 2
    assert (
        half.stderr.strip() == "skylift: error: --contacts-source and --contacts-target go together"
    )


def test_rollback_brings_back_what_was_made_in_the_cloud_once_and_the_next_cut_over_is_clean(
    org: Org, radicale_servers: tuple[DavServer, DavServer]
) -> None:
    dav_source, dav_target = radicale_servers
    w2a, _ = org.wave(2)
    for user in org.users:
        dav_source.add_user(user, password(user))
        dav_target.add_user(user, password(user))
    with _account(dav_source, w2a, DavKind.CALENDAR) as account:
        team = account.create_collection(Collection(DavKind.CALENDAR, "team", "Team"))
        assert account.put(team, "standup.ics", _event("standup@corp", "Stand-up")).error is None
        assert account.put(team, "retro.ics", _event("retro@corp", "Retro")).error is None
    dav = [
        "--calendars-source", dav_source.url("caldav+http"),
        "--calendars-target", dav_target.url("caldav+http"),
    ]  # fmt: skip
    moved = org.route("cutover", 2, *dav, "--json")
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert _uids(dav_target, w2a, DavKind.CALENDAR, "team") == {"standup@corp", "retro@corp"}
    # In the cloud, while the wave lives there: a new event, and the retro moved to a new title
    with _account(dav_target, w2a, DavKind.CALENDAR) as account:
        team = next(c for c in account.collections() if c.name == "team")
        assert account.put(team, "launch.ics", _event("launch@corp", "Launch")).error is None
        retro = next(r for r in account.list_items(team) if "retro" in r.href)
        changed = _event("retro@corp", "Retro (moved)")
        assert (
            account.put(team, "retro.ics", changed, etag=retro.etag, href=retro.href).error is None
        )

    back = org.route("rollback", 2, *dav, "--json")
    assert back.returncode == 0, back.stdout + back.stderr
    users = {u["user"]: u for u in json.loads(back.stdout)["users"]}
    assert users[w2a]["after"] == "onprem" and users[w2a]["reason"] is None
    assert users[w2a]["dav_copied"] == 2  # launch created, retro updated; stand-up untouched
    assert _uids(dav_source, w2a, DavKind.CALENDAR, "team") == {
        "standup@corp", "retro@corp", "launch@corp"
    }  # fmt: skip
    with _account(dav_source, w2a, DavKind.CALENDAR) as account:
        team = next(c for c in account.collections() if c.name == "team")
        items = account.list_items(team)
        assert len(items) == 3  # one object per UID: nothing came back twice
        bodies = [i.raw.decode() for i in account.fetch(team, [r.href for r in items])]
        assert any("SUMMARY:Retro (moved)" in b for b in bodies)

    again = org.route("rollback", 2, *dav, "--json")
    assert again.returncode == 0, again.stderr
    assert {u["user"]: u["dav_copied"] for u in json.loads(again.stdout)["users"]}[w2a] == 0

    forward = org.route("cutover", 2, *dav, "--json")
    assert forward.returncode == 0, forward.stdout + forward.stderr
    users = {u["user"]: u for u in json.loads(forward.stdout)["users"]}
    assert users[w2a]["reason"] is None and users[w2a]["after"] == "cloud"  # no false conflict
    assert users[w2a]["dav_copied"] == 0
    with _account(dav_target, w2a, DavKind.CALENDAR) as account:
        team = next(c for c in account.collections() if c.name == "team")
        assert len(account.list_items(team)) == 3
