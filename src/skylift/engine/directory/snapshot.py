"""Plain-dict forms of source entries and directory objects, for the state store.

Delta runs rebuild the unchanged part of the directory from these snapshots, so the same
scope and planning code serves full and delta runs.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from skylift.model.directory import DirectoryObject, Group, ObjectKind, SourceEntry, User

MEMBER_ATTRS = ("member", "uniquemember")


def entry_to_dict(
    entry: SourceEntry,
    members: frozenset[str] | None = None,
    unresolved: tuple[str, ...] = (),
) -> dict[str, Any]:
    """A group's *members* are stored as anchors; only DNs no entry had stay as DNs."""
    attributes = {k: list(v) for k, v in entry.attributes.items()}
    data: dict[str, Any] = {"dn": entry.dn, "kind": entry.kind, "attributes": attributes}
    if members is not None:
        for name in MEMBER_ATTRS:
            attributes.pop(name, None)
        if unresolved:
            attributes["member"] = list(unresolved)
        data["members"] = sorted(members)
    return data


def entry_from_dict(
    anchor: str, data: dict[str, Any], dn: str | None = None, in_filter: bool = True
) -> SourceEntry:
    kind: ObjectKind = "group" if data["kind"] == "group" else "user"
    attributes = {k: tuple(v) for k, v in data["attributes"].items()}
    members = frozenset(data.get("members", ()))
    return SourceEntry(dn or data["dn"], anchor, kind, attributes, in_filter, members)


def object_to_dict(obj: DirectoryObject) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        if f.name == "source_dn":
            continue
        value = getattr(obj, f.name)
        data[f.name] = sorted(value) if isinstance(value, tuple | frozenset) else value
    return data


def object_from_dict(kind: str, data: dict[str, Any]) -> DirectoryObject:
    if kind == "group":
        return Group(
            data["external_id"],
            data["display_name"],
            frozenset(data.get("members", ())),
            id=data.get("id", ""),
        )
    values = dict(data)
    values["other_emails"] = tuple(values.get("other_emails", ()))
    return User(**values)
