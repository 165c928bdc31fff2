"""An in-memory directory: the reference implementation of the directory contracts.

Not a mock of LDAP or SCIM: a source that keeps entries with a change counter (so deltas
work as entryCSN/uSNChanged do) and a target that keeps users and groups by its own ids,
refuses a second user with the same userName (as SCIM providers answer 409 Uniqueness),
and honours the capabilities it is given. It lets the engine's tests and the conformance
suite run without a server. ``memory://<name>`` opens the process-wide directory *name*.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields, replace

from skylift.connectors.directory.base import (
    DirectoryCapabilities,
    DirectoryConnector,
    DirectorySource,
    DirectoryTarget,
    SourceSettings,
    TargetSettings,
)
from skylift.errors import ItemRejected
from skylift.model.directory import DirectoryObject, Group, ObjectKind, SourceEntry, User


class MemoryDirectorySource:
    """Source entries by anchor, each stamped with the change counter of its last write."""

    def __init__(self, capabilities: DirectoryCapabilities | None = None) -> None:
        self.capabilities = capabilities or DirectoryCapabilities(delta=True, server_mark=True)
        self.high_water = ""
        self._entries: dict[str, tuple[int, SourceEntry]] = {}
        self._counter = 0
        self._lock = threading.Lock()

    # -- changing the source (what an administrator does) ----------------------------------
    def put(self, entry: SourceEntry) -> None:
        """Add or replace the entry with *entry.anchor*; a new DN is a rename or move."""
        with self._lock:
            self._counter += 1
            self._entries[entry.anchor] = (self._counter, entry)

    def remove(self, anchor: str) -> None:
        with self._lock:
            self._entries.pop(anchor, None)

    def entry(self, anchor: str) -> SourceEntry:
        return self._entries[anchor][1]

    # -- DirectorySource -------------------------------------------------------------------
    def read_entries(self, kind: ObjectKind, since: str | None = None) -> Iterator[SourceEntry]:
        floor = int(since) if since and self.capabilities.delta else 0
        for counter, entry in sorted(self._entries.values(), key=lambda item: item[0]):
            if entry.kind != kind or counter <= floor:
                continue
            if counter > int(self.high_water or 0):
                self.high_water = str(counter)
            yield entry

    def list_dns(self, kind: ObjectKind) -> Iterator[str]:
        for _counter, entry in list(self._entries.values()):
            if entry.kind == kind:
                yield entry.dn

    def filtered_anchors(self, kind: ObjectKind) -> set[str] | None:
        if kind != "user" or all(e.in_filter for _c, e in self._entries.values()):
            return None
        return {a for a, (_c, e) in self._entries.items() if e.kind == kind and e.in_filter}

    def server_high_water(self) -> str:
        return str(self._counter) if self.capabilities.server_mark else ""

    def close(self) -> None:
        pass


@dataclass
class _Stored:
    kind: ObjectKind
    obj: DirectoryObject


class MemoryDirectoryTarget:
    """Users and groups by target id; group members are target ids."""

    name = "memory"

    def __init__(self, capabilities: DirectoryCapabilities | None = None) -> None:
        self.capabilities = capabilities or DirectoryCapabilities()
        self.objects: dict[str, _Stored] = {}
        self.writes = 0
        self._lock = threading.Lock()

    def users(self) -> dict[str, User]:
        """Every user by userName, as an assertion reads them."""
        return {o.obj.user_name: o.obj for o in self.objects.values() if isinstance(o.obj, User)}

    def groups(self) -> dict[str, Group]:
        return {
            o.obj.display_name: o.obj for o in self.objects.values() if isinstance(o.obj, Group)
        }

    # -- reading ---------------------------------------------------------------------------
    def list_users(self) -> Iterator[User]:
        yield from self.users().values()

    def list_groups(self) -> Iterator[Group]:
        yield from self.groups().values()

    def get(self, kind: ObjectKind, target_id: str) -> DirectoryObject | None:
        stored = self.objects.get(target_id)
        return stored.obj if stored is not None and stored.kind == kind else None

    def find_matches(self, obj: DirectoryObject) -> list[DirectoryObject]:
        found: list[DirectoryObject] = []
        for stored in self.objects.values():
            o = stored.obj
            if isinstance(obj, User) and isinstance(o, User):
                same = (obj.external_id and o.external_id == obj.external_id) or (
                    o.user_name.lower() == obj.user_name.lower()
                    or bool(obj.email and o.email.lower() == obj.email.lower())
                )
            elif isinstance(obj, Group) and isinstance(o, Group):
                same = bool(obj.external_id and o.external_id == obj.external_id) or (
                    o.display_name.lower() == obj.display_name.lower()
                )
            else:
                same = False
            if same:
                found.append(o)
        return found

    # -- writing ---------------------------------------------------------------------------
    def _unique(self, user_name: str, other_than: str = "") -> None:
        for target_id, stored in self.objects.items():
            o = stored.obj
            if (
                target_id != other_than
                and isinstance(o, User)
                and o.user_name.lower() == user_name.lower()
            ):
                raise ItemRejected(f"userName {user_name!r} is already taken (409 uniqueness)")

    def _check_members(self, member_ids: Sequence[str]) -> None:
        missing = [m for m in member_ids if m not in self.objects]
        if missing:
            raise ItemRejected(f"no such member id(s): {', '.join(missing)}")

    def create_user(self, user: User) -> str:
        with self._lock:
            self._unique(user.user_name)
            target_id = uuid.uuid4().hex
            self.objects[target_id] = _Stored("user", replace(user, id=target_id, source_dn=""))
            self.writes += 1
            return target_id

    def update_user(self, target_id: str, changes: dict[str, object]) -> None:
        with self._lock:
            current = self.get("user", target_id)
            if not isinstance(current, User):
                raise ItemRejected(f"no user with id {target_id}")
            names = {f.name for f in fields(User)} - {"id", "source_dn"}
            unknown = set(changes) - names
            if unknown:
                raise ItemRejected(f"unknown user attribute(s): {', '.join(sorted(unknown))}")
            new_name = changes.get("user_name")
            if isinstance(new_name, str) and new_name != current.user_name:
                if not self.capabilities.rename_in_place:
                    raise ItemRejected("this target cannot rename a user in place")
                self._unique(new_name, other_than=target_id)
            if changes.get("active") is False and not self.capabilities.disable:
                raise ItemRejected("this target cannot disable a user")
            values = {k: tuple(v) if isinstance(v, list) else v for k, v in changes.items()}
            self.objects[target_id] = _Stored("user", replace(current, **values))  # type: ignore[arg-type]
            self.writes += 1

    def create_group(self, group: Group, member_ids: Sequence[str]) -> str:
        with self._lock:
            self._check_members(member_ids)
            target_id = uuid.uuid4().hex
            stored = replace(group, members=frozenset(member_ids), id=target_id, source_dn="")
            self.objects[target_id] = _Stored("group", stored)
            self.writes += 1
            return target_id

    def update_group(
        self,
        target_id: str,
        changes: dict[str, object],
        add_ids: Sequence[str],
        remove_ids: Sequence[str],
    ) -> None:
        with self._lock:
            current = self.get("group", target_id)
            if not isinstance(current, Group):
                raise ItemRejected(f"no group with id {target_id}")
            self._check_members(add_ids)
            name = changes.get("display_name", current.display_name)
            if name != current.display_name and not self.capabilities.rename_in_place:
                raise ItemRejected("this target cannot rename a group in place")
            members = (current.members | frozenset(add_ids)) - frozenset(remove_ids)
            external_id = changes.get("external_id", current.external_id)
            updated = replace(
                current, display_name=str(name), external_id=str(external_id), members=members
            )
            self.objects[target_id] = _Stored("group", updated)
            self.writes += 1

    def delete(self, kind: ObjectKind, target_id: str) -> None:
        with self._lock:
            if not self.capabilities.delete:
                raise ItemRejected("this target does not delete objects")
            stored = self.objects.pop(target_id, None)
            if stored is None:
                return  # already gone: what a rerun after a crash sees
            for other_id, other in list(self.objects.items()):
                if isinstance(other.obj, Group) and target_id in other.obj.members:
                    members = other.obj.members - {target_id}
                    self.objects[other_id] = _Stored("group", replace(other.obj, members=members))
            self.writes += 1

    def close(self) -> None:
        pass


@dataclass
class MemoryDirectory:
    """One named in-memory directory: a source to read and a target to write."""

    source: MemoryDirectorySource = field(default_factory=MemoryDirectorySource)
    target: MemoryDirectoryTarget = field(default_factory=MemoryDirectoryTarget)


_DIRECTORIES: dict[str, MemoryDirectory] = {}
_DIRECTORIES_LOCK = threading.Lock()


def shared(name: str) -> MemoryDirectory:
    """The process-wide directory *name*, created empty on first use."""
    with _DIRECTORIES_LOCK:
        return _DIRECTORIES.setdefault(name, MemoryDirectory())


class MemoryDirectoryConnector(DirectoryConnector):
    """``memory://<name>``: the in-memory directory *name*, as source or target."""

    def _directory(self) -> MemoryDirectory:
        return shared(self.endpoint.host or self.endpoint.path.strip("/") or "default")

    def open_source(self, settings: SourceSettings) -> DirectorySource:
        return self._directory().source

    def open_target(self, settings: TargetSettings) -> DirectoryTarget:
        return self._directory().target
