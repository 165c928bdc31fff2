"""Compare a mailbox's source and target after mapping: folders, counts, bytes, flags, dates.

Messages are paired through the ledger when it knows them; otherwise by a multiset of
(size, flags, date). ``--deep`` fetches both sides and compares content fingerprints,
which proves byte-exactness (line endings normalised to CRLF as IMAP serves them).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from skylift.connectors.mail.base import MailSource, MailTarget
from skylift.engine.mail.detach import header_of
from skylift.engine.mail.gmail import label_view
from skylift.engine.mail.sync import MigrateOptions, batches, plan_folders
from skylift.errors import FolderNotFound
from skylift.model.mail import Folder, MessageRef
from skylift.state.store import StateStore


@dataclass
class Difference:
    folder: str
    what: str
    detail: str
    uid: str | None = None


@dataclass
class VerifyReport:
    mailbox: str
    folders: int = 0
    messages: int = 0
    bytes: int = 0
    error: str | None = None
    #: copied with attachments moved to a library (--detach-over): paired by the original's
    #: fingerprint the rewritten message names (engine/mail/detach.py)
    detached: int = 0
    differences: list[Difference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.error and not self.differences

    def as_dict(self) -> dict[str, Any]:
        return {
            "mailbox": self.mailbox,
            "ok": self.ok,
            "folders": self.folders,
            "messages": self.messages,
            "bytes": self.bytes,
            "detached": self.detached,
            "error": self.error,
            "differences": [asdict(d) for d in self.differences],
        }


def _date_key(d: datetime | None) -> str:
    return d.astimezone().strftime("%Y-%m-%dT%H:%M:%S") if d else ""


def _key(ref: MessageRef) -> tuple[int, frozenset[str], str]:
    return (ref.size, ref.flags, _date_key(ref.internaldate))


def verify_mailbox(
    mailbox: str,
    source: MailSource,
    target: MailTarget,
    store: StateStore | None,
    options: MigrateOptions,
    deep: bool = False,
) -> VerifyReport:
    """Return every difference between *source* and *target*, naming folder and message."""

    report = VerifyReport(mailbox)
    mappings, target_folders = plan_folders(source, target, options.rules)
    present = {f.path for f in target_folders}
    # A Gmail source: each folder is compared with what migrate copies there (its labels).
    migrated = tuple(m.source for m in mappings if m.source.selectable and m.target.path in present)
    for m in mappings:
        report.folders += 1
        if m.target.path not in present:
            report.differences.append(
                Difference(m.source_name, "missing folder", f"no '{m.target_name}' on target")
            )
            continue
        if not m.source.selectable:
            continue
        try:
            _verify_folder(
                report, m.source_name, source, m.source, target, m.target, store, deep,
                (options.gmail_labels, migrated),
            )  # fmt: skip
        except FolderNotFound as exc:
            report.differences.append(Difference(m.source_name, "unreadable folder", str(exc)))
    return report


def _verify_folder(
    report: VerifyReport,
    name: str,
    source: MailSource,
    sfolder: Folder,
    target: MailTarget,
    tfolder: Folder,
    store: StateStore | None,
    deep: bool,
    labels: tuple[str, tuple[Folder, ...]] = ("folders", ()),
) -> None:
    sstate = source.select(sfolder)
    src = list(source.list_messages(sfolder))
    if source.capabilities.labels:
        src, _ = label_view(sfolder, labels[0], labels[1] or (sfolder,)).keep(src)
    target.select(tfolder)
    dst = {r.uid: r for r in target.list_messages(tfolder)}
    report.messages += len(src)
    report.bytes += sum(r.size for r in src)
    if len(src) != len(dst):
        report.differences.append(
            Difference(name, "count", f"source has {len(src)} messages, target {len(dst)}")
        )
    ledger = store.ledger(report.mailbox, name, sstate.validity) if store else {}
    unpaired_src: list[MessageRef] = []
    used: set[str] = set()
    for ref in src:
        entry = ledger.get(ref.uid)
        t = dst.get(entry.target_uid) if entry and entry.target_uid else None
        if t is None:
            unpaired_src.append(ref)
            continue
        used.add(t.uid)
        if (
            entry
            and t.size < ref.size
            and _detached_from(target, tfolder, t, entry.fingerprint, ref.size)
        ):
            report.detached += 1
        elif t.size != ref.size:
            report.differences.append(
                Difference(name, "size", f"{ref.size} vs {t.size} bytes", ref.uid)
            )
        if t.flags != ref.flags:
            report.differences.append(
                Difference(name, "flags", f"{sorted(ref.flags)} vs {sorted(t.flags)}", ref.uid)
            )
        if _date_key(t.internaldate) != _date_key(ref.internaldate):
            report.differences.append(
                Difference(name, "date", f"{ref.internaldate} vs {t.internaldate}", ref.uid)
            )
    rest = Counter(_key(r) for uid, r in dst.items() if uid not in used)
    for ref in unpaired_src:
        if rest[_key(ref)] > 0:
            rest[_key(ref)] -= 1
        else:
            report.differences.append(
                Difference(name, "missing", f"{ref.size} bytes, no match on target", ref.uid)
            )
    if deep:
        _deep(report, name, source, sfolder, src, target, tfolder, list(dst.values()))


def _detached_from(
    target: MailTarget, folder: Folder, t: MessageRef, original: str, size: int
) -> bool:
    """Whether target message *t* is the detached form of the source message the ledger
    row (fingerprint *original*) and *size* describe."""
    target.select(folder)
    found = next(iter(target.fetch(folder, [t.uid])), None)
    named = header_of(found.raw) if found is not None else None
    if found is None or named is None or named[1] != size:
        return False
    # the ledger holds the rewritten message's fingerprint (older rows: the original's)
    return original in (found.fingerprint, named[0])


def _deep(
    report: VerifyReport,
    name: str,
    source: MailSource,
    sfolder: Folder,
    src: list[MessageRef],
    target: MailTarget,
    tfolder: Folder,
    dst: list[MessageRef],
) -> None:
    opts = MigrateOptions()

    def prints(box: MailSource, folder: Folder, refs: list[MessageRef]) -> Counter[str]:
        out: Counter[str] = Counter()
        box.select(folder)
        for batch in batches(refs, opts.batch_bytes, opts.batch_count):
            for msg in box.fetch(folder, [r.uid for r in batch]):
                detached = header_of(msg.raw) if box is target else None
                out[detached[0] if detached else msg.fingerprint] += 1
        return out

    have = prints(target, tfolder, dst)
    want = prints(source, sfolder, src)
    for fp, n in (want - have).items():
        report.differences.append(
            Difference(name, "content", f"{n} message(s) with sha256 {fp[:16]}… not on target")
        )
