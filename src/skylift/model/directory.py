"""Directory objects as skylift passes them between layers: SCIM-shaped, no I/O.

A source entry is read verbatim (attribute name -> values); the mapping turns it into a
:class:`User` or :class:`Group` whose *external_id* is the stable source anchor (entryUUID,
objectGUID). Targets hand back the same types with their own *id* set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ObjectKind = Literal["user", "group"]


@dataclass(frozen=True)
class SourceEntry:
    """One LDAP entry as read: *attributes* maps lower-cased names to string values.

    *anchor* is the stable id that survives renames and moves; *kind* says which preset
    search found it; *in_filter* is False when the entry exists but no longer matches the
    user's ``--filter``. *member_anchors* are a remembered group's members already resolved
    to anchors: AD does not touch a group when a member is renamed, so a DN remembered from
    an earlier run may be stale, while the anchor is not.
    """

    dn: str
    anchor: str
    kind: ObjectKind
    attributes: dict[str, tuple[str, ...]]
    in_filter: bool = True
    member_anchors: frozenset[str] = frozenset()

    def first(self, name: str) -> str:
        values = self.attributes.get(name.lower(), ())
        return values[0] if values else ""

    def all(self, name: str) -> tuple[str, ...]:
        return self.attributes.get(name.lower(), ())


@dataclass(frozen=True)
class User:
    """A user in SCIM core shape (RFC 7643 §4.1) plus the enterprise department.

    *email* is the primary work address; *other_emails* the further addresses (AD
    proxyAddresses). *source_dn* is kept for reasons and reports, not compared.
    """

    external_id: str
    user_name: str
    active: bool = True
    display_name: str = ""
    given_name: str = ""
    family_name: str = ""
    email: str = ""
    other_emails: tuple[str, ...] = ()
    title: str = ""
    department: str = ""
    phone: str = ""
    id: str = field(default="", compare=False)
    source_dn: str = field(default="", compare=False)


@dataclass(frozen=True)
class Group:
    """A group in SCIM core shape; *members* are the external ids of member users/groups.

    A target reports members by its own ids; the engine translates them.
    """

    external_id: str
    display_name: str
    members: frozenset[str] = frozenset()
    id: str = field(default="", compare=False)
    source_dn: str = field(default="", compare=False)


DirectoryObject = User | Group

# Attributes the engine compares and a target writes, by kind (dataclass field names).
USER_FIELDS: tuple[str, ...] = (
    "user_name",
    "active",
    "display_name",
    "given_name",
    "family_name",
    "email",
    "other_emails",
    "title",
    "department",
    "phone",
)
GROUP_FIELDS: tuple[str, ...] = ("display_name", "members")


def kind_of(obj: DirectoryObject) -> ObjectKind:
    return "user" if isinstance(obj, User) else "group"
