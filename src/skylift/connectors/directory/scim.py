"""A SCIM 2.0 service provider (RFC 7643/7644) as directory target, over httpx.

``scim+https://host/path`` verifies certificates; ``scim+http://`` is refused except to
127.0.0.0/8 unless the user allows plaintext. Users and groups are read with paged
``GET``, changed with ``PATCH`` (only the attributes that changed), sent with ``If-Match``
when the provider announces ETags. A 429/503 raises ``TransientError`` with the provider's
``Retry-After``; the directory run retries it (one retry rule for every target). The bearer token is sent as a header only; it never appears in an error.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from skylift.connectors.directory.base import (
    DirectoryCapabilities,
    DirectoryConnector,
    DirectoryTarget,
    TargetSettings,
)
from skylift.connectors.endpoint import Endpoint
from skylift.errors import AuthError, ConfigError, ConnectError, ItemRejected, TransientError
from skylift.model.account import Secret
from skylift.model.directory import DirectoryObject, Group, ObjectKind, User

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

# User field -> SCIM attribute path for PATCH.
USER_PATHS = {
    "user_name": "userName",
    "active": "active",
    "display_name": "displayName",
    "given_name": "name.givenName",
    "family_name": "name.familyName",
    "title": "title",
    "department": f"{ENTERPRISE}:department",
    "external_id": "externalId",
}


def scim_base_url(endpoint: Endpoint) -> str:
    """``scim+https://h/p`` -> ``https://h/p``, enforcing the plaintext rule."""
    if endpoint.scheme not in ("scim+https", "scim+http"):
        raise ConfigError(f"not a SCIM URL (expected scim+https://...): {endpoint.display()}")
    if endpoint.scheme == "scim+http" and not (endpoint.is_loopback() or endpoint.allow_plaintext):
        raise ConfigError(
            f"{endpoint.display()} is plaintext HTTP; use scim+https:// or pass --allow-plaintext"
        )
    port = f":{endpoint.port}" if endpoint.port else ""
    host = f"[{endpoint.host}]" if ":" in endpoint.host else endpoint.host
    return f"{endpoint.scheme.removeprefix('scim+')}://{host}{port}{endpoint.path.rstrip('/')}"


def user_to_scim(user: User) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schemas": [USER_SCHEMA],
        "userName": user.user_name,
        "active": user.active,
    }
    if user.external_id:
        body["externalId"] = user.external_id
    if user.display_name:
        body["displayName"] = user.display_name
    name = {
        k: v for k, v in (("givenName", user.given_name), ("familyName", user.family_name)) if v
    }
    if name:
        body["name"] = name
    emails = _emails(user.email, user.other_emails)
    if emails:
        body["emails"] = emails
    if user.title:
        body["title"] = user.title
    if user.phone:
        body["phoneNumbers"] = [{"value": user.phone, "type": "work"}]
    if user.department:
        body["schemas"].append(ENTERPRISE)
        body[ENTERPRISE] = {"department": user.department}
    return body


def _emails(primary: str, others: Sequence[str]) -> list[dict[str, Any]]:
    out = [{"value": primary, "type": "work", "primary": True}] if primary else []
    return out + [{"value": v, "type": "other"} for v in others if v]


def user_from_scim(data: dict[str, Any]) -> User:
    emails = data.get("emails") or []
    primary = next((e for e in emails if e.get("primary")), None) or next(
        (e for e in emails if e.get("type") == "work"), None
    )
    phones = data.get("phoneNumbers") or []
    name = data.get("name") or {}
    return User(
        external_id=data.get("externalId") or "",
        user_name=data.get("userName") or "",
        active=data.get("active", True) not in (False, "False", "false"),
        display_name=data.get("displayName") or "",
        given_name=name.get("givenName") or "",
        family_name=name.get("familyName") or "",
        email=(primary or {}).get("value", ""),
        other_emails=tuple(e.get("value", "") for e in emails if e is not primary),
        title=data.get("title") or "",
        department=(data.get(ENTERPRISE) or {}).get("department") or "",
        phone=next((p.get("value", "") for p in phones), ""),
        id=data["id"],
    )


def group_from_scim(data: dict[str, Any]) -> Group:
    members = frozenset(m["value"] for m in data.get("members") or [] if m.get("value"))
    return Group(
        data.get("externalId") or "", data.get("displayName") or "", members, id=data["id"]
    )


class ScimDirectoryTarget:
    """Users and groups of one SCIM service provider."""

    name = "scim"
    capabilities = DirectoryCapabilities()  # PATCH userName/displayName keeps the id

    def __init__(self, endpoint: Endpoint, token: Secret | None, page_size: int = 500) -> None:
        self.base_url = scim_base_url(endpoint)
        headers = {"Accept": "application/scim+json", "Content-Type": "application/scim+json"}
        if token:
            headers["Authorization"] = f"Bearer {token.reveal()}"
        verify: Any = endpoint.ssl_context() if self.base_url.startswith("https") else True
        self.client = httpx.Client(
            base_url=self.base_url, headers=headers, verify=verify, timeout=endpoint.timeout
        )
        self.page_size = page_size
        self.etags = False
        self.versions: dict[str, str] = {}
        self._discover()

    # -- transport -------------------------------------------------------------------------
    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One HTTP exchange. Throttling (429, 503) is a TransientError carrying the
        provider's Retry-After: the directory run retries it, in one place for every target."""
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.ConnectError as exc:
            raise ConnectError(f"cannot reach {self.base_url}: {_reason(exc)}") from exc
        except httpx.TimeoutException as exc:
            raise TransientError(f"{self.base_url} timed out ({method} {path})") from exc
        except httpx.HTTPError as exc:
            raise TransientError(f"{self.base_url}: {_reason(exc)}") from exc
        return self._check(response, method, path)

    def _check(self, response: httpx.Response, method: str, path: str) -> httpx.Response:
        code = response.status_code
        if code < 400:
            return response
        detail = _detail(response)
        if code == 401:
            raise AuthError(f"{self.base_url} refused the SCIM token (401): {detail}")
        if code == 403:
            raise AuthError(f"{self.base_url} forbids {method} {path} (403): {detail}")
        if code == 429 or code >= 500:
            raise TransientError(
                f"{self.base_url} answered {code} to {method} {path}: {detail}",
                retry_after=retry_after(response.headers.get("Retry-After")),
            )
        raise ItemRejected(f"{method} {path} refused ({code}): {detail}")

    def _discover(self) -> None:
        try:
            response = self._request("GET", "/ServiceProviderConfig")
        except ItemRejected as exc:
            raise ConnectError(f"{self.base_url} is not a SCIM 2.0 endpoint: {exc}") from exc
        try:
            config = response.json()
        except ValueError as exc:
            raise ConnectError(f"{self.base_url} is not a SCIM 2.0 endpoint (no JSON)") from exc
        self.etags = bool((config.get("etag") or {}).get("supported"))
        max_results = (config.get("filter") or {}).get("maxResults")
        if isinstance(max_results, int) and max_results > 0:
            self.page_size = min(self.page_size, max_results)

    def _remember(self, data: dict[str, Any], response: httpx.Response | None = None) -> None:
        version = (response.headers.get("ETag") if response is not None else None) or (
            data.get("meta") or {}
        ).get("version")
        if version and "id" in data:
            self.versions[data["id"]] = version

    def _if_match(self, target_id: str) -> dict[str, str]:
        version = self.versions.get(target_id)
        return {"If-Match": version} if self.etags and version else {}

    # -- reading ---------------------------------------------------------------------------
    def _list(
        self, resource: str, params: dict[str, str] | None = None
    ) -> Iterator[dict[str, Any]]:
        start = 1
        while True:
            query = {"startIndex": str(start), "count": str(self.page_size), **(params or {})}
            page = self._request("GET", f"/{resource}", params=query).json()
            resources = page.get("Resources") or []
            for item in resources:
                self._remember(item)
                yield item
            start += len(resources)
            if not resources or start > int(page.get("totalResults", 0)):
                return

    def list_users(self) -> Iterator[User]:
        for item in self._list("Users"):
            yield user_from_scim(item)

    def list_groups(self) -> Iterator[Group]:
        for item in self._list("Groups"):
            yield group_from_scim(item)

    def find_matches(self, obj: DirectoryObject) -> list[DirectoryObject]:
        """Objects that could be *obj* (for a delta run, which does not list the target)."""
        if isinstance(obj, User):
            terms = [
                ("externalId", obj.external_id),
                ("userName", obj.user_name),
                ("emails.value", obj.email),
            ]
            resource = "Users"
        else:
            terms = [("externalId", obj.external_id), ("displayName", obj.display_name)]
            resource = "Groups"
        flt = " or ".join(f'{attr} eq "{_quote(v)}"' for attr, v in terms if v)
        found: list[DirectoryObject] = []
        for item in self._list(resource, {"filter": flt}):
            found.append(user_from_scim(item) if resource == "Users" else group_from_scim(item))
        return found

    def get(self, kind: ObjectKind, target_id: str) -> DirectoryObject | None:
        resource = "Users" if kind == "user" else "Groups"
        try:
            response = self._request("GET", f"/{resource}/{target_id}")
        except ItemRejected:
            return None
        data = response.json()
        self._remember(data, response)
        return user_from_scim(data) if kind == "user" else group_from_scim(data)

    # -- writing ---------------------------------------------------------------------------
    def create_user(self, user: User) -> str:
        response = self._request("POST", "/Users", json=user_to_scim(user))
        data = response.json()
        self._remember(data, response)
        return str(data["id"])

    def update_user(self, target_id: str, changes: dict[str, object]) -> None:
        ops: list[dict[str, Any]] = []
        for field_name, value in changes.items():
            if field_name in ("email", "other_emails"):
                continue
            path = USER_PATHS[field_name] if field_name != "phone" else "phoneNumbers"
            if field_name == "phone":
                value = [{"value": value, "type": "work"}] if value else None
            ops.append(_op(path, value))
        if "email" in changes or "other_emails" in changes:
            current = self.get("user", target_id)
            email = str(changes.get("email", current.email if isinstance(current, User) else ""))
            others = changes.get(
                "other_emails", current.other_emails if isinstance(current, User) else ()
            )
            ops.append(_op("emails", _emails(email, tuple(others)) or None))  # type: ignore[arg-type]
        self._patch("Users", target_id, ops)

    def create_group(self, group: Group, member_ids: Sequence[str]) -> str:
        body: dict[str, Any] = {"schemas": [GROUP_SCHEMA], "displayName": group.display_name}
        if group.external_id:
            body["externalId"] = group.external_id
        if member_ids:
            body["members"] = [{"value": m} for m in member_ids]
        response = self._request("POST", "/Groups", json=body)
        data = response.json()
        self._remember(data, response)
        return str(data["id"])

    def update_group(
        self,
        target_id: str,
        changes: dict[str, object],
        add_ids: Sequence[str],
        remove_ids: Sequence[str],
    ) -> None:
        ops = [
            _op(USER_PATHS[k], v)
            for k, v in changes.items()
            if k in ("display_name", "external_id")
        ]
        if add_ids:
            ops.append({"op": "add", "path": "members", "value": [{"value": m} for m in add_ids]})
        for m in remove_ids:
            ops.append({"op": "remove", "path": f'members[value eq "{m}"]'})
        self._patch("Groups", target_id, ops)

    def _patch(self, resource: str, target_id: str, ops: list[dict[str, Any]]) -> None:
        if not ops:
            return
        body = {"schemas": [PATCH_SCHEMA], "Operations": ops}
        path = f"/{resource}/{target_id}"
        try:
            response = self._request("PATCH", path, json=body, headers=self._if_match(target_id))
        except ItemRejected as exc:
            if "(412)" not in str(exc):
                raise
            # Changed on the provider since we read it: read the new version, then retry once.
            self.get("user" if resource == "Users" else "group", target_id)
            response = self._request("PATCH", path, json=body, headers=self._if_match(target_id))
        if response.headers.get("ETag"):
            self.versions[target_id] = response.headers["ETag"]

    def delete(self, kind: ObjectKind, target_id: str) -> None:
        resource = "Users" if kind == "user" else "Groups"
        try:
            self._request("DELETE", f"/{resource}/{target_id}", headers=self._if_match(target_id))
        except ItemRejected as exc:
            if "(404)" not in str(exc):
                raise
        self.versions.pop(target_id, None)

    def close(self) -> None:
        self.client.close()


def _op(path: str, value: object) -> dict[str, Any]:
    if value in ("", None, (), []):
        return {"op": "remove", "path": path}
    return {
        "op": "replace",
        "path": path,
        "value": list(value) if isinstance(value, tuple) else value,
    }


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def retry_after(header: str | None) -> float | None:
    """The provider's Retry-After in seconds (RFC 9110 §10.2.3: seconds or an HTTP date);
    None when it gave none. How long to wait at most is the runner's rule, not this one's."""
    if not header:
        return None
    try:
        return max(float(header), 0.0)
    except ValueError:
        pass
    try:
        return max(parsedate_to_datetime(header).timestamp() - time.time(), 0.0)
    except (TypeError, ValueError):
        return None


def _detail(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.reason_phrase or "no detail"
    if isinstance(data, dict):
        scim_type = f" [{data['scimType']}]" if data.get("scimType") else ""
        return f"{data.get('detail') or response.reason_phrase}{scim_type}"
    return response.reason_phrase or "no detail"


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__


class ScimDirectoryConnector(DirectoryConnector):
    """``scim+https://`` and ``scim+http://``: a target only (SCIM has no change feed)."""

    def open_target(self, settings: TargetSettings) -> DirectoryTarget:
        return ScimDirectoryTarget(self.endpoint, settings.token)
