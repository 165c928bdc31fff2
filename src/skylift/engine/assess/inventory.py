"""Walk one mailbox read-only and describe it: folders, counts, sizes, dates, quota, sharing.

Only listings are read (sizes, flags, dates from the server's index), never a body, so an
inventory costs a fraction of a migration and cannot mark anything \\Seen. Per-item detail
is kept only for items above a size floor (the target's limit) and capped per folder, so a
mailbox of a million messages needs the same memory as one of ten.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from skylift.connectors.mail.base import MailSource, Namespace
from skylift.errors import FolderNotFound
from skylift.model.mail import Folder, MessageRef

# Upper bounds (bytes) of the item-size histogram buckets; the last bucket is open.
SIZE_BUCKET_BOUNDS = (
    10 * 1024,
    100 * 1024,
    1024**2,
    10 * 1024**2,
    25 * 1024**2,
    35 * 1024**2,
    150 * 1024**2,
)
SIZE_BUCKET_LABELS = (
    "<10 KiB",
    "10-100 KiB",
    "100 KiB-1 MiB",
    "1-10 MiB",
    "10-25 MiB",
    "25-35 MiB",
    "35-150 MiB",
    ">150 MiB",
)
LARGE_ITEMS_PER_FOLDER = 200


def size_bucket(size: int) -> int:
    """Index of the histogram bucket *size* falls in."""
    for index, bound in enumerate(SIZE_BUCKET_BOUNDS):
        if size < bound:
            return index
    return len(SIZE_BUCKET_BOUNDS)


@dataclass
class LargeItem:
    """One message above the size floor: enough to find it again and name it in a report."""

    uid: str
    size: int
    date: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"uid": self.uid, "size": self.size, "date": _iso(self.date)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LargeItem:
        return cls(str(data["uid"]), int(data["size"]), _parse_dt(data.get("date")))


@dataclass
class FolderInventory:
    """What one folder holds. *namespace* is personal, other (another user's) or shared."""

    path: tuple[str, ...]
    separator: str = "/"
    role: str | None = None
    selectable: bool = True
    namespace: str = "personal"
    owner: str | None = None
    count: int = 0
    total_bytes: int = 0
    largest_bytes: int = 0
    oldest: datetime | None = None
    newest: datetime | None = None
    histogram: list[int] = field(default_factory=lambda: [0] * len(SIZE_BUCKET_LABELS))
    large_items: list[LargeItem] = field(default_factory=list)
    large_items_more: int = 0
    acl: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    @property
    def name(self) -> str:
        return self.separator.join(self.path)

    def add(self, ref: MessageRef, large_item_bytes: int | None) -> None:
        """Count one listed message."""
        self.count += 1
        self.total_bytes += ref.size
        self.largest_bytes = max(self.largest_bytes, ref.size)
        self.histogram[size_bucket(ref.size)] += 1
        date = ref.internaldate
        if date is not None:
            if self.oldest is None or date < self.oldest:
                self.oldest = date
            if self.newest is None or date > self.newest:
                self.newest = date
        if large_item_bytes is not None and ref.size > large_item_bytes:
            if len(self.large_items) < LARGE_ITEMS_PER_FOLDER:
                self.large_items.append(LargeItem(ref.uid, ref.size, date))
            else:
                self.large_items_more += 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": list(self.path),
            "name": self.name,
            "separator": self.separator,
            "role": self.role,
            "selectable": self.selectable,
            "namespace": self.namespace,
            "owner": self.owner,
            "count": self.count,
            "bytes": self.total_bytes,
            "largest": self.largest_bytes,
            "oldest": _iso(self.oldest),
            "newest": _iso(self.newest),
            "histogram": list(self.histogram),
            "large_items": [item.to_dict() for item in self.large_items],
            "large_items_more": self.large_items_more,
            "acl": dict(self.acl),
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FolderInventory:
        return cls(
            path=tuple(data["path"]),
            separator=data.get("separator") or "/",
            role=data.get("role"),
            selectable=bool(data.get("selectable", True)),
            namespace=data.get("namespace", "personal"),
            owner=data.get("owner"),
            count=int(data.get("count", 0)),
            total_bytes=int(data.get("bytes", 0)),
            largest_bytes=int(data.get("largest", 0)),
            oldest=_parse_dt(data.get("oldest")),
            newest=_parse_dt(data.get("newest")),
            histogram=list(data.get("histogram") or [0] * len(SIZE_BUCKET_LABELS)),
            large_items=[LargeItem.from_dict(d) for d in data.get("large_items", [])],
            large_items_more=int(data.get("large_items_more", 0)),
            acl=dict(data.get("acl") or {}),
            error=data.get("error"),
        )


@dataclass
class MailboxInventory:
    """One user's mailbox as the source shows it, or why it could not be read.

    *error_kind* is "login" (credentials refused), "connect" or "read"; a failed mailbox is
    a finding in the assessment, not a crash of the run.
    """

    user: str
    login: str
    folders: list[FolderInventory] = field(default_factory=list)
    namespaces: list[Namespace] = field(default_factory=list)
    quota_used: int | None = None
    quota_limit: int | None = None
    error: str | None = None
    error_kind: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    def own_folders(self) -> list[FolderInventory]:
        """Folders this user owns (personal namespace): what a migration copies."""
        return [f for f in self.folders if f.namespace == "personal"]

    @property
    def total_bytes(self) -> int:
        return sum(f.total_bytes for f in self.own_folders())

    @property
    def count(self) -> int:
        return sum(f.count for f in self.own_folders())

    @property
    def largest_bytes(self) -> int:
        return max((f.largest_bytes for f in self.own_folders()), default=0)

    @property
    def oldest(self) -> datetime | None:
        dates = [f.oldest for f in self.own_folders() if f.oldest is not None]
        return min(dates) if dates else None

    @property
    def newest(self) -> datetime | None:
        dates = [f.newest for f in self.own_folders() if f.newest is not None]
        return max(dates) if dates else None

    def histogram(self) -> list[int]:
        total = [0] * len(SIZE_BUCKET_LABELS)
        for folder in self.own_folders():
            for index, value in enumerate(folder.histogram):
                total[index] += value
        return total

    def shares_with(self) -> list[str]:
        """Logins this mailbox shares folders with: owners of folders it sees in other
        users' namespace, and identifiers granted rights on its own folders (ACL)."""
        names: set[str] = set()
        for folder in self.folders:
            if folder.namespace == "other" and folder.owner:
                names.add(folder.owner)
            for ident in folder.acl:
                if ident not in {"owner", "anyone", "authenticated"} and not ident.startswith(
                    ("$", "-")
                ):
                    names.add(ident)
        names.discard(self.login)
        return sorted(names)

    def to_dict(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "login": self.login,
            "error": self.error,
            "error_kind": self.error_kind,
            "seconds": round(self.seconds, 3),
            "quota": {"used": self.quota_used, "limit": self.quota_limit},
            "namespaces": [
                {"kind": n.kind, "prefix": n.prefix, "separator": n.separator}
                for n in self.namespaces
            ],
            "folders": [f.to_dict() for f in self.folders],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MailboxInventory:
        quota = data.get("quota") or {}
        return cls(
            user=data["user"],
            login=data.get("login", data["user"]),
            folders=[FolderInventory.from_dict(f) for f in data.get("folders", [])],
            namespaces=[
                Namespace(n["kind"], n["prefix"], n.get("separator"))
                for n in data.get("namespaces", [])
            ],
            quota_used=quota.get("used"),
            quota_limit=quota.get("limit"),
            error=data.get("error"),
            error_kind=data.get("error_kind"),
            seconds=float(data.get("seconds", 0.0)),
        )


def classify(folder: Folder, namespaces: list[Namespace]) -> tuple[str, str | None]:
    """Return (namespace kind, owner) of *folder* by its longest matching namespace prefix."""
    best: Namespace | None = None
    for ns in namespaces:
        prefix = ns.path()
        matches = bool(prefix) and folder.path[: len(prefix)] == prefix
        if matches and (best is None or len(prefix) > len(best.path())):
            best = ns
    if best is None or best.kind == "personal":
        return "personal", None
    rest = folder.path[len(best.path()) :]
    owner = rest[0] if best.kind == "other" and rest else None
    return best.kind, owner


def take_inventory(
    source: MailSource,
    user: str,
    login: str,
    *,
    large_item_bytes: int | None = None,
) -> MailboxInventory:
    """List every folder of *source* (read-only) and count what it holds.

    Messages larger than *large_item_bytes* are remembered one by one (the target's limit),
    so the assessment can name them. A folder that vanished meanwhile gets an error entry.
    """
    started = time.monotonic()
    separator = source.capabilities.separator or "/"
    namespaces = source.namespaces()
    seen: set[tuple[str, ...]] = set()
    folders: list[Folder] = []
    for folder in [*source.folders(), *source.shared_folders()]:
        if folder.path not in seen:
            seen.add(folder.path)
            folders.append(folder)
    inventory = MailboxInventory(user=user, login=login, namespaces=namespaces)
    for folder in folders:
        kind, owner = classify(folder, namespaces)
        entry = FolderInventory(
            path=folder.path,
            separator=separator,
            role=folder.role,
            selectable=folder.selectable,
            namespace=kind,
            owner=owner,
        )
        inventory.folders.append(entry)
        if not folder.selectable:
            continue
        try:
            source.select(folder)
            for ref in source.list_messages(folder):
                entry.add(ref, large_item_bytes)
        except FolderNotFound as exc:
            entry.error = str(exc)
            continue
        if kind == "personal":
            entry.acl = source.folder_acl(folder)
    quota = source.quota()
    if quota is not None:
        inventory.quota_used, inventory.quota_limit = quota
    inventory.seconds = time.monotonic() - started
    return inventory


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse_dt(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value))
