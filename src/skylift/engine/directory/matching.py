"""Pair each desired object with the target object it is, or will become.

Hard match: the anchor skylift recorded, or the target's externalId equal to the anchor.
Soft match: a target user with no externalId and the same email or userName (a group: the
same displayName), so pre-existing cloud accounts are adopted rather than duplicated.
Anything ambiguous is a conflict: reported, both sides left untouched, never merged.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from skylift.engine.directory.scope import DesiredState
from skylift.model.directory import DirectoryObject, Group, User


@dataclass(frozen=True)
class Conflict:
    """Objects skylift will not touch until a person decides; *anchors* are the sources."""

    anchors: tuple[str, ...]
    message: str


@dataclass
class MatchResult:
    """*matched*: anchor -> (target object, how); *leaving*: managed targets out of scope."""

    matched: dict[str, tuple[DirectoryObject, str]] = field(default_factory=dict)
    conflicts: list[Conflict] = field(default_factory=list)
    blocked: set[str] = field(default_factory=set)
    leaving: dict[str, DirectoryObject] = field(default_factory=dict)
    orphans: list[DirectoryObject] = field(default_factory=list)

    def target_id(self, anchor: str) -> str:
        found = self.matched.get(anchor) or (self.leaving.get(anchor), "")
        return found[0].id if found[0] is not None else ""


def _key(value: str) -> str:
    return value.strip().lower()


def find_source_duplicates(desired: DesiredState) -> list[Conflict]:
    """Users who claim the same userName or email (two people, one cloud account)."""
    claims: dict[tuple[str, str], list[User]] = defaultdict(list)
    for user in desired.users.values():
        if user.user_name:
            claims[("userName", _key(user.user_name))].append(user)
        if user.email:
            claims[("email", _key(user.email))].append(user)
    conflicts = []
    reported: set[tuple[str, ...]] = set()
    for (attr, value), users in sorted(claims.items()):
        anchors = tuple(sorted(u.external_id for u in users))
        if len(users) > 1 and anchors not in reported:
            reported.add(anchors)
            dns = "; ".join(u.source_dn or u.external_id for u in users)
            conflicts.append(
                Conflict(
                    tuple(u.external_id for u in users),
                    f"conflict: {len(users)} sources claim {attr} {value}: {dns}",
                )
            )
    return conflicts


def match(
    desired: DesiredState,
    target_users: Iterable[User],
    target_groups: Iterable[Group],
    known: dict[str, str],
) -> MatchResult:
    """Match desired objects to target objects; *known* maps anchors to target ids."""
    result = MatchResult()
    for conflict in find_source_duplicates(desired):
        result.conflicts.append(conflict)
        result.blocked.update(conflict.anchors)
    source_anchors = set(desired.users) | set(desired.groups) | set(desired.out_of_scope)
    ours_by_id = {tid: anchor for anchor, tid in known.items()}
    for kind, desired_objs, targets in (
        ("user", desired.users, list(target_users)),
        ("group", desired.groups, list(target_groups)),
    ):
        _match_kind(result, kind, desired_objs, targets, known, ours_by_id, source_anchors)
    return result


def _match_kind(
    result: MatchResult,
    kind: str,
    desired: dict[str, User] | dict[str, Group],
    targets: list[User] | list[Group],
    known: dict[str, str],
    ours_by_id: dict[str, str],
    source_anchors: set[str],
) -> None:
    by_id = {t.id: t for t in targets}
    by_external: dict[str, DirectoryObject] = {t.external_id: t for t in targets if t.external_id}
    claimed: set[str] = set()
    # Hard matches first, so a soft match can never steal a target that is already linked.
    for anchor in desired:
        target = by_id.get(known.get(anchor, "")) or by_external.get(anchor)
        if target is not None:
            result.matched[anchor] = (target, "hard")
            claimed.add(target.id)

    soft_index: dict[str, list[DirectoryObject]] = defaultdict(list)
    for t in targets:
        if t.id in claimed:
            continue
        for value in _soft_keys(t):
            soft_index[value].append(t)
    wanted: dict[str, list[str]] = defaultdict(list)
    how: dict[str, str] = {}
    for anchor, obj in desired.items():
        if anchor in result.matched or anchor in result.blocked:
            continue
        hits: dict[str, tuple[DirectoryObject, str]] = {}
        for label, value in _soft_keys_labelled(obj):
            for t in soft_index.get(value, ()):
                hits.setdefault(t.id, (t, label))
        if not hits:
            continue
        name = _name(obj)
        if len(hits) > 1:
            ids = ", ".join(sorted(_name(t) for t, _ in hits.values()))
            _block(result, (anchor,), f"conflict: {name} matches several target {kind}s: {ids}")
            continue
        target, label = next(iter(hits.values()))
        if target.external_id and target.external_id != anchor:
            owner = (
                "another source object"
                if target.external_id in source_anchors
                else "another system"
            )
            _block(
                result,
                (anchor,),
                f"conflict: target {kind} {_name(target)} has the same {label} as {name} "
                f"but is linked to {owner} (externalId {target.external_id})",
            )
            continue
        wanted[target.id].append(anchor)
        how[anchor] = f"soft-match existing target {kind} by {label}"
    for target_id, anchors in wanted.items():
        if len(anchors) > 1:
            names = ", ".join(_name(desired[a]) for a in anchors)
            _block(
                result,
                tuple(anchors),
                f"conflict: two sources claim target {kind} {_name(by_id[target_id])}: {names}",
            )
            continue
        result.matched[anchors[0]] = (by_id[target_id], how[anchors[0]])
        claimed.add(target_id)

    for t in targets:
        if t.id in claimed:
            continue
        anchor = ours_by_id.get(t.id) or (t.external_id if t.external_id in source_anchors else "")
        if anchor and anchor not in desired:
            result.leaving[anchor] = t
        elif not anchor or anchor in result.blocked:
            result.orphans.append(t)


def _block(result: MatchResult, anchors: tuple[str, ...], message: str) -> None:
    result.conflicts.append(Conflict(anchors, message))
    result.blocked.update(anchors)


def _name(obj: DirectoryObject) -> str:
    return obj.user_name if isinstance(obj, User) else obj.display_name


def _soft_keys(obj: DirectoryObject) -> set[str]:
    return {value for _, value in _soft_keys_labelled(obj)}


def _soft_keys_labelled(obj: DirectoryObject) -> list[tuple[str, str]]:
    if isinstance(obj, User):
        keys = [("email", _key(obj.email)), ("userName", _key(obj.user_name))]
        return [(label, "u:" + v) for label, v in keys if v]
    return [("displayName", "g:" + _key(obj.display_name))] if obj.display_name else []
