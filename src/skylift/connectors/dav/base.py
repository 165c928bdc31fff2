"""The contract every calendar/contacts connector meets: DavSource, DavTarget, DavCapabilities.

A migration reads collections and their objects from a :class:`DavSource` (a CalDAV or
CardDAV account, a folder of ``.ics``/``.vcf`` files, the in-memory reference) and writes
them to a :class:`DavTarget`. What a connector can do beyond the core calls is *declared*
in :class:`DavCapabilities`, after rclone's ``Features`` and the mail contract's
``Capabilities``: the engine reads the flags instead of asking ``isinstance``, and an
optional call a connector does not offer raises ``NotImplementedError`` (vdirsyncer's
habit), never a quiet fallback.

Collection properties travel by their WebDAV local name (``displayname``,
``calendar-color``, ``calendar-description``, ``addressbook-description``), so the engine
compares and repairs them without knowing a namespace; each connector maps the names to
what it stores.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from skylift.connectors.endpoint import Endpoint
from skylift.model.account import Login
from skylift.model.dav import Collection, DavKind, Item, ItemRef, PutResult


@dataclass(frozen=True)
class DavCapabilities:
    """What a DAV connector can do; each field is read by the engine or a runner.

    *sync_collection*: :meth:`DavSource.changes_since` answers from a sync token (RFC 6578),
    so a rerun lists only what changed. *writes*: it can be a target (file sources cannot).
    *properties*: :meth:`DavTarget.set_properties` can change a collection's text
    properties after creation (PROPPATCH). *max_resource_size*: the largest object, in
    bytes, it takes in any collection (None: no limit of its own; a collection may still
    announce one in ``Collection.max_resource_size``). *components*: the only calendar
    components any collection it makes can hold (empty: what the source's asks for), so a
    preview names what will be refused before a collection exists (Google: VEVENT only).
    *rebuilds*: the target keeps no iCalendar or vCard text but rebuilds each object from its
    own fields (a cloud API), so ``verify`` compares what a user sees (instants and titles;
    names, addresses and numbers) rather than zone names and property spellings.
    """

    sync_collection: bool = False
    writes: bool = False
    properties: bool = False
    max_resource_size: int | None = None
    components: frozenset[str] = frozenset()
    rebuilds: bool = False


Changes = tuple[list[ItemRef], list[str], str]
"""What :meth:`DavSource.changes_since` answers: (changed refs, removed hrefs, new token)."""


class DavSource(ABC):
    """Where a migration reads calendars or address books from; read-only by construction."""

    capabilities: DavCapabilities = DavCapabilities()
    kind: DavKind

    @abstractmethod
    def collections(self) -> list[Collection]:
        """Every calendar (or address book) of the account."""

    @abstractmethod
    def list_items(self, collection: Collection) -> list[ItemRef]:
        """Every object of *collection* with its ETag, without content."""

    @abstractmethod
    def fetch(self, collection: Collection, hrefs: Sequence[str]) -> Iterator[Item]:
        """The objects at *hrefs* with their bytes as stored; vanished ones are left out."""

    @abstractmethod
    def marker(self, collection: Collection) -> str | None:
        """The collection's change marker (sync token or ctag); None when it has none.

        Equal markers mean nothing changed; any write changes it.
        """

    def changes_since(self, collection: Collection, sync_token: str) -> Changes | None:
        """Objects changed and hrefs removed since *sync_token*, and the new token.

        Only when ``capabilities.sync_collection``. None when the token is no longer
        usable (expired, from another server): the caller then lists everything.
        """
        raise NotImplementedError(f"{type(self).__name__} does not support sync-collection")

    def close(self) -> None:  # noqa: B027 - most sources hold nothing to release
        """Release connections and caches."""

    def __enter__(self) -> DavSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class DavTarget(DavSource):
    """Where a migration writes; also readable (listings, markers, verify)."""

    @abstractmethod
    def make_collection(self, spec: Collection) -> tuple[Collection, list[str], list[str]]:
        """Create a collection like *spec* with its properties.

        Returns the collection, a line per property that could not be set, and a line per
        property set only on a second try. An existing collection of that name comes back
        as it is.
        """

    def create_collection(self, spec: Collection) -> Collection:
        """Create a collection like *spec* (or return the existing one of that name)."""
        return self.make_collection(spec)[0]

    @abstractmethod
    def set_properties(self, href: str, values: Mapping[str, str], why: str = "") -> list[str]:
        """Set text properties (by local name) on the collection at *href*.

        Only when ``capabilities.properties``. Returns a line per property refused, each
        with the target's reason (*why* opens it).
        """

    @abstractmethod
    def item_href(self, collection: Collection, name: str) -> str:
        """Where an object called *name* lives in *collection*."""

    @abstractmethod
    def put(
        self,
        collection: Collection,
        name: str,
        raw: bytes,
        etag: str | None = None,
        href: str | None = None,
    ) -> PutResult:
        """Store *raw* as *name*: create-only without *etag*, else only if it still has *etag*.

        Someone else's write first (an existing object on create, another ETag on update)
        is ``conflict``; a refusal (too big, invalid) is ``error`` with the target's words.
        """

    @abstractmethod
    def get(self, href: str) -> Item | None:
        """The object at *href* with its ETag, or None when there is none."""

    @abstractmethod
    def delete(self, href: str, etag: str | None = None) -> str | None:
        """Delete the object at *href* (only while it has *etag*, when given).

        None when done or already gone, else why it was refused.
        """

    def adaptation(self, raw: bytes) -> str | None:
        """How this target will store *raw* other than as it is (a rule it needs, e.g. a
        recurrence with no Graph pattern expanded into single events), or None. The preview
        (``--dry-run``) shows it on the object's line, before anything is written."""
        return None

    def url_of(self, href: str) -> str:
        """Where *href* is, for people and reports."""
        return href

    def __enter__(self) -> DavTarget:
        return self


class DavConnector(ABC):
    """Opens one user's calendars or address books behind an endpoint (a URL or a path).

    The registry (``skylift.connectors.dav_source`` / ``dav_target``) picks the class by
    URL scheme; ``capabilities`` says what the opened side can do before any connection.
    """

    capabilities: DavCapabilities = DavCapabilities()

    def __init__(self, endpoint: Endpoint, kind: DavKind) -> None:
        self.endpoint = endpoint
        self.kind = kind

    @abstractmethod
    def open_source(self, login: Login) -> DavSource:
        """Log in as *login* (or find its files) and return the side to read."""

    def open_target(self, login: Login) -> DavTarget:
        """Log in as *login* and return the side to write; only when ``capabilities.writes``."""
        raise NotImplementedError(f"{type(self).__name__} cannot be written to")

    def rule(self, raw: bytes) -> str | None:
        """What this target would do with *raw* other than store it as it is (a rule it needs,
        or why it cannot hold it), decided without signing in: ``assess`` asks it of every
        calendar item before the move. None: stored as it is."""
        return None


# -- collection text properties, by local name (protocol-free) --------------------------


def description_name(kind: DavKind) -> str:
    return "calendar-description" if kind is DavKind.CALENDAR else "addressbook-description"


def text_properties(spec: Collection) -> dict[str, str]:
    """The text properties of *spec* worth carrying over (empty ones are left out)."""
    props = {"displayname": spec.display_name, description_name(spec.kind): spec.description}
    if spec.kind is DavKind.CALENDAR:
        props["calendar-color"] = spec.color
    return {name: value for name, value in props.items() if value}


def current_text(collection: Collection, name: str) -> str:
    """What *collection* holds for the text property *name*."""
    if name == "displayname":
        return collection.display_name
    if name == "calendar-color":
        return collection.color
    return collection.description


def differing(spec: Collection, existing: Collection) -> dict[str, str]:
    """The text properties the source has and the target holds otherwise."""
    return {
        name: value
        for name, value in text_properties(spec).items()
        if current_text(existing, name) != value
    }
