"""What a mail run would do, decided from listings, the ledger and capabilities alone.

Pure functions: no connection, no ledger write. ``sync.py`` asks for a plan, and a dry run
stops right after it (rclone's one ``SkipDestructive`` gate), so a dry run downloads no
message body and changes nothing on either side. Two levels, because the second needs a
SELECT the first does not: the mailbox plan (which folders to create and subscribe) and one
folder plan per folder (which messages to copy, which flags to set, which are too big).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from skylift.engine.mail.folders import FolderMapping
from skylift.model.mail import Folder, FolderState, MessageRef
from skylift.state.store import FolderMark, LedgerEntry


@dataclass(frozen=True)
class FolderStep:
    """One folder of the mailbox plan: create it? subscribe it? copy its messages?"""

    mapping: FolderMapping
    create: bool
    subscribe: bool
    copy: bool
    target_existed: bool


def plan_mailbox(
    mappings: Sequence[FolderMapping], target_folders: Sequence[Folder]
) -> list[FolderStep]:
    """Parents come before children in *mappings*; a folder created once is not created twice."""
    existing = {f.path: f for f in target_folders}
    steps: list[FolderStep] = []
    for m in mappings:
        present = existing.get(m.target.path)
        if present is None:
            existing[m.target.path] = m.target
        steps.append(
            FolderStep(
                mapping=m,
                create=present is None,
                subscribe=m.source.subscribed and (present is None or not present.subscribed),
                copy=m.source.selectable,
                target_existed=present is not None,
            )
        )
    return steps


class Listing(Enum):
    """How much of a folder the source must list."""

    NONE = "none"  # unchanged since the last complete pass: one SELECT, nothing listed
    CHANGES = "changes"  # CONDSTORE: messages changed since the mark, and new UIDs
    ALL = "all"


@dataclass(frozen=True)
class ListingChoice:
    listing: Listing
    since_modseq: int | None = None
    from_uid: int | None = None


def choose_listing(
    state: FolderState,
    mark: FolderMark | None,
    *,
    target_name: str,
    pending: bool,
    changes_since: bool,
) -> ListingChoice:
    """The cheapest listing that still finds every new message and flag change.

    *mark* is the folder's state after the last complete pass (None after ``--full``, a lost
    state file, or a pass with problems); *pending* means a killed run left appends to settle.
    """
    same_epoch = (
        mark is not None and mark.validity == state.validity and mark.target_folder == target_name
    )
    if not same_epoch or mark is None:
        return ListingChoice(Listing.ALL)
    if (
        not pending
        and state.next_uid is not None
        and state.modseq is not None
        and (mark.next_uid, mark.count, mark.modseq) == (state.next_uid, state.count, state.modseq)
    ):
        return ListingChoice(Listing.NONE)
    if changes_since and mark.next_uid and mark.modseq and state.modseq is not None:
        return ListingChoice(Listing.CHANGES, since_modseq=mark.modseq, from_uid=mark.next_uid)
    return ListingChoice(Listing.ALL)


@dataclass
class FolderPlan:
    """The decisions for one folder; ``sync.py`` carries them out, a dry run only reports them."""

    listing: Listing
    copy: list[MessageRef] = field(default_factory=list)
    #: source uid -> (target uid, the source's flags) for messages copied before
    flags: dict[str, tuple[str, frozenset[str]]] = field(default_factory=dict)
    too_big: list[tuple[MessageRef, str]] = field(default_factory=list)
    already_there: int = 0
    #: no ledger rows for this folder: the target's messages are matched by content first
    match_by_content: bool = False

    @property
    def copy_bytes(self) -> int:
        return sum(r.size for r in self.copy)


def size_limit(max_size: int | None, target_max: int | None) -> int | None:
    limits = [x for x in (max_size, target_max) if x]
    return min(limits) if limits else None


def too_big_reason(size: int, max_size: int | None) -> str:
    if max_size and size > max_size:
        return f"larger than --max-size ({size} > {max_size} bytes)"
    return f"larger than the target's APPENDLIMIT ({size} bytes)"


def plan_messages(
    listing: Listing,
    refs: Iterable[MessageRef],
    ledger: Mapping[str, LedgerEntry],
    *,
    count: int,
    max_size: int | None,
    target_max: int | None,
    target_existed: bool,
) -> FolderPlan:
    """Sort the listed messages into copy / set flags / too big / already there.

    With a CHANGES listing only changed messages are listed, so every unlisted message of the
    folder's *count* is already there.
    """
    plan = FolderPlan(listing, match_by_content=not ledger and target_existed)
    limit = size_limit(max_size, target_max)
    incremental = listing is Listing.CHANGES
    for ref in refs:
        entry = ledger.get(ref.uid)
        if entry is not None and entry.state == "copied":
            if not incremental:
                plan.already_there += 1
            if ref.flags != entry.flags and entry.target_uid:
                plan.flags[ref.uid] = (entry.target_uid, ref.flags)
            continue
        if limit is not None and ref.size > limit:
            plan.too_big.append((ref, too_big_reason(ref.size, max_size)))
            continue
        plan.copy.append(ref)
    if incremental:
        plan.already_there += max(count - len(plan.copy) - len(plan.too_big), 0)
    return plan
