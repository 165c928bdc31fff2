"""Diff the desired directory against the target: one change per object, each with a reason.

The plan is complete before anything is written, so ``--preview`` shows exactly what
``--apply`` would do and the delete threshold can stop a run before its first change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from skylift.engine.directory.matching import Conflict, MatchResult
from skylift.engine.directory.scope import DesiredState
from skylift.errors import EXIT_USAGE, ConfigError, SkyliftError
from skylift.model.directory import (
    GROUP_FIELDS,
    USER_FIELDS,
    DirectoryObject,
    Group,
    ObjectKind,
    User,
    kind_of,
)

Action = Literal["create", "link", "update", "enable", "disable", "delete"]
DeleteMode = Literal["disable", "delete"]

# SCIM names of the compared fields, for reasons people read.
FIELD_LABELS = {
    "user_name": "userName",
    "active": "active",
    "display_name": "displayName",
    "given_name": "givenName",
    "family_name": "familyName",
    "email": "mail",
    "other_emails": "otherMails",
    "title": "title",
    "department": "department",
    "phone": "phone",
    "members": "members",
}


class DeleteThresholdExceeded(SkyliftError):
    """A run would disable or delete more objects than the user allowed; nothing changed."""

    exit_code = EXIT_USAGE


@dataclass(frozen=True)
class Change:
    """One planned write. *changes* maps a field to (before, after); members are anchors."""

    action: Action
    kind: ObjectKind
    anchor: str
    name: str
    reason: str
    target_id: str = ""
    changes: dict[str, tuple[object, object]] = field(default_factory=dict)
    add_members: tuple[str, ...] = ()
    remove_members: tuple[str, ...] = ()
    desired: DirectoryObject | None = None

    @property
    def removes_access(self) -> bool:
        return self.action in ("disable", "delete")


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    managed: int = 0
    # Memberships that wait for a conflict to be fixed: group name -> member DNs. They
    # are reported here, once, and never planned, so a rerun stays quiet.
    blocked: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def removals(self) -> int:
        return sum(1 for c in self.changes if c.removes_access)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in self.changes:
            out[c.action] = out.get(c.action, 0) + 1
        out["conflict"] = len(self.conflicts)
        out["blocked"] = sum(len(m) for m in self.blocked.values())
        return out

    def blocked_lines(self) -> list[str]:
        return [
            f"blocked: {len(names)} membership(s) of group {group} wait for a conflict "
            f"to be fixed: {', '.join(names)}"
            for group, names in sorted(self.blocked.items())
        ]


def parse_threshold(text: str) -> tuple[int, bool]:
    """``500`` -> (500, False); ``10%`` -> (10, True); anything else is a ConfigError."""
    raw = text.strip()
    percent = raw.endswith("%")
    number = raw[:-1] if percent else raw
    if not number.isdigit():
        raise ConfigError(
            f"--delete-threshold must be a count like 500 or a percentage like 10%, not {text!r}"
        )
    return int(number), percent


def check_threshold(plan: Plan, threshold: str) -> None:
    """Raise DeleteThresholdExceeded when the plan removes more than *threshold* allows."""
    limit, percent = parse_threshold(threshold)
    removals = plan.removals()
    allowed = limit * max(plan.managed, 1) // 100 if percent else limit
    if removals > allowed:
        basis = f" ({limit}% of {plan.managed} managed objects)" if percent else ""
        raise DeleteThresholdExceeded(
            f"this run would disable or delete {removals} objects, more than the delete "
            f"threshold of {allowed}{basis}; nothing was changed. Review with --preview, then "
            f"rerun with a higher --delete-threshold if this is intended"
        )


def plan_changes(
    desired: DesiredState,
    matches: MatchResult,
    *,
    disabled_at: dict[str, datetime],
    delete_mode: DeleteMode = "disable",
    delete_after: timedelta | None = None,
    now: datetime,
) -> Plan:
    """Build the full plan: creates and updates, group membership, then leavers."""
    plan = Plan(conflicts=list(matches.conflicts), problems=sorted(desired.problems.values()))
    plan.managed = len(matches.matched) + len(matches.leaving)
    id_to_anchor = {obj.id: anchor for anchor, (obj, _) in matches.matched.items()}
    id_to_anchor.update({obj.id: anchor for anchor, obj in matches.leaving.items()})
    for anchor, user in desired.users.items():
        if anchor not in matches.blocked:
            _plan_object(plan, anchor, user, matches, disabled_at)
    for anchor, group in desired.groups.items():
        if anchor in matches.blocked:
            continue
        waiting = group.members & matches.blocked
        if waiting:
            plan.blocked[group.display_name] = tuple(
                sorted(_member_name(desired, m) for m in waiting)
            )
            group = Group(
                group.external_id,
                group.display_name,
                group.members - waiting,
                source_dn=group.source_dn,
            )
        _plan_object(plan, anchor, group, matches, disabled_at, id_to_anchor, waiting)
    for anchor, target in matches.leaving.items():
        reason = desired.out_of_scope.get(anchor, "deleted in source (or moved outside the base)")
        _plan_leaver(
            plan,
            anchor,
            target,
            reason,
            disabled_at.get(anchor),
            delete_mode,
            delete_after,
            now,
            id_to_anchor,
        )
    plan.changes.sort(key=lambda c: (c.kind != "user", c.name.lower(), c.anchor))
    return plan


def _plan_object(
    plan: Plan,
    anchor: str,
    obj: DirectoryObject,
    matches: MatchResult,
    disabled_at: dict[str, datetime],
    id_to_anchor: dict[str, str] | None = None,
    waiting: frozenset[str] = frozenset(),
) -> None:
    """Plan one object; *waiting* members are blocked: neither added nor removed."""
    kind = kind_of(obj)
    name = _name(obj)
    found = matches.matched.get(anchor)
    if found is None:
        members = tuple(sorted(obj.members)) if isinstance(obj, Group) else ()
        plan.changes.append(
            Change("create", kind, anchor, name, "create", desired=obj, add_members=members)
        )
        return
    target, how = found
    diffs = field_diffs(obj, target)
    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    if isinstance(obj, Group) and isinstance(target, Group):
        current = (
            {id_to_anchor.get(m, "") for m in target.members} - {""} if id_to_anchor else set()
        )
        add = tuple(sorted(obj.members - current))
        remove = tuple(sorted(current - obj.members - waiting))
    if how != "hard":
        diffs["external_id"] = (target.external_id, anchor)
        plan.changes.append(
            Change("link", kind, anchor, name, how, target.id, diffs, add, remove, obj)
        )
        return
    if not diffs and not add and not remove:
        return
    action: Action = "update"
    if "active" in diffs:
        if isinstance(obj, User) and not obj.active:
            action, reason = "disable", "disable: account disabled in source"
        else:
            action = "enable"
            reason = (
                "enable: back in scope"
                if anchor in disabled_at
                else "enable: account enabled in source"
            )
    else:
        what = [f"{FIELD_LABELS.get(f, f)} changed" for f in diffs]
        if add or remove:
            what.append(f"members +{len(add)} -{len(remove)}")
        reason = "update: " + ", ".join(what)
    plan.changes.append(
        Change(action, kind, anchor, name, reason, target.id, diffs, add, remove, obj)
    )


def _plan_leaver(
    plan: Plan,
    anchor: str,
    target: DirectoryObject,
    reason: str,
    since: datetime | None,
    delete_mode: DeleteMode,
    delete_after: timedelta | None,
    now: datetime,
    id_to_anchor: dict[str, str],
) -> None:
    kind = kind_of(target)
    name = _name(target)
    if delete_mode == "delete":
        plan.changes.append(Change("delete", kind, anchor, name, f"delete: {reason}", target.id))
        return
    if since is not None and delete_after is not None and now - since >= delete_after:
        why = f"delete: disabled since {since:%Y-%m-%d} ({reason})"
        plan.changes.append(Change("delete", kind, anchor, name, why, target.id))
        return
    if isinstance(target, User):
        if target.active:
            diffs: dict[str, tuple[object, object]] = {"active": (True, False)}
            plan.changes.append(
                Change("disable", kind, anchor, name, f"disable: {reason}", target.id, diffs)
            )
    else:
        managed = tuple(sorted(id_to_anchor[m] for m in target.members if m in id_to_anchor))
        if managed or since is None:
            why = f"disable: {reason} (members removed; the group is deleted by --delete-after)"
            plan.changes.append(
                Change("disable", kind, anchor, name, why, target.id, remove_members=managed)
            )


def field_diffs(
    desired: DirectoryObject, target: DirectoryObject
) -> dict[str, tuple[object, object]]:
    names = (
        USER_FIELDS
        if isinstance(desired, User)
        else tuple(f for f in GROUP_FIELDS if f != "members")
    )
    out: dict[str, tuple[object, object]] = {}
    for name in names:
        before, after = getattr(target, name), getattr(desired, name)
        if _norm(before) != _norm(after):
            out[name] = (before, after)
    return out


def _norm(value: object) -> object:
    if isinstance(value, tuple | list | frozenset | set):
        return sorted(str(v).lower() for v in value)
    if isinstance(value, str):
        return value.strip()
    return value


def _member_name(desired: DesiredState, anchor: str) -> str:
    found: DirectoryObject | None = desired.users.get(anchor) or desired.groups.get(anchor)
    if found is None:
        return anchor
    return found.source_dn or _name(found)  # in a conflict names clash; DNs do not


def _name(obj: DirectoryObject) -> str:
    return obj.user_name if isinstance(obj, User) else obj.display_name
