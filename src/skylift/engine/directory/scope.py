"""Turn source entries into the desired users and groups, and say why others are left out.

Scope is decided here rather than in the LDAP search so that an object that leaves scope
gets a precise reason ("moved to OU=Leavers", "no longer matches the filter") instead of
simply vanishing, which is what makes a disable or delete reviewable.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from skylift.engine.directory.mapping import (
    GROUP_TARGETS,
    MULTI_VALUED,
    USER_TARGETS,
    Mapping,
    Scope,
)
from skylift.model.directory import Group, SourceEntry, User


def normalize_dn(dn: str) -> str:
    """A DN in a form fit for comparison: lower case, no spaces around separators."""
    return ",".join(part.strip() for part in dn.lower().split(","))


def parent_of(dn: str) -> str:
    return dn.split(",", 1)[1].strip() if "," in dn else ""


@dataclass
class DesiredState:
    """What the target should hold, keyed by anchor, plus the out-of-scope reasons."""

    users: dict[str, User] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    out_of_scope: dict[str, str] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)
    # Every group's members by anchor, in scope or not, and the member DNs no entry has:
    # what a snapshot remembers, so a delta run never has to trust an old DN.
    member_anchors: dict[str, frozenset[str]] = field(default_factory=dict)
    unresolved_members: dict[str, tuple[str, ...]] = field(default_factory=dict)


def under_any(dn: str, suffixes: Iterable[str]) -> bool:
    norm = normalize_dn(dn)
    return any(norm == s or norm.endswith("," + s) for s in (normalize_dn(x) for x in suffixes))


def build_user(entry: SourceEntry, mapping: Mapping) -> User:
    values: dict[str, object] = {}
    for target, flow in mapping.user_flows.items():
        field_name = USER_TARGETS[target]
        got = flow.evaluate(entry.all)
        values[field_name] = got if field_name in MULTI_VALUED else (got[0] if got else "")
    values["active"] = not mapping.disabled.is_disabled(entry.all)
    return User(external_id=entry.anchor, source_dn=entry.dn, **values)  # type: ignore[arg-type]


def build_desired(entries: Iterable[SourceEntry], mapping: Mapping) -> DesiredState:
    """Map every entry, apply scope, resolve group members from DNs to anchors."""
    state = DesiredState()
    users: list[SourceEntry] = []
    groups: list[SourceEntry] = []
    dn_to_anchor: dict[str, str] = {}
    for entry in entries:
        dn_to_anchor[normalize_dn(entry.dn)] = entry.anchor
        (users if entry.kind == "user" else groups).append(entry)
    scope = mapping.scope

    def excluded(entry: SourceEntry, name: str) -> bool:
        keys = {normalize_dn(entry.dn), entry.anchor.lower(), name.lower()}
        return bool(keys & scope.exclude)

    for entry in users:
        user = build_user(entry, mapping)
        reason = _scope_reason(entry, excluded(entry, user.user_name), scope.user_ous, scope)
        if reason:
            state.out_of_scope[entry.anchor] = reason
        elif not user.user_name:
            state.problems[entry.anchor] = f"skipped {entry.dn}: no value for userName"
        else:
            state.users[entry.anchor] = user

    for entry in groups:
        found, missing = resolve_members(entry, dn_to_anchor)
        state.member_anchors[entry.anchor] = found
        if missing:
            state.unresolved_members[entry.anchor] = missing
        name = _group_name(entry, mapping)
        reason = _scope_reason(entry, excluded(entry, name), scope.group_ous, scope)
        if reason:
            state.out_of_scope[entry.anchor] = reason
        elif not name:
            state.problems[entry.anchor] = f"skipped {entry.dn}: no value for displayName"
        else:
            state.groups[entry.anchor] = Group(entry.anchor, name, source_dn=entry.dn)

    members = state.member_anchors
    if scope.member_of:
        allowed = _transitive_members(
            [dn_to_anchor[n] for n in map(normalize_dn, scope.member_of) if n in dn_to_anchor],
            members,
        )
        names = ", ".join(scope.member_of)
        for anchor in [a for a in state.users if a not in allowed]:
            state.users.pop(anchor)
            state.out_of_scope[anchor] = f"not a member of {names}"
    for anchor, group in list(state.groups.items()):
        kept = frozenset(
            m for m in members.get(anchor, ()) if m in state.users or m in state.groups
        )
        state.groups[anchor] = Group(
            group.external_id, group.display_name, kept, source_dn=group.source_dn
        )
    return state


def _group_name(entry: SourceEntry, mapping: Mapping) -> str:
    flow = mapping.group_flows.get("displayName")
    got = flow.evaluate(entry.all) if flow else ()
    assert set(mapping.group_flows) <= set(GROUP_TARGETS)
    return got[0] if got else ""


BUILTIN_LOCAL_GROUP = 0x1  # AD groupType bit of the groups in CN=Builtin


def is_critical(entry: SourceEntry) -> bool:
    """AD's own objects: isCriticalSystemObject (Administrator, Domain Admins …) or Builtin."""
    if entry.first("isCriticalSystemObject").upper() == "TRUE":
        return True
    group_type = entry.first("groupType")
    return group_type.lstrip("-").isdigit() and bool(int(group_type) & BUILTIN_LOCAL_GROUP)


def _scope_reason(entry: SourceEntry, is_excluded: bool, ous: tuple[str, ...], scope: Scope) -> str:
    if is_excluded:
        return "excluded by the mapping file"
    if not scope.include_critical and is_critical(entry):
        return "critical system object (built-in; see include_critical)"
    if ous and not under_any(entry.dn, ous):
        return f"left scope (moved to {parent_of(entry.dn)})"
    if not entry.in_filter:
        return "left scope (no longer matches the filter)"
    return ""


def resolve_members(
    entry: SourceEntry, dn_to_anchor: dict[str, str]
) -> tuple[frozenset[str], tuple[str, ...]]:
    """A group's members as anchors (remembered ones kept), and the DNs no entry has."""
    found = set(entry.member_anchors)
    missing = []
    for dn in entry.all("member") + entry.all("uniqueMember"):
        anchor = dn_to_anchor.get(normalize_dn(dn))
        if anchor is None:
            missing.append(dn)
        else:
            found.add(anchor)
    return frozenset(found), tuple(missing)


def _transitive_members(roots: list[str], members: dict[str, frozenset[str]]) -> set[str]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        anchor = todo.pop()
        for member in members.get(anchor, ()):
            if member not in seen:
                seen.add(member)
                todo.append(member)
    return seen
