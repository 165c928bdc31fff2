"""Run a calendar or contacts migration for one account: open both sides, plan, apply, record.

The engine decides (pure), the connectors talk, the ledger remembers; this module only puts
them in order per collection, honours ``--dry-run`` (no write anywhere, ledger included) and
turns every per-object problem into a reported outcome so one bad object never stops a run.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Protocol

from skylift.connectors.dav.client import DavAccount, DavConnector
from skylift.connectors.dav.ics_files import IcsFileSource
from skylift.connectors.dav.props import differing
from skylift.connectors.dav.vcf_files import VcfFileSource
from skylift.connectors.endpoint import Endpoint
from skylift.engine.dav.objects import MalformedObject, Prepared, prepare, resource_name
from skylift.engine.dav.plan import (
    KEPT_DELETED,
    Action,
    Step,
    duplicate_uid_step,
    plan_listing,
    plan_object,
)
from skylift.errors import ConfigError, ConnectError, SkyliftError
from skylift.model.account import Login, MailboxPair
from skylift.model.dav import Collection, DavKind, Item, ItemRecord, ItemRef
from skylift.runners.davsync_export import ExportFolder
from skylift.runners.davsync_writes import OrderedWrites, write_object
from skylift.state.dav_ledger import DavLedger
from skylift.state.work_units import WorkUnits, new_run_id

DAV_SCHEMES = {
    DavKind.CALENDAR: ("caldav+https", "caldav+http"),
    DavKind.ADDRESSBOOK: ("carddav+https", "carddav+http"),
}
FILE_SCHEMES = {DavKind.CALENDAR: "ics", DavKind.ADDRESSBOOK: "vcf"}


class DavSource(Protocol):
    """What a migration reads from: a DAV account or a file source."""

    def collections(self) -> list[Collection]: ...
    def list_items(self, collection: Collection) -> list[ItemRef]: ...
    def fetch(self, collection: Collection, hrefs: Sequence[str]) -> Iterator[Item]: ...
    def marker(self, collection: Collection) -> str | None: ...
    def close(self) -> None: ...
    def __enter__(self) -> DavSource: ...
    def __exit__(self, *exc: object) -> None: ...


@dataclass(frozen=True)
class SideSpec:
    """A ``--source``/``--target`` URL with its TLS options, not yet opened."""

    url: str
    allow_plaintext: bool = False
    insecure: bool = False
    ca_file: str | None = None

    def endpoint(self) -> Endpoint:
        return Endpoint.parse(
            self.url,
            allow_plaintext=self.allow_plaintext,
            insecure=self.insecure,
            ca_file=self.ca_file,
        )


def check_schemes(kind: DavKind, source: SideSpec, target: SideSpec) -> None:
    """Refuse a URL of the wrong kind before any connection is made."""
    wanted = DAV_SCHEMES[kind]
    src = source.endpoint().scheme
    if src not in (*wanted, FILE_SCHEMES[kind]):
        raise ConfigError(
            f"--source must be {', '.join(wanted)} or {FILE_SCHEMES[kind]}:// (got {src}://)"
        )
    if target.endpoint().scheme not in wanted:
        raise ConfigError(f"--target must be {' or '.join(w + '://' for w in wanted)}")


def open_source(spec: SideSpec, kind: DavKind, login: Login) -> DavSource:
    endpoint = spec.endpoint()
    if endpoint.scheme == FILE_SCHEMES[kind]:
        raw_path = (endpoint.host + endpoint.path) if endpoint.host else endpoint.path
        path = Path(raw_path.replace("{user}", login.user))
        cls = IcsFileSource if kind is DavKind.CALENDAR else VcfFileSource
        return cls(path)
    return DavConnector(endpoint, kind).open(login)


def open_target(spec: SideSpec, kind: DavKind, login: Login) -> DavAccount:
    return DavConnector(spec.endpoint(), kind).open(login)


@dataclass
class CollectionReport:
    """What happened to one collection; *outcomes* has one step per object looked at."""

    name: str
    kind: DavKind
    created: bool = False
    unchanged: bool = False
    outcomes: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

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


@dataclass
class AccountResult:
    """One account's collection reports, or the connection/login error that stopped it."""

    key: str
    reports: list[CollectionReport] = field(default_factory=list)
    error: ConnectError | None = None


def migrate_accounts(
    pairs: Sequence[MailboxPair],
    source: SideSpec,
    target: SideSpec,
    ledger: DavLedger,
    options: RunOptions,
    parallel: int = 1,
) -> Iterator[AccountResult]:
    """Migrate every account, *parallel* at a time; results come back in *pairs* order.

    A login or connection failure ends that account only; other errors end the run.
    """

    units = None if options.dry_run else WorkUnits(ledger.engine)
    kind = "calendars" if options.kind is DavKind.CALENDAR else "contacts"
    ids = units.queue(new_run_id(f"migrate-{kind}"), kind, [p.key for p in pairs]) if units else {}

    def one(pair: MailboxPair) -> AccountResult:
        if units:
            units.start(ids[pair.key])
        try:
            with (
                open_source(source, options.kind, pair.source) as reader,
                open_target(target, options.kind, pair.target) as writer,
            ):
                result = AccountResult(
                    pair.key, migrate_account(reader, writer, ledger, pair.key, options)
                )
        except ConnectError as exc:
            result = AccountResult(pair.key, error=exc)
        except BaseException as exc:
            if units:
                units.finish(ids[pair.key], "failed", error=str(exc) or type(exc).__name__)
            raise
        if units:
            record_account(units, ids[pair.key], result)
        return result

    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        yield from pool.map(one, pairs)


def record_account(units: WorkUnits, unit_id: int, result: AccountResult) -> None:
    """One account as a work unit: objects written, problems, the error that stopped it."""
    if result.error is not None:
        units.finish(unit_id, "failed", error=str(result.error))
        return
    written = sum(r.count(Action.CREATE) + r.count(Action.UPDATE) for r in result.reports)
    failed = [s for r in result.reports for s in r.failed]
    error = f"{failed[0].uid or failed[0].source_href}: {failed[0].reason}" if failed else None
    units.finish(
        unit_id, "partial" if failed else "done", items=written, problems=len(failed), error=error
    )


def migrate_account(
    source: DavSource,
    target: DavAccount,
    ledger: DavLedger,
    account: str,
    options: RunOptions,
) -> list[CollectionReport]:
    """Copy every collection of *source* into *target* for *account*."""
    existing = {c.name: c for c in target.collections()}
    reports = []
    for spec in source.collections():
        try:
            report = migrate_collection(
                source, target, ledger, account, spec, existing.get(spec.name), options
            )
        except ConnectError:
            raise
        except SkyliftError as exc:  # e.g. the target refuses to create the collection
            report = CollectionReport(spec.name, options.kind)
            report.outcomes.append(Step(Action.FAIL, str(exc), source_href=spec.href))
        reports.append(report)
    return reports


def migrate_collection(
    source: DavSource,
    target: DavAccount,
    ledger: DavLedger,
    account: str,
    spec: Collection,
    existing: Collection | None,
    options: RunOptions,
) -> CollectionReport:
    report = CollectionReport(spec.name, options.kind)
    kind = options.kind
    _, old_source_marker, old_target_marker = ledger.markers(account, kind, spec.name)
    source_marker = source.marker(spec)
    if existing is None:
        report.created = True
        if options.dry_run:
            target_collection = Collection(kind=kind, name=spec.name, href="")
        else:
            target_collection, problems, notes = target.make_collection(spec)
            _property_failures(report, spec, problems)
            report.notes += notes
    else:
        target_collection = existing
        _repair_properties(report, spec, existing, target, options.dry_run)
        target_marker = target.marker(existing) if existing.href else None
        if (
            source_marker
            and target_marker
            and source_marker == old_source_marker
            and target_marker == old_target_marker
        ):
            report.unchanged = True
            return report
    records = ledger.records(account, kind, spec.name)
    by_uid = {r.uid: r for r in records}
    listing = {
        ref.href: ref.etag
        for ref in (target.list_items(target_collection) if target_collection.href else [])
    }
    source_listing = _source_listing(source, spec, records, old_source_marker)
    plan = plan_listing(source_listing, records, listing, options.propagate_deletes)
    for step in plan.steps:
        if step.action is Action.DELETE and not options.dry_run:
            step = _delete(target, ledger, account, kind, spec.name, step)
        report.outcomes.append(step)
    seen: dict[str, str] = {}
    export = ExportFolder(
        None if options.dry_run else options.export_dir,
        account,
        spec.name,
    )
    with OrderedWrites[Step](options.dav_workers) as writes:
        for item in source.fetch(spec, plan.fetch):
            decided = _decide(item, target_collection, target, by_uid, listing, seen, options)
            if isinstance(decided, Step):
                if decided.action is Action.FAIL:
                    where = export.save(item, _export_name(item, decided))
                    decided = replace(decided, reason=f"{decided.reason}; {where}")
                report.outcomes.extend(writes.done(decided))
                continue
            step, prepared = decided
            if step.action is Action.SKIP:
                record = by_uid[prepared.uid]
                ledger.save(account, kind, spec.name, _record(record, item, record.target_etag))
                report.outcomes.extend(writes.done(step))
                continue
            job = partial(
                write_object,
                item,
                prepared,
                step,
                target,
                target_collection,
                ledger,
                account,
                kind,
                spec.name,
                export,
            )
            report.outcomes.extend(writes.submit(job))
        report.outcomes.extend(writes.drain())
    # Markers say "nothing to do next time": not true while failures or kept deletions wait.
    settled = not report.failed and not any(s.reason == KEPT_DELETED for s in report.outcomes)
    if not options.dry_run and settled:
        ledger.save_markers(
            account,
            kind,
            spec.name,
            target_collection.href,
            source_marker,
            target.marker(target_collection),
        )
    return report


def _property_failures(report: CollectionReport, spec: Collection, problems: list[str]) -> None:
    for problem in problems:
        report.outcomes.append(Step(Action.FAIL, problem, source_href=spec.href))


def _repair_properties(
    report: CollectionReport,
    spec: Collection,
    existing: Collection,
    target: DavAccount,
    dry_run: bool,
) -> None:
    """Set again on the target the text properties that differ from the source's."""
    wrong = differing(spec, existing)
    if not wrong:
        return
    names = ", ".join(name for _, name in wrong)
    if dry_run:
        report.notes.append(f"would set {names} as on the source")
        return
    problems = target.set_properties(existing.href, wrong, "differs from the source; ")
    _property_failures(report, spec, problems)
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
    """The source's objects with ETags: from sync-collection changes when the server can
    answer from the last settled run's token, else a full listing."""
    if old_marker and spec.sync_token and isinstance(source, DavAccount):
        delta = source.changes_since(spec, old_marker)
        if delta is not None:
            changed, removed, _ = delta
            known = {r.source_href: ItemRef(r.source_href, r.source_etag) for r in records}
            known.update({ref.href: ref for ref in changed})
            for href in removed:
                known.pop(href, None)
            return list(known.values())
    return source.list_items(spec)


def _delete(
    target: DavAccount, ledger: DavLedger, account: str, kind: DavKind, name: str, step: Step
) -> Step:
    assert step.target_href is not None and step.uid is not None
    refusal = target.delete(step.target_href, step.if_match)
    if refusal:
        return Step(
            Action.FAIL, f"delete refused: {refusal}", step.uid, step.source_href, step.target_href
        )
    ledger.forget(account, kind, name, step.uid)
    return step


def _decide(
    item: Item,
    collection: Collection,
    target: DavAccount,
    by_uid: dict[str, ItemRecord],
    listing: dict[str, str | None],
    seen: dict[str, str],
    options: RunOptions,
) -> Step | tuple[Step, Prepared]:
    """Prepare and plan one fetched object: a final Step, or a Step to carry out with its bytes.

    Runs on the collection's thread (it reads and updates *seen*); no write happens here.
    """
    try:
        prepared = prepare(item, options.domain_map, vcard_versions(collection))
    except MalformedObject as exc:
        return Step(Action.FAIL, f"malformed, skipped: {exc}", item.uid, item.href)
    limit = collection.max_resource_size
    if limit and len(prepared.raw) > limit:
        return Step(
            Action.FAIL,
            f"{len(prepared.raw)} bytes, the target takes at most {limit}",
            prepared.uid,
            item.href,
        )
    if prepared.uid in seen:
        return duplicate_uid_step(prepared.uid, item.href, seen[prepared.uid])
    seen[prepared.uid] = item.href
    if collection.components and prepared.component not in (*collection.components, "VCARD"):
        return Step(
            Action.FAIL,
            f"the target calendar takes no {prepared.component}",
            prepared.uid,
            item.href,
        )
    record = by_uid.get(prepared.uid)
    name_href = target.item_href(collection, prepared.name) if collection.href else prepared.name
    step = plan_object(prepared.uid, item.href, name_href, prepared.content_hash, record, listing)
    if options.dry_run or step.action is Action.FAIL:
        return step
    return step, prepared


def vcard_versions(collection: Collection) -> frozenset[str]:
    """The vCard versions to write: what the address book declares, else 3.0 (RFC 6352)."""
    return collection.data_versions or frozenset({"3.0"})


def _record(record: ItemRecord, item: Item, target_etag: str | None) -> ItemRecord:
    return ItemRecord(
        record.uid, item.href, item.etag, record.target_href, target_etag, record.content_hash
    )
