"""Execute a directory plan on the target and record each action (the sync's last two steps).

The order is what keeps a half-applied run safe: users, groups, memberships, then
disables, then deletes. Every change is journaled with its before and after; the state
moves forward only for what the target accepted, so a rerun plans the rest again.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from skylift.connectors.directory.base import DirectoryTarget
from skylift.engine.directory.matching import MatchResult
from skylift.engine.directory.plan import Change, Plan
from skylift.engine.directory.scope import DesiredState
from skylift.engine.directory.snapshot import entry_to_dict, object_to_dict
from skylift.errors import ItemRejected
from skylift.model.directory import DirectoryObject, Group, SourceEntry, User
from skylift.state.directory_journal import DirectoryJournal, JournalEntry, KnownObject


@dataclass
class ApplyOutcome:
    """How many changes the target accepted, and one line for each it refused."""

    applied: int = 0
    failed: list[str] = field(default_factory=list)
    stopped: int = 0  # changes left for the rerun after Ctrl-C


def apply_plan(
    target: DirectoryTarget,
    plan: Plan,
    matches: MatchResult,
    desired: DesiredState,
    entries: list[SourceEntry],
    known: dict[str, KnownObject],
    journal: DirectoryJournal,
    now: datetime,
    stop: threading.Event | None = None,
) -> ApplyOutcome:
    """Write *plan* in its safe order, journal every change and save what was written.

    Once *stop* is set (Ctrl-C) no further change is written: those left count as not
    written, so their old snapshot stays and the rerun plans them again; no delete runs.
    """
    result = ApplyOutcome()
    ids = {a: obj.id for a, (obj, _) in matches.matched.items()}
    ids.update({a: obj.id for a, obj in matches.leaving.items()})
    done: list[JournalEntry] = []
    failed_anchors: set[str] = set()
    entry_by_anchor = {e.anchor: e for e in entries}

    def stopping(change: Change) -> bool:
        if stop is None or not stop.is_set():
            return False
        failed_anchors.add(change.anchor)
        result.stopped += 1
        return True

    def attempt(change: Change, work: Callable[[], None]) -> None:
        if stopping(change):
            return
        try:
            work()
        except ItemRejected as exc:
            failed_anchors.add(change.anchor)
            result.failed.append(f"{change.action} {change.kind} {change.name}: {exc}")
            done.append(_journal_entry(change, ids.get(change.anchor, ""), False, str(exc)))
            return
        result.applied += 1
        done.append(_journal_entry(change, ids.get(change.anchor, ""), True))

    by_phase = {p: [c for c in plan.changes if _phase(c) == p] for p in range(5)}
    try:
        for change in by_phase[0]:  # users: create, link, update, enable, disable-in-source
            attempt(change, lambda c=change: _write_user(target, c, ids))  # type: ignore[misc]
        created_with: dict[str, set[str]] = {}
        for change in by_phase[1]:  # groups: create with the members that exist, rename, link
            attempt(change, lambda c=change: _write_group(target, c, ids, created_with))  # type: ignore[misc]
        for change in by_phase[0] + by_phase[1] + by_phase[2]:  # the other memberships
            if (change.add_members or change.remove_members) and change.anchor in ids:
                if stopping(change):
                    continue
                already = created_with.get(change.anchor, set())
                add = [ids[m] for m in change.add_members if m in ids and m not in already]
                remove = [ids[m] for m in change.remove_members if m in ids]
                if add or remove:
                    try:
                        target.update_group(ids[change.anchor], {}, add, remove)
                    except ItemRejected as exc:
                        failed_anchors.add(change.anchor)
                        result.failed.append(f"members of {change.name}: {exc}")
        for change in by_phase[3]:  # leavers: disable
            attempt(change, lambda c=change: _disable(target, c, ids))  # type: ignore[misc]
        for change in by_phase[4]:  # deletes, only after everything else
            attempt(change, lambda c=change: target.delete(c.kind, ids[c.anchor]))  # type: ignore[misc]
    finally:
        journal.record(uuid.uuid4().hex, done)
        _save_state(
            journal, plan, desired, entry_by_anchor, known, ids, failed_anchors, matches, now
        )
    return result


def _phase(change: Change) -> int:
    if change.action == "delete":
        return 4
    if change.kind == "user":
        return 3 if change.action == "disable" and change.anchor and not change.desired else 0
    if change.action == "disable":
        return 3
    return 1 if change.action in ("create", "link") or "display_name" in change.changes else 2


def _write_user(target: DirectoryTarget, change: Change, ids: dict[str, str]) -> None:
    if change.action == "create":
        assert isinstance(change.desired, User)
        ids[change.anchor] = target.create_user(change.desired)
    else:
        target.update_user(
            ids[change.anchor], {k: after for k, (_b, after) in change.changes.items()}
        )


def _write_group(
    target: DirectoryTarget, change: Change, ids: dict[str, str], created_with: dict[str, set[str]]
) -> None:
    if change.action == "create":
        assert isinstance(change.desired, Group)
        members = [m for m in change.add_members if m in ids]  # users exist; nested groups may not
        ids[change.anchor] = target.create_group(change.desired, [ids[m] for m in members])
        created_with[change.anchor] = set(members)
    else:
        changes = {k: after for k, (_b, after) in change.changes.items()}
        target.update_group(ids[change.anchor], changes, [], [])


def _disable(target: DirectoryTarget, change: Change, ids: dict[str, str]) -> None:
    if change.kind == "user":
        target.update_user(ids[change.anchor], {"active": False})
    else:
        target.update_group(
            ids[change.anchor], {}, [], [ids[m] for m in change.remove_members if m in ids]
        )


def _journal_entry(
    change: Change, target_id: str, ok: bool, error: str | None = None
) -> JournalEntry:
    before = {k: _plain(b) for k, (b, _a) in change.changes.items()} or None
    after = {k: _plain(a) for k, (_b, a) in change.changes.items()} or None
    if change.action == "create" and change.desired is not None:
        after = object_to_dict(change.desired)
    if change.add_members or change.remove_members:
        after = (after or {}) | {
            "members_added": list(change.add_members),
            "members_removed": list(change.remove_members),
        }
    return JournalEntry(
        change.action,
        change.kind,
        change.anchor,
        change.name,
        target_id,
        change.reason,
        before,
        after,
        ok,
        error,
    )


def _plain(value: object) -> object:
    return sorted(value) if isinstance(value, tuple | frozenset | set) else value  # type: ignore[type-var]


def _save_state(
    journal: DirectoryJournal,
    plan: Plan,
    desired: DesiredState,
    entries: dict[str, SourceEntry],
    known: dict[str, KnownObject],
    ids: dict[str, str],
    failed: set[str],
    matches: MatchResult,
    now: datetime,
) -> None:
    """Remember source entries, target ids and what was written; forget what is gone.

    A failed change keeps the old snapshot, so the next run (delta or full) plans it again.
    """
    deleted = {c.anchor for c in plan.changes if c.action == "delete" and c.anchor not in failed}
    rows: list[tuple[str, KnownObject]] = []
    kept: set[str] = set()
    for anchor in set(entries) | set(known):
        old = known.get(anchor)
        entry = entries.get(anchor)
        if anchor in failed and old is not None:
            continue
        if entry is None and (anchor in deleted or anchor not in matches.leaving):
            continue  # gone from the source and from the target: forgotten below
        kind = entry.kind if entry is not None else old.kind  # type: ignore[union-attr]
        target_id = "" if anchor in deleted else ids.get(anchor) or (old.target_id if old else "")
        applied = old.applied if old else None
        obj: DirectoryObject | None = desired.users.get(anchor) or desired.groups.get(anchor)
        disabled_at = None
        if obj is not None and target_id and anchor not in matches.blocked and anchor not in failed:
            applied = object_to_dict(_with_target_members(obj, ids, matches))
        elif anchor in matches.leaving and target_id:
            applied = _as_left(applied or object_to_dict(matches.leaving[anchor]), kind)
            disabled_at = (old.disabled_at if old else None) or now
        source_entry = None
        if entry is not None and anchor not in failed:
            members = desired.member_anchors.get(anchor) if entry.kind == "group" else None
            unresolved = desired.unresolved_members.get(anchor, ())
            source_entry = entry_to_dict(entry, members, unresolved)
        row = KnownObject(
            kind, target_id, source_entry, applied if target_id else None, disabled_at
        )
        kept.add(anchor)
        if row != old:  # most rows of a delta run are unchanged: skip the write
            rows.append((anchor, row))
    journal.save_objects(rows)
    journal.forget(a for a in known if a not in kept and a not in failed)


def _with_target_members(
    obj: DirectoryObject, ids: dict[str, str], matches: MatchResult
) -> DirectoryObject:
    """The group as written: a blocked member counts only if the target already had it."""
    if isinstance(obj, Group):
        found = matches.matched.get(obj.external_id)
        had = found[0].members if found is not None and isinstance(found[0], Group) else set()
        members = frozenset(
            ids[m] for m in obj.members if m in ids and (m not in matches.blocked or ids[m] in had)
        )
        return Group(obj.external_id, obj.display_name, members, id=obj.id)
    return obj


def _as_left(applied: dict[str, Any], kind: str) -> dict[str, Any]:
    left: dict[str, Any] = {"active": False} if kind == "user" else {"members": []}
    return applied | left
