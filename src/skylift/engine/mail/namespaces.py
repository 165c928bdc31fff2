"""What a run says about namespaces and refused folders, so a user can act on it.

Connectors map folder names relative to the personal namespace (RFC 2342); here the engine
turns what they found into report lines: folders outside the user's own tree (left to the
public-folders work), the prefixes that were mapped, and a ``--map-folder`` a user can paste
when the target refuses a name.
"""

from __future__ import annotations

import contextlib
import re

from skylift.connectors.mail.base import MailSource, Namespace
from skylift.engine.mail.report import MailboxReport
from skylift.errors import FolderNotFound
from skylift.model.mail import Folder

_KINDS = {"shared": "a shared (public) folder", "other": "another user's folder"}


def left_out_reason(folder: Folder, namespaces: list[Namespace]) -> str:
    """Why *folder* (listed outside the personal namespace) is not migrated."""
    name = folder.display("/")
    best: Namespace | None = None
    for ns in namespaces:
        if ns.kind == "personal":
            continue
        prefix = ns.path()
        if folder.path[: len(prefix)] == prefix and (
            best is None or len(prefix) > len(best.path())
        ):
            best = ns
    kind = _KINDS.get(best.kind if best else "shared", "a shared folder")
    where = f" (namespace prefix '{best.prefix}')" if best and best.prefix else ""
    return f"'{name}': {kind}{where}, not part of this mailbox; left to the public-folders work"


def personal_prefix_note(side: str, namespaces: list[Namespace]) -> str | None:
    """A line saying folders were mapped relative to a non-empty personal prefix."""
    for ns in namespaces:
        if ns.kind == "personal" and ns.prefix and ns.prefix.upper() not in ("INBOX",):
            return (
                f"the {side}'s personal folders live under '{ns.prefix}' (separator "
                f"'{ns.separator}'): folders are mapped relative to that prefix"
            )
    return None


def suggest_name(name: str) -> str:
    """A plainer name to offer in ``--map-folder`` for one the target refused."""
    parts = []
    for part in name.split("/"):
        plain = re.sub(r"\s+", " ", re.sub(r"[^\w \-]", " ", part)).strip()
        parts.append(plain or "Folder")
    suggestion = "/".join(parts)
    return suggestion if suggestion != name else "/".join(f"{p}_" for p in parts)


def refused_reason(source_name: str, words: str, count: int | None) -> str:
    """The report line for a folder the target would not create."""
    lost = f"{count} message(s) not copied; " if count else ""
    return (
        f"{words}; {lost}choose a name the target accepts with "
        f"--map-folder '{source_name}={suggest_name(source_name)}'"
    )


def report_namespaces(report: MailboxReport, source: MailSource, target: MailSource) -> None:
    """Note the personal prefixes that were mapped and the listed folders that are not the
    user's own (once per mailbox, also when the runner retries it)."""
    if report.notes or report.left_out:
        return
    for side, box in (("source", source), ("target", target)):
        note = personal_prefix_note(side, box.namespaces())
        if note:
            report.notes.append(note)
    foreign = [f for f in source.shared_folders() if f.selectable]
    if foreign:
        spaces = source.namespaces()
        report.left_out = [left_out_reason(f, spaces) for f in foreign]


def message_count(source: MailSource, folder: Folder) -> int | None:
    """How many messages *folder* holds, for a report; None when it cannot be told."""
    if not folder.selectable:
        return None
    with contextlib.suppress(FolderNotFound):
        return source.select(folder).count
    return None
