"""CalDAV -> CalDAV between two real Radicale servers, through the skylift CLI."""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path

from skylift.connectors.dav.client import DavHttpConnector
from skylift.connectors.dav.ics_files import split_calendar
from skylift.connectors.endpoint import Endpoint
from skylift.demo.radicale import RadicaleServer
from skylift.engine.dav.verify import occurrences
from skylift.model.account import Login, Secret
from skylift.model.dav import Collection, DavKind
from tests.servers.dav import ADMIN_PASSWORD

from .calendars import big_event, task, team_meeting
from .conftest import DATA, TARGET_PASSWORD, DavPair, seed

WORK = Collection(
    DavKind.CALENDAR,
    "work",
    "Work",
    "#336699FF",
    "Meetings and tasks",
    frozenset({"VEVENT", "VTODO"}),
)
GOOGLE = Collection(DavKind.CALENDAR, "machbar", "Machbar", components=frozenset({"VEVENT"}))


def _seed_source(pair: DavPair, google_export: bool = False) -> None:
    with pair.account("source", DavKind.CALENDAR) as source:
        seed(source, WORK, {"team.ics": team_meeting(), "task.ics": task()})
        if not google_export:
            return
        split = split_calendar(
            (DATA / "ics/recurring-ical-events/machbar_16_feb_2019.ics").read_bytes()
        )
        seed(source, GOOGLE, {f"{n}.ics": raw for n, raw in enumerate(split.objects.values())})


def _objects(pair: DavPair, side: str, name: str) -> dict[str, bytes]:
    """UID -> bytes of every object in collection *name* on *side*."""
    with pair.account(side, DavKind.CALENDAR) as account:
        collection = next(c for c in account.collections() if c.name == name)
        items = account.fetch(collection, [r.href for r in account.list_items(collection)])
        found = {}
        for item in items:
            uid = next(
                line.split(":", 1)[1]
                for line in item.raw.decode().splitlines()
                if line.startswith("UID:")
            )
            found[uid] = item.raw
        return found


def test_calendars_arrive_with_uids_recurrences_time_zones_and_properties(
    any_pair: DavPair,
) -> None:
    dav_pair = any_pair  # both Radicale and Xandikos
    _seed_source(dav_pair, google_export=True)
    result = dav_pair.migrate(DavKind.CALENDAR, "--rewrite-domain", "old.example=new.example")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "work (created): 2 created" in result.stdout

    with dav_pair.account("target", DavKind.CALENDAR) as target:
        made = {c.name: c for c in target.collections()}
    assert made["work"].display_name == "Work"
    assert made["work"].color == "#336699FF"
    assert made["work"].description == "Meetings and tasks"
    assert made["work"].components == frozenset({"VEVENT", "VTODO"})
    assert made["machbar"].components == frozenset({"VEVENT"})

    for name, window in (
        ("work", (date(2020, 1, 1), date(2021, 1, 1))),
        ("machbar", (date(2018, 6, 1), date(2019, 6, 1))),
    ):
        source, target = _objects(dav_pair, "source", name), _objects(dav_pair, "target", name)
        assert set(source) == set(target)
        for uid in source:
            assert occurrences(source[uid], *window) == occurrences(target[uid], *window), uid

    team = _objects(dav_pair, "target", "work")["team-weekly@old.example"].decode()
    starts = {o[1] for o in occurrences(team.encode(), date(2020, 1, 1), date(2020, 2, 4))}
    # Berlin 10:00 in winter is 09:00 UTC; the 13th moved to the 14th 15:00, the 20th
    # is an EXDATE, the 27th is cancelled but still an occurrence with STATUS:CANCELLED.
    assert starts == {
        "2020-01-06T09:00:00+00:00",
        "2020-01-14T14:00:00+00:00",
        "2020-01-27T09:00:00+00:00",
        "2020-02-03T09:00:00+00:00",
    }
    assert "BEGIN:VTIMEZONE" in team and "TZID:Europe/Berlin" in team
    assert "ORGANIZER;CN=Boss:mailto:boss@new.example" in team
    assert "mailto:jane@new.example" in team and "mailto:someone@partner.example" in team
    assert "BEGIN:VALARM" in team and "ATTACH:https://files.old.example/agenda.pdf" in team

    verify = dav_pair.run(
        "verify-calendars",
        *dav_pair.sides(),
        "--rewrite-domain",
        "old.example=new.example",
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "work: 2 checked, identical" in verify.stdout


def test_rerun_copies_nothing_and_brings_updates_and_deletions(any_pair: DavPair) -> None:
    dav_pair = any_pair  # both Radicale and Xandikos
    _seed_source(dav_pair)
    assert dav_pair.migrate(DavKind.CALENDAR).returncode == 0

    again = dav_pair.migrate(DavKind.CALENDAR, "--json")
    assert again.returncode == 0, again.stderr
    collections = json.loads(again.stdout)["items"][0]["collections"]
    assert [c["unchanged"] for c in collections] == [True]

    with dav_pair.account("source", DavKind.CALENDAR) as source:
        work = next(c for c in source.collections() if c.name == "work")
        refs = {r.href.rpartition("/")[2]: r for r in source.list_items(work)}
        updated = source.put(work, "team.ics", team_meeting("Team sync"), refs["team.ics"].etag)
        assert updated.error is None
        assert source.delete(refs["task.ics"].href) is None

    kept = dav_pair.migrate(DavKind.CALENDAR)
    assert kept.returncode == 0, kept.stderr
    assert "work: 0 created, 1 updated, 0 deleted" in kept.stdout
    assert "task-1@old.example" in _objects(dav_pair, "target", "work")  # kept without --delete

    propagated = dav_pair.migrate(DavKind.CALENDAR, "--delete")
    assert propagated.returncode == 0, propagated.stderr
    assert "work: 0 created, 0 updated, 1 deleted" in propagated.stdout
    target = _objects(dav_pair, "target", "work")
    assert set(target) == {"team-weekly@old.example"}
    assert b"SUMMARY:Team sync" in target["team-weekly@old.example"]

    quiet = dav_pair.migrate(DavKind.CALENDAR, "--delete")
    assert "unchanged since the last run" in quiet.stdout and "created" not in quiet.stdout
    assert "as on the source" not in quiet.stdout  # the properties arrived as they were


def test_an_object_the_target_refuses_is_reported_and_the_run_goes_on(dav_pair: DavPair) -> None:
    with dav_pair.account("source", DavKind.CALENDAR) as source:
        seed(source, WORK, {"big.ics": big_event(300_000), "task.ics": task()})
    result = dav_pair.migrate(DavKind.CALENDAR)
    assert result.returncode == 1
    assert "work (created): 1 created, 0 updated, 0 deleted, 0 skipped, 1 failed" in result.stdout
    assert "failed big-one@old.example: 312426 bytes" in result.stdout
    assert "bytes, the target takes at most 200000" in result.stdout
    assert set(_objects(dav_pair, "target", "work")) == {"task-1@old.example"}


def test_dry_run_changes_nothing(any_pair: DavPair) -> None:
    dav_pair = any_pair  # both Radicale and Xandikos
    _seed_source(dav_pair)
    result = dav_pair.migrate(DavKind.CALENDAR, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "work (would be created): 2 would be created" in result.stdout
    with dav_pair.account("target", DavKind.CALENDAR) as target:
        assert target.collections() == []
    with sqlite3.connect(dav_pair.state) as db:
        assert db.execute("select count(*) from dav_items").fetchone() == (0,)


def test_proxy_login_reads_a_user_without_their_password(dav_pair: DavPair) -> None:
    _seed_source(dav_pair)
    env = dav_pair.env(SKYLIFT_SOURCE_ADMIN_PASSWORD=ADMIN_PASSWORD, SKYLIFT_SOURCE_PASSWORD="")
    result = dav_pair.run(
        "migrate-calendars",
        *dav_pair.sides(),
        "--source-admin",
        "migrator",
        "--state",
        str(dav_pair.state),
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert set(_objects(dav_pair, "target", "work")) == {
        "team-weekly@old.example",
        "task-1@old.example",
    }


def test_bad_credentials_give_exit_3_and_one_line(any_pair: DavPair) -> None:
    dav_pair = any_pair  # both Radicale and Xandikos
    result = dav_pair.run(
        "migrate-calendars",
        *dav_pair.sides(),
        "--state",
        str(dav_pair.state),
        env=dav_pair.env(SKYLIFT_TARGET_PASSWORD="wrong-password-9"),
    )
    assert result.returncode == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("skylift: error: ")
    assert f"refused the login of {dav_pair.target_user}" in lines[0]
    assert "wrong-password-9" not in result.stderr + result.stdout


def test_plaintext_to_a_remote_host_is_refused(dav_pair: DavPair) -> None:
    result = dav_pair.run(
        "migrate-calendars",
        "--source",
        "caldav+http://dav.old.example/",
        "--target",
        dav_pair.target.url(),
        "--user",
        dav_pair.target_user,
        "--state",
        str(dav_pair.state),
    )
    assert result.returncode == 2
    assert "plain text" in result.stderr and "Traceback" not in result.stderr


def test_users_csv_moves_every_account_and_a_bad_login_does_not_stop_the_others(
    dav_pair: DavPair,
) -> None:
    _seed_source(dav_pair)
    dav_pair.source.add_user("bob@old.example", "bob-source-pw")
    dav_pair.target.add_user("bob@new.example", "bob-target-pw")
    users = dav_pair.workdir / "users.csv"
    users.write_text(
        "EmailAddress,UserName,Password,TargetUserName,TargetPassword\n"
        f"{dav_pair.target_user},{dav_pair.source_user},env:JANE_SOURCE,,env:JANE_TARGET\n"
        "bob@new.example,bob@old.example,bob-source-pw,,not-bobs-password\n"
    )
    env = dav_pair.env(JANE_SOURCE="source-secret-1", JANE_TARGET="target-secret-2")
    result = dav_pair.run(
        "migrate-calendars",
        "--source",
        dav_pair.source.url(),
        "--target",
        dav_pair.target.url(),
        "--users",
        str(users),
        "--state",
        str(dav_pair.state),
        "--parallel",
        "2",
        env=env,
    )
    assert result.returncode == 3
    assert f"{dav_pair.target_user} calendar work (created): 2 created" in result.stdout
    assert result.stderr.strip().splitlines() == [
        "skylift: error: bob@new.example: 127.0.0.1:"
        f"{dav_pair.target.port} refused the login of bob@new.example"
    ]
    assert "not-bobs-password" not in result.stdout + result.stderr
    jobs = dav_pair.run("jobs", "--state", str(dav_pair.state), "--json")
    units = {u["key"]: u for u in json.loads(jobs.stdout)["items"]}
    assert units[dav_pair.target_user]["kind"] == "calendars"
    assert units[dav_pair.target_user]["state"] == "done"
    assert units[dav_pair.target_user]["items"] == 2
    assert units["bob@new.example"]["state"] == "failed"
    assert "refused the login" in units["bob@new.example"]["last_error"]
    assert "not-bobs-password" not in jobs.stdout


def test_tls_target_needs_its_ca_and_says_so_in_one_line(dav_pair: DavPair, tmp_path: Path) -> None:
    _seed_source(dav_pair)
    secure = RadicaleServer(
        tmp_path / "tls", users={dav_pair.target_user: TARGET_PASSWORD}, tls=True
    )
    with secure:
        args = (
            "migrate-calendars",
            "--source",
            dav_pair.source.url(),
            "--target",
            secure.url(),
            "--user",
            dav_pair.target_user,
            "--state",
            str(dav_pair.state),
        )
        refused = dav_pair.run(*args)
        assert refused.returncode == 3
        assert len(refused.stderr.strip().splitlines()) == 1
        assert "CERTIFICATE_VERIFY_FAILED" in refused.stderr or "certificate" in refused.stderr
        trusted = dav_pair.run(*args, "--target-ca", str(secure.cert_file))
        assert trusted.returncode == 0, trusted.stdout + trusted.stderr
        assert "work (created): 2 created" in trusted.stdout


def test_tls_source_needs_its_ca_and_says_so_in_one_line(dav_pair: DavPair, tmp_path: Path) -> None:
    secure = RadicaleServer(
        tmp_path / "tls-source", users={dav_pair.source_user: "source-secret-1"}, tls=True
    )
    with secure:
        endpoint = Endpoint.parse(secure.url(), ca_file=str(secure.cert_file))
        login = Login(dav_pair.source_user, Secret("source-secret-1"))
        with DavHttpConnector(endpoint, DavKind.CALENDAR).open(login) as source:
            seed(source, WORK, {"team.ics": team_meeting(), "task.ics": task()})
        args = (
            "migrate-calendars",
            "--source",
            secure.url(),
            "--target",
            dav_pair.target.url(),
            "--user",
            dav_pair.target_user,
            "--state",
            str(dav_pair.state),
        )
        refused = dav_pair.run(*args)
        assert refused.returncode == 3
        lines = refused.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("skylift: error: ")
        assert "CERTIFICATE_VERIFY_FAILED" in lines[0] or "certificate" in lines[0]
        with dav_pair.account("target", DavKind.CALENDAR) as target:
            assert target.collections() == []  # nothing read from an unverified server

        trusted = dav_pair.run(*args, "--source-ca", str(secure.cert_file))
        assert trusted.returncode == 0, trusted.stdout + trusted.stderr
        assert "work (created): 2 created" in trusted.stdout
