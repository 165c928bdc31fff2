"""Google Workspace as a directory target: users, groups and members via the Admin SDK.

Google takes no inbound SCIM from a sync tool (research: unconfirmed either way), so the
Directory API it is, as a super-admin the service account impersonates (``--target-admin``,
domain-wide delegation with the ``admin.directory.user`` and ``admin.directory.group``
scopes). Mapping: ``userName`` -> ``primaryEmail`` (``@`` + the domain of ``--target-base``
when it has none), given/family name -> ``name``, ``active`` -> not ``suspended`` (disable
is suspend; delete deletes, after the engine's threshold and journal as for every target),
title/department -> ``organizations``, phone -> ``phones``, e-mails -> ``emails``; the
source anchor travels in ``externalIds`` (a user's entry of type ``organization``, a group's
in namespace ``skylift``) so a rerun and
``find_matches`` recognise the object. A group's address is its name made an address at the
domain; members are target user ids. A new user gets a random password (never shown, logged
or stored) and ``changePasswordAtNextLogin``: the source's passwords are not readable.

Google paces the Directory API with ``403 rateLimitExceeded`` (and 429); those become
``TransientError`` with the hint for the runner's retry (``connectors/dav/google/api.py``).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from skylift.connectors.dav.google.api import GoogleApiError, GoogleSession, seg
from skylift.connectors.directory.base import (
    DirectoryCapabilities,
    DirectoryConnector,
    DirectoryTarget,
    TargetSettings,
)
from skylift.errors import ConfigError, ItemRejected
from skylift.model.directory import DirectoryObject, Group, ObjectKind, User

SCOPE = (
    "https://www.googleapis.com/auth/admin.directory.user "
    "https://www.googleapis.com/auth/admin.directory.group"
)
ROOT = "/admin/directory/v1"
CALLS = (
    ("directory.users.list", "GET", "admin/directory/v1/users"),
    ("directory.users.get", "GET", "admin/directory/v1/users/{userKey}"),
    ("directory.users.insert", "POST", "admin/directory/v1/users"),
    ("directory.users.patch", "PATCH", "admin/directory/v1/users/{userKey}"),
    ("directory.users.delete", "DELETE", "admin/directory/v1/users/{userKey}"),
    ("directory.groups.list", "GET", "admin/directory/v1/groups"),
    ("directory.groups.get", "GET", "admin/directory/v1/groups/{groupKey}"),
    ("directory.groups.insert", "POST", "admin/directory/v1/groups"),
    ("directory.groups.patch", "PATCH", "admin/directory/v1/groups/{groupKey}"),
    ("directory.groups.delete", "DELETE", "admin/directory/v1/groups/{groupKey}"),
    ("directory.members.list", "GET", "admin/directory/v1/groups/{groupKey}/members"),
    ("directory.members.insert", "POST", "admin/directory/v1/groups/{groupKey}/members"),
    (
        "directory.members.delete",
        "DELETE",
        "admin/directory/v1/groups/{groupKey}/members/{memberKey}",
    ),
)
ANCHOR_TYPE = "organization"
GROUP_NAMESPACE = "skylift"


class GoogleDirectoryConnector(DirectoryConnector):
    """``google-directory+https://admin.googleapis.com`` (``+http://127.0.0.1:PORT``: tests)."""

    def open_target(self, settings: TargetSettings) -> DirectoryTarget:
        if not settings.bind_dn or "@" not in settings.bind_dn:
            raise ConfigError("the Google directory needs --target-admin ADDRESS (a super-admin)")
        if not settings.base:
            raise ConfigError("the Google directory needs --target-base DOMAIN (e.g. example.com)")
        scheme = self.endpoint.scheme.replace("google-directory+", "google+")
        endpoint = replace(self.endpoint, scheme=scheme)
        return GoogleDirectory(GoogleSession(endpoint, settings.bind_dn), settings.base)


def _anchor(resource: dict[str, Any]) -> str:
    """The source anchor: a user's ``externalIds`` entry of type organization; a group's
    ``externalIds`` entry in the ``skylift`` namespace (groups use {namespace, id})."""
    for entry in resource.get("externalIds") or []:
        if isinstance(entry, dict) and entry.get("type") == ANCHOR_TYPE:
            return str(entry.get("value", ""))
        if isinstance(entry, dict) and entry.get("namespace") == GROUP_NAMESPACE:
            return str(entry.get("id", ""))
    return ""


def _user(data: dict[str, Any]) -> User:
    name = data.get("name") or {}
    org: dict[str, Any] = next(iter(data.get("organizations") or []), {})
    phone: dict[str, Any] = next(iter(data.get("phones") or []), {})
    emails = [str(e.get("address", "")) for e in data.get("emails") or [] if isinstance(e, dict)]
    primary = str(data.get("primaryEmail", ""))
    return User(
        external_id=_anchor(data), user_name=primary, active=not data.get("suspended", False),
        display_name=str(name.get("fullName", "")), given_name=str(name.get("givenName", "")),
        family_name=str(name.get("familyName", "")), email=primary,
        other_emails=tuple(e for e in emails if e and e.lower() != primary.lower()),
        title=str(org.get("title", "")), department=str(org.get("department", "")),
        phone=str(phone.get("value", "")), id=str(data.get("id", "")),
    )  # fmt: skip


class GoogleDirectory:
    """One Workspace domain's users and groups, as its super-admin."""

    name = "Google Workspace directory"
    capabilities = DirectoryCapabilities(disable=True, delete=True, rename_in_place=True)

    def __init__(self, session: GoogleSession, domain: str) -> None:
        self.session = session
        self.domain = domain.lstrip("@").lower()

    def close(self) -> None:
        self.session.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            return self.session.call(method, ROOT + path, **kwargs)
        except GoogleApiError as exc:
            raise ItemRejected(f"Google refused {method} {path.split('?')[0]}: {exc}") from None

    def _pages(self, path: str, params: dict[str, Any], key: str) -> Iterator[dict[str, Any]]:
        query = dict(params)
        while True:
            answer = self._call("GET", path, params=query)
            yield from answer.get(key, [])
            if not answer.get("nextPageToken"):
                return
            query["pageToken"] = answer["nextPageToken"]

    # -- reading ---------------------------------------------------------------------------
    def list_users(self) -> Iterator[User]:
        params = {"customer": "my_customer", "maxResults": 500, "projection": "full"}
        for data in self._pages("/users", params, "users"):
            yield _user(data)

    def _members(self, group_id: str) -> frozenset[str]:
        found = self._pages(f"/groups/{seg(group_id)}/members", {"maxResults": 200}, "members")
        return frozenset(str(m["id"]) for m in found if m.get("type", "USER") in ("USER", "GROUP"))

    def _group(self, data: dict[str, Any]) -> Group:
        return Group(
            external_id=_anchor(data), display_name=str(data.get("name", "")),
            members=self._members(str(data["id"])), id=str(data["id"]),
        )  # fmt: skip

    def list_groups(self) -> Iterator[Group]:
        for data in self._pages(
            "/groups", {"customer": "my_customer", "maxResults": 200}, "groups"
        ):
            yield self._group(data)

    def get(self, kind: ObjectKind, target_id: str) -> DirectoryObject | None:
        try:
            if kind == "user":
                return _user(self.session.call("GET", f"{ROOT}/users/{seg(target_id)}"))
            return self._group(self.session.call("GET", f"{ROOT}/groups/{seg(target_id)}"))
        except GoogleApiError as exc:
            if exc.status == 404:
                return None
            raise ItemRejected(f"Google refused GET {target_id}: {exc}") from None

    def find_matches(self, obj: DirectoryObject) -> list[DirectoryObject]:
        if isinstance(obj, User):
            keys = {obj.external_id, self._address(obj.user_name).lower(), obj.email.lower()} - {""}
            return [
                u for u in self.list_users()
                if {u.external_id, u.user_name.lower(), *[e.lower() for e in u.other_emails]} & keys
            ]  # fmt: skip
        return [
            g for g in self.list_groups()
            if (obj.external_id and g.external_id == obj.external_id)
            or g.display_name == obj.display_name
        ]  # fmt: skip

    # -- writing ---------------------------------------------------------------------------
    def _address(self, name: str) -> str:
        return name if "@" in name else f"{name}@{self.domain}" if name else ""

    def _user_body(self, fields: dict[str, object], anchor: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if "user_name" in fields:
            body["primaryEmail"] = self._address(str(fields["user_name"]))
        if "given_name" in fields or "family_name" in fields:
            body["name"] = {
                "givenName": str(fields.get("given_name") or fields.get("user_name", "-")),
                "familyName": str(fields.get("family_name") or "-"),
            }
        if "active" in fields:
            body["suspended"] = not fields["active"]
        if "title" in fields or "department" in fields:
            body["organizations"] = [{"title": fields.get("title", ""),
                                      "department": fields.get("department", ""), "primary": True}]  # fmt: skip
        if "phone" in fields:
            body["phones"] = [{"value": fields["phone"], "type": "work"}] if fields["phone"] else []
        if "email" in fields or "other_emails" in fields:
            others = fields.get("other_emails") or ()
            addresses = [str(fields.get("email") or ""), *(str(a) for a in others)]  # type: ignore[attr-defined]
            body["emails"] = [{"address": a, "type": "work"} for a in addresses if a]
        if anchor is not None:
            body["externalIds"] = [{"value": anchor, "type": ANCHOR_TYPE}]
        return body

    def create_user(self, user: User) -> str:
        fields: dict[str, object] = {
            "user_name": user.user_name or user.email, "given_name": user.given_name,
            "family_name": user.family_name, "active": user.active, "title": user.title,
            "department": user.department, "phone": user.phone, "email": user.email,
            "other_emails": user.other_emails,
        }  # fmt: skip
        body = self._user_body(fields, user.external_id or None)
        body["password"] = secrets.token_urlsafe(24)
        body["changePasswordAtNextLogin"] = True
        return str(self._call("POST", "/users", body=body)["id"])

    def update_user(self, target_id: str, changes: dict[str, object]) -> None:
        fields = dict(changes)
        if ("given_name" in fields) != ("family_name" in fields):
            current = self.get("user", target_id)
            if isinstance(current, User):
                fields.setdefault("given_name", current.given_name)
                fields.setdefault("family_name", current.family_name)
        if ("title" in fields) != ("department" in fields):
            current = self.get("user", target_id)
            if isinstance(current, User):
                fields.setdefault("title", current.title)
                fields.setdefault("department", current.department)
        anchor = str(fields["external_id"]) if "external_id" in fields else None
        body = self._user_body(fields, anchor)
        if body:
            self._call("PATCH", f"/users/{seg(target_id)}", body=body)

    def _group_address(self, name: str) -> str:
        slug = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-.") or "group"
        return f"{slug}@{self.domain}"

    def create_group(self, group: Group, member_ids: Sequence[str]) -> str:
        body: dict[str, Any] = {"email": self._group_address(group.display_name),
                                "name": group.display_name}  # fmt: skip
        if group.external_id:
            body["externalIds"] = [{"namespace": GROUP_NAMESPACE, "id": group.external_id}]
        group_id = str(self._call("POST", "/groups", body=body)["id"])
        for member in member_ids:
            self._add_member(group_id, member)
        return group_id

    def _add_member(self, group_id: str, member: str) -> None:
        try:
            self.session.call("POST", f"{ROOT}/groups/{seg(group_id)}/members",
                              body={"id": member, "role": "MEMBER"})  # fmt: skip
        except GoogleApiError as exc:
            if exc.status != 409:  # "Member already exists": a resumed run
                raise ItemRejected(f"Google refused member {member} of {group_id}: {exc}") from None

    def update_group(
        self,
        target_id: str,
        changes: dict[str, object],
        add_ids: Sequence[str],
        remove_ids: Sequence[str],
    ) -> None:
        body: dict[str, Any] = {}
        if "display_name" in changes:
            body["name"] = str(changes["display_name"])
        if "external_id" in changes:
            body["externalIds"] = [
                {"namespace": GROUP_NAMESPACE, "id": str(changes["external_id"])}
            ]
        if body:
            self._call("PATCH", f"/groups/{seg(target_id)}", body=body)
        for member in add_ids:
            self._add_member(target_id, member)
        for member in remove_ids:
            try:
                self.session.call("DELETE", f"{ROOT}/groups/{seg(target_id)}/members/{seg(member)}")
            except GoogleApiError as exc:
                if exc.status != 404:
                    raise ItemRejected(f"Google refused removing {member}: {exc}") from None

    def delete(self, kind: ObjectKind, target_id: str) -> None:
        resource = "users" if kind == "user" else "groups"
        try:
            self.session.call("DELETE", f"{ROOT}/{resource}/{seg(target_id)}")
        except GoogleApiError as exc:
            if exc.status != 404:
                raise ItemRejected(f"Google refused deleting {target_id}: {exc}") from None
