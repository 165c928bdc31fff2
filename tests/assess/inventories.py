"""Generated inventories for the engine tests: plain data, no server."""

from __future__ import annotations

from datetime import UTC, datetime

from skylift.engine.assess.inventory import FolderInventory, MailboxInventory
from skylift.model.mail import MessageRef

MB = 1024 * 1024


def folder(
    path: str, sizes: list[int] = (), *, large_floor: int | None = 0, **kw
) -> FolderInventory:
    entry = FolderInventory(path=tuple(path.split("/")), **kw)
    for n, size in enumerate(sizes, start=1):
        date = datetime(2020, 1, min(n, 28), tzinfo=UTC)
        entry.add(MessageRef(uid=str(n), size=size, internaldate=date), large_floor)
    return entry


def mailbox(user: str, *folders: FolderInventory, **kw) -> MailboxInventory:
    return MailboxInventory(user=user, login=user.split("@")[0], folders=list(folders), **kw)
