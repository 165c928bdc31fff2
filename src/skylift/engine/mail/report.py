"""What a run did, per folder, per mailbox and in total: the same objects for the terminal
table and for ``--json``, so nobody has to read a log to know what did not arrive."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

OUTCOMES = ("copied", "already_there", "skipped", "rejected", "failed")


@dataclass
class ItemProblem:
    """One message that did not arrive, and why (the server's own words for rejections)."""

    folder: str
    uid: str
    size: int
    reason: str
    message_id: str | None = None


@dataclass
class FolderReport:
    source: str
    target: str
    renamed_because: str | None = None
    created: bool = False
    copied: int = 0
    would_copy: int = 0  # dry run: what a real run would copy
    # dry run: the target folder holds mail and the state has none for it, so a real run
    # first matches the target's messages by content; "would copy" is then an upper bound
    match_by_content: bool = False
    already_there: int = 0
    flags_updated: int = 0
    bytes: int = 0
    #: Gmail source: messages this folder leaves to another folder of the run (its labels)
    in_other_labels: int = 0
    #: Gmail target: messages already uploaded elsewhere that got this folder as a label
    labels_added: int = 0
    #: over --detach-over: copied with large attachments moved to the library (docs/oversize.md)
    detached: int = 0
    skipped: list[ItemProblem] = field(default_factory=list)
    rejected: list[ItemProblem] = field(default_factory=list)
    failed: list[ItemProblem] = field(default_factory=list)


@dataclass
class MailboxReport:
    mailbox: str
    source_login: str
    status: str = "pending"  # ok | partial | failed | pending
    error: str | None = None
    seconds: float = 0.0
    attempts: int = 0
    token_renewals: int = 0  # sessions ended by an expired OAuth2 token and resumed
    error_code: int = 0  # the exit code the mailbox's error maps to (see skylift.errors)
    error_kind: str = ""  # the error's class name: a refused login is this user's alone
    folders_by_helpers: int = 0  # folders copied by idle workers lent to this mailbox
    non_mail: dict[str, int] = field(default_factory=dict)  # exported calendar/contact items
    notes: list[str] = field(default_factory=list)  # namespace mapping, said once per mailbox
    left_out: list[str] = field(default_factory=list)  # shared/other users' folders, and why
    folders: dict[str, FolderReport] = field(default_factory=dict)
    #: the daily upload budget ran out: what to say, and when the next run can go on (UTC)
    budget: str | None = None
    resumes_after: str | None = None

    def folder(self, source: str, target: str) -> FolderReport:
        if source not in self.folders:
            self.folders[source] = FolderReport(source=source, target=target)
        return self.folders[source]

    def totals(self) -> dict[str, int]:
        t = dict.fromkeys(("folders", "flags_updated", "bytes", "would_copy", *OUTCOMES), 0)
        for f in self.folders.values():
            t["folders"] += 1
            t["copied"] += f.copied
            t["would_copy"] += f.would_copy
            t["already_there"] += f.already_there
            t["flags_updated"] += f.flags_updated
            t["bytes"] += f.bytes
            t["skipped"] += len(f.skipped)
            t["rejected"] += len(f.rejected)
            t["failed"] += len(f.failed)
        return t

    def finish(self) -> None:
        totals = self.totals()
        if self.error:
            self.status = "failed"
        elif totals["rejected"] or totals["failed"] or totals["skipped"] or self.budget:
            self.status = "partial"
        else:
            self.status = "ok"

    def as_dict(self) -> dict[str, Any]:
        return {
            "mailbox": self.mailbox,
            "source_login": self.source_login,
            "status": self.status,
            "error": self.error,
            "seconds": round(self.seconds, 3),
            "attempts": self.attempts,
            "folders_by_helpers": self.folders_by_helpers,
            "token_renewals": self.token_renewals,
            "non_mail": self.non_mail,
            "notes": self.notes,
            "left_out": self.left_out,
            "budget": self.budget,
            "resumes_after": self.resumes_after,
            **self.totals(),
            "folders": [asdict(f) for f in self.folders.values()],
        }


@dataclass
class RunReport:
    command: str
    dry_run: bool = False
    mailboxes: list[MailboxReport] = field(default_factory=list)
    seconds: float = 0.0

    def totals(self) -> dict[str, int]:
        t = dict.fromkeys(
            ("mailboxes", "folders", "flags_updated", "bytes", "would_copy", *OUTCOMES), 0
        )
        t["mailboxes_failed"] = 0
        for m in self.mailboxes:
            t["mailboxes"] += 1
            t["mailboxes_failed"] += m.status == "failed"
            for k, v in m.totals().items():
                t[k] += v
        return t

    @property
    def ok(self) -> bool:
        return all(m.status == "ok" for m in self.mailboxes)

    def as_dict(self) -> dict[str, Any]:
        """The ``--json`` envelope (command, totals, items), then what a run adds."""
        return {
            "command": self.command,
            "totals": self.totals(),
            "items": [m.as_dict() for m in self.mailboxes],
            "dry_run": self.dry_run,
            "seconds": round(self.seconds, 3),
        }
