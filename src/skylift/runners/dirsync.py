"""One directory sync run, end to end: read, plan, preview or apply, journal.

The runner is the only place that knows both the connectors and the state store. A run
reads the source (all of it, or only what changed since the last high-water mark), plans
against the target, and in apply mode hands the plan to :mod:`dirsync_apply`, which writes
it in a safe order and journals it. The state moves forward only for what was written.
"""

from __future__ import annotations

import csv
import gc
import json
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from skylift.connectors.directory.ldap import PRESETS, LdapDirectorySource, open_ldap
from skylift.connectors.directory.ldap_target import LdapDirectoryTarget
from skylift.connectors.directory.scim import ScimDirectoryTarget
from skylift.connectors.endpoint import Endpoint
from skylift.engine.directory.mapping import Mapping
from skylift.engine.directory.matching import MatchResult, match
from skylift.engine.directory.plan import DeleteMode, Plan, check_threshold, plan_changes
from skylift.engine.directory.preview import CSV_COLUMNS, csv_row, plan_rows, preflight
from skylift.engine.directory.scope import DesiredState, build_desired, normalize_dn
from skylift.engine.directory.snapshot import entry_from_dict, object_from_dict
from skylift.errors import ConfigError, ConnectError, SkyliftError, TransientError
from skylift.model.account import Secret
from skylift.model.directory import DirectoryObject, DirectoryTarget, Group, SourceEntry, User
from skylift.runners.dirsync_apply import apply_plan
from skylift.state.directory_journal import DirectoryJournal, KnownObject
from skylift.state.work_units import WorkUnits, new_run_id

FULL_EVERY = timedelta(days=1)


@dataclass(frozen=True)
class SyncOptions:
    """Everything one run needs; secrets stay wrapped in :class:`Secret`."""

    source: Endpoint
    base: str
    bind_dn: str
    bind_password: Secret | None
    target: Endpoint
    mapping: Mapping
    state: Path
    apply: bool = False
    scim_token: Secret | None = None
    target_bind_dn: str = ""
    target_password: Secret | None = None
    target_base: str = ""
    delete_threshold: str = "500"
    delete_mode: DeleteMode = "disable"
    delete_after: timedelta | None = None
    full: bool = False
    out_dir: Path | None = None


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

    def incomplete(self) -> bool:
        """An apply that left objects unsynced: refused by the target, or in conflict."""
        return self.mode == "apply" and bool(
            self.failed or self.plan.conflicts or self.plan.problems
        )

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
            "threshold": self.threshold_error or None,
            "seconds": round(self.seconds, 3),
            "files": self.files,
        }


def pair_name(options: SyncOptions) -> str:
    return f"{options.source.display()}|{options.base.lower()}|{options.target.display()}"


def open_target(options: SyncOptions) -> DirectoryTarget:
    scheme = options.target.scheme
    if scheme.startswith("scim+"):
        return ScimDirectoryTarget(options.target, options.scim_token)
    if scheme in ("ldap", "ldaps"):
        if not options.target_base:
            raise ConfigError("an LDAP target needs --target-base (the DN to write below)")
        conn = open_ldap(options.target, options.target_bind_dn, options.target_password)
        return LdapDirectoryTarget(conn, options.target_base)
    raise ConfigError(f"unknown target scheme {scheme!r} (use scim+https://, ldaps:// or ldap://)")


def read_source(
    source: LdapDirectorySource, known: dict[str, KnownObject], since: str | None
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


def run_once(options: SyncOptions, log: Callable[[str], None] = lambda _m: None) -> SyncResult:
    """Run one preview or apply, recorded as one directory work unit; raises SkyliftError
    subclasses for what stops a run."""
    units = WorkUnits(options.state)
    key = pair_name(options)
    [unit] = units.queue(new_run_id("dirsync"), "directory", [key]).values()
    units.start(unit)
    try:
        result = _run_once(options, log)
    except BaseException as exc:
        units.finish(unit, "failed", error=str(exc) or type(exc).__name__)
        units.close()
        raise
    problems = len(result.failed) + len(result.plan.conflicts) + len(result.plan.problems)
    units.finish(
        unit,
        "partial" if problems else "done",
        items=result.applied if options.apply else len(result.plan.changes),
        problems=problems,
        error="; ".join(result.failed[:3]) or None,
    )
    units.close()
    return result


def _run_once(options: SyncOptions, log: Callable[[str], None]) -> SyncResult:
    started = time.monotonic()
    now = datetime.now(UTC).replace(tzinfo=None)
    with ExitStack() as stack:
        # Reading builds tens of thousands of long-lived objects without cycles: the cyclic
        # collector would only rescan them again and again. It is paused while reading and
        # planning, and those objects are frozen out of its sight while writing.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        stack.callback(_restore_gc, gc_was_enabled)
        journal = DirectoryJournal(options.state, pair_name(options))
        stack.callback(journal.close)
        known = journal.load()
        last_full = journal.get_mark("last_full")
        since = journal.get_mark("high_water")
        full_due = last_full is None or now - datetime.fromisoformat(last_full) >= FULL_EVERY
        preset = PRESETS[options.mapping.preset]
        attributes = options.mapping.source_attributes()
        # Snapshots hold only the attributes read then: when the mapping (or a new skylift)
        # reads others, the remembered entries lack them and one full read is needed.
        read_list = ",".join(sorted(a.lower() for a in attributes))
        same_reads = journal.get_mark("attributes") == read_list
        delta = bool(since) and bool(known) and same_reads and not options.full and not full_due
        # Connect to both sides before reading anything, so a bad target fails fast.
        conn = open_ldap(options.source, options.bind_dn, options.bind_password)
        source = LdapDirectorySource(
            conn, options.base, preset, attributes, options.mapping.ldap_filter
        )
        stack.callback(source.close)
        target = open_target(options)
        stack.callback(target.close)

        server_mark = source.server_high_water()
        entries, fresh = read_source(source, known, since if delta else None)
        high_water = server_mark or source.high_water or since or ""
        log(
            f"read {len(entries)} source entries "
            f"({f'delta: {len(fresh)} changed' if delta else 'full'}) "
            f"in {time.monotonic() - started:.1f}s"
        )
        desired = build_desired(entries, options.mapping)
        matches = _match(target, desired, known, delta, fresh)
        plan = plan_changes(
            desired,
            matches,
            disabled_at={a: k.disabled_at for a, k in known.items() if k.disabled_at is not None},
            delete_mode=options.delete_mode,
            delete_after=options.delete_after,
            now=now,
        )
        log(f"planned {len(plan.changes)} change(s) at {time.monotonic() - started:.1f}s")
        first_run = not any(k.target_id for k in known.values())
        report = preflight(plan, matches) if first_run or not options.apply else None
        result = SyncResult("apply" if options.apply else "preview", delta, plan, report)
        try:
            check_threshold(plan, options.delete_threshold)
        except SkyliftError as exc:
            result.threshold_error = str(exc)
        if options.out_dir is not None:
            result.files = write_diff_files(options.out_dir, result)
        if options.apply:
            if result.threshold_error:
                check_threshold(plan, options.delete_threshold)  # raises, before any change
            gc.freeze()
            if gc_was_enabled:
                gc.enable()
            outcome = apply_plan(target, plan, matches, desired, entries, known, journal, now)
            result.applied, result.failed = outcome.applied, outcome.failed
            if high_water and not result.failed:
                journal.set_mark("high_water", high_water)
            if not delta and not result.failed:
                journal.set_mark("last_full", now.isoformat())
                journal.set_mark("attributes", read_list)
        result.seconds = time.monotonic() - started
        return result
    raise AssertionError("unreachable")


def _restore_gc(enabled: bool) -> None:
    gc.unfreeze()
    if enabled:
        gc.enable()


def _match(
    target: DirectoryTarget,
    desired: DesiredState,
    known: dict[str, KnownObject],
    delta: bool,
    fresh: set[str],
) -> MatchResult:
    known_ids = {a: k.target_id for a, k in known.items() if k.target_id}
    if not delta:
        return match(desired, target.list_users(), target.list_groups(), known_ids)
    # Delta: the target as skylift last wrote it, plus a look-up for objects new to the sync.
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


def run_every(
    options: SyncOptions,
    interval: timedelta,
    log: Callable[[str], None],
    report: Callable[[SyncResult], None],
    stop: Callable[[], bool] = lambda: False,
    runs: int | None = None,
) -> int:
    """Sync every *interval* until *stop*; a failed connection waits for the next round.

    Configuration errors and a tripped delete threshold end the loop: a person must act.
    """
    count = 0
    worst = 0
    while not stop():
        try:
            result = run_once(options, log)
            report(result)
            worst = max(worst, 1 if result.incomplete() else 0)
        except (ConnectError, TransientError) as exc:
            log(f"run failed, retrying in {interval}: {exc}")
            worst = max(worst, exc.exit_code)
        count += 1
        if runs is not None and count >= runs:
            break
        deadline = time.monotonic() + interval.total_seconds()
        while time.monotonic() < deadline and not stop():
            time.sleep(min(1.0, max(deadline - time.monotonic(), 0.0)))
    return worst


def read_journal(state: Path, limit: int) -> list[dict[str, Any]]:
    """The newest applied changes of every sync pair in *state*, newest first."""
    journal = DirectoryJournal(state, "")
    try:
        return journal.history(limit, every_pair=True)
    finally:
        journal.close()
