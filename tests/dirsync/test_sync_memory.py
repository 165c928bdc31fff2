"""The directory use case over the in-memory reference connectors: plan -> gate -> execute ->
record, in milliseconds. The same engine runs against LDAP and SCIM in the other tests."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from skylift.connectors.directory.base import DirectoryCapabilities
from skylift.connectors.directory.memory import MemoryDirectorySource, MemoryDirectoryTarget
from skylift.engine.directory.mapping import default_mapping
from skylift.engine.directory.sync import SyncSettings, sync
from skylift.errors import ConfigError
from skylift.model.directory import SourceEntry
from skylift.state.directory_journal import DirectoryJournal

BASE = "ou=Staff,dc=old,dc=example"


def person(uid: str, title: str = "Engineer") -> SourceEntry:
    attrs = {
        "uid": (uid,),
        "mail": (f"{uid}@old.example",),
        "sn": ("Tester",),
        "title": (title,),
        "objectclass": ("inetOrgPerson",),
    }
    return SourceEntry(f"uid={uid},{BASE}", f"anchor-{uid}", "user", attrs)


def staff_group(*uids: str) -> SourceEntry:
    attrs = {"cn": ("staff",), "member": tuple(f"uid={u},{BASE}" for u in uids)}
    return SourceEntry(f"cn=staff,{BASE}", "anchor-staff", "group", attrs)


@pytest.fixture
def source() -> MemoryDirectorySource:
    src = MemoryDirectorySource()
    for uid in ("ann", "bob", "cy"):
        src.put(person(uid))
    src.put(staff_group("ann", "bob"))
    return src


def run(
    source: MemoryDirectorySource,
    target: MemoryDirectoryTarget,
    state: Path,
    **settings: object,
) -> tuple:  # type: ignore[type-arg]
    journal = DirectoryJournal(state, "memory-pair")
    try:
        result = sync(source, target, journal, SyncSettings(default_mapping(), **settings))  # type: ignore[arg-type]
        return result, journal.history(), journal.get_mark("high_water")
    finally:
        journal.close()


def test_a_preview_stops_at_the_gate_and_an_apply_records_every_action(
    source: MemoryDirectorySource, tmp_path: Path
) -> None:
    target = MemoryDirectoryTarget()
    preview, history, mark = run(source, target, tmp_path / "s.db")
    assert preview.mode == "preview" and preview.plan.counts()["create"] == 4
    assert target.writes == 0 and history == [] and mark is None  # nothing written, nothing moved

    applied, history, mark = run(source, target, tmp_path / "s.db", apply=True)
    assert applied.applied == 4 and applied.failed == []
    assert set(target.users()) == {"ann", "bob", "cy"}
    staff = target.groups()["staff"]
    assert staff.members == {target.users()["ann"].id, target.users()["bob"].id}
    assert sorted((r["action"], r["name"], r["ok"]) for r in history) == [
        ("create", "ann", True), ("create", "bob", True), ("create", "cy", True),
        ("create", "staff", True),
    ]  # fmt: skip
    assert mark  # the delta mark moved forward only now

    source.put(person("bob", title="Lead"))
    delta, history, _mark = run(source, target, tmp_path / "s.db", apply=True)
    assert delta.delta is True and [c.name for c in delta.plan.changes] == ["bob"]
    assert target.users()["bob"].title == "Lead" and len(history) == 5


def test_a_target_that_cannot_disable_is_refused_before_any_change(
    source: MemoryDirectorySource, tmp_path: Path
) -> None:
    target = MemoryDirectoryTarget(DirectoryCapabilities(disable=False))
    with pytest.raises(ConfigError, match="cannot disable a user: pass --on-leave delete"):
        run(source, target, tmp_path / "s.db", apply=True)
    assert target.writes == 0
    done, _history, _mark = run(source, target, tmp_path / "s.db", apply=True, delete_mode="delete")
    assert done.applied == 4


def test_a_rename_the_target_cannot_make_is_a_problem_not_a_half_write(
    source: MemoryDirectorySource, tmp_path: Path
) -> None:
    target = MemoryDirectoryTarget(DirectoryCapabilities(rename_in_place=False))
    run(source, target, tmp_path / "s.db", apply=True)
    renamed = person("cy")
    source.put(replace(renamed, attributes=renamed.attributes | {"uid": ("cyd",)}))
    result, _history, _mark = run(source, target, tmp_path / "s.db", apply=True)
    assert result.incomplete() and result.applied == 0
    assert any("cannot rename in place" in p for p in result.plan.problems)
    assert "cy" in target.users() and "cyd" not in target.users()
