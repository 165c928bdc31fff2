"""Decide, per collection, what a run does to each object: create, update, delete or skip.

Pure: it sees listings (href -> ETag), the ledger's records and prepared objects, never a
server. The UID is the identity: a rerun finds an object by UID in the ledger and updates
it in place (If-Match), so nothing is ever copied twice. The ETag of each side tells what
changed since the last run without fetching content.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from skylift.model.dav import Collection, ItemRecord, ItemRef

KEPT_DELETED = "deleted at the source; kept (use --delete)"


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    SKIP = "skip"
    FAIL = "fail"


@dataclass(frozen=True)
class Step:
    """One planned change and why. *if_match* is the target ETag a write or delete expects;
    *notice* marks a done step a person should read anyway (an object repaired)."""

    action: Action
    reason: str
    uid: str | None = None
    source_href: str | None = None
    target_href: str | None = None
    if_match: str | None = None
    notice: bool = False


@dataclass(frozen=True)
class ListingPlan:
    """What a collection's listings alone decide: which objects to fetch, and the rest."""

    fetch: list[str]
    steps: list[Step]


def plan_listing(
    source: Iterable[ItemRef],
    records: Iterable[ItemRecord],
    target: Mapping[str, str | None],
    propagate_deletes: bool = False,
) -> ListingPlan:
    """Compare source and target listings with the ledger.

    An object whose source ETag and target ETag both equal the ledger's is skipped unseen;
    every other source object is fetched. A ledger object gone from the source is deleted on
    the target when *propagate_deletes* is set and the target copy is still ours.
    """
    by_href = {r.source_href: r for r in records}
    fetch: list[str] = []
    steps: list[Step] = []
    seen: set[str] = set()
    for ref in source:
        seen.add(ref.href)
        record = by_href.get(ref.href)
        if (
            record is not None
            and ref.etag is not None
            and record.source_etag == ref.etag
            and record.target_href in target
            and target[record.target_href] == record.target_etag
        ):
            steps.append(
                Step(
                    Action.SKIP,
                    "unchanged since the last run",
                    record.uid,
                    ref.href,
                    record.target_href,
                )
            )
        else:
            fetch.append(ref.href)
    for record in by_href.values():
        if record.source_href in seen:
            continue
        if record.target_href not in target:
            steps.append(
                Step(
                    Action.SKIP,
                    "deleted on both sides",
                    record.uid,
                    record.source_href,
                    record.target_href,
                )
            )
        elif not propagate_deletes:
            steps.append(
                Step(
                    Action.SKIP,
                    KEPT_DELETED,
                    record.uid,
                    record.source_href,
                    record.target_href,
                )
            )
        elif target[record.target_href] != record.target_etag:
            steps.append(
                Step(
                    Action.SKIP,
                    "deleted at the source but changed on the target; kept",
                    record.uid,
                    record.source_href,
                    record.target_href,
                )
            )
        else:
            steps.append(
                Step(
                    Action.DELETE,
                    "deleted at the source",
                    record.uid,
                    record.source_href,
                    record.target_href,
                    record.target_etag,
                )
            )
    return ListingPlan(fetch, steps)


def plan_object(
    uid: str,
    source_href: str,
    name_href: str,
    content_hash: str,
    record: ItemRecord | None,
    target: Mapping[str, str | None],
) -> Step:
    """Decide for one fetched and prepared object (found by UID in the ledger or not).

    *name_href* is where a new object goes on the target (derived from the UID).
    """
    if record is not None and record.target_href in target:
        current = target[record.target_href]
        if current != record.target_etag:
            return Step(
                Action.FAIL,
                "changed on both sides since the last run; left as is",
                uid,
                source_href,
                record.target_href,
            )
        if record.content_hash == content_hash:
            return Step(
                Action.SKIP, "same content as the target copy", uid, source_href, record.target_href
            )
        return Step(
            Action.UPDATE, "changed at the source", uid, source_href, record.target_href, current
        )
    reason = "new" if record is None else "gone from the target; copied again"
    if name_href in target:
        return Step(
            Action.UPDATE,
            "already on the target (same UID); replaced with the source",
            uid,
            source_href,
            name_href,
            target[name_href],
        )
    return Step(Action.CREATE, reason, uid, source_href, name_href)


def duplicate_uid_step(uid: str, source_href: str, first_href: str) -> Step:
    """A second source object with a UID already seen in this collection."""
    return Step(Action.FAIL, f"same UID as {first_href}; not copied twice", uid, source_href)


def unchanged(
    source_marker: str | None,
    target_marker: str | None,
    old_source_marker: str | None,
    old_target_marker: str | None,
) -> bool:
    """Both sides still carry the markers of the last settled run: nothing to look at."""
    return bool(
        source_marker
        and target_marker
        and source_marker == old_source_marker
        and target_marker == old_target_marker
    )


def refuse_object(
    uid: str,
    source_href: str,
    size: int,
    component: str,
    collection: Collection,
    limit: int | None,
    seen: dict[str, str],
) -> Step | None:
    """Why a prepared object cannot go to *collection* at all, or None when it can.

    *limit* is the largest object the target takes (the collection's announcement, else
    the connector's declared capability). *seen* maps the UIDs met so far in this
    collection to their source href; an object that is not too big joins it.
    """
    if limit and size > limit:
        return Step(
            Action.FAIL, f"{size} bytes, the target takes at most {limit}", uid, source_href
        )
    if uid in seen:
        return duplicate_uid_step(uid, source_href, seen[uid])
    seen[uid] = source_href
    if collection.components and component not in (*collection.components, "VCARD"):
        return Step(Action.FAIL, f"the target calendar takes no {component}", uid, source_href)
    return None


def merge_changes(
    records: Iterable[ItemRecord], changed: Iterable[ItemRef], removed: Iterable[str]
) -> list[ItemRef]:
    """The source listing rebuilt from the ledger plus a sync-collection delta."""
    known = {r.source_href: ItemRef(r.source_href, r.source_etag) for r in records}
    known.update({ref.href: ref for ref in changed})
    for href in removed:
        known.pop(href, None)
    return list(known.values())
