"""Microsoft Entra ID as a directory target: users, groups and members through Graph.

Entra takes no inbound SCIM from a sync tool the way skylift uses it, so Microsoft Graph it
is, with the Entra app's client credentials (application permissions User.ReadWrite.All and
Group.ReadWrite.All). Mapping: ``userName`` -> ``userPrincipalName`` (``@`` + the domain of
``--target-base`` when it has none) and ``mailNickname`` (its local part), display/given/family
name -> ``displayName``/``givenName``/``surname``, ``active`` -> ``accountEnabled`` (disable
is ``accountEnabled: false``; delete deletes, after the engine's preview, threshold and
journal as for every target), title/department -> ``jobTitle``/``department``, phone ->
``businessPhones``, e-mails -> ``mail``/``otherMails``. The source anchor travels in a user's
``onPremisesImmutableId`` and a group's ``uniqueName`` (``skylift-<anchor>``, immutable once
set), so a rerun and ``find_matches`` recognise the object. Groups are security groups (not
mail-enabled); members are added and removed through ``$batch`` (20 per request). A new user
gets a random password (never shown, logged or stored) and must change it at first sign-in.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import quote

from skylift.connectors.dav.graph.api import GraphError, GraphSession
from skylift.connectors.directory.base import (
    DirectoryCapabilities,
    DirectoryConnector,
    DirectoryTarget,
    TargetSettings,
)
from skylift.errors import ConfigError, ItemRejected
from skylift.model.directory import DirectoryObject, Group, ObjectKind, User

CALLS = (
    ("GET", "/users"), ("POST", "/users"), ("GET", "/users/{id}"), ("PATCH", "/users/{id}"),
    ("DELETE", "/users/{id}"), ("GET", "/groups"), ("POST", "/groups"), ("GET", "/groups/{id}"),
    ("PATCH", "/groups/{id}"), ("DELETE", "/groups/{id}"), ("GET", "/groups/{id}/members"),
    ("POST", "/groups/{id}/members/$ref"), ("DELETE", "/groups/{id}/members/{id}/$ref"),
    ("POST", "/$batch"),
)  # fmt: skip
USER_SELECT = (
    "id,userPrincipalName,accountEnabled,displayName,givenName,surname,mail,otherMails,"
    "jobTitle,department,businessPhones,onPremisesImmutableId"
)
GROUP_PREFIX = "skylift-"
ALREADY = "already exist"  # Graph's words for a member added twice


class GraphDirectoryConnector(DirectoryConnector):
    """``graph-directory+https://graph.microsoft.com`` (``+http://127.0.0.1:PORT``: tests)."""

    def open_target(self, settings: TargetSettings) -> DirectoryTarget:
        if not settings.base:
            raise ConfigError(
                "the Entra directory needs --target-base DOMAIN (a verified domain, e.g. "
                "contoso.com) for the users' userPrincipalName"
            )
        scheme = self.endpoint.scheme.replace("graph-directory+", "graph+")
        return GraphDirectory(
            GraphSession(replace(self.endpoint, scheme=scheme), ""), settings.base
        )


def _user(data: dict[str, Any]) -> User:
    upn = str(data.get("userPrincipalName", ""))
    mail = str(data.get("mail") or "")
    return User(
        external_id=str(data.get("onPremisesImmutableId") or ""), user_name=upn,
        active=bool(data.get("accountEnabled", True)), display_name=str(data.get("displayName") or ""),
        given_name=str(data.get("givenName") or ""), family_name=str(data.get("surname") or ""),
        email=mail, other_emails=tuple(str(m) for m in data.get("otherMails") or []),
        title=str(data.get("jobTitle") or ""), department=str(data.get("department") or ""),
        phone=str(next(iter(data.get("businessPhones") or []), "")), id=str(data.get("id", "")),
    )  # fmt: skip


def _nickname(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text.split("@")[0]).strip("-.")[:64] or "object"


class GraphDirectory:
    """One Entra tenant's users and groups, as the app."""

    name = "Microsoft Entra ID (Graph)"
    capabilities = DirectoryCapabilities(disable=True, delete=True, rename_in_place=True)

    def __init__(self, session: GraphSession, domain: str) -> None:
        self.session = session
        self.domain = domain.lstrip("@").lower()

    def close(self) -> None:
        self.session.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            return self.session.call(method, path, **kwargs)
        except GraphError as exc:
            raise ItemRejected(f"Graph refused {method} {path.split('?')[0]}: {exc}") from None

    def _pages(self, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            return self.session.pages(path, params)
        except GraphError as exc:
            raise ItemRejected(f"Graph refused GET {path}: {exc}") from None

    # -- reading ---------------------------------------------------------------------------
    def list_users(self) -> Iterator[User]:
        for data in self._pages("/users", {"$select": USER_SELECT, "$top": 999}):
            yield _user(data)

    def _group(self, data: dict[str, Any]) -> Group:
        members = self._pages(f"/groups/{data['id']}/members", {"$select": "id", "$top": 999})
        unique = str(data.get("uniqueName") or "")
        return Group(
            external_id=unique.removeprefix(GROUP_PREFIX) if unique.startswith(GROUP_PREFIX) else "",
            display_name=str(data.get("displayName", "")),
            members=frozenset(str(m["id"]) for m in members), id=str(data["id"]),
        )  # fmt: skip

    def list_groups(self) -> Iterator[Group]:
        for data in self._pages("/groups", {"$select": "id,displayName,uniqueName", "$top": 999}):
            yield self._group(data)

    def get(self, kind: ObjectKind, target_id: str) -> DirectoryObject | None:
        try:
            if kind == "user":
                found = self.session.call(
                    "GET", f"/users/{target_id}", params={"$select": USER_SELECT}
                )
                return _user(found)
            found = self.session.call(
                "GET", f"/groups/{target_id}", params={"$select": "id,displayName,uniqueName"}
            )
            return self._group(found)
        except GraphError as exc:
            if exc.status == 404:
                return None
            raise ItemRejected(f"Graph refused GET {target_id}: {exc}") from None

    def find_matches(self, obj: DirectoryObject) -> list[DirectoryObject]:
        if isinstance(obj, User):
            keys = {obj.external_id, self._address(obj.user_name).lower(), obj.email.lower()} - {""}
            return [
                u for u in self.list_users()
                if {u.external_id, u.user_name.lower(), u.email.lower()} & keys
            ]  # fmt: skip
        return [
            g for g in self.list_groups()
            if (obj.external_id and g.external_id == obj.external_id)
            or g.display_name == obj.display_name
        ]  # fmt: skip

    # -- writing ---------------------------------------------------------------------------
    def _address(self, name: str) -> str:
        return name if "@" in name else f"{name}@{self.domain}" if name else ""

    def _user_body(self, fields: dict[str, object]) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if "user_name" in fields:
            body["userPrincipalName"] = self._address(str(fields["user_name"]))
            body["mailNickname"] = _nickname(str(fields["user_name"]))
        names = {"display_name": "displayName", "given_name": "givenName",
                 "family_name": "surname", "title": "jobTitle", "department": "department"}  # fmt: skip
        for field, prop in names.items():
            if field in fields:
                body[prop] = str(fields[field] or "") or None
        if "active" in fields:
            body["accountEnabled"] = bool(fields["active"])
        if "phone" in fields:
            body["businessPhones"] = [str(fields["phone"])] if fields["phone"] else []
        if "email" in fields:
            body["mail"] = str(fields["email"] or "") or None
        if "other_emails" in fields:
            body["otherMails"] = [str(a) for a in fields["other_emails"] or ()]  # type: ignore[attr-defined]
        if "external_id" in fields:
            body["onPremisesImmutableId"] = str(fields["external_id"] or "") or None
        return body

    def create_user(self, user: User) -> str:
        fields: dict[str, object] = {
            "user_name": user.user_name or user.email, "given_name": user.given_name,
            "family_name": user.family_name, "active": user.active, "title": user.title,
            "department": user.department, "phone": user.phone, "email": user.email,
            "other_emails": user.other_emails, "external_id": user.external_id,
            "display_name": user.display_name or user.user_name,
        }  # fmt: skip
        body = {k: v for k, v in self._user_body(fields).items() if v not in (None, [])}
        body["passwordProfile"] = {
            "password": secrets.token_urlsafe(24), "forceChangePasswordNextSignIn": True,
        }  # fmt: skip
        return str(self._call("POST", "/users", body=body)["id"])

    def update_user(self, target_id: str, changes: dict[str, object]) -> None:
        body = self._user_body(dict(changes))
        if body.get("displayName") is None and "displayName" in body:
            del body["displayName"]  # required on Graph: keep the one it has
        if body:
            self._call("PATCH", f"/users/{target_id}", body=body)

    def create_group(self, group: Group, member_ids: Sequence[str]) -> str:
        body: dict[str, Any] = {
            "displayName": group.display_name, "mailEnabled": False,
            "mailNickname": _nickname(group.display_name), "securityEnabled": True,
        }  # fmt: skip
        if group.external_id:
            body["uniqueName"] = GROUP_PREFIX + group.external_id
        group_id = str(self._call("POST", "/groups", body=body)["id"])
        self._members(group_id, member_ids, [])
        return group_id

    def _members(self, group_id: str, add: Sequence[str], remove: Sequence[str]) -> None:
        """Membership changes through ``$batch``; a member already there is no error."""
        ref = f"{self.session.base}/v1.0/directoryObjects/"
        requests = [
            {"method": "POST", "url": f"/groups/{group_id}/members/$ref",
             "body": {"@odata.id": ref + member}}
            for member in add
        ] + [
            {"method": "DELETE", "url": f"/groups/{group_id}/members/{quote(m, safe='')}/$ref"}
            for m in remove
        ]  # fmt: skip
        if not requests:
            return
        for request, answer in zip(requests, self.session.batch(requests), strict=True):
            status = int(answer.get("status", 0))
            message = str(((answer.get("body") or {}).get("error") or {}).get("message", ""))
            if (
                status < 300
                or (status == 400 and ALREADY in message)
                or (status == 404 and request["method"] == "DELETE")
            ):
                continue
            raise ItemRejected(f"Graph refused {request['method']} {request['url']}: {message}")

    def update_group(
        self,
        target_id: str,
        changes: dict[str, object],
        add_ids: Sequence[str],
        remove_ids: Sequence[str],
    ) -> None:
        if "display_name" in changes:
            self._call("PATCH", f"/groups/{target_id}",
                       body={"displayName": str(changes["display_name"])})  # fmt: skip
        self._members(target_id, add_ids, remove_ids)

    def delete(self, kind: ObjectKind, target_id: str) -> None:
        resource = "users" if kind == "user" else "groups"
        try:
            self.session.call("DELETE", f"/{resource}/{target_id}")
        except GraphError as exc:
            if exc.status != 404:
                raise ItemRejected(f"Graph refused deleting {target_id}: {exc}") from None
