"""LDAP as a directory target over ldap3: create, rename in place, disable, rewrite members.

Connection, TLS and bind rules are the source's (``open_ldap`` in ``ldap.py``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import ClassVar

from ldap3 import (
    BASE,
    MODIFY_ADD,
    MODIFY_DELETE,
    MODIFY_REPLACE,
    SUBTREE,
    Connection,
)
from ldap3.core import exceptions as ldap_exc
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn

from skylift.connectors.directory.base import DirectoryCapabilities
from skylift.connectors.directory.ldap import decode, describe, first_line
from skylift.errors import ItemRejected, TransientError
from skylift.model.directory import DirectoryObject, Group, ObjectKind, User

TARGET_USER_ATTRS = {
    "user_name": "uid",
    "display_name": "displayName",
    "given_name": "givenName",
    "family_name": "sn",
    "title": "title",
    "department": "departmentNumber",
    "phone": "telephoneNumber",
}


class LdapDirectoryTarget:
    """An LDAP server as sync target: inetOrgPerson users and groupOfNames groups.

    Users go to ``ou=People`` and groups to ``ou=Groups`` below *base* (created when
    missing). The target id is the entry's entryUUID, so renames keep it; the source anchor
    is kept in *anchor_attr* (``employeeNumber`` for users, ``businessCategory`` for groups)
    and a disabled user carries ``employeeType: disabled``. groupOfNames needs a member, so
    an empty group lists itself, which is read back as no member.
    """

    name = "ldap"
    capabilities = DirectoryCapabilities()  # renames by modrdn keep the entryUUID

    def __init__(
        self, conn: Connection, base: str, users_ou: str = "ou=People", groups_ou: str = "ou=Groups"
    ) -> None:
        self.conn = conn
        self.base = base
        self.users_dn = f"{users_ou},{base}"
        self.groups_dn = f"{groups_ou},{base}"
        self._dn_by_id: dict[str, str] = {}
        self._id_by_dn: dict[str, str] = {}
        self._containers_ready = False

    # -- reading ---------------------------------------------------------------------------
    _USER_READ: ClassVar[list[str]] = [
        *("entryUUID", "uid", "cn", "sn", "givenName", "displayName", "mail", "title"),
        *("departmentNumber", "telephoneNumber", "employeeNumber", "employeeType"),
    ]
    _GROUP_READ: ClassVar[list[str]] = ["entryUUID", "cn", "member", "businessCategory"]

    def _search(
        self, base: str, flt: str, attrs: list[str], scope: str = SUBTREE
    ) -> Iterator[tuple[str, dict[str, list[str]]]]:
        try:
            for item in self.conn.extend.standard.paged_search(
                base, flt, scope, attributes=attrs, paged_size=500, generator=True
            ):
                if item.get("type") == "searchResEntry":
                    raw = item["raw_attributes"]
                    yield (
                        item["dn"],
                        {k.lower(): [decode(v) for v in vals] for k, vals in raw.items()},
                    )
        except ldap_exc.LDAPNoSuchObjectResult:
            return
        except ldap_exc.LDAPException as exc:
            raise TransientError(f"LDAP target search failed: {first_line(exc)}") from exc

    def _remember(self, dn: str, target_id: str) -> None:
        self._dn_by_id[target_id] = dn
        self._id_by_dn[dn.lower()] = target_id

    def _user(self, dn: str, a: dict[str, list[str]]) -> User:
        target_id = a["entryuuid"][0]
        self._remember(dn, target_id)
        mails = a.get("mail", [])
        one = lambda name: (a.get(name.lower()) or [""])[0]  # noqa: E731
        family = one("sn")
        return User(
            external_id=one("employeeNumber"),
            user_name=one("uid"),
            active=one("employeeType").lower() != "disabled",
            display_name=one("displayName"),
            given_name=one("givenName"),
            family_name="" if family == one("uid") and not one("givenName") else family,
            email=mails[0] if mails else "",
            other_emails=tuple(mails[1:]),
            title=one("title"),
            department=one("departmentNumber"),
            phone=one("telephoneNumber"),
            id=target_id,
            source_dn=dn,
        )

    def _group(self, dn: str, a: dict[str, list[str]]) -> Group:
        target_id = a["entryuuid"][0]
        self._remember(dn, target_id)
        members = frozenset(
            self._id_by_dn.get(m.lower(), m) for m in a.get("member", []) if m.lower() != dn.lower()
        )
        return Group(
            (a.get("businesscategory") or [""])[0],
            (a.get("cn") or [""])[0],
            members,
            id=target_id,
            source_dn=dn,
        )

    def list_users(self) -> Iterator[User]:
        for dn, a in self._search(self.base, "(objectClass=inetOrgPerson)", self._USER_READ):
            yield self._user(dn, a)

    def list_groups(self) -> Iterator[Group]:
        found = list(self._search(self.base, "(objectClass=groupOfNames)", self._GROUP_READ))
        for dn, a in found:  # remember every group id first: groups can be members of groups
            self._remember(dn, a["entryuuid"][0])
        for dn, a in found:
            yield self._group(dn, a)

    def get(self, kind: ObjectKind, target_id: str) -> DirectoryObject | None:
        attrs = self._USER_READ if kind == "user" else self._GROUP_READ
        for dn, a in self._search(
            self.base, f"(entryUUID={escape_filter_chars(target_id)})", attrs
        ):
            if kind == "group":
                for m in a.get("member", []):
                    self._dn_for_member(m)
            return self._user(dn, a) if kind == "user" else self._group(dn, a)
        return None

    def find_matches(self, obj: DirectoryObject) -> list[DirectoryObject]:
        """Entries that could be *obj* (for a delta run, which does not list the target)."""
        esc = escape_filter_chars
        if isinstance(obj, User):
            terms = [
                ("employeeNumber", obj.external_id),
                ("uid", obj.user_name),
                ("mail", obj.email),
            ]
            flt = (
                "(&(objectClass=inetOrgPerson)(|"
                + "".join(f"({a}={esc(v)})" for a, v in terms if v)
                + "))"
            )
            return [self._user(dn, a) for dn, a in self._search(self.base, flt, self._USER_READ)]
        terms = [("businessCategory", obj.external_id), ("cn", obj.display_name)]
        flt = (
            "(&(objectClass=groupOfNames)(|"
            + "".join(f"({a}={esc(v)})" for a, v in terms if v)
            + "))"
        )
        return [self._group(dn, a) for dn, a in self._search(self.base, flt, self._GROUP_READ)]

    def _dn_for_member(self, dn: str) -> None:
        if dn.lower() not in self._id_by_dn:
            for found, a in self._search(dn, "(objectClass=*)", ["entryUUID"], BASE):
                self._remember(found, a["entryuuid"][0])

    def _dn(self, target_id: str) -> str:
        dn = self._dn_by_id.get(target_id)
        if dn is None:
            for found, a in self._search(
                self.base, f"(entryUUID={escape_filter_chars(target_id)})", ["entryUUID"]
            ):
                self._remember(found, a["entryuuid"][0])
                dn = found
        if dn is None:
            raise ItemRejected(f"LDAP target has no entry with entryUUID {target_id}")
        return dn

    # -- writing ---------------------------------------------------------------------------
    def _check(self, ok: bool, what: str) -> None:
        if not ok:
            result = self.conn.result or {}
            raise ItemRejected(f"LDAP target refused {what}: {describe(result)}")

    def _ensure_containers(self) -> None:
        if self._containers_ready:
            return
        for dn in (self.users_dn, self.groups_dn):
            ou = dn.split(",", 1)[0].split("=", 1)[1]
            self.conn.add(dn, ["organizationalUnit"], {"ou": ou})
            if (self.conn.result or {}).get("result") not in (0, 68):
                self._check(False, f"creating {dn}")
        self._containers_ready = True

    def _new_id(self, dn: str) -> str:
        for found, a in self._search(dn, "(objectClass=*)", ["entryUUID"], BASE):
            self._remember(found, a["entryuuid"][0])
            return str(a["entryuuid"][0])
        raise ItemRejected(f"LDAP target lost {dn} right after creating it")

    def create_user(self, user: User) -> str:
        self._ensure_containers()
        dn = f"uid={escape_rdn(user.user_name)},{self.users_dn}"
        attrs: dict[str, object] = {k: v for k, v in self._user_attrs(user).items() if v}
        attrs["cn"] = user.display_name or user.user_name
        self._check(self.conn.add(dn, ["inetOrgPerson"], attrs), f"creating user {user.user_name}")
        return self._new_id(dn)

    def _user_attrs(self, user: User) -> dict[str, list[str]]:
        values: dict[str, list[str]] = {}
        for field_name, attr in TARGET_USER_ATTRS.items():
            v = getattr(user, field_name)
            values[attr] = [v] if v else []
        values["sn"] = [user.family_name or user.user_name]
        values["mail"] = [m for m in (user.email, *user.other_emails) if m]
        values["employeeNumber"] = [user.external_id] if user.external_id else []
        values["employeeType"] = [] if user.active else ["disabled"]
        return values

    def update_user(self, target_id: str, changes: dict[str, object]) -> None:
        dn = self._dn(target_id)
        current = self.get("user", target_id)
        if not isinstance(current, User):
            raise ItemRejected(f"LDAP target has no user {target_id}")
        fields = {k: v for k, v in changes.items() if k != "external_id"}
        values = {**_user_values(current), **fields}
        values["external_id"] = str(changes.get("external_id", current.external_id))
        wanted = User(**values)  # type: ignore[arg-type]
        if wanted.user_name != current.user_name:
            self._check(
                self.conn.modify_dn(dn, f"uid={escape_rdn(wanted.user_name)}"),
                f"renaming {current.user_name}",
            )
            new_dn = f"uid={escape_rdn(wanted.user_name)},{dn.split(',', 1)[1]}"
            self._rewrite_memberships(dn, new_dn)
            dn = new_dn
            self._remember(dn, target_id)
        old, new = self._user_attrs(current), self._user_attrs(wanted)
        new["cn"] = [wanted.display_name or wanted.user_name]
        old["cn"] = [current.display_name or current.user_name]
        mods = {a: [(MODIFY_REPLACE, v)] for a, v in new.items() if v != old.get(a) and a != "uid"}
        if mods:
            self._check(self.conn.modify(dn, mods), f"updating {wanted.user_name}")

    def _rewrite_memberships(self, old_dn: str, new_dn: str) -> None:
        """Point groups at a renamed entry, as the refint overlay would (it may be absent)."""
        flt = f"(&(objectClass=groupOfNames)(member={escape_filter_chars(old_dn)}))"
        for group_dn, _a in list(self._search(self.base, flt, ["cn"])):
            mods = {"member": [(MODIFY_DELETE, [old_dn]), (MODIFY_ADD, [new_dn])]}
            self._check(self.conn.modify(group_dn, mods), f"updating members of {group_dn}")
        self._id_by_dn.pop(old_dn.lower(), None)

    def create_group(self, group: Group, member_ids: Sequence[str]) -> str:
        self._ensure_containers()
        dn = f"cn={escape_rdn(group.display_name)},{self.groups_dn}"
        members = [self._dn(m) for m in member_ids] or [dn]
        attrs = {"cn": group.display_name, "member": members, "businessCategory": group.external_id}
        self._check(
            self.conn.add(dn, ["groupOfNames"], attrs), f"creating group {group.display_name}"
        )
        return self._new_id(dn)

    def update_group(
        self,
        target_id: str,
        changes: dict[str, object],
        add_ids: Sequence[str],
        remove_ids: Sequence[str],
    ) -> None:
        dn = self._dn(target_id)
        name = changes.get("display_name")
        if isinstance(name, str) and name:
            self._check(
                self.conn.modify_dn(dn, f"cn={escape_rdn(name)}"), f"renaming group to {name}"
            )
            new_dn = f"cn={escape_rdn(name)},{dn.split(',', 1)[1]}"
            self._rewrite_memberships(dn, new_dn)
            dn = new_dn
            self._remember(dn, target_id)
        mods: dict[str, list[tuple[str, list[str]]]] = {}
        if "external_id" in changes:
            mods["businessCategory"] = [(MODIFY_REPLACE, [str(changes["external_id"])])]
        if add_ids or remove_ids:
            current = self.get("group", target_id)
            assert isinstance(current, Group)
            members = (set(current.members) | set(add_ids)) - set(remove_ids)
            mods["member"] = [(MODIFY_REPLACE, sorted(self._dn(m) for m in members) or [dn])]
        if mods:
            self._check(self.conn.modify(dn, mods), f"updating group {dn}")

    def delete(self, kind: ObjectKind, target_id: str) -> None:
        dn = self._dn(target_id)
        self._check(self.conn.delete(dn), f"deleting {dn}")
        self._dn_by_id.pop(target_id, None)
        self._id_by_dn.pop(dn.lower(), None)

    def close(self) -> None:
        self.conn.unbind()


def _user_values(user: User) -> dict[str, object]:
    return {f: getattr(user, f) for f in User.__dataclass_fields__ if f not in ("id", "source_dn")}
