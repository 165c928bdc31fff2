"""The in-memory reference DAV server: what the contract means, with nothing in the way.

Every account opened on one :class:`MemoryDavServer` sees the same homes, so a test can
write with one and read with another, like two sessions on a real server. It keeps what a
CalDAV/CardDAV server keeps for the engine: each object's bytes exactly as put, a fresh ETag
on every write, a sync token per collection with the changes since each older token
(RFC 6578), conditional writes (create-only, If-Match), and a size limit a too-big object is
refused by (``max_resource_size``, declared in the capabilities). It is the fast engine
tests' peer and the first connector of the conformance suite (vdirsyncer's
``MemoryStorage`` plays the same part there).
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from urllib.parse import quote

from skylift.connectors.dav.base import Changes, DavCapabilities, DavTarget, description_name
from skylift.model.dav import CALENDAR_COMPONENTS, Collection, DavKind, Item, ItemRef, PutResult


@dataclass
class _Home:
    """One collection: its description, its objects (href -> bytes, ETag), its change log."""

    collection: Collection
    objects: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)  # hrefs in the order they changed

    @property
    def token(self) -> str:
        return f"memory-sync-{self.collection.href}-{len(self.log)}"


class MemoryDavServer:
    """Homes of calendars and address books by (user, kind), shared by its accounts."""

    def __init__(self, max_resource_size: int | None = None) -> None:
        self.capabilities = DavCapabilities(
            sync_collection=True, writes=True, properties=True, max_resource_size=max_resource_size
        )
        self.homes: dict[tuple[str, DavKind], dict[str, _Home]] = {}
        self.lock = threading.Lock()
        self._etags = itertools.count(1)

    def account(self, user: str, kind: DavKind) -> MemoryDavAccount:
        """One user's home of *kind*, as a source or a target."""
        return MemoryDavAccount(self, user, kind)

    def next_etag(self, raw: bytes) -> str:
        return f'"{next(self._etags)}-{hashlib.sha256(raw).hexdigest()[:12]}"'


class MemoryDavAccount(DavTarget):
    """One user's calendars (or address books) on a :class:`MemoryDavServer`."""

    def __init__(self, server: MemoryDavServer, user: str, kind: DavKind) -> None:
        self.server = server
        self.user = user
        self.kind = kind
        self.capabilities = server.capabilities
        self.base = (
            f"/{quote(user, safe='@')}/{'calendars' if kind is DavKind.CALENDAR else 'contacts'}/"
        )

    @property
    def _homes(self) -> dict[str, _Home]:
        return self.server.homes.setdefault((self.user, self.kind), {})

    def _home(self, collection: Collection) -> _Home | None:
        return next((h for h in self._homes.values() if h.collection.href == collection.href), None)

    def _home_of(self, href: str) -> tuple[_Home | None, str]:
        folder = href.rpartition("/")[0] + "/"
        return next((h for h in self._homes.values() if h.collection.href == folder), None), href

    # -- reading ---------------------------------------------------------------------------

    def collections(self) -> list[Collection]:
        with self.server.lock:
            return [replace(h.collection, sync_token=h.token) for h in self._homes.values()]

    def list_items(self, collection: Collection) -> list[ItemRef]:
        with self.server.lock:
            home = self._home(collection)
            if home is None:
                return []
            return [ItemRef(href, etag) for href, (_, etag) in home.objects.items()]

    def fetch(self, collection: Collection, hrefs: Sequence[str]) -> Iterator[Item]:
        with self.server.lock:
            home = self._home(collection)
            stored = home.objects if home is not None else {}
            found = [(href, *stored[href]) for href in hrefs if href in stored]
        for href, raw, etag in found:
            yield Item(self.kind, href, raw, etag=etag)

    def marker(self, collection: Collection) -> str | None:
        with self.server.lock:
            home = self._home(collection)
            return home.token if home is not None else None

    def changes_since(self, collection: Collection, sync_token: str) -> Changes | None:
        with self.server.lock:
            home = self._home(collection)
            prefix = f"memory-sync-{collection.href}-"
            if home is None or not sync_token.startswith(prefix):
                return None
            seen = sync_token[len(prefix) :]
            if not seen.isdigit() or int(seen) > len(home.log):
                return None
            touched = list(dict.fromkeys(home.log[int(seen) :]))
            changed = [ItemRef(h, home.objects[h][1]) for h in touched if h in home.objects]
            removed = [h for h in touched if h not in home.objects]
            return changed, removed, home.token

    # -- writing ---------------------------------------------------------------------------

    def make_collection(self, spec: Collection) -> tuple[Collection, list[str], list[str]]:
        href = self.base + quote(spec.name, safe="") + "/"
        with self.server.lock:
            if spec.name in self._homes:
                return self._homes[spec.name].collection, [], []
            components: frozenset[str] = frozenset()
            if self.kind is DavKind.CALENDAR:
                components = spec.components or CALENDAR_COMPONENTS
            made = Collection(
                kind=self.kind,
                name=spec.name,
                display_name=spec.display_name,
                color=spec.color if self.kind is DavKind.CALENDAR else "",
                description=spec.description,
                components=components,
                href=href,
                data_versions=frozenset({"3.0", "4.0"})
                if self.kind is DavKind.ADDRESSBOOK
                else frozenset(),
            )
            self._homes[spec.name] = _Home(made)
            return made, [], []

    def set_properties(self, href: str, values: Mapping[str, str], why: str = "") -> list[str]:
        fields = {"displayname": "display_name", description_name(self.kind): "description"}
        if self.kind is DavKind.CALENDAR:
            fields["calendar-color"] = "color"
        problems = []
        with self.server.lock:
            home = next((h for h in self._homes.values() if h.collection.href == href), None)
            for name, value in values.items():
                if home is None:
                    problems.append(f"property {name} not set ({why}no collection at {href})")
                elif name not in fields:
                    problems.append(f"property {name} not set ({why}not a {self.kind} property)")
                else:
                    home.collection = replace(home.collection, **{fields[name]: value})  # type: ignore[arg-type]
        return problems

    def item_href(self, collection: Collection, name: str) -> str:
        return collection.href.rstrip("/") + "/" + quote(name, safe="")

    def put(
        self,
        collection: Collection,
        name: str,
        raw: bytes,
        etag: str | None = None,
        href: str | None = None,
    ) -> PutResult:
        href = href or self.item_href(collection, name)
        with self.server.lock:
            home = self._home(collection)
            if home is None:
                return PutResult(href, error=f"no collection at {collection.href}")
            limit = home.collection.max_resource_size or self.capabilities.max_resource_size
            if limit and len(raw) > limit:
                return PutResult(
                    href, error=f"{len(raw)} bytes is more than this collection takes ({limit})"
                )
            current = home.objects.get(href)
            if etag is None and current is not None:
                return PutResult(href, conflict=True, error="an object exists at that name")
            if etag is not None and (current is None or current[1] != etag):
                return PutResult(href, conflict=True, error="changed meanwhile (ETag differs)")
            new_etag = self.server.next_etag(raw)
            home.objects[href] = (bytes(raw), new_etag)
            home.log.append(href)
            return PutResult(href, etag=new_etag)

    def get(self, href: str) -> Item | None:
        with self.server.lock:
            home, _ = self._home_of(href)
            if home is None or href not in home.objects:
                return None
            raw, etag = home.objects[href]
            return Item(self.kind, href, raw, etag=etag)

    def delete(self, href: str, etag: str | None = None) -> str | None:
        with self.server.lock:
            home, _ = self._home_of(href)
            if home is None or href not in home.objects:
                return None
            if etag is not None and home.objects[href][1] != etag:
                return "changed on the target meanwhile; left in place"
            del home.objects[href]
            home.log.append(href)
            return None

    def __enter__(self) -> MemoryDavAccount:
        return self
