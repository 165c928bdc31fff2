"""One directory sync: plan -> gate -> execute -> record, over open connectors and the journal.

The shape every domain's ``sync.py`` shares. *Plan* reads the source (all of it, or only
what changed since the last high-water mark), the target and the journal, and decides
(:func:`~skylift.engine.directory.plan.plan_changes` is the pure part). The *gate* is the
one place a preview (``--dry-run``) stops: nothing before it writes to the target. *Execute*
writes the plan in its safe order (:mod:`.execute`) and *record* journals every action and
moves the marks forward only for what was written. The runner opens the connectors and the
journal; this module knows no URL, no protocol and no registry.
"""

from __future__ import annotations

import csv
import gc
import json
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from skylift.connectors.directory.base import DirectorySource, DirectoryTarget
from skylift.engine.directory.execute import apply_plan
from skylift.engine.directory.mapping import Mapping
from skylift.engine.directory.matching import MatchResult, match
from skylift.engine.directory.plan import DeleteMode, Plan, check_threshold, plan_changes
from skylift.engine.directory.preview import CSV_COLUMNS, csv_row, plan_rows, preflight
from skylift.engine.directory.scope import DesiredState, build_desired, normalize_dn
from skylift.engine.directory.snapshot import entry_from_dict, object_from_dict
from skylift.errors import ConfigError, SkyliftError
from skylift.model.directory import DirectoryObject, Group, SourceEntry, User
from skylift.state.directory_journal import DirectoryJournal, KnownObject

FULL_EVERY = timedelta(days=1)


@dataclass(frozen=True)
class SyncSettings:
    """What one run decides with; no URL and no secret (the connectors are already open)."""

    mapping: Mapping
    apply: bool = False
    delete_threshold: str = "500"
    delete_mode: DeleteMode = "disable"
    delete_after: timedelta | None = None
    full: bool = False
    out_dir: Path | None = None
    stop: threading.Event = field(default_factory=threading.Event)  # Ctrl-C


@dataclass
class SyncResult:
    mode: str
    delta: bool
    plan: Plan
    report: dict[str, Any] | None
    applied: int = 0
    failed: list[str] = field(default_factory=list)
    threshold_error: str = ""
    seconds: float = 0.0
    files: list[str] = field(default_factory=list)
    stopped: int = 0  # changes Ctrl-C left for the rerun

    def incomplete(self) -> bool:
        """An apply that left objects unsynced: refused by the target, or in conflict."""
        return self.mode == "apply" and bool(
            self.failed or self.plan.conflicts or self.plan.problems
        )

    def problems(self) -> int:
        return len(self.failed) + len(self.plan.conflicts) + len(self.plan.problems)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "delta": self.delta,
            "counts": self.plan.counts(),
            "changes": plan_rows(self.plan),
            "problems": self.plan.problems,
            "blocked": self.plan.blocked_lines(),
            "preflight": self.report,
            "applied": self.applied,
            "failed": self.failed,
            "stopped": self.stopped,
            "threshold": self.threshold_error or None,
            "seconds": round(self.seconds, 3),
            "files": self.files,
        }


@dataclass
class _Planned:
    """Everything the plan step learnt, for the execute and record steps."""

    result: SyncResult
    entries: list[SourceEntry]
    desired: DesiredState
    matches: MatchResult
    known: dict[str, KnownObject]
    high_water: str
    read_list: str


def sync(
    source: DirectorySource,
    target: DirectoryTarget,
    journal: DirectoryJournal,
    settings: SyncSettings,
    log: Callable[[str], None] = lambda _m: None,
) -> SyncResult:
    """Plan, stop at the gate for a preview, else execute and record. Raises SkyliftError
    subclasses for what stops a run (a tripped delete threshold before any change)."""
    started = time.monotonic()
    now = datetime.now(UTC)
    with ExitStack() as stack:
        # Reading builds tens of thousands of long-lived objects without cycles: the cyclic
        # collector would only rescan them again and again. It is paused while reading and
        # planning, and those objects are frozen out of its sight while writing.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        stack.callback(_restore_gc, gc_was_enabled)
        planned = _plan(source, target, journal, settings, now, started, log)
        result = planned.result
        if not settings.apply:  # the gate: a preview stops here, having changed nothing
            result.seconds = time.monotonic() - started
            return result
        if result.threshold_error:
            check_threshold(result.plan, settings.delete_threshold)  # raises, before any change
        gc.freeze()
        if gc_was_enabled:
            gc.enable()
        outcome = apply_plan(
            target,
            result.plan,
            planned.matches,
            planned.desired,
            planned.entries,
            planned.known,
            journal,
            now,
            settings.stop,
        )
        result.applied, result.failed = outcome.applied, outcome.failed
        result.stopped = outcome.stopped
        _record_marks(journal, planned, now)
        result.seconds = time.monotonic() - started
        return result
    raise AssertionError("unreachable")


def _plan(
    source: DirectorySource,
    target: DirectoryTarget,
    journal: DirectoryJournal,
    settings: SyncSettings,
    now: datetime,
    started: float,
    log: Callable[[str], None],
) -> _Planned:
    known = journal.load()
    last_full = journal.get_mark("last_full")
    since = journal.get_mark("high_water")
    full_due = last_full is None or now - _utc(datetime.fromisoformat(last_full)) >= FULL_EVERY
    # Snapshots hold only the attributes read then: when the mapping (or a new skylift)
    # reads others, the remembered entries lack them and one full read is needed.
    read_list = ",".join(sorted(a.lower() for a in settings.mapping.source_attributes()))
    same_reads = journal.get_mark("attributes") == read_list
    delta = (
        source.capabilities.delta
        and bool(since)
        and bool(known)
        and same_reads
        and not settings.full
        and not full_due
    )
    server_mark = source.server_high_water() if source.capabilities.server_mark else ""
    entries, fresh = read_source(source, known, since if delta else None)
    high_water = server_mark or source.high_water or since or ""
    log(
        f"read {len(entries)} source entries "
        f"({f'delta: {len(fresh)} changed' if delta else 'full'}) "
        f"in {time.monotonic() - started:.1f}s"
    )
    desired = build_desired(entries, settings.mapping)
    matches = match_target(target, desired, known, delta, fresh)
    plan = plan_changes(
        desired,
        matches,
        disabled_at={a: _utc(k.disabled_at) for a, k in known.items() if k.disabled_at},
        delete_mode=_delete_mode(settings, target),
        delete_after=settings.delete_after,
        now=now,
    )
    _drop_unsupported(plan, target)
    log(f"planned {len(plan.changes)} change(s) at {time.monotonic() - started:.1f}s")
    first_run = not any(k.target_id for k in known.values())
    report = preflight(plan, matches) if first_run or not settings.apply else None
    result = SyncResult("apply" if settings.apply else "preview", delta, plan, report)
    try:
        check_threshold(plan, settings.delete_threshold)
    except SkyliftError as exc:
        result.threshold_error = str(exc)
    if settings.out_dir is not None:
        result.files = write_diff_files(settings.out_dir, result)
    return _Planned(result, entries, desired, matches, known, high_water, read_list)


def _delete_mode(settings: SyncSettings, target: DirectoryTarget) -> DeleteMode:
    caps = target.capabilities
    if settings.delete_mode == "disable" and not caps.disable:
        if not caps.delete:
            raise ConfigError(f"the {target.name} target can neither disable nor delete")
        raise ConfigError(f"the {target.name} target cannot disable a user: pass --on-leave delete")
    if settings.delete_mode == "delete" and not caps.delete:
        raise ConfigError(f"the {target.name} target does not delete: use --on-leave disable")
    return settings.delete_mode


def _drop_unsupported(plan: Plan, target: DirectoryTarget) -> None:
    """Changes the target cannot make become problems, so a run never half-does them."""
    caps = target.capabilities
    if caps.rename_in_place and caps.delete:
        return
    kept = []
    for change in plan.changes:
        renames = "user_name" in change.changes or (
            change.kind == "group" and "display_name" in change.changes
        )
        if renames and change.action == "update" and not caps.rename_in_place:
            plan.problems.append(
                f"{change.kind} {change.name}: the {target.name} target cannot rename in place"
            )
        elif change.action == "delete" and not caps.delete:
            plan.problems.append(
                f"{change.kind} {change.name}: the {target.name} target does not delete"
            )
        else:
            kept.append(change)
    plan.changes[:] = kept


def _record_marks(journal: DirectoryJournal, planned: _Planned, now: datetime) -> None:
    """Move the delta marks forward, but only past a run the target fully accepted."""
    result = planned.result
    if result.failed or result.stopped:
        return
    if planned.high_water:
        journal.set_mark("high_water", planned.high_water)
    if not result.delta:
        journal.set_mark("last_full", now.isoformat())
        journal.set_mark("attributes", planned.read_list)


def _utc(value: datetime) -> datetime:
    """Journals written before times were stored aware hold naive UTC times."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _restore_gc(enabled: bool) -> None:
    gc.unfreeze()
    if enabled:
        gc.enable()


def read_source(
    source: DirectorySource, known: dict[str, KnownObject], since: str | None
) -> tuple[list[SourceEntry], set[str]]:
    """All entries (full), or changed entries merged with remembered ones (delta).

    Returns the entries and the anchors read fresh from the server this run.
    """
    if since is None:
        every = [*source.read_entries("user"), *source.read_entries("group")]
        return every, {e.anchor for e in every}
    fresh = {e.anchor: e for kind in ("user", "group") for e in source.read_entries(kind, since)}  # type: ignore[arg-type]
    filtered = source.filtered_anchors("user")
    # Changed entries (moves and renames included) come with their new DN; any other DN
    # still listed is unchanged since the last run, and a remembered DN no longer listed
    # was deleted.
    fresh_dns = {normalize_dn(e.dn) for e in fresh.values()}
    by_dn = {
        normalize_dn(k.source_entry["dn"]): (anchor, k.source_entry)
        for anchor, k in known.items()
        if k.source_entry is not None and anchor not in fresh
    }
    entries = list(fresh.values())
    for kind in ("user", "group"):
        for dn in source.list_dns(kind):  # type: ignore[arg-type]
            norm = normalize_dn(dn)
            if norm in fresh_dns:
                continue
            found = by_dn.get(norm)
            if found is None:  # an entry the last run never saw: fall back to a full read
                return read_source(source, known, None)
            anchor, data = found
            in_filter = kind == "group" or filtered is None or anchor in filtered
            entries.append(entry_from_dict(anchor, data, dn, in_filter))
    return entries, set(fresh)


def match_target(
    target: DirectoryTarget,
    desired: DesiredState,
    known: dict[str, KnownObject],
    delta: bool,
    fresh: set[str],
) -> MatchResult:
    """Pair desired objects with target objects: a full listing, or (delta) the target as
    skylift last wrote it plus a look-up for objects new to the sync."""
    known_ids = {a: k.target_id for a, k in known.items() if k.target_id}
    if not delta:
        return match(desired, target.list_users(), target.list_groups(), known_ids)
    seen: dict[str, DirectoryObject] = {}
    for k in known.values():
        if k.target_id and k.applied is not None:
            obj = object_from_dict(k.kind, {**k.applied, "id": k.target_id})
            seen[obj.id] = obj
    for anchor in fresh:
        wanted: DirectoryObject | None = desired.users.get(anchor) or desired.groups.get(anchor)
        if wanted is not None and not known_ids.get(anchor):
            seen.update((found.id, found) for found in target.find_matches(wanted))
    users = [o for o in seen.values() if isinstance(o, User)]
    groups = [o for o in seen.values() if isinstance(o, Group)]
    return match(desired, users, groups, known_ids)


def write_diff_files(out_dir: Path, result: SyncResult) -> list[str]:
    """Write the plan as ``dirsync-plan.json`` and ``dirsync-plan.csv`` into *out_dir*."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        json_path = out_dir / "dirsync-plan.json"
        json_path.write_text(
            json.dumps(result.to_dict(), indent=2, default=str) + "\n", encoding="utf-8"
        )
        csv_path = out_dir / "dirsync-plan.csv"
        with csv_path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(CSV_COLUMNS))
            writer.writeheader()
            writer.writerows(csv_row(r) for r in plan_rows(result.plan))
    except OSError as exc:
        raise ConfigError(f"cannot write the diff files to {out_dir}: {exc.strerror}") from exc
    return [str(json_path), str(csv_path)]
