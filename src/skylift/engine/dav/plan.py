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

from skylift.model.dav import ItemRecord, ItemRef

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
