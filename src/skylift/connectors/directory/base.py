"""The directory connector contract: what a sync reads from a source and writes to a target.

A source (LDAP, AD) hands out :class:`~skylift.model.directory.SourceEntry` objects, whole or
changed since a high-water mark; a target (SCIM 2.0, LDAP) lists, finds and writes
:class:`~skylift.model.directory.User` and :class:`~skylift.model.directory.Group` objects by
its own ids. Each connector declares a frozen :class:`DirectoryCapabilities`; the engine reads
those flags instead of testing classes or URL schemes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from skylift.connectors.endpoint import Endpoint
from skylift.errors import ConfigError
from skylift.model.account import Secret
from skylift.model.directory import DirectoryObject, Group, ObjectKind, SourceEntry, User


@dataclass(frozen=True)
class DirectoryCapabilities:
    """What a directory connector can do; only flags the engine reads.

    *delta*: ``read_entries(kind, since=mark)`` returns only the entries changed after *mark*
    (LDAP's entryCSN, AD's uSNChanged), so a run may read changes only.
    *server_mark*: ``server_high_water()`` reports the server's own change counter before a
    read (AD's highestCommittedUSN); without it the run keeps the highest mark it saw.
    *disable*: a user can be set inactive and stays on the target; without it a leaver can
    only be deleted, and a run asked to disable is refused before it changes anything.
    *delete*: objects can be deleted.
    *rename_in_place*: a new userName or group name keeps the target id (LDAP modrdn, SCIM
    PATCH); without it a rename is reported as a problem rather than half-done.
    """

    delta: bool = False
    server_mark: bool = False
    disable: bool = True
    delete: bool = True
    rename_in_place: bool = True


class DirectorySource(Protocol):
    """What a sync reads from a source directory. Read-only by construction.

    Every method raises a :class:`~skylift.errors.SkyliftError` subclass on failure.
    """

    capabilities: DirectoryCapabilities
    high_water: str  # the highest change mark seen by read_entries so far ("" if none)

    def read_entries(self, kind: ObjectKind, since: str | None = None) -> Iterator[SourceEntry]:
        """Every entry of *kind*, or (capabilities.delta) only those changed after *since*."""
        ...

    def list_dns(self, kind: ObjectKind) -> Iterator[str]:
        """The DN of every entry of *kind*, no attributes: spots deletions in a delta."""
        ...

    def filtered_anchors(self, kind: ObjectKind) -> set[str] | None:
        """Anchors matching the user's filter; None when there is no filter."""
        ...

    def server_high_water(self) -> str:
        """The server's change counter before reading ("" unless capabilities.server_mark)."""
        ...

    def close(self) -> None: ...


class DirectoryTarget(Protocol):
    """What the sync needs of a target directory (SCIM service or LDAP server).

    Group *members* passed in and read back are target ids. Every method raises a
    :class:`~skylift.errors.SkyliftError` subclass on failure: ``ItemRejected`` for one
    refused write (with the server's words), ``TransientError`` (with ``retry_after`` when the
    server gave a hint) for throttling and dropped links, which the runner retries.
    """

    name: str
    capabilities: DirectoryCapabilities

    def list_users(self) -> Iterator[User]: ...

    def list_groups(self) -> Iterator[Group]: ...

    def get(self, kind: ObjectKind, target_id: str) -> DirectoryObject | None: ...

    def find_matches(self, obj: DirectoryObject) -> list[DirectoryObject]:
        """Target objects that could be *obj*: same externalId, userName, email or name."""
        ...

    def create_user(self, user: User) -> str: ...

    def update_user(self, target_id: str, changes: dict[str, object]) -> None: ...

    def create_group(self, group: Group, member_ids: Sequence[str]) -> str: ...

    def update_group(
        self,
        target_id: str,
        changes: dict[str, object],
        add_ids: Sequence[str],
        remove_ids: Sequence[str],
    ) -> None: ...

    def delete(self, kind: ObjectKind, target_id: str) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class SourceSettings:
    """How to read a source: where below, as whom, which dialect, which attributes.

    *preset* names the source's dialect (``openldap``, ``ad``): object filters, anchor and
    change counter. *attributes* are the ones the mapping reads; nothing else is asked for.
    """

    base: str
    bind_dn: str = ""
    password: Secret | None = None
    preset: str = "openldap"
    attributes: frozenset[str] = frozenset()
    ldap_filter: str = ""


@dataclass(frozen=True)
class TargetSettings:
    """How to write a target: an LDAP target's base DN and bind, or a SCIM bearer token."""

    base: str = ""
    bind_dn: str = ""
    password: Secret | None = None
    token: Secret | None = None


class DirectoryConnector:
    """One URL scheme's way in: opens a source, a target, or says it cannot be one."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint

    def open_source(self, settings: SourceSettings) -> DirectorySource:
        raise ConfigError(
            f"{self.endpoint.display()} cannot be a directory source (use ldap:// or ldaps://)"
        )

    def open_target(self, settings: TargetSettings) -> DirectoryTarget:
        raise ConfigError(f"{self.endpoint.display()} cannot be a directory target")


@dataclass(frozen=True)
class RoutingValue:
    """A directory routing attribute (``mailRoutingAddress``, ``targetAddress``) of one
    entry: its values, and whether the entry had the attribute's auxiliary class (a
    rollback removes a class the cut-over added)."""

    values: tuple[str, ...] = ()
    had_class: bool = True

    def to_json(self) -> dict[str, object]:
        return {"values": list(self.values), "had_class": self.had_class}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> RoutingValue:
        values = data.get("values") or []
        assert isinstance(values, list)
        return cls(tuple(str(v) for v in values), bool(data.get("had_class", True)))


#: the routing attributes a cut-over can write -> the auxiliary class an entry needs for it
ROUTING_ATTRIBUTES = {
    "mailRoutingAddress": "inetLocalMailRecipient",
    "targetAddress": "",  # part of the user class once the Exchange schema is there
}


class RoutingAttribute(Protocol):
    """One per-user routing attribute of a directory (the cut-over's directory writer).

    The contract, kept by the LDAP writer and the in-memory reference alike (conformance:
    ``tests/conformance/routing.py``): an entry is found by its address, exactly one or an
    ItemRejected; ``write`` is idempotent (False when nothing changed) and adds the
    attribute's auxiliary class when it must; writing back what ``read`` gave restores the
    entry exactly, class included.
    """

    attribute: str

    def value_for(self, address: str, routing_domain: str) -> str: ...

    def read(self, address: str) -> RoutingValue: ...

    def write(self, address: str, wanted: RoutingValue) -> bool: ...

    def close(self) -> None: ...

    def __enter__(self) -> RoutingAttribute: ...

    def __exit__(self, *exc: object) -> None: ...


def routing_value_for(attribute: str, address: str, routing_domain: str) -> str:
    """What *attribute* says for a moved user: the cloud's routing address."""
    target = f"{address.partition('@')[0]}@{routing_domain}"
    return f"SMTP:{target}" if attribute == "targetAddress" else target


def check_routing_attribute(attribute: str) -> str:
    """*attribute*'s auxiliary class; a ConfigError for an attribute no writer knows."""
    if attribute not in ROUTING_ATTRIBUTES:
        known = " or ".join(ROUTING_ATTRIBUTES)
        raise ConfigError(f"--routing-attribute {attribute}: use {known}")
    return ROUTING_ATTRIBUTES[attribute]
