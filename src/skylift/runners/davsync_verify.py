"""Verify one account: is every source object on the target, and does it mean the same?

Objects are matched by UID. Calendars compare expanded occurrences over a window, contacts
compare field by field against the card skylift would write (after 2.1 -> 3.0 and domain
rules), so a correct conversion is not reported as a difference.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from skylift.connectors.dav.base import DavSource, DavTarget
from skylift.engine.dav.objects import MalformedObject, prepare
from skylift.engine.dav.sync import vcard_versions
from skylift.engine.dav.verify import compare_cards, compare_events
from skylift.model.dav import Collection, DavKind, Item


@dataclass
class CollectionCheck:
    name: str
    checked: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "collection": self.name,
            "checked": self.checked,
            "problems": [{"uid": uid, "problem": text} for uid, text in self.problems],
        }


def _by_uid(
    items: list[Item], domain_map: dict[str, str], versions: frozenset[str]
) -> tuple[dict[str, bytes], list[str]]:
    found: dict[str, bytes] = {}
    errors: list[str] = []
    for item in items:
        try:
            prepared = prepare(item, domain_map, versions)
        except MalformedObject as exc:
            errors.append(f"{item.href}: {exc}")
            continue
        found[prepared.uid] = prepared.raw
    return found, errors


def verify_account(
    source: DavSource,
    target: DavTarget,
    kind: DavKind,
    window: tuple[date, date],
    domain_map: dict[str, str] | None = None,
) -> list[CollectionCheck]:
    """Compare every source collection with the target collection of the same name."""
    domain_map = domain_map or {}
    on_target = {c.name: c for c in target.collections()}
    checks = []
    for spec in source.collections():
        check = CollectionCheck(spec.name)
        checks.append(check)
        other: Collection | None = on_target.get(spec.name)
        if other is None:
            check.problems.append(("", "collection missing on the target"))
            continue
        source_items = list(source.fetch(spec, [r.href for r in source.list_items(spec)]))
        target_items = list(target.fetch(other, [r.href for r in target.list_items(other)]))
        versions = vcard_versions(other)
        mine, _ = _by_uid(source_items, domain_map, versions)
        theirs, _ = _by_uid(target_items, {}, versions | {"3.0", "4.0"})
        for uid, raw in mine.items():
            check.checked += 1
            if uid not in theirs:
                check.problems.append((uid, "missing on the target"))
                continue
            try:
                rebuilt = target.capabilities.rebuilds
                if kind is DavKind.CALENDAR:
                    diffs = compare_events(raw, theirs[uid], *window, rebuilt=rebuilt)
                else:
                    diffs = compare_cards(raw, theirs[uid], rebuilt=rebuilt)
            except ValueError as exc:
                diffs = [str(exc)]
            check.problems += [(uid, d) for d in diffs]
    return checks
