"""Terminal rendering: Rich progress bars on a terminal, plain lines otherwise, summaries."""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from skylift.cli.logs import verbosity
from skylift.engine.mail.report import MailboxReport, RunReport
from skylift.engine.mail.verify import VerifyReport
from skylift.model.account import MailboxPair

err = Console(stderr=True)
out = Console() if sys.stdout.isatty() else Console(width=160)


class MigrateProgress:
    """Per-mailbox and overall bars when stderr is a terminal; a log line per mailbox else."""

    def __init__(self, enabled: bool, total: int, dry_run: bool = False) -> None:
        self.enabled = enabled
        self.total = total
        self.dry_run = dry_run
        self._lock = threading.Lock()
        self._tasks: dict[str, TaskID] = {}
        self._counts: dict[str, list[int]] = {}
        self._progress: Progress | None = None
        self._overall: TaskID | None = None
        self._done = 0
        self._messages = 0
        self._bytes = 0
        self._started = time.monotonic()

    def __enter__(self) -> MigrateProgress:
        if self.enabled:
            self._progress = Progress(
                TextColumn("{task.description:<28}"),
                BarColumn(),
                TextColumn("{task.fields[detail]}"),
                TimeElapsedColumn(),
                console=err,
            )
            self._progress.start()
            self._overall = self._progress.add_task(
                "all mailboxes", total=self.total, detail=self._overall_detail()
            )
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress:
            self._progress.stop()

    def _overall_detail(self) -> str:
        rate = self._bytes / max(time.monotonic() - self._started, 0.001) / 1024**2
        return (
            f"{self._done}/{self.total} mailboxes, {self._messages} messages, "
            f"{self._bytes / 1024**2:.1f} MiB, {rate:.1f} MiB/s"
        )

    def mailbox_started(self, pair: MailboxPair) -> None:
        if self._progress:
            with self._lock:
                self._counts[pair.key] = [0, 0]
                self._tasks[pair.key] = self._progress.add_task(
                    pair.key, total=None, detail="connecting"
                )

    def advance(self, mailbox: str, messages: int, nbytes: int) -> None:
        if not self._progress:
            return
        with self._lock:
            self._messages += messages
            self._bytes += nbytes
            counts = self._counts.get(mailbox)
            task = self._tasks.get(mailbox)
            if counts is not None and task is not None:
                counts[0] += messages
                counts[1] += nbytes
                self._progress.update(
                    task, detail=f"{counts[0]} messages, {counts[1] / 1024**2:.1f} MiB"
                )
            if self._overall is not None:
                self._progress.update(self._overall, detail=self._overall_detail())

    def mailbox_done(self, report: MailboxReport) -> None:
        with self._lock:
            self._done += 1
            t = report.totals()
            copied = (
                f"would copy {t['would_copy']}"
                if self.dry_run
                else f"{report.status}, {t['copied']} copied"
            )
            problems = ", ".join(f"{t[k]} {k}" for k in ("skipped", "rejected", "failed") if t[k])
            line = (
                f"[{self._done}/{self.total}] {report.mailbox}: {copied}, "
                f"{t['already_there']} already there"
                + (f", {problems}" if problems else "")
                + (f", error: {report.error}" if report.error else "")
            )
            if self._progress:
                task = self._tasks.pop(report.mailbox, None)
                if task is not None:
                    self._progress.remove_task(task)
                if self._overall is not None:
                    self._progress.update(self._overall, advance=1, detail=self._overall_detail())
                self._progress.console.print(line)
            else:
                print(line, file=sys.stderr, flush=True)


def _mb(n: int) -> str:
    """Sizes in MiB, the binary unit of every size skylift prints (see model.units)."""
    return f"{n / 1024**2:.1f}"


def _column(table: Table, name: str) -> None:
    """Addresses are never cut: the mailbox column does not wrap, others fold if they must."""
    table.add_column(
        name,
        justify="left" if name in ("mailbox", "status", "result") else "right",
        no_wrap=name == "mailbox",
        overflow="fold",
    )


def print_run_summary(run: RunReport) -> None:
    title = "migrate (dry run: nothing was changed)" if run.dry_run else "migrate"
    table = Table(title=title)
    copied = "would copy" if run.dry_run else "copied"
    for col in ("mailbox", "status", "folders", copied, "already there", "flags",
                "skipped", "rejected", "failed", "MiB", "seconds"):  # fmt: skip
        _column(table, col)
    key = "would_copy" if run.dry_run else "copied"
    for m in run.mailboxes:
        t = m.totals()
        status = "dry run" if run.dry_run and m.status == "ok" else m.status
        table.add_row(
            m.mailbox, status, str(t["folders"]), str(t[key]), str(t["already_there"]),
            str(t["flags_updated"]), str(t["skipped"]), str(t["rejected"]), str(t["failed"]),
            _mb(t["bytes"]), f"{m.seconds:.1f}",
        )  # fmt: skip
    t = run.totals()
    table.add_row(
        "TOTAL", "", str(t["folders"]), str(t[key]), str(t["already_there"]),
        str(t["flags_updated"]), str(t["skipped"]), str(t["rejected"]), str(t["failed"]),
        _mb(t["bytes"]), f"{run.seconds:.1f}", style="bold",
    )  # fmt: skip
    out.print(table)
    print_errors([(m.mailbox, m.error) for m in run.mailboxes if m.error])
    for m in run.mailboxes:
        if m.budget:
            out.print(f"{m.mailbox}: partial: {m.budget}")
        for note in m.notes:
            out.print(f"{m.mailbox}: {note}")
        for reason in m.left_out:
            out.print(f"{m.mailbox}: left out {reason}")
        if m.non_mail:
            counts = ", ".join(f"{n} {kind}" for kind, n in sorted(m.non_mail.items()))
            out.print(f"{m.mailbox}: items that are not mail, exported beside the report: {counts}")
        for f in m.folders.values():
            if f.created:
                verb = "would create" if run.dry_run else "created"
                out.print(f"{m.mailbox}: {verb} folder '{f.target}'")
            # A rename is news on a run that made the folder or put mail in it; else only -v.
            changed = f.created or f.copied or f.would_copy
            if f.renamed_because and (changed or verbosity() > 0):
                out.print(f"{m.mailbox}: folder '{f.source}' -> '{f.target}' ({f.renamed_because})")
            if run.dry_run and f.match_by_content:
                out.print(
                    f"{m.mailbox}: folder '{f.target}' already holds mail: a real run matches it"
                    " by content first, so it may copy fewer than the dry run says"
                )
            for kind, items in (("skipped", f.skipped), ("rejected", f.rejected),
                                ("failed", f.failed)):  # fmt: skip
                for item in items:
                    if not item.uid:  # the whole folder
                        out.print(f"{m.mailbox}: {kind} folder '{item.folder}': {item.reason}")
                        continue
                    mid = f" {item.message_id}" if item.message_id else ""
                    out.print(
                        f"{m.mailbox}: {kind} '{item.folder}' uid {item.uid}{mid} "
                        f"({item.size} bytes): {item.reason}"
                    )


def print_errors(errors: list[tuple[str, str]]) -> None:
    """Each distinct error once: a dead server is one line, not one per mailbox."""
    by_text: dict[str, list[str]] = {}
    for mailbox, error in errors:
        by_text.setdefault(error, []).append(mailbox)
    for error, mailboxes in by_text.items():
        if len(mailboxes) == 1:
            out.print(f"[red]{mailboxes[0]}: {escape(error)}[/red]")
            continue
        names = ", ".join(mailboxes[:3]) + (
            f" and {len(mailboxes) - 3} more" if len(mailboxes) > 3 else ""
        )
        out.print(f"[red]{len(mailboxes)} mailboxes ({names}): {escape(error)}[/red]")


def print_verify(reports: list[VerifyReport]) -> None:
    table = Table(title="verify")
    for col in ("mailbox", "result", "folders", "messages", "MiB", "differences"):
        _column(table, col)
    for r in reports:
        result = "error" if r.error else ("identical" if r.ok else "DIFFERENT")
        table.add_row(
            r.mailbox, result, str(r.folders), str(r.messages), _mb(r.bytes),
            str(len(r.differences)),
        )  # fmt: skip
    out.print(table)
    print_errors([(r.mailbox, r.error) for r in reports if r.error])
    for r in reports:
        if r.detached:
            out.print(f"{r.mailbox}: {r.detached} message(s) with attachments in the library")
        for d in r.differences[:200]:
            uid = f" uid {d.uid}" if d.uid else ""
            out.print(f"{r.mailbox}: '{d.folder}'{uid}: {d.what}: {d.detail}")
        if len(r.differences) > 200:
            out.print(f"{r.mailbox}: … and {len(r.differences) - 200} more (use --json)")
