"""Copy one mailbox from a source to a target: folders, then messages, then flag changes.

The passes follow OfflineIMAP's ``syncmessagesto`` (copy new, then sync flags); identity
follows vdirsyncer's status table, kept in the ledger:

* A message is known by (source folder, validity, uid). Known -> never copied again.
* Before an APPEND the ledger gets a *pending* row with the target folder's UIDNEXT; a run
  killed between APPEND and the ledger update settles it on resume by fingerprint among
  the target messages at or above that mark. kill -9 at any moment: no duplicate.
* With no ledger rows for a folder (new state file, UIDVALIDITY changed) the target's
  messages are fingerprinted once (sizes are not trusted: a server may store LF as CRLF),
  and each source message whose
  fingerprint is there is taken as already copied — as a multiset, so two identical
  source messages need two identical target messages.
* A folder whose validity, UIDNEXT, message count and HIGHESTMODSEQ are unchanged since
  the last complete pass is not listed at all: a rerun costs one SELECT per folder.

Connection failures propagate as TransientError; the runner reconnects and calls again,
and the ledger makes the second call start where the first stopped.
"""

from __future__ import annotations

import email.parser
import email.policy
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from skylift.connectors.library.base import LibraryTarget
from skylift.connectors.mail.base import MailSource, MailTarget
from skylift.engine.mail.budget import BudgetSpent, DailyBudget
from skylift.engine.mail.detach_copy import copy_detached
from skylift.engine.mail.folders import FolderMapping, FolderRules, map_folders
from skylift.engine.mail.gmail import label_view
from skylift.engine.mail.namespaces import message_count, refused_reason, report_namespaces
from skylift.engine.mail.plan import (
    FolderPlan,
    FolderStep,
    Listing,
    ListingChoice,
    choose_listing,
    plan_mailbox,
    plan_messages,
)
from skylift.engine.mail.report import FolderReport, ItemProblem, MailboxReport
from skylift.engine.throttle import TokenBucket
from skylift.errors import FolderNotFound, FolderRefused, Interrupted
from skylift.model.mail import Folder, Message, MessageRef, fingerprint
from skylift.state.store import CopyRecord, FolderMark, LedgerEntry, StateStore

ProgressFn = Callable[[str, int, int], None]  # (mailbox, messages, bytes)


@dataclass
class MigrateOptions:
    """Per-run choices; *batch_bytes* bounds memory, whatever the message count."""

    rules: FolderRules = field(default_factory=FolderRules)
    max_size: int | None = None
    dry_run: bool = False
    full: bool = False  # ignore folder marks: list every folder in full (--full)
    batch_bytes: int = 2 * 1024 * 1024
    batch_count: int = 1000
    export_dir: Path | None = None  # where non-mail items (PST calendars, contacts) go
    bucket: TokenBucket = field(default_factory=lambda: TokenBucket(None))
    #: bytes each user may upload per UTC day (--daily-budget, or the target profile's
    #: ingest_bytes_per_day); None: no budget
    daily_budget: int | None = None
    #: a source with labels (Gmail): "folders" (a copy per label folder) or "keywords"
    gmail_labels: str = "folders"
    #: --detach-over: a message over this many bytes goes with its large attachments moved
    #: into *library* (engine/mail/detach.py); None: such a message is skipped
    detach_over: int | None = None
    library: LibraryTarget | None = None
    # Set by the first Ctrl-C: stop at the next batch boundary, after the ledger is written.
    stop: threading.Event = field(default_factory=threading.Event)


def _noop_progress(_: str, __: int, ___: int) -> None:
    return None


def message_id_of(raw: bytes) -> str | None:
    """The Message-ID header, for reports; None when absent or unreadable."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    try:
        msg = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(head)
        value = msg.get("Message-ID")
        return str(value).strip() if value else None
    except Exception:
        return None


def batches(
    refs: Iterable[MessageRef], max_bytes: int, max_count: int
) -> Iterator[list[MessageRef]]:
    """Group refs so one fetch never holds more than *max_bytes* (one big message alone)."""
    batch: list[MessageRef] = []
    size = 0
    for ref in refs:
        if batch and (size + ref.size > max_bytes or len(batch) >= max_count):
            yield batch
            batch, size = [], 0
        batch.append(ref)
        size += ref.size
    if batch:
        yield batch


def plan_folders(
    source: MailSource, target: MailTarget, rules: FolderRules
) -> tuple[list[FolderMapping], list[Folder]]:
    """Map the source's folders onto the target's, with the target's own rules (separator,
    case, reserved names); also return the target's folders as listed."""
    target_folders = target.folders()
    caps = target.capabilities
    mappings = map_folders(
        source.folders(),
        target_folders,
        target_separator=caps.separator,
        rules=rules,
        case_insensitive=caps.case_insensitive_names,
        reserved=caps.reserved_names,
    )
    return mappings, target_folders


@dataclass(frozen=True)
class FolderTask:
    """One folder to copy: its mapping, its report, and whether the target had it before."""

    mapping: FolderMapping
    report: FolderReport
    target_existed: bool
    #: every source folder this mailbox copies, in plan order (Gmail labels: who copies what)
    migrated: tuple[Folder, ...] = ()


class MailboxMigration:
    """Migrates one mailbox over already-open connections; call :meth:`run` again to resume."""

    def __init__(
        self,
        mailbox: str,
        source: MailSource,
        target: MailTarget,
        store: StateStore,
        run_id: int,
        options: MigrateOptions,
        report: MailboxReport,
        progress: ProgressFn = _noop_progress,
        budget: DailyBudget | None = None,
    ) -> None:
        self.budget = budget
        self.mailbox = mailbox
        self.source = source
        self.target = target
        self.store = store
        self.run_id = run_id
        self.opts = options
        self.report = report
        self.progress = progress
        self._marks_cache: dict[str, FolderMark] | None = None

    def plan_folders(self) -> tuple[list[FolderMapping], list[Folder]]:
        return plan_folders(self.source, self.target, self.opts.rules)

    def run(self) -> None:
        for task in self.prepare():
            self.sync_task(task)

    def prepare(self) -> list[FolderTask]:
        """Plan the folders, then (unless dry run) create them, parents first, and subscribe.

        The returned tasks are independent of each other: any open connection pair of the same
        mailbox may run any of them (the runner lends idle connections to a big mailbox).
        """
        mappings, target_folders = self.plan_folders()
        report_namespaces(self.report, self.source, self.target)
        steps = plan_mailbox(mappings, target_folders)
        tasks: list[FolderTask] = []
        for step in steps:
            fr = self.report.folder(step.mapping.source_name, step.mapping.target_name)
            fr.renamed_because = step.mapping.reason
            fr.created = step.create
        migrated = tuple(s.mapping.source for s in steps if s.copy)
        if self.opts.dry_run:  # the gate: a dry run stops after the plan
            return [
                FolderTask(s.mapping, self._fr(s), s.target_existed, migrated)
                for s in steps
                if s.copy
            ]
        if self.opts.export_dir is not None:
            safe = "".join(c if c.isalnum() or c in "@.-_" else "_" for c in self.mailbox)
            counts = self.source.export_non_mail(self.opts.export_dir / safe)
            self.report.non_mail = dict(counts)
        for step in steps:
            self._check_stop()
            fr = self._fr(step)
            if step.create:
                try:
                    self.target.create_folder(step.mapping.target)
                except FolderRefused as exc:
                    self._refused(step.mapping, fr, str(exc))
                    continue  # this folder alone fails; the mailbox goes on
            if step.subscribe:
                self.target.subscribe(step.mapping.target)
            if step.copy:
                tasks.append(FolderTask(step.mapping, fr, step.target_existed, migrated))
        return tasks

    def _fr(self, step: FolderStep) -> FolderReport:
        return self.report.folder(step.mapping.source_name, step.mapping.target_name)

    def sync_task(self, task: FolderTask) -> None:
        """Copy one folder of :meth:`prepare`'s list over this object's connections."""
        try:
            self.sync_folder(
                task.mapping, task.report, target_existed=task.target_existed,
                migrated=task.migrated,
            )  # fmt: skip
        except BudgetSpent as exc:
            # Today's upload budget is spent: this folder keeps no mark, the others stop at
            # their first upload, and the next run (a day later) goes on from the ledger.
            self.report.budget = str(exc)
            self.report.resumes_after = exc.resumes_after.isoformat()
        except FolderNotFound as exc:
            task.report.failed.append(ItemProblem(task.mapping.source_name, "", 0, str(exc)))

    def _check_stop(self) -> None:
        """Between batches: every copied batch is in the ledger, so stopping here is clean."""
        if self.opts.stop.is_set():
            raise Interrupted("stopped by Ctrl-C; rerun the same command to resume")

    def _refused(self, m: FolderMapping, fr: FolderReport, words: str) -> None:
        fr.created = False
        reason = refused_reason(m.source_name, words, message_count(self.source, m.source))
        fr.failed.append(ItemProblem(m.source_name, "", 0, reason))
        self.store.record_problem(self.run_id, self.mailbox, m.source_name, None, "failed", reason)
        self.store.drop_folder_mark(self.mailbox, m.source_name)

    # -- one folder -------------------------------------------------------------------
    def sync_folder(
        self, m: FolderMapping, fr: FolderReport, target_existed: bool,
        migrated: tuple[Folder, ...] = (),
    ) -> None:  # fmt: skip
        """Plan the folder, stop there on a dry run, else copy, set flags and record."""
        sname, tname = m.source_name, m.target_name
        problems_before = len(fr.failed) + len(fr.rejected) + len(fr.skipped)
        state = self.source.select(m.source)
        mark = None if self.opts.full else self._marks().get(sname)
        # Live, not cached: a helper that gave this folder back may have left pending rows.
        pending = self.store.has_pending(self.mailbox, sname)
        choice = choose_listing(
            state, mark, target_name=tname, pending=pending,
            changes_since=self.source.capabilities.changes_since,
        )  # fmt: skip
        if choice.listing is Listing.NONE:
            fr.already_there += state.count
            return
        ledger = self.store.ledger(self.mailbox, sname, state.validity)
        if pending and not self.opts.dry_run:
            self._settle_pending(m, ledger, state.validity)
        listed: Iterable[MessageRef] = self._list(m.source, choice)
        if self.source.capabilities.labels:  # Gmail: a message shows in every label folder
            view = label_view(m.source, self.opts.gmail_labels, migrated or (m.source,))
            listed, elsewhere = view.keep(listed)
            fr.in_other_labels += elsewhere
        plan = plan_messages(
            choice.listing, listed, ledger, count=state.count,
            max_size=self.opts.max_size,
            target_max=self.target.capabilities.max_message_bytes,
            target_existed=target_existed,
        )  # fmt: skip
        if self.opts.dry_run:  # the gate: report the plan, touch nothing, fetch no body
            self._report_plan(fr, plan)
            return
        fr.already_there += plan.already_there
        too_big = plan.too_big
        if self.opts.detach_over and self.opts.library is not None and too_big:
            too_big = copy_detached(self, m, fr, too_big, state.validity, target_existed)
        for ref, reason in too_big:
            self._problem(fr.skipped, "skipped", sname, ref, reason)
        if plan.copy:
            self._copy(
                m, fr, plan.copy, state.validity,
                match=plan.match_by_content, target_existed=target_existed,
            )  # fmt: skip
        if plan.flags:
            self._sync_flags(m, fr, state.validity, plan.flags)
        # A folder with items that did not arrive (skipped, rejected, failed) keeps no mark:
        # the next run lists it again, retries them (a limit may have been lifted) and
        # reports them again.
        if len(fr.failed) + len(fr.rejected) + len(fr.skipped) == problems_before:
            self.store.save_folder_mark(
                self.mailbox,
                sname,
                FolderMark(state.validity, tname, state.next_uid, state.modseq, state.count),
            )
        else:
            self.store.drop_folder_mark(self.mailbox, sname)

    def _marks(self) -> dict[str, FolderMark]:
        """The mailbox's folder marks, read once per object (a folder's mark changes only
        when that folder's pass completes, and each folder is passed once per attempt)."""
        if self._marks_cache is None:
            self._marks_cache = self.store.mailbox_marks(self.mailbox)
        return self._marks_cache

    def _list(self, folder: Folder, choice: ListingChoice) -> Iterable[MessageRef]:
        if choice.listing is Listing.CHANGES and choice.since_modseq and choice.from_uid:
            listed = {r.uid: r for r in self.source.list_changed(folder, choice.since_modseq)}
            for r in self.source.list_from(folder, choice.from_uid):
                listed[r.uid] = r
            return listed.values()
        return self.source.list_messages(folder)

    def _report_plan(self, fr: FolderReport, plan: FolderPlan) -> None:
        """What a dry run says: counts and sizes from the listing, no body read."""
        fr.already_there += plan.already_there
        fr.would_copy += len(plan.copy)
        fr.bytes += plan.copy_bytes
        fr.flags_updated += len(plan.flags)
        for ref, reason in plan.too_big:
            fr.skipped.append(ItemProblem(fr.source, ref.uid, ref.size, reason))
        if plan.match_by_content and plan.copy:
            fr.match_by_content = True
        self.progress(self.mailbox, len(plan.copy), plan.copy_bytes)

    def _problem(
        self, bucket: list[ItemProblem], kind: str, folder: str, ref: MessageRef, reason: str,
        message_id: str | None = None,
    ) -> None:  # fmt: skip
        bucket.append(ItemProblem(folder, ref.uid, ref.size, reason, message_id))
        self.store.record_problem(
            self.run_id, self.mailbox, folder, ref.uid, kind, reason, ref.size
        )

    # -- copying ----------------------------------------------------------------------
    def _copy(
        self, m: FolderMapping, fr: FolderReport, todo: list[MessageRef], validity: str, *,
        match: bool, target_existed: bool,
    ) -> None:  # fmt: skip
        """Append *todo* in batches; with *match*, first take the target's copies by content."""
        sname, tname = m.source_name, m.target_name
        index = self._target_index(m.target) if match else None
        # UIDNEXT before the first append: a killed run settles its pending rows from here.
        mark = self.target.select(m.target).next_uid if target_existed else 1
        listed = {r.uid: r for r in todo} if self.source.capabilities.labels else {}
        for batch in batches(todo, self.opts.batch_bytes, self.opts.batch_count):
            self._check_stop()
            messages = list(self.source.fetch(m.source, [r.uid for r in batch]))
            if listed:  # keywords mode adds the other labels to the listed flags
                messages = [
                    Message(listed[x.ref.uid], x.raw) if x.ref.uid in listed else x
                    for x in messages
                ]
            nbytes = sum(len(x.raw) for x in messages)
            self.opts.bucket.consume(nbytes)
            known: list[CopyRecord] = []
            fresh: list[tuple[Message, str]] = []
            fix_flags: dict[str, tuple[str, frozenset[str]]] = {}
            for msg in messages:
                fp = msg.fingerprint
                if index is not None and index.get(fp):
                    target_uid, target_flags = index[fp].pop()
                    known.append(
                        CopyRecord(msg.ref.uid, target_uid, fp, msg.ref.size, target_flags)
                    )
                    if target_flags != msg.ref.flags:
                        fix_flags[msg.ref.uid] = (target_uid, msg.ref.flags)
                else:
                    fresh.append((msg, fp))
            fr.already_there += len(known)
            self.store.record(self.mailbox, sname, validity, tname, known, "copied")
            if fix_flags:
                self._sync_flags(m, fr, validity, fix_flags)
            if fresh and self.target.capabilities.labels:
                fresh = self._label_instead(m, fr, validity, fresh)
            over_budget = False
            if self.budget is not None and fresh:
                allowed = self.budget.take([x for x, _ in fresh])  # BudgetSpent: none fits
                over_budget = len(allowed) < len(fresh)
                fresh = fresh[: len(allowed)]
            pending = [
                CopyRecord(x.ref.uid, None, fp, x.ref.size, x.ref.flags, target_mark=mark)
                for x, fp in fresh
            ]
            self.store.record(self.mailbox, sname, validity, tname, pending, "pending")
            results = self.target.append(m.target, [x for x, _ in fresh])
            done: list[CopyRecord] = []
            refused: list[str] = []
            for (msg, fp), res in zip(fresh, results, strict=True):
                if res.error:
                    refused.append(msg.ref.uid)
                    self._problem(
                        fr.rejected, "rejected", sname, msg.ref, res.error, message_id_of(msg.raw)
                    )
                else:
                    done.append(CopyRecord(msg.ref.uid, res.uid, fp, msg.ref.size, msg.ref.flags))
                    fr.copied += 1
                    fr.bytes += len(msg.raw)
            self.store.record(self.mailbox, sname, validity, tname, done, "copied")
            if refused:
                self.store.drop_pending(self.mailbox, sname, refused)
            self.progress(self.mailbox, len(messages), nbytes)
            if over_budget and self.budget is not None:
                raise self.budget.exhausted()

    def _label_instead(
        self, m: FolderMapping, fr: FolderReport, validity: str, fresh: list[tuple[Message, str]]
    ) -> list[tuple[Message, str]]:
        """A target with labels (Gmail): a message this mailbox already uploaded into another
        folder gets this folder as one more label (``STORE +X-GM-LABELS``), not a second
        upload. Adding a label twice changes nothing, so a killed run just adds it again."""
        earlier = self.store.copies_elsewhere(self.mailbox, [fp for _, fp in fresh], m.target_name)
        if not earlier:
            return fresh
        rest: list[tuple[Message, str]] = []
        labelled: list[CopyRecord] = []
        for msg, fp in fresh:
            where = earlier.get(fp)
            if where is None:
                rest.append((msg, fp))
                continue
            folder, uid = where
            self.target.add_label(Folder(path=tuple(folder.split("/"))), uid, m.target)
            labelled.append(CopyRecord(msg.ref.uid, None, fp, msg.ref.size, msg.ref.flags))
        self.store.record(self.mailbox, m.source_name, validity, m.target_name, labelled, "copied")
        fr.labels_added += len(labelled)
        return rest

    def _target_index(self, folder: Folder) -> dict[str, list[tuple[str, frozenset[str]]]]:
        """Fingerprints (-> uid, flags) of the target folder's messages.

        Every message is read: sizes cannot narrow it down, because a server may count a
        bare-LF message with CRLF line endings (the fingerprint normalises them).
        """
        index: dict[str, list[tuple[str, frozenset[str]]]] = defaultdict(list)
        try:
            refs = list(self.target.list_messages(folder))
        except FolderNotFound:
            return index
        for batch in batches(refs, self.opts.batch_bytes, self.opts.batch_count):
            for msg in self.target.fetch(folder, [r.uid for r in batch]):
                index[msg.fingerprint].append((msg.ref.uid, msg.ref.flags))
        return index

    def _settle_pending(
        self, m: FolderMapping, ledger: dict[str, LedgerEntry], validity: str
    ) -> None:
        """Resolve appends a killed run may or may not have completed."""
        pending = [e for e in ledger.values() if e.state == "pending"]
        if not pending:
            return
        target_folder = m.target
        first = min((e.target_mark or 0) for e in pending)
        claimed = {e.target_uid for e in ledger.values() if e.state == "copied" and e.target_uid}
        found = self._landed_since(target_folder, first, claimed)
        if sum(len(v) for v in found.values()) < len(pending):
            # Some seem lost: the killed run's last append may still be being committed.
            self.target.wait_for_earlier_writes(target_folder)
            found = self._landed_since(target_folder, first, claimed)
        landed: list[CopyRecord] = []
        lost: list[str] = []
        for e in pending:
            if found.get(e.fingerprint):
                uid = found[e.fingerprint].pop(0)
                landed.append(CopyRecord(e.source_uid, uid, e.fingerprint, e.size, e.flags))
                ledger[e.source_uid] = LedgerEntry(
                    e.source_uid, uid, e.flags, e.fingerprint, e.size, "copied"
                )
            else:
                lost.append(e.source_uid)
                ledger.pop(e.source_uid, None)
        sname = m.source_name
        self.store.record(self.mailbox, sname, validity, m.target_name, landed, "copied")
        self.store.drop_pending(self.mailbox, sname, lost)

    def _landed_since(self, folder: Folder, first: int, claimed: set[str]) -> dict[str, list[str]]:
        """Fingerprint -> target uids of the messages at or above UID *first* not yet claimed."""
        found: dict[str, list[str]] = defaultdict(list)
        try:
            refs = [r for r in self.target.list_from(folder, first) if r.uid not in claimed]
            for batch in batches(refs, self.opts.batch_bytes, self.opts.batch_count):
                for msg in self.target.fetch(folder, [r.uid for r in batch]):
                    found[fingerprint(msg.raw)].append(msg.ref.uid)
        except FolderNotFound:
            pass
        return found

    def _sync_flags(
        self,
        m: FolderMapping,
        fr: FolderReport,
        validity: str,
        changes: dict[str, tuple[str, frozenset[str]]],
    ) -> None:
        by_flags: dict[frozenset[str], list[str]] = defaultdict(list)
        for target_uid, flags in changes.values():
            by_flags[flags].append(target_uid)
        for flags, uids in by_flags.items():
            self.target.set_flags(m.target, uids, flags)
        self.store.update_flags(
            self.mailbox, m.source_name, validity, {u: f for u, (_, f) in changes.items()}
        )
        fr.flags_updated += len(changes)
