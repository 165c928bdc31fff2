"""Inventory x target profile -> findings: what the target will refuse, and what to do.

Every finding names the user, the folder and the item, what limit it crosses (with the
limit's public source) and the remedy. Time estimates live in ``estimate.py``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

from skylift.engine.assess.estimate import Estimate
from skylift.engine.assess.inventory import FolderInventory, MailboxInventory
from skylift.engine.profiles import Limit, TargetProfile
from skylift.model.units import human_bytes

ITEM_FINDINGS_PER_USER = 100

# Remedies when the profile gives none for a limit.
DEFAULT_REMEDIES = {
    "item-too-large": "save the attachment elsewhere and shrink the message, or raise the "
    "target's size limit; otherwise the item is skipped",
    "folder-too-deep": "move the folder closer to the top",
    "folder-name-too-long": "shorten the folder name",
    "folder-path-too-long": "shorten the folder path or move the folder up",
    "folder-name-forbidden-char": "rename the folder without the forbidden characters",
    "folder-name-reserved": "rename the folder or map it to another name",
    "folder-name-collision": "rename one folder so the names differ by more than letter case",
    "too-many-subfolders": "group the subfolders under a few new parents",
    "folder-too-many-items": "split the folder (for example by year)",
    "mailbox-too-many-items": "archive the oldest items before the migration",
    "too-many-folders": "merge or archive rarely used folders",
    "over-target-quota": "give the target mailbox a larger quota or archive old mail first",
    "public-folder": "move it into a shared mailbox or a document library",
}

#: where what a mailbox cannot hold goes instead (docs/public-folders.md)
LIBRARY_POINTER = (
    "skylift migrate-public-folders copies it into a document library (docs/public-folders.md)"
)

#: where an oversize message's attachments can go instead (docs/oversize.md)
DETACH_POINTER = (
    "or migrate it with --detach-over SIZE --library URL: its large attachments go to a "
    "document library, linked from the message (docs/oversize.md)"
)

LOGIN_REMEDY = (
    "check UserName/Password in the users CSV (or use --source-admin); "
    "the mailbox cannot be migrated until the login works"
)


@dataclass(frozen=True)
class Finding:
    """One thing the target will refuse or that needs a decision before the move."""

    kind: str
    severity: str
    user: str
    folder: str | None
    item: str | None
    detail: str
    remedy: str
    limit: str | None = None
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _finding(
    kind: str,
    user: str,
    detail: str,
    limit: Limit | None = None,
    *,
    folder: str | None = None,
    item: str | None = None,
    remedy: str = "",
    severity: str | None = None,
) -> Finding:
    return Finding(
        kind=kind,
        severity=severity or (limit.severity if limit else "blocker"),
        user=user,
        folder=folder,
        item=item,
        detail=detail,
        remedy=remedy or (limit.remedy if limit else "") or DEFAULT_REMEDIES.get(kind, ""),
        limit=limit.name if limit else None,
        source=limit.cite() if limit else None,
    )


def check_mailbox(
    inventory: MailboxInventory,
    profile: TargetProfile,
    *,
    connections: int = 1,
    include_public: bool = True,
) -> list[Finding]:
    """Return every finding for one mailbox, in a stable order.

    With *include_public* False, public folders are left to the caller, which reports each
    once for the organization instead of once per user who can see it.
    """
    user = inventory.user
    if not inventory.ok:
        kind = {"login": "login-failed", "connect": "connect-failed"}.get(
            inventory.error_kind or "", "read-failed"
        )
        remedy = LOGIN_REMEDY if kind == "login-failed" else "check the server and rerun assess"
        return [_finding(kind, user, inventory.error or kind, remedy=remedy, severity="blocker")]
    findings: list[Finding] = []
    own = inventory.own_folders()
    for folder in inventory.folders:
        if not folder.selectable:
            continue  # a namespace root such as "shared" or "Public"
        if folder.namespace == "shared":
            if include_public:
                findings.append(public_folder_finding(user, folder, profile))
        elif folder.namespace == "other":
            findings.append(
                _finding(
                    "shared-folder",
                    user,
                    f"sees {folder.owner or 'another user'}'s folder {folder.name}",
                    folder=folder.name,
                    severity="info",
                    remedy="migrate both users in the same wave and grant the permission "
                    "again on the target",
                )
            )
        if folder.error:
            findings.append(
                _finding(
                    "folder-unreadable",
                    user,
                    folder.error,
                    folder=folder.name,
                    severity="blocker" if folder.path == ("INBOX",) else "warning",
                    remedy="check the folder on the source; an admin/master login needs read "
                    "rights on the user's folders (Dovecot with ACLs: plugin { acl_user = %u })",
                )
            )
    findings += _check_names(user, own, profile)
    findings += _check_items(user, own, profile)
    findings += _check_counts(inventory, own, profile)
    limit = profile.get("connections_per_mailbox")
    if limit is not None and connections > limit.value:
        findings.append(
            _finding(
                "too-many-connections",
                user,
                f"{connections} connections per mailbox, the target allows {limit.value}",
                limit,
                remedy=f"use at most {limit.value} connections per mailbox",
            )
        )
    return findings


THROTTLE_LIMITS = {
    "target-daily-limit": "ingest_bytes_per_day",
    "target-hourly-bytes": "ingest_bytes_per_hour",
    "target-items-per-hour": "ingest_items_per_hour",
}
THROTTLE_WARN_HOURS = 24.0


def throttle_finding(user: str, estimate: Estimate, profile: TargetProfile) -> Finding | None:
    """A mailbox the target's ingest throttle holds back for more than a day."""
    limit = profile.get(THROTTLE_LIMITS.get(estimate.bound, ""))
    if limit is None or estimate.hours <= THROTTLE_WARN_HOURS:
        return None
    return _finding(
        "ingest-throttled",
        user,
        f"the target's {limit.name} ({limit.value:,}) makes this mailbox take "
        f"{estimate.hours:.1f} h ({estimate.hours / 24:.1f} days)"
        + (
            f"; migrate sends at most that per user per UTC day: {estimate.days} runs on "
            f"{estimate.days} days"
            if estimate.days and estimate.days > 1
            else ""
        ),
        limit,
        severity="warning",
        remedy=f"pre-stage it: start copying at least {estimate.hours:.0f} h before the "
        "cut-over and run a delta pass in the window",
    )


def public_folder_finding(
    user: str, folder: FolderInventory, profile: TargetProfile, seen_by: int = 1
) -> Finding:
    """A public folder: a blocker where the target has none, else migrate it once."""
    limit = profile.get("public_folders")
    supported = limit is None or bool(limit.value)
    return _finding(
        "public-folder",
        user,
        f"public folder {folder.name} ({folder.count} items, {human_bytes(folder.total_bytes)}"
        + (f", visible to {seen_by} users)" if seen_by > 1 else ")")
        + ("" if supported else f"; {profile.title} has no public folders"),
        limit,
        folder=folder.name,
        severity="info" if supported else "blocker",
        remedy="migrate it once, not per user"
        if supported
        else (limit.remedy if limit else "use a shared mailbox or a document library")
        + f"; {LIBRARY_POINTER}",
    )


def _check_names(
    user: str, folders: list[FolderInventory], profile: TargetProfile
) -> list[Finding]:
    found: list[Finding] = []
    depth = profile.get("max_folder_depth")
    name_len = profile.get("max_folder_name_chars")
    path_len = profile.get("max_folder_path_chars")
    forbidden = profile.get("forbidden_chars")
    reserved = profile.get("reserved_names")
    reserved_set = {str(n).lower() for n in (reserved.value if reserved else [])}
    subfolders = profile.get("max_subfolders_per_folder")
    children: Counter[tuple[str, ...]] = Counter(f.path[:-1] for f in folders)
    for folder in folders:
        name = folder.name
        if depth and len(folder.path) > depth.value:
            found.append(
                _finding(
                    "folder-too-deep",
                    user,
                    f"{len(folder.path)} levels deep, the target allows {depth.value}",
                    depth,
                    folder=name,
                )
            )
        if name_len:
            for part in folder.path:
                if len(part) > name_len.value:
                    found.append(
                        _finding(
                            "folder-name-too-long",
                            user,
                            f"name part {part[:40]!r} has {len(part)} characters "
                            f"(max {name_len.value})",
                            name_len,
                            folder=name,
                        )
                    )
        if path_len and len("/".join(folder.path)) > path_len.value:
            found.append(
                _finding(
                    "folder-path-too-long",
                    user,
                    f"path has {len('/'.join(folder.path))} characters (max {path_len.value})",
                    path_len,
                    folder=name,
                )
            )
        if forbidden:
            bad = sorted({c for part in folder.path for c in part if c in forbidden.value})
            if bad:
                found.append(
                    _finding(
                        "folder-name-forbidden-char",
                        user,
                        f"name contains {', '.join(repr(c) for c in bad)}",
                        forbidden,
                        folder=name,
                    )
                )
        if len(folder.path) == 1 and folder.path[0].lower() in reserved_set:
            found.append(
                _finding(
                    "folder-name-reserved",
                    user,
                    f"{folder.path[0]!r} is a reserved name on the target",
                    reserved,
                    folder=name,
                )
            )
        if subfolders and children[folder.path] > subfolders.value:
            found.append(
                _finding(
                    "too-many-subfolders",
                    user,
                    f"{children[folder.path]} subfolders (max {subfolders.value})",
                    subfolders,
                    folder=name,
                )
            )
    case = profile.get("case_insensitive_names")
    if case and case.value:
        groups: dict[tuple[str, ...], list[str]] = {}
        for folder in folders:
            key = tuple(part.casefold() for part in folder.path)
            groups.setdefault(key, []).append(folder.name)
        for names in groups.values():
            if len(names) > 1:
                found.append(
                    _finding(
                        "folder-name-collision",
                        user,
                        "names differ only in letter case: " + ", ".join(sorted(names)),
                        case,
                        folder=sorted(names)[1],
                    )
                )
    return found


def _check_items(
    user: str, folders: list[FolderInventory], profile: TargetProfile
) -> list[Finding]:
    limit = profile.get("max_item_bytes")
    if limit is None:
        return []
    found: list[Finding] = []
    over = 0
    raisable = limit.configurable_to
    for folder in folders:
        for item in folder.large_items:
            if item.size <= limit.value:
                continue
            over += 1
            if over > ITEM_FINDINGS_PER_USER:
                continue
            date = item.date.date().isoformat() if item.date else "no date"
            remedy = limit.remedy
            if raisable and item.size > raisable:
                remedy = (
                    f"larger than the target's maximum of {human_bytes(raisable)}: save the "
                    "attachment elsewhere and shrink or delete the message"
                )
            remedy = f"{remedy}; {DETACH_POINTER}" if remedy else DETACH_POINTER
            found.append(
                _finding(
                    "item-too-large",
                    user,
                    f"{human_bytes(item.size)} > {human_bytes(limit.value)}",
                    limit,
                    folder=folder.name,
                    item=f"uid {item.uid} ({human_bytes(item.size)}, {date})",
                    remedy=remedy,
                )
            )
        over += folder.large_items_more
    if over > ITEM_FINDINGS_PER_USER:
        found.append(
            _finding(
                "item-too-large",
                user,
                f"{over - ITEM_FINDINGS_PER_USER} more items over {human_bytes(limit.value)} "
                "not listed one by one",
                limit,
            )
        )
    return found


def _check_counts(
    inventory: MailboxInventory, folders: list[FolderInventory], profile: TargetProfile
) -> list[Finding]:
    user = inventory.user
    found: list[Finding] = []
    per_folder = profile.get("max_items_per_folder")
    if per_folder:
        for folder in folders:
            if folder.count > per_folder.value:
                found.append(
                    _finding(
                        "folder-too-many-items",
                        user,
                        f"{folder.count} items (max {per_folder.value})",
                        per_folder,
                        folder=folder.name,
                    )
                )
    per_mailbox = profile.get("max_items_per_mailbox")
    if per_mailbox and inventory.count > per_mailbox.value:
        found.append(
            _finding(
                "mailbox-too-many-items",
                user,
                f"{inventory.count} items (max {per_mailbox.value}); "
                f"{inventory.count - per_mailbox.value} would be left behind",
                per_mailbox,
            )
        )
    max_folders = profile.get("max_folders_per_mailbox")
    if max_folders and len(folders) > max_folders.value:
        found.append(
            _finding(
                "too-many-folders",
                user,
                f"{len(folders)} folders (max {max_folders.value})",
                max_folders,
            )
        )
    quota = profile.get("mailbox_quota_bytes")
    if quota and inventory.total_bytes > quota.value:
        found.append(
            _finding(
                "over-target-quota",
                user,
                f"{human_bytes(inventory.total_bytes)} of mail, the target mailbox holds "
                f"{human_bytes(quota.value)}",
                quota,
            )
        )
    used, limit_bytes = inventory.quota_used, inventory.quota_limit
    if limit_bytes and used is not None and used >= 0.9 * limit_bytes:
        found.append(
            _finding(
                "source-quota-nearly-full",
                user,
                f"source quota {human_bytes(used)} of {human_bytes(limit_bytes)} used",
                severity="info",
                remedy="new mail may bounce on the source before cut-over; raise its quota",
            )
        )
    return found
