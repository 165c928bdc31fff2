"""IM contact lists between two real Prosody servers (the old and the new IM service).

Alice and Bob move from old.example to new.example; each has the other with groups and a
mutual subscription, and Alice also has Carol, who stays elsewhere. After the move both
rosters on the new server hold the same contacts (under their new addresses), names, groups
and subscriptions; a rerun changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from skylift.connectors import im_account
from skylift.connectors.endpoint import Endpoint
from skylift.connectors.im.base import RosterItem
from skylift.model.account import Login, Secret
from tests.mailtools import run_skylift
from tests.servers.prosody import ProsodyServer

OLD = {"alice": "alice-old", "bob": "bob-old"}
NEW = {"alice": "alice-new", "bob": "bob-new"}


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[ProsodyServer, ProsodyServer]]:
    with (
        ProsodyServer(tmp_path / "old", "old.example", dict(OLD)) as old,
        ProsodyServer(tmp_path / "new", "new.example", dict(NEW)) as new,
    ):
        yield old, new


def _account(server: ProsodyServer, user: str, password: str):  # type: ignore[no-untyped-def]
    return im_account(
        Endpoint.parse(server.url()), Login(f"{user}@{server.domain}", Secret(password))
    )


def _seed_old(old: ProsodyServer) -> None:
    with _account(old, "alice", OLD["alice"]) as a, _account(old, "bob", OLD["bob"]) as b:
        a.set_item("bob@old.example", "Bobby", frozenset({"Team", "Friends"}))
        b.set_item("alice@old.example", "Alice A.", frozenset({"Team"}))
        a.set_item("carol@elsewhere.example", "Carol", frozenset({"Partners"}))
        a.subscribe("bob@old.example")
        b.approve("alice@old.example")
        b.subscribe("alice@old.example")
        a.approve("bob@old.example")


def _rosters(server: ProsodyServer, passwords: dict[str, str]) -> dict[str, list[RosterItem]]:
    out = {}
    for user, password in passwords.items():
        with _account(server, user, password) as account:
            out[user] = account.roster()
    return out


def test_rosters_move_with_groups_and_subscriptions_and_rerun_changes_nothing(
    servers: tuple[ProsodyServer, ProsodyServer], tmp_path: Path
) -> None:
    old, new = servers
    _seed_old(old)
    before = _rosters(old, OLD)
    assert before["alice"][0].subscription == "both"  # the seed did what it says
    users = tmp_path / "users.csv"
    users.write_text(
        "EmailAddress,UserName,Password,TargetPassword\n"
        + "".join(f"{u}@new.example,{u}@old.example,{OLD[u]},{NEW[u]}\n" for u in OLD)
    )
    args = ["migrate-contacts-im", "--source", old.url(), "--target", new.url(),
            "--users", users, "--json"]  # fmt: skip
    preview = run_skylift(*args, "--dry-run")
    assert preview.returncode == 0, preview.stderr
    assert json.loads(preview.stdout)["totals"]["items_set"] == 3
    assert _rosters(new, NEW) == {"alice": [], "bob": []}  # a dry run writes nothing

    first = run_skylift(*args)
    assert first.returncode == 0, first.stderr + first.stdout
    after = _rosters(new, NEW)
    assert after["alice"] == [
        RosterItem("bob@new.example", "Bobby", frozenset({"Team", "Friends"}), True, True),
        RosterItem("carol@elsewhere.example", "Carol", frozenset({"Partners"})),
    ]
    assert after["bob"] == [
        RosterItem("alice@new.example", "Alice A.", frozenset({"Team"}), True, True)
    ]

    again = run_skylift(*args)
    assert again.returncode == 0, again.stderr
    totals = json.loads(again.stdout)["totals"]
    assert totals["items_set"] == 0 and totals["subscriptions_asked"] == 0
    assert totals["unchanged"] == 3
    assert _rosters(new, NEW) == after
