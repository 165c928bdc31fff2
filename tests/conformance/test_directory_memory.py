"""The in-memory reference directory joins the directory conformance suite, as source and as
target, and once more with fewer capabilities to show the contract follows the flags."""

from __future__ import annotations

from dataclasses import replace

import pytest

from skylift.connectors.directory.base import DirectoryCapabilities
from skylift.connectors.directory.memory import MemoryDirectorySource, MemoryDirectoryTarget
from skylift.model.directory import SourceEntry

from .directory import DirectorySourceContract, DirectoryTargetContract, SourceCase, TargetCase

BASE = "ou=Staff,dc=old,dc=example"
USERS = ("ann", "bob", "cy", "dee")


class TestMemoryTarget(DirectoryTargetContract):
    @pytest.fixture
    def target_case(self) -> TargetCase:
        return TargetCase(open_target=MemoryDirectoryTarget)


class TestMemoryTargetThatOnlyDisables(DirectoryTargetContract):
    @pytest.fixture
    def target_case(self) -> TargetCase:
        caps = DirectoryCapabilities(delete=False, rename_in_place=False)
        return TargetCase(open_target=lambda: MemoryDirectoryTarget(caps))


def _user(login: str) -> SourceEntry:
    attrs = {"uid": (login,), "mail": (f"{login}@old.example",), "title": ("Engineer",)}
    return SourceEntry(f"uid={login},{BASE}", f"anchor-{login}", "user", attrs)


class TestMemorySource(DirectorySourceContract):
    @pytest.fixture
    def source_case(self) -> SourceCase:
        source = MemoryDirectorySource()
        for login in USERS:
            source.put(_user(login))
        members = tuple(f"uid={u},{BASE}" for u in USERS[:2])
        group = {"cn": ("staff",), "member": members}
        source.put(SourceEntry(f"cn=staff,{BASE}", "anchor-staff", "group", group))

        def touch(login: str) -> None:
            entry = source.entry(f"anchor-{login}")
            source.put(replace(entry, attributes=entry.attributes | {"title": ("Lead",)}))

        def rename(login: str, new: str) -> None:
            entry = source.entry(f"anchor-{login}")
            attrs = entry.attributes | {"uid": (new,)}
            source.put(replace(entry, dn=f"uid={new},{BASE}", attributes=attrs))

        return SourceCase(
            open_source=lambda: source,
            login_attr="uid",
            users=frozenset(USERS),
            group="staff",
            members=frozenset(USERS[:2]),
            touch=touch,
            rename=rename,
        )
