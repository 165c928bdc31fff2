"""Public folders into a document library: plan, gate, execute, record, like every domain.

Each selectable folder of the source's public (shared) namespace becomes a library folder
named by :mod:`names`; each message a ``.eml`` file with its bytes untouched; each folder an
``index.html``. The ledger row is written right after the file, and a message without a row
whose file is already there with the same size is recorded without an upload, so a rerun
uploads nothing and a run killed at any point resumes without a duplicate (file names are
fixed by date and UID, so a second upload could only replace, never add).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from skylift.connectors.library.base import LibraryTarget
from skylift.connectors.mail.base import MailSource
from skylift.engine.library.index import INDEX, Entry, file_name, headers_of, render
from skylift.engine.library.names import FILE_ROOM, FolderNames
from skylift.errors import ItemRejected, SkyliftError
from skylift.model.mail import Folder, MessageRef
from skylift.state.library_ledger import LibraryLedger, LibraryRow

FETCH_BATCH = 20


@dataclass
class FolderReport:
    """What happened to one public folder."""

    source: str
    target: str
    copied: int = 0
    already: int = 0
    to_copy: int = 0
    failed: list[str] = field(default_factory=list)
    renamed: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "folder": self.source, "target": self.target, "copied": self.copied,
            "already_there": self.already, "to_copy": self.to_copy, "failed": self.failed,
            "renamed": self.renamed,
        }  # fmt: skip


def public_folders(source: MailSource, kinds: tuple[str, ...] = ("shared",)) -> list[Folder]:
    """The source's folders in namespaces of *kinds*, with the namespace prefix dropped."""
    prefixes = [ns.path() for ns in source.namespaces() if ns.kind in kinds]
    out = []
    for folder in source.shared_folders():
        for prefix in prefixes:
            if prefix and folder.path[: len(prefix)] == prefix and len(folder.path) > len(prefix):
                out.append(folder)
                break
    return sorted(out, key=lambda f: f.path)


def _below(folder: Folder, source: MailSource, kinds: tuple[str, ...]) -> tuple[str, ...]:
    for ns in source.namespaces():
        prefix = ns.path()
        if ns.kind in kinds and prefix and folder.path[: len(prefix)] == prefix:
            return folder.path[len(prefix) :]
    return folder.path


def copy_public_folders(
    source: MailSource,
    library: LibraryTarget,
    ledger: LibraryLedger,
    source_key: str,
    *,
    dry_run: bool = False,
    kinds: tuple[str, ...] = ("shared",),
    stop: Callable[[], bool] = lambda: False,
) -> list[FolderReport]:
    """Copy every public folder of *source* into *library*; one report per folder."""
    names = FolderNames((library.capabilities.max_path or 10_000) - FILE_ROOM)
    folders = public_folders(source, kinds)
    tree = {f.path: names.map(_below(f, source, kinds)) for f in folders}
    reports = []
    for folder in folders:
        if stop():
            break
        below, target = _below(folder, source, kinds), tree[folder.path]
        report = FolderReport("/".join(below), "/".join(target), renamed=below != target)
        reports.append(report)
        if not folder.selectable:
            continue
        try:
            _copy_folder(source, library, ledger, source_key, folder, target, report, dry_run)
            if not dry_run:
                children = sorted(
                    t[-1] for t in tree.values() if len(t) == len(target) + 1 and t[:-1] == target
                )
                _write_index(library, ledger, target, children)
        except (ItemRejected, SkyliftError) as exc:
            if not isinstance(exc, ItemRejected) and exc.exit_code != 1:
                raise
            report.failed.append(str(exc))
    return reports


def _copy_folder(
    source: MailSource,
    library: LibraryTarget,
    ledger: LibraryLedger,
    source_key: str,
    folder: Folder,
    target: tuple[str, ...],
    report: FolderReport,
    dry_run: bool,
) -> None:
    state = source.select(folder)
    key = "/".join(folder.path)
    done = ledger.done(source_key, key, state.validity)
    todo = [ref for ref in source.list_messages(folder) if ref.uid not in done]
    report.already = len(done)
    report.to_copy = len(todo)
    if dry_run or not todo:
        return
    library.ensure_folder(target)
    present = {f.name: f.size for f in library.list(target)}
    refs = {ref.uid: ref for ref in todo}
    uids = list(refs)
    for start in range(0, len(uids), FETCH_BATCH):
        for message in source.fetch(folder, uids[start : start + FETCH_BATCH]):
            ref: MessageRef = refs[message.ref.uid]
            subject, sender, header_date = headers_of(message.raw)
            date: datetime | None = ref.internaldate or header_date
            name = file_name(date, ref.uid)
            row = LibraryRow(
                ref.uid, "/".join(target), name, message.fingerprint, len(message.raw),
                subject, sender, date,
            )  # fmt: skip
            if present.get(name) == len(message.raw):
                report.already += 1  # stored by a run that died before its ledger row
            else:
                try:
                    library.put(target, name, message.raw, date)
                except ItemRejected as exc:
                    report.failed.append(f"{name}: {exc}")
                    continue
                report.copied += 1
            ledger.record(source_key, key, state.validity, row)
    report.to_copy = 0


def _write_index(
    library: LibraryTarget, ledger: LibraryLedger, target: tuple[str, ...], children: list[str]
) -> None:
    """Write the folder's index page unless the library holds that exact page already."""
    rows = ledger.files("/".join(target))
    page = render(
        "/".join(target) or "/",
        [Entry(r.name, r.subject, r.sender, r.date) for r in rows],
        children,
    )
    if library.get(target, INDEX) != page:
        library.ensure_folder(target)
        library.put(target, INDEX, page)
