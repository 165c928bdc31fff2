"""What ``skylift assess`` asks an IMAP server beyond the mailbox: quota, NAMESPACE, the
shared and other users' folders this login sees, and their ACLs.

A mixin of :class:`ImapMailbox`; an inventory question the server cannot answer gives an
empty answer, never a failed assessment.
"""

from __future__ import annotations

from typing import Any

import imapclient
from imapclient.exceptions import IMAPClientError

from skylift.connectors.mail.base import Namespace
from skylift.connectors.mail.imap.session import text_of as _text
from skylift.model.mail import Folder


class InventoryMixin:
    """Read-only questions; the session attributes are set by ImapMailbox."""

    client: imapclient.IMAPClient
    _foreign: list[Folder] | None

    def name_of(self, folder: Folder) -> str:
        raise NotImplementedError

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def folders(self) -> list[Folder]:
        raise NotImplementedError

    def quota(self) -> tuple[int, int] | None:
        if b"QUOTA" not in self.client.capabilities():
            return None
        try:
            _, quotas = self._call(self.client.get_quota_root, "INBOX")
        except IMAPClientError:
            return None
        for q in quotas:
            if q.resource.upper() == "STORAGE":
                return int(q.usage) * 1024, int(q.limit) * 1024
        return None

    def namespaces(self) -> list[Namespace]:
        try:
            found = self._call(self.client.namespace)
        except IMAPClientError:
            return []
        out: list[Namespace] = []
        for kind, entries in (
            ("personal", found.personal),
            ("other", found.other),
            ("shared", found.shared),
        ):
            for prefix, sep in entries or ():
                out.append(Namespace(kind, _text(prefix), _text(sep) if sep else None))
        return out

    def shared_folders(self) -> list[Folder]:
        """Listed folders outside the personal namespace (full server paths)."""
        if self._foreign is None:
            self.folders()
        return list(self._foreign or [])

    def folder_acl(self, folder: Folder) -> dict[str, str]:
        if b"ACL" not in self.client.capabilities():
            return {}
        try:
            entries = self._call(self.client.getacl, self.name_of(folder))
        except IMAPClientError:
            return {}
        return {_text(who): _text(rights) for who, rights in entries}
