"""Read-only vCard file source: one ``.vcf`` file, or a folder of them.

A file is one address book; a folder holds one address book per ``.vcf`` file plus one per
sub-folder of single-card files. Cards are split on BEGIN/END:VCARD nesting only, so each
card keeps its exact bytes (vCard 2.1 QUOTED-PRINTABLE and CHARSET included); conversion to
what a CardDAV target takes is the engine's job. Text outside any card is one error item.
"""

from __future__ import annotations

import hashlib

from skylift.connectors.dav.ics_files import (
    IcsFileConnector,
    IcsFileSource,
    property_name,
    unfold,
)
from skylift.model.account import Login
from skylift.model.dav import Collection, DavKind, Item


def split_vcards(raw: bytes) -> tuple[list[bytes], list[str]]:
    """Return the cards of a vCard stream (bytes each, CRLF) and the problems found."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    cards: list[bytes] = []
    errors: list[str] = []
    current: list[bytes] = []
    depth = 0
    stray_from: tuple[int, int] | None = None
    for number, line in enumerate(raw.replace(b"\r\n", b"\n").split(b"\n"), start=1):
        upper = line.strip().upper()
        if upper.startswith(b"BEGIN:VCARD"):
            depth += 1
        if depth:
            current.append(line.rstrip(b"\r"))
        elif upper and stray_from and stray_from[1] == number - 1:
            stray_from = (stray_from[0], number)  # one report per run of stray lines
            errors[-1] = f"lines {stray_from[0]}-{number}: text outside any vCard"
        elif upper:
            stray_from = (number, number)
            errors.append(f"line {number}: text outside any vCard: {line[:60]!r}")
        if upper.startswith(b"END:VCARD") and depth:
            depth -= 1
            if depth == 0:
                cards.append(b"\r\n".join(line for line in current if line.strip()) + b"\r\n")
                current = []
    if depth:
        errors.append("the last vCard is not closed (truncated file?)")
    return cards, errors


def card_uid(card: bytes) -> str | None:
    """The UID of a card (top level only), or None."""
    lines = unfold(card.decode("utf-8", errors="replace").split("\r\n"))
    depth = 0
    for line in lines:
        upper = line.upper()
        if upper.startswith("BEGIN:"):
            depth += 1
        elif upper.startswith("END:"):
            depth -= 1
        elif depth == 1 and property_name(line).rpartition(".")[2] == "UID" and ":" in line:
            return line.split(":", 1)[1].strip() or None
    return None


class VcfFileSource(IcsFileSource):
    """Address books from ``.vcf`` files; *path* may name a file or a folder."""

    kind = DavKind.ADDRESSBOOK
    suffix = ".vcf"

    def collections(self) -> list[Collection]:
        return [
            Collection(kind=self.kind, name=name, display_name=name, href=name)
            for name in self._sources()
        ]

    def _items(self, collection: Collection) -> dict[str, Item]:
        if collection.name not in self._cache:
            items: dict[str, Item] = {}
            for path in self._sources().get(collection.name, []):
                cards, errors = split_vcards(path.read_bytes())
                for card in cards:
                    uid = card_uid(card)
                    etag = hashlib.sha256(card).hexdigest()[:32]
                    href = f"{path.name}#{uid or 'sha-' + etag[:24]}"
                    items[href] = Item(self.kind, href, card, uid, etag)
                for number, error in enumerate(errors):
                    href = f"{path.name}#error{number}"
                    items[href] = Item(self.kind, href, b"", None, None, f"{path.name}: {error}")
            self._cache[collection.name] = items
        return self._cache[collection.name]

    def __enter__(self) -> VcfFileSource:
        return self


class VcfFileConnector(IcsFileConnector):
    """``vcf:///path`` (``{user}`` in the path is each account's user): a source only."""

    def open_source(self, login: Login) -> VcfFileSource:
        return VcfFileSource(self.path(login))
