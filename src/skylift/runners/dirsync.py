"""How a directory sync runs: open both ends through the registry, run the unit, record it.

What the sync *is* (plan -> gate -> execute -> record) is :mod:`skylift.engine.directory.sync`;
this module opens the source and target by URL scheme (:mod:`skylift.connectors`), wraps the
target in the one retry rule (:mod:`skylift.runners.retry`), opens the journal, records the
run as one ``directory`` work unit (``skylift jobs`` lists it) and, for ``--every``, hands the
run to :mod:`skylift.runners.schedule`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from skylift.connectors import directory_source, directory_target
from skylift.connectors.directory.base import (
    DirectorySource,
    DirectoryTarget,
    SourceSettings,
    TargetSettings,
)
from skylift.connectors.endpoint import Endpoint
from skylift.engine.directory.mapping import Mapping
from skylift.engine.directory.plan import DeleteMode
from skylift.engine.directory.sync import SyncResult, SyncSettings, sync
from skylift.model.account import Secret
from skylift.runners import schedule
from skylift.runners.retry import call_with_retry
from skylift.runners.retrying import RetryingDirectoryTarget
from skylift.state.directory_journal import DirectoryJournal
from skylift.state.work_units import WorkUnits, new_run_id

__all__ = ["SyncOptions", "SyncResult", "read_journal", "run_every", "run_once"]


@dataclass(frozen=True)
class SyncOptions:
    """Everything one run needs; secrets stay wrapped in :class:`Secret`.

    *state* is a state file path or a database URL (``postgresql+psycopg://…``).
    """

    source: Endpoint
    base: str
    bind_dn: str
    bind_password: Secret | None
    target: Endpoint
    mapping: Mapping
    state: str | Path
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
    stop: threading.Event = field(default_factory=threading.Event, compare=False)  # Ctrl-C

    def settings(self) -> SyncSettings:
        return SyncSettings(
            mapping=self.mapping,
            apply=self.apply,
            delete_threshold=self.delete_threshold,
            delete_mode=self.delete_mode,
            delete_after=self.delete_after,
            full=self.full,
            out_dir=self.out_dir,
            stop=self.stop,
        )


def pair_name(options: SyncOptions) -> str:
    return f"{options.source.display()}|{options.base.lower()}|{options.target.display()}"


def open_source(options: SyncOptions) -> DirectorySource:
    settings = SourceSettings(
        base=options.base,
        bind_dn=options.bind_dn,
        password=options.bind_password,
        preset=options.mapping.preset,
        attributes=frozenset(options.mapping.source_attributes()),
        ldap_filter=options.mapping.ldap_filter,
    )
    return directory_source(options.source, settings)


def open_target(options: SyncOptions, log: Callable[[str], None]) -> DirectoryTarget:
    settings = TargetSettings(
        base=options.target_base,
        bind_dn=options.target_bind_dn,
        password=options.target_password,
        token=options.scim_token,
    )
    opened = call_with_retry(
        lambda: directory_target(options.target, settings), "opening the target", log=log
    )
    return RetryingDirectoryTarget(opened, log)


def run_once(
    options: SyncOptions,
    log: Callable[[str], None] = lambda _m: None,
    claimed: tuple[WorkUnits, int] | None = None,
) -> SyncResult:
    """Run one preview or apply, recorded as one directory work unit (*claimed*: the unit a
    scale-out worker holds already); raises SkyliftError subclasses for what stops a run."""
    if claimed is not None:
        units, unit = claimed
    else:
        units = WorkUnits(options.state)
        [unit] = units.queue(new_run_id("dirsync"), "directory", [pair_name(options)]).values()
        units.start(unit)
    try:
        result = _run_once(options, log)
    except BaseException as exc:
        units.finish(unit, "failed", error=str(exc) or type(exc).__name__)
        if claimed is None:
            units.close()
        raise
    problems = result.problems()
    units.finish(
        unit,
        "partial" if problems else "done",
        items=result.applied if options.apply else len(result.plan.changes),
        problems=problems,
        error="; ".join(result.failed[:3]) or None,
    )
    if claimed is None:
        units.close()
    return result


def _run_once(options: SyncOptions, log: Callable[[str], None]) -> SyncResult:
    with ExitStack() as stack:
        journal = DirectoryJournal(options.state, pair_name(options))
        stack.callback(journal.close)
        # Connect to both sides before reading anything, so a bad target fails fast.
        source = open_source(options)
        stack.callback(source.close)
        target = open_target(options, log)
        stack.callback(target.close)
        result = sync(source, target, journal, options.settings(), log)
        if not options.stop.is_set():  # an apply leaves nothing pending: its preview goes
            lines = [] if options.apply else preview_lines(result)
            journal.record_preview(new_run_id("dirsync"), lines)
        return result
    raise AssertionError("unreachable")


def preview_lines(result: SyncResult) -> list[tuple[str, str, str, str]]:
    """A preview as the CLI prints it: each change, then what is skipped and why."""
    plan = result.plan
    lines = [(str(c.action), str(c.kind), c.name, c.reason) for c in plan.changes]
    lines += [("skip", "", "", c.message) for c in plan.conflicts]
    lines += [("skip", "", "", str(p)) for p in plan.problems]
    lines += [("skip", "", "", line) for line in plan.blocked_lines()]
    return lines


def run_every(
    options: SyncOptions,
    interval: timedelta,
    log: Callable[[str], None],
    report: Callable[[SyncResult], None],
    stop: Callable[[], bool] = lambda: False,
    runs: int | None = None,
) -> int:
    """Sync every *interval* until *stop*; a failed connection waits for the next round."""
    return schedule.run_every(
        lambda: run_once(options, log),
        interval,
        log,
        report,
        SyncResult.incomplete,
        stop=stop,
        runs=runs,
    )


def read_previews(state: str | Path) -> list[dict[str, Any]]:
    """The newest preview of every sync pair in *state* (what an apply would do)."""
    journal = DirectoryJournal(state, "")
    try:
        return journal.previews()
    finally:
        journal.close()


def read_journal(state: str | Path, limit: int) -> list[dict[str, Any]]:
    """The newest applied changes of every sync pair in *state*, newest first."""
    journal = DirectoryJournal(state, "")
    try:
        return journal.history(limit, every_pair=True)
    finally:
        journal.close()
