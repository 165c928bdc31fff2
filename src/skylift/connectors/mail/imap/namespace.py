"""IMAP NAMESPACE (RFC 2342): between a server's folder names and the user's folder paths.

Servers file a user's folders differently: Dovecot and most hosted suites at the top level,
Cyrus as Debian ships it and Courier under the personal prefix ``INBOX.``. The engine sees
paths relative to the personal prefix only, so ``INBOX.Sent`` on one side is ``Sent`` on the
other, and a special-use flag below the prefix counts like one at the top. Names in another
user's or the shared namespace are not the user's folders: they are set apart (and reported),
never flattened into the user's tree; on a server whose personal prefix is empty, their
top-level names are reserved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from skylift.connectors.mail.base import Namespace


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class NamespaceMap:
    """The personal prefix (raw, with its separator) and the other namespaces."""

    separator: str
    personal: str = ""
    foreign: tuple[Namespace, ...] = ()

    @classmethod
    def from_response(cls, response: Any) -> NamespaceMap:
        """Build from imapclient's ``namespace()`` answer (personal, other, shared); an empty
        *separator* means the server named none."""
        personal = list(response.personal or ())
        separator = _text(personal[0][1]) if personal and personal[0][1] else ""
        prefix = _text(personal[0][0]) if personal else ""
        foreign = tuple(
            Namespace(kind, _text(p), _text(s) if s else None)
            for kind, entries in (("other", response.other), ("shared", response.shared))
            for p, s in entries or ()
        )
        return cls(separator, prefix, foreign)

    @property
    def prefix_path(self) -> tuple[str, ...]:
        return tuple(p for p in self.personal.split(self.separator) if p)

    def to_name(self, path: tuple[str, ...]) -> str:
        """The server's name of the user's folder *path*."""
        if len(path) == 1 and path[0].upper() == "INBOX":
            return "INBOX"
        return self.personal + self.separator.join(path)

    def to_path(self, name: str, separator: str | None = None) -> tuple[str, ...] | None:
        """The user's path of server name *name*; None when it lies outside the personal
        namespace (another user's or a shared folder)."""
        if name.upper() == "INBOX":
            return ("INBOX",)
        if self.namespace_of(name) is not None:
            return None
        sep = separator or self.separator
        if self.personal:
            if not _starts(name + sep, self.personal):
                return None
            name = name[len(self.personal) :]
        return tuple(name.split(sep)) if sep else (name,)

    def namespace_of(self, name: str) -> Namespace | None:
        """The other-users or shared namespace *name* belongs to, if it is not personal."""
        best: Namespace | None = None
        for ns in self.foreign:
            if _starts(name + (ns.separator or ""), ns.prefix) and (
                best is None or len(ns.prefix) > len(best.prefix)
            ):
                best = ns
        if best is None:
            return None
        mine = _starts(name + self.separator, self.personal) or name.upper() == "INBOX"
        if self.personal and len(self.personal) >= len(best.prefix) and mine:
            return None  # the longer personal prefix wins (Cyrus: "INBOX." over "")
        return best

    def reserved(self) -> frozenset[str]:
        """Top-level folder names the user cannot have: other namespaces' prefixes that
        share the personal namespace's level (e.g. ``Shared Folders``, ``Other Users``)."""
        out = set()
        for ns in self.foreign:
            if ns.prefix and _starts(ns.prefix, self.personal):
                first = ns.prefix[len(self.personal) :].split(ns.separator or self.separator)[0]
                if first:
                    out.add(first)
        return frozenset(out)


def _starts(name: str, prefix: str) -> bool:
    """Prefix test where the INBOX part compares case-insensitively (RFC 3501)."""
    if prefix[:5].upper() == "INBOX":
        return name[:5].upper() == "INBOX" and name[5:].startswith(prefix[5:])
    return name.startswith(prefix)
