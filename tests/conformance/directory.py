"""The conformance suite every directory connector joins.

A target's test module subclasses :class:`DirectoryTargetContract` and provides one fixture,
``target_case``, returning a :class:`TargetCase` (how to open the target through the
registry, and what it cannot do, with the reason). A source's module subclasses
:class:`DirectorySourceContract` with a ``source_case`` fixture: how to open it, the users and
the group it was seeded with, and how an administrator changes and renames a user there.

The tests check what a user sees: a created user reads back with its attributes, a rename
keeps the id (or the anchor, on a source), disable and delete do what the capabilities say,
group members resolve, a delta read returns what changed, and a refused write is one
ItemRejected with the server's reason. Every test works on objects of its own, so a
session-scoped server can serve them all.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from skylift.connectors.directory.base import DirectorySource, DirectoryTarget
from skylift.errors import ItemRejected
from skylift.model.directory import Group, SourceEntry, User


@dataclass
class TargetCase:
    """One target under test.

    *keeps*: the user attributes the target stores and reads back (an LDAP target has no
    place for ``active`` beyond its marker, say); *notes* says why one is missing.
    """

    open_target: Callable[[], DirectoryTarget]
    keeps: tuple[str, ...] = (
        "external_id",
        "user_name",
        "display_name",
        "given_name",
        "family_name",
        "email",
        "title",
        "department",
        "phone",
    )
    notes: dict[str, str] = field(default_factory=dict)


def _unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def a_user(login: str) -> User:
    return User(
        external_id=str(uuid.uuid4()),
        user_name=f"{login}@new.example",
        display_name=f"{login.title()} Tester",
        given_name=login.title(),
        family_name="Tester",
        email=f"{login}@new.example",
        title="Engineer",
        department="R&D",
        phone="+1 555 0100",
    )


class DirectoryTargetContract:
    """Tests every DirectoryTarget passes; subclass it and provide a ``target_case`` fixture."""

    @pytest.fixture
    def target(self, target_case: TargetCase) -> DirectoryTarget:
        opened = target_case.open_target()
        yield opened  # type: ignore[misc]
        opened.close()

    def test_a_created_user_reads_back_with_its_attributes(
        self, target: DirectoryTarget, target_case: TargetCase
    ) -> None:
        user = a_user(_unique("ann"))
        target_id = target.create_user(user)
        assert target_id
        got = target.get("user", target_id)
        assert isinstance(got, User) and got.id == target_id and got.active
        for name in target_case.keeps:
            assert getattr(got, name) == getattr(user, name), name
        assert target_id in {u.id for u in target.list_users()}
        assert target_id in {o.id for o in target.find_matches(user)}

    def test_a_rename_keeps_the_target_id(self, target: DirectoryTarget) -> None:
        if not target.capabilities.rename_in_place:
            pytest.skip("the target declares rename_in_place=False")
        login = _unique("bo")
        target_id = target.create_user(a_user(login))
        target.update_user(target_id, {"user_name": f"{login}-new@new.example", "title": "Lead"})
        got = target.get("user", target_id)
        assert isinstance(got, User)
        assert (got.user_name, got.title) == (f"{login}-new@new.example", "Lead")
        names = {u.user_name for u in target.list_users()}
        assert f"{login}-new@new.example" in names and f"{login}@new.example" not in names

    def test_disable_and_delete_do_what_the_capabilities_say(self, target: DirectoryTarget) -> None:
        caps = target.capabilities
        target_id = target.create_user(a_user(_unique("cy")))
        if caps.disable:
            target.update_user(target_id, {"active": False})
            got = target.get("user", target_id)
            assert isinstance(got, User) and got.active is False
            target.update_user(target_id, {"active": True})
            again = target.get("user", target_id)
            assert isinstance(again, User) and again.active is True
        if caps.delete:
            target.delete("user", target_id)
            assert target.get("user", target_id) is None
            assert target_id not in {u.id for u in target.list_users()}
        else:
            with pytest.raises(ItemRejected):
                target.delete("user", target_id)

    def test_group_members_resolve_and_change(self, target: DirectoryTarget) -> None:
        one = target.create_user(a_user(_unique("dee")))
        two = target.create_user(a_user(_unique("eve")))
        name = _unique("team-")
        group_id = target.create_group(Group(str(uuid.uuid4()), name), [one])
        got = target.get("group", group_id)
        assert isinstance(got, Group) and got.display_name == name and got.members == {one}

        target.update_group(group_id, {}, [two], [one])
        got = target.get("group", group_id)
        assert isinstance(got, Group) and got.members == {two}

        target.update_group(group_id, {}, [], [two])  # an empty group stays a group
        got = target.get("group", group_id)
        assert isinstance(got, Group) and got.members == frozenset()

        if target.capabilities.rename_in_place:
            target.update_group(group_id, {"display_name": f"{name}-x"}, [one], [])
            got = target.get("group", group_id)
            assert isinstance(got, Group) and got.display_name == f"{name}-x"
            assert got.members == {one}
        listed = {g.id: g for g in target.list_groups()}
        assert group_id in listed and listed[group_id].members == got.members

    def test_a_refused_write_is_one_clear_error(self, target: DirectoryTarget) -> None:
        user = a_user(_unique("fay"))
        target.create_user(user)
        with pytest.raises(ItemRejected) as refused:
            target.create_user(a_user(user.user_name.split("@")[0]))  # the same userName
        message = str(refused.value)
        assert message and "\n" not in message
        assert "refused" in message or "taken" in message


@dataclass
class SourceCase:
    """One source under test, seeded with *users* (logins) and one *group* with *members*.

    *login_attr* is the attribute holding the login (``uid``, ``samaccountname``);
    *touch(login)* changes one attribute of that user as an administrator would;
    *rename(login, new)* renames it (a new RDN, so a new DN).
    """

    open_source: Callable[[], DirectorySource]
    login_attr: str
    users: frozenset[str]
    group: str
    members: frozenset[str]
    touch: Callable[[str], None]
    rename: Callable[[str, str], None]
    notes: dict[str, str] = field(default_factory=dict)


def _by_login(entries: list[SourceEntry], attr: str) -> dict[str, SourceEntry]:
    return {e.first(attr).lower(): e for e in entries if e.first(attr)}


class DirectorySourceContract:
    """Tests every DirectorySource passes; subclass it and provide a ``source_case`` fixture."""

    @pytest.fixture
    def read(self, source_case: SourceCase) -> Callable[..., list[SourceEntry]]:
        def read(kind: str = "user", since: str | None = None) -> list[SourceEntry]:
            source = source_case.open_source()
            try:
                return list(source.read_entries(kind, since))  # type: ignore[arg-type]
            finally:
                source.close()

        return read

    def test_every_seeded_user_is_read_with_a_stable_anchor(
        self, source_case: SourceCase, read: Callable[..., list[SourceEntry]]
    ) -> None:
        first = _by_login(read("user"), source_case.login_attr)
        assert source_case.users <= set(first)
        anchors = [first[u].anchor for u in source_case.users]
        assert all(anchors) and len(set(anchors)) == len(anchors)
        again = _by_login(read("user"), source_case.login_attr)
        assert {u: again[u].anchor for u in source_case.users} == {
            u: first[u].anchor for u in source_case.users
        }

    def test_group_members_resolve_to_the_users_read(
        self, source_case: SourceCase, read: Callable[..., list[SourceEntry]]
    ) -> None:
        users = _by_login(read("user"), source_case.login_attr)
        groups = {e.first("cn").lower(): e for e in read("group")}
        group = groups[source_case.group.lower()]
        member_dns = {dn.lower() for dn in group.all("member")}
        assert {users[m].dn.lower() for m in source_case.members} <= member_dns

    def test_list_dns_names_every_entry(self, source_case: SourceCase) -> None:
        source = source_case.open_source()
        try:
            listed = {dn.lower() for dn in source.list_dns("user")}
            read = {e.dn.lower() for e in source.read_entries("user")}
        finally:
            source.close()
        assert listed == read

    def test_a_delta_read_returns_what_changed(
        self, source_case: SourceCase, read: Callable[..., list[SourceEntry]]
    ) -> None:
        source = source_case.open_source()
        try:
            if not source.capabilities.delta:
                pytest.skip("the source declares delta=False")
            mark = source.server_high_water() if source.capabilities.server_mark else ""
            list(source.read_entries("user"))
            mark = mark or source.high_water
        finally:
            source.close()
        assert mark
        changed, untouched = sorted(source_case.users)[:2]
        source_case.touch(changed)
        delta = _by_login(read("user", mark), source_case.login_attr)
        assert changed in delta and untouched not in delta

    def test_a_rename_keeps_the_anchor(
        self, source_case: SourceCase, read: Callable[..., list[SourceEntry]]
    ) -> None:
        login = sorted(source_case.users)[-1]
        before = _by_login(read("user"), source_case.login_attr)[login]
        source_case.rename(login, f"{login}r")
        after = {e.anchor: e for e in read("user")}[before.anchor]
        assert after.dn.lower() != before.dn.lower()
        assert f"{login}r" in after.dn.lower()
