"""``verify-calendars`` / ``verify-contacts --target-profile microsoft365`` after a move into Graph.

Against the schema-checked Graph fake (calendars, To Do and contacts halves). Graph keeps no
iCalendar or vCard text; it rebuilds each object from its fields, so verify compares what a
user sees: each occurrence's instants and title (a zone renamed by the Windows mapping or a
floating time pinned to UTC is no difference), each card's name, e-mail addresses and phone
numbers. Shown: right after the move verify finds nothing; an event deleted in the cloud, a
task retitled there and a contact whose address changed are each named, with exit 1.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from skylift.cli import main
from tests.cloud.graph.test_invitations import MEETINGS
from tests.cloud.graph.test_todo import WORK
from tests.servers.graph_contacts_fake import GraphContactsFake
from tests.servers.token_endpoint import TokenEndpoint

USER = "vera@example.test"
CARD = (
    "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:ann@old.example\r\nFN:Ann Lee\r\nN:Lee;Ann;;;\r\n"
    "EMAIL;TYPE=WORK:Ann.Lee@old.example\r\nTEL;TYPE=CELL:+1 (555) 010-2000\r\nEND:VCARD\r\n"
)


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[tuple[GraphContactsFake, list[str]]]:
    tokens = TokenEndpoint(tmp_path / "tokens", lifetime=60).start()
    tokens.add_tenant("example.test")
    app = tokens.add_app("example.test", secret="app-secret")
    app.graph_roles = {"Calendars.ReadWrite", "Contacts.ReadWrite", "Tasks.ReadWrite.All"}
    (tmp_path / "secret.txt").write_text("app-secret\n")
    fake = GraphContactsFake(tokens).start()
    target = ["--user", USER, "--target-profile", "microsoft365", "--target-api-base",
              fake.api_base, "--target-oauth-tenant", "example.test",
              "--target-oauth-client-id", app.client_id, "--target-oauth-client-secret-file",
              str(tmp_path / "secret.txt"), "--target-oauth-authority", tokens.url,
              "--target-ca", str(tokens.ca_file)]  # fmt: skip
    yield fake, target
    fake.stop()
    tokens.stop()


def _run(*argv: str) -> int:
    try:
        main(list(argv))
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def _problems(out: str) -> list[str]:
    found = json.loads(out)
    return [f"{p['uid']}: {p['problem']}" if isinstance(p, dict) else json.dumps(p)
            for item in found["items"] for c in item.get("collections", [])
            for p in c.get("problems", [])]  # fmt: skip


def test_verify_after_a_move_into_graph_finds_nothing_then_names_what_changed_there(
    cloud: tuple[GraphContactsFake, list[str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake, target = cloud
    cal, cards = tmp_path / "cal", tmp_path / "cards"
    cal.mkdir()
    cards.mkdir()
    (cal / "Work.ics").write_text(
        WORK.replace("END:VCALENDAR\r\n", "") + MEETINGS.split("VERSION:2.0\r\nPRODID:-//t//t//EN\r\n", 1)[1],
        newline="",
    )  # fmt: skip
    (cards / "People.vcf").write_text(CARD, newline="")
    state = str(tmp_path / "s.db")
    assert _run("migrate-calendars", "--source", f"ics://{cal}", *target, "--state", state) == 0
    assert _run("migrate-contacts", "--source", f"vcf://{cards}", *target, "--state", state) == 0
    capsys.readouterr()

    assert _run("verify-calendars", "--source", f"ics://{cal}", *target, "--start",
                "2027-01-01", "--days", "800", "--json") == 0  # fmt: skip
    assert _problems(capsys.readouterr().out) == []
    assert _run("verify-contacts", "--source", f"vcf://{cards}", *target, "--json") == 0
    assert _problems(capsys.readouterr().out) == []

    (work,) = [c for c in fake.calendars[USER].values() if c.name == "Work"]
    standup = next(e for e in work.events.values() if e["subject"] == "Stand-up")
    del work.events[standup["id"]]  # deleted by the user in Outlook
    next(t for t in fake.tasks.values() if t["title"] == "Renew the badge")["title"] = "Badge"
    (contact,) = fake.contacts.values()
    contact["emailAddresses"] = [{"address": "ann@elsewhere.example", "name": "Ann Lee"}]

    assert _run("verify-calendars", "--source", f"ics://{cal}", *target, "--start",
                "2027-01-01", "--days", "800", "--json") == 1  # fmt: skip
    said = " ".join(_problems(capsys.readouterr().out))
    assert "standup@old.example" in said and "badge@old.example" in said, said
    assert "weekly-2030" not in said  # the rest still matches
    assert _run("verify-contacts", "--source", f"vcf://{cards}", *target, "--json") == 1
    said = " ".join(_problems(capsys.readouterr().out))
    assert "ann.lee@old.example" in said and "ann@elsewhere.example" in said, said
