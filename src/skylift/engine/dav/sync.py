"""Copy one account's calendars or address books: plan -> gate -> execute -> record.

The runner hands in two open connectors (a :class:`DavSource`, a :class:`DavTarget`) and
the ledger; this module never parses a URL or names a connector. Per collection:

1. **plan** (:func:`plan_collection`, reads only): the markers of both sides against the
   ledger's (unchanged: done), the target's listing, the source's listing (a sync-collection
   delta when the source declares ``sync_collection`` and the last run left a token), then
   the pure ``plan.plan_listing``: what to fetch, what to skip, what to delete.
2. **gate**: ``--dry-run`` stops here, in :func:`migrate_collection` and nowhere else; the
   preview still fetches and decides each object (to say create or update), writes nothing.
3. **execute**: create the collection, set its properties as on the source, delete, then
   fetch and decide each object and write it (``writes.write_object``, several at once).
4. **record**: each written, skipped or deleted object's ledger row as it happens (never
   before the target has it), and the markers once the collection is settled.

One bad object never stops a run: it becomes a ``FAIL`` step with the target's words. A
``TransientError`` (a 429/503 the transport could not wait out) is not a bad object: it
ends the account so the runner can retry it after the server's hint; the ledger resumes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

from skylift.connectors.dav.base import DavSource, DavTarget, differing
from skylift.engine.dav.export import ExportFolder
from skylift.engine.dav.objects import MalformedObject, Prepared, prepare, resource_name
from skylift.engine.dav.plan import (
    KEPT_DELETED,
    Action,
    ListingPlan,
    Step,
    merge_changes,
    plan_listing,
    plan_object,
    refuse_object,
    unchanged,
)
from skylift.engine.dav.writes import OrderedWrites, write_object
from skylift.errors import ConnectError, SkyliftError, TransientError
from skylift.model.dav import Collection, DavKind, Item, ItemRecord, ItemRef
from skylift.state.dav_ledger import DavLedger


@dataclass
class CollectionReport:
    """What happened to one collection; *outcomes* has one step per object looked at."""

    name: str
    kind: DavKind
    created: bool = False
    unchanged: bool = False
    outcomes: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    stopped: bool = False  # Ctrl-C ended it part way; the rerun finishes it

    def count(self, action: Action) -> int:
        return sum(1 for step in self.outcomes if step.action is action)

    @property
    def failed(self) -> list[Step]:
        return [s for s in self.outcomes if s.action is Action.FAIL]

    def to_json(self) -> dict[str, object]:
        return {
            "collection": self.name,
            "kind": str(self.kind),
            "created": self.created,
            "unchanged": self.unchanged,
            "stopped": self.stopped,
            "notes": self.notes,
            "counts": {str(a): self.count(a) for a in Action},
            "items": [
                {
                    "action": str(s.action),
                    "uid": s.uid,
                    "source": s.source_href,
                    "target": s.target_href,
                    "reason": s.reason,
                    "notice": s.notice,
                }
                for s in self.outcomes
                if s.action is not Action.SKIP or s.reason != "unchanged since the last run"
            ],
        }


@dataclass
class RunOptions:
    kind: DavKind
    dry_run: bool = False
    propagate_deletes: bool = False
    domain_map: dict[str, str] = field(default_factory=dict)
    dav_workers: int = 4
    export_dir: Path | None = None
    # Ctrl-C: set once, the run stops writing after the object in hand; what was written is
    # in the ledger, so the rerun resumes (the collection's markers are not saved).
    stop: threading.Event = field(default_factory=threading.Event)
    #: old -> new meeting-link prefixes (``--rewrite-meeting-link``, ``meetings.py``)
    link_map: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CollectionPlan:
    """What the run will do to one collection, decided before any write.

    *target* is the existing target collection, or None when it is to be created;
    *properties* the text properties to set again as on the source.
    """

    account: str
    spec: Collection
    target: Collection | None
    source_marker: str | None
    records: list[ItemRecord]
    listing: dict[str, str | None]
    listed: ListingPlan
    properties: dict[str, str] = field(default_factory=dict)
    unchanged: bool = False


def migrate_account(
    source: DavSource,
    target: DavTarget,
    ledger: DavLedger,
    account: str,
    options: RunOptions,
) -> list[CollectionReport]:
    """Copy every collection of *source* into *target* for *account*.

    A connection loss or a throttle the transport could not wait out ends the account
    (the runner decides what then); any other refusal fails that collection only.
    """
    existing = {c.name: c for c in target.collections()}
    reports = []
    for spec in source.collections():
        if options.stop.is_set():
            break
        try:
            report = migrate_collection(
                source, target, ledger, account, spec, existing.get(spec.name), options
            )
        except (ConnectError, TransientError):
            raise
        except SkyliftError as exc:  # e.g. the target refuses to create the collection
            report = CollectionReport(spec.name, options.kind)
            report.outcomes.append(Step(Action.FAIL, str(exc), source_href=spec.href))
        reports.append(report)
    return reports


def migrate_collection(
    source: DavSource,
    target: DavTarget,
    ledger: DavLedger,
    account: str,
    spec: Collection,
    existing: Collection | None,
    options: RunOptions,
) -> CollectionReport:
    """Plan one collection, then preview it (``--dry-run``) or carry it out."""
    plan = plan_collection(source, target, ledger, account, spec, existing, options)
    if options.dry_run:  # the one gate: nothing below it writes
        return preview(source, target, plan, options)
    return execute(source, target, ledger, plan, options)


def plan_collection(
    source: DavSource,
    target: DavTarget,
    ledger: DavLedger,
    account: str,
    spec: Collection,
    existing: Collection | None,
    options: RunOptions,
) -> CollectionPlan:
    """Read both sides and the ledger, and decide from listings alone; writes nothing."""
    kind = options.kind
    _, old_source_marker, old_target_marker = ledger.markers(account, kind, spec.name)
    source_marker = source.marker(spec)
    properties = differing(spec, existing) if existing is not None else {}
    if existing is not None:
        target_marker = target.marker(existing) if existing.href else None
        if unchanged(source_marker, target_marker, old_source_marker, old_target_marker):
            return CollectionPlan(
                account, spec, existing, source_marker, [], {}, ListingPlan([], []),
                properties, unchanged=True,
            )  # fmt: skip
    records = ledger.records(account, kind, spec.name)
    listing = {
        ref.href: ref.etag
        for ref in (target.list_items(existing) if existing is not None and existing.href else [])
    }
    source_listing = _source_listing(source, spec, records, old_source_marker)
    listed = plan_listing(source_listing, records, listing, options.propagate_deletes)
    return CollectionPlan(
        account, spec, existing, source_marker, records, listing, listed, properties
    )


def preview(
    source: DavSource, target: DavTarget, plan: CollectionPlan, options: RunOptions
) -> CollectionReport:
    """What :func:`execute` would do, object by object, with no write anywhere."""
    report = CollectionReport(plan.spec.name, options.kind, created=plan.target is None)
    if plan.properties and plan.target is not None:
        report.notes.append(f"would set {', '.join(plan.properties)} as on the source")
    if plan.unchanged:
        report.unchanged = True
        return report
    collection = plan.target or Collection(
        kind=options.kind, name=plan.spec.name, href="",
        components=target.capabilities.components,
    )  # fmt: skip
    report.outcomes += plan.listed.steps
    export = ExportFolder(None, plan.account, plan.spec.name)
    seen: dict[str, str] = {}
    by_uid = {r.uid: r for r in plan.records}
    for item in source.fetch(plan.spec, plan.listed.fetch):
        step, _ = decide(item, collection, target, by_uid, plan.listing, seen, options)
        if step.action is Action.FAIL:
            where = export.save(item, _export_name(item, step))
            step = replace(step, reason=f"{step.reason}; {where}")
        report.outcomes.append(step)
    return report


def execute(
    source: DavSource,
    target: DavTarget,
    ledger: DavLedger,
    plan: CollectionPlan,
    options: RunOptions,
) -> CollectionReport:
    """Carry *plan* out and record each action in the ledger as it is done."""
    kind, spec, account = options.kind, plan.spec, plan.account
    report = CollectionReport(spec.name, kind, created=plan.target is None)
    if plan.target is None:
        collection, problems, notes = target.make_collection(spec)
        _property_failures(report, spec, problems)
        report.notes += notes
    else:
        collection = plan.target
        _set_properties(report, plan, target)
        if plan.unchanged:
            report.unchanged = True
            return report
    for step in plan.listed.steps:
        if step.action is Action.DELETE:
            step = _delete(target, ledger, account, kind, spec.name, step)
        report.outcomes.append(step)
    by_uid = {r.uid: r for r in plan.records}
    seen: dict[str, str] = {}
    export = ExportFolder(options.export_dir, account, spec.name)
    with OrderedWrites[Step](options.dav_workers) as writes:
        for item in source.fetch(spec, plan.listed.fetch):
            if options.stop.is_set():
                report.stopped = True
                break
            step, prepared = decide(item, collection, target, by_uid, plan.listing, seen, options)
            if prepared is None or step.action is Action.FAIL:
                if step.action is Action.FAIL:
                    where = export.save(item, _export_name(item, step))
                    step = replace(step, reason=f"{step.reason}; {where}")
                report.outcomes.extend(writes.done(step))
                continue
            if step.action is Action.SKIP:
                record = by_uid[prepared.uid]
                ledger.save(account, kind, spec.name, _record(record, item, record.target_etag))
                report.outcomes.extend(writes.done(step))
                continue
            job = partial(
                write_object, item, prepared, step, target, collection, ledger, account, kind,
                spec.name, export,
            )  # fmt: skip
            report.outcomes.extend(writes.submit(job))
        report.outcomes.extend(writes.drain())
    # Markers say "nothing to do next time": not true while failures or kept deletions wait.
    if report.stopped:
        return report
    if not report.failed and not any(s.reason == KEPT_DELETED for s in report.outcomes):
        ledger.save_markers(
            account,
            kind,
            spec.name,
            collection.href,
            plan.source_marker,
            target.marker(collection),
        )
    return report


def decide(
    item: Item,
    collection: Collection,
    target: DavTarget,
    by_uid: dict[str, ItemRecord],
    listing: dict[str, str | None],
    seen: dict[str, str],
    options: RunOptions,
) -> tuple[Step, Prepared | None]:
    """Prepare and plan one fetched object: its Step, with its bytes when it is to be written.

    Runs on the collection's thread (it reads and updates *seen*); no write happens here.
    """
    try:
        prepared = prepare(item, options.domain_map, vcard_versions(collection), options.link_map)
    except MalformedObject as exc:
        return Step(Action.FAIL, f"malformed, skipped: {exc}", item.uid, item.href), None
    limit = collection.max_resource_size or target.capabilities.max_resource_size
    size = len(prepared.raw)
    refusal = refuse_object(
        prepared.uid, item.href, size, prepared.component, collection, limit, seen
    )
    if refusal is not None:
        return refusal, None
    record = by_uid.get(prepared.uid)
    name_href = target.item_href(collection, prepared.name) if collection.href else prepared.name
    step = plan_object(prepared.uid, item.href, name_href, prepared.content_hash, record, listing)
    if options.dry_run and step.action in (Action.CREATE, Action.UPDATE):
        rule = target.adaptation(prepared.raw)  # said before the move, not only after
        if rule:
            step = replace(step, reason=f"{step.reason}; {rule}", notice=True)
    return step, (None if step.action is Action.FAIL else prepared)


def vcard_versions(collection: Collection) -> frozenset[str]:
    """The vCard versions to write: what the address book declares, else 3.0 (RFC 6352)."""
    return collection.data_versions or frozenset({"3.0"})


def _property_failures(report: CollectionReport, spec: Collection, problems: list[str]) -> None:
    for problem in problems:
        report.outcomes.append(Step(Action.FAIL, problem, source_href=spec.href))


def _set_properties(report: CollectionReport, plan: CollectionPlan, target: DavTarget) -> None:
    """Set again on the target the text properties that differ from the source's."""
    wrong = plan.properties
    if not wrong or plan.target is None:
        return
    names = ", ".join(wrong)
    if not target.capabilities.properties:
        report.notes.append(f"{names} differ from the source; the target cannot change them")
        return
    problems = target.set_properties(plan.target.href, wrong, "differs from the source; ")
    _property_failures(report, plan.spec, problems)
    if len(problems) < len(wrong):
        report.notes.append(
            f"set {names} as on the source"
            if not problems
            else f"tried to set {names} as on the source"
        )


def _export_name(item: Item, step: Step) -> str:
    last = item.href.rstrip("/").rpartition("/")[2]
    if step.uid and not last.lower().endswith(item.kind.suffix):
        return resource_name(step.uid, item.kind)
    return last or resource_name(step.uid or "object", item.kind)


def _source_listing(
    source: DavSource, spec: Collection, records: list[ItemRecord], old_marker: str | None
) -> list[ItemRef]:
    """The source's objects with ETags: from sync-collection changes when the source
    declares it and can answer from the last settled run's token, else a full listing."""
    if old_marker and spec.sync_token and source.capabilities.sync_collection:
        delta = source.changes_since(spec, old_marker)
        if delta is not None:
            changed, removed, _ = delta
            return merge_changes(records, changed, removed)
    return source.list_items(spec)


def _delete(
    target: DavTarget, ledger: DavLedger, account: str, kind: DavKind, name: str, step: Step
) -> Step:
    assert step.target_href is not None and step.uid is not None
    refusal = target.delete(step.target_href, step.if_match)
    if refusal:
        return Step(
            Action.FAIL, f"delete refused: {refusal}", step.uid, step.source_href, step.target_href
        )
    ledger.forget(account, kind, name, step.uid)
    return step


def _record(record: ItemRecord, item: Item, target_etag: str | None) -> ItemRecord:
    return ItemRecord(
        record.uid, item.href, item.etag, record.target_href, target_etag, record.content_hash
    )
