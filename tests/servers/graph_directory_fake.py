"""The Graph fake's directory half: users, groups, members and JSON ``$batch``.

Extends :class:`tests.servers.graph_fake.GraphFake` (same server, tokens, schema checks and
throttling) with exactly the directory calls skylift's Entra target makes:
``GET/POST /users``, ``GET/PATCH/DELETE /users/{id}``, the same for ``/groups``,
``GET /groups/{id}/members``, ``POST /groups/{id}/members/$ref``,
``DELETE /groups/{id}/members/{id}/$ref`` and ``POST /$batch``.

What it reproduces: the roles (User.ReadWrite.All for users, Group.ReadWrite.All for groups
and members, 403 without); ``POST /users`` requires accountEnabled, displayName,
mailNickname, a userPrincipalName in a verified domain (``domain``) and a
passwordProfile.password, a duplicate UPN is 400 ``Request_BadRequest``; ``POST /groups``
requires displayName, mailEnabled, mailNickname, securityEnabled, ``uniqueName`` is
immutable; a member added twice is 400 "One or more added object references already exist";
``$batch`` takes at most 20 requests (400 otherwise), runs each one through the same checks,
and ``batch_throttle`` makes that many inner requests answer 429 with ``Retry-After``.

What it cannot reproduce: directory replication delay (a new user not yet visible to the next
call), soft-deleted objects and their restore, licences, dynamic groups, ``$batch``
dependencies (``dependsOn``), delta queries, and the real throttling budgets.
"""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.servers.graph_fake import GraphFake

BATCH_LIMIT = 20


def _bad(message: str) -> tuple[int, Any]:
    return 400, {"error": {"code": "Request_BadRequest", "message": message}}


def _missing(kind: str) -> tuple[int, Any]:
    return 404, {"error": {"code": "Request_ResourceNotFound", "message": f"{kind} not found"}}


class GraphDirectoryFake(GraphFake):
    def __init__(self, tokens: Any, domain: str = "example.test") -> None:
        super().__init__(tokens)
        self.domain = domain
        self.users: dict[str, dict[str, Any]] = {}
        self.groups: dict[str, dict[str, Any]] = {}
        self.members: dict[str, set[str]] = {}
        self.passwords_set = 0
        self.batch_sizes: list[int] = []
        self.batch_throttle = 0

    def required_role(self, path: str) -> str:
        parts = [p for p in path.split("/") if p]
        if len(parts) > 1 and parts[1] == "users" and len(parts) <= 3:
            return "User.ReadWrite.All"
        if len(parts) > 1 and parts[1] == "groups":
            return "Group.ReadWrite.All"
        return super().required_role(path)

    def _answer(
        self, verb: str, path: str, query: dict[str, list[str]], authorization: str, raw: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        if path.rstrip("/") == "/v1.0/$batch" and verb == "POST":
            return self._batch(authorization, raw)
        return super()._answer(verb, path, query, authorization, raw)

    def _batch(self, authorization: str, raw: bytes) -> tuple[int, Any, dict[str, str]]:
        body = json.loads(raw or b"{}")
        requests = body.get("requests")
        if not isinstance(requests, list) or set(body) != {"requests"}:
            self.errors.append("$batch: body must be {requests: [...]}")
            return self._error(400, "BadRequest", "Invalid batch payload format.")
        if len(requests) > BATCH_LIMIT:
            self.errors.append(f"$batch: {len(requests)} requests")
            return self._error(400, "BadRequest", "Number of batch requests exceeds 20.")
        self.batch_sizes.append(len(requests))
        out = []
        for request in requests:
            unknown = set(request) - {"id", "method", "url", "body", "headers", "dependsOn"}
            if unknown or not {"id", "method", "url"} <= set(request):
                self.errors.append(f"$batch: bad request entry {sorted(request)}")
                return self._error(400, "BadRequest", "Invalid batch request entry.")
            if self.batch_throttle > 0:
                self.batch_throttle -= 1
                out.append({"id": request["id"], "status": 429, "headers": {"Retry-After": "1"},
                            "body": {"error": {"code": "TooManyRequests", "message": "slow"}}})  # fmt: skip
                continue
            parts = urlsplit(request["url"])
            inner = json.dumps(request["body"]).encode() if "body" in request else b""
            status, answer, _ = self._answer(request["method"], "/v1.0" + parts.path,
                                             parse_qs(parts.query), authorization, inner)  # fmt: skip
            out.append({"id": request["id"], "status": status, "body": answer})
        return 200, {"responses": out}, {}

    # -- routes ---------------------------------------------------------------------------
    def _route(self, verb: str, seg: list[str], q: dict[str, str], body: Any) -> tuple[int, Any]:
        if seg[0] == "users" and len(seg) <= 2:
            return self._users(verb, seg[1] if len(seg) == 2 else None, q, body)
        if seg[0] == "groups":
            return self._groups(verb, seg[1:], q, body)
        return super()._route(verb, seg, q, body)

    @staticmethod
    def _select(item: dict[str, Any], q: dict[str, str]) -> dict[str, Any]:
        if "$select" not in q:
            return {k: v for k, v in item.items() if not k.startswith("_")}
        names = q["$select"].split(",")
        return {k: item.get(k) for k in names}

    def _users(self, verb: str, key: str | None, q: dict[str, str], body: Any) -> tuple[int, Any]:
        if key is None and verb == "GET":
            return 200, {"value": [self._select(u, q) for u in self.users.values()]}
        if key is None and verb == "POST":
            for need in ("accountEnabled", "displayName", "mailNickname", "userPrincipalName"):
                if need not in body:
                    return _bad(f"Property '{need}' is required when creating the object.")
            if not (body.get("passwordProfile") or {}).get("password"):
                return _bad("Property 'passwordProfile' is required when creating the object.")
            upn = str(body["userPrincipalName"]).lower()
            if not upn.endswith("@" + self.domain):
                return _bad("The domain portion of the userPrincipalName property is invalid.")
            if any(u["userPrincipalName"].lower() == upn for u in self.users.values()):
                return _bad(
                    "Another object with the same value for property userPrincipalName already exists."
                )
            user = {k: v for k, v in body.items() if k != "passwordProfile"}
            self.passwords_set += 1
            user["id"] = str(uuid.uuid4())
            self.users[user["id"]] = user
            return 201, dict(user)
        user = self.users.get(str(key))
        if user is None:
            return _missing("user")
        if verb == "GET":
            return 200, self._select(user, q)
        if verb == "PATCH":
            user.update({k: v for k, v in body.items() if k != "passwordProfile"})
            return 204, None
        if verb == "DELETE":
            del self.users[user["id"]]
            for members in self.members.values():
                members.discard(user["id"])
            return 204, None
        return _bad(f"{verb} not supported")

    def _groups(self, verb: str, rest: list[str], q: dict[str, str], body: Any) -> tuple[int, Any]:
        if not rest and verb == "GET":
            return 200, {"value": [self._select(g, q) for g in self.groups.values()]}
        if not rest and verb == "POST":
            for need in ("displayName", "mailEnabled", "mailNickname", "securityEnabled"):
                if need not in body:
                    return _bad(f"Property '{need}' is required when creating the object.")
            if body.get("uniqueName") and any(
                g.get("uniqueName") == body["uniqueName"] for g in self.groups.values()
            ):
                return _bad(
                    "Another object with the same value for property uniqueName already exists."
                )
            group = dict(body)
            group["id"] = str(uuid.uuid4())
            self.groups[group["id"]] = group
            self.members[group["id"]] = set()
            return 201, dict(group)
        group = self.groups.get(rest[0])
        if group is None:
            return _missing("group")
        if len(rest) == 1:
            if verb == "GET":
                return 200, self._select(group, q)
            if verb == "PATCH":
                if "uniqueName" in body and body["uniqueName"] != group.get("uniqueName"):
                    return _bad("Property 'uniqueName' is read-only once set.")
                group.update(body)
                return 204, None
            if verb == "DELETE":
                del self.groups[group["id"]]
                self.members.pop(group["id"], None)
                return 204, None
        members = self.members[group["id"]]
        if rest[1:] == ["members"] and verb == "GET":
            return 200, {"value": [self._member(m) for m in sorted(members)]}
        if rest[1:] == ["members", "$ref"] and verb == "POST":
            member = str(body["@odata.id"]).rstrip("/").rsplit("/", 1)[-1]
            if member not in self.users and member not in self.groups:
                return _missing("directory object")
            if member in members:
                return _bad("One or more added object references already exist for the "
                            "following modified properties: 'members'.")  # fmt: skip
            members.add(member)
            return 204, None
        if len(rest) == 4 and rest[1] == "members" and rest[3] == "$ref" and verb == "DELETE":
            if rest[2] not in members:
                return _missing("member")
            members.discard(rest[2])
            return 204, None
        return _bad(f"{verb} not supported")

    def _member(self, member: str) -> dict[str, Any]:
        kind = "user" if member in self.users else "group"
        return {"@odata.type": f"#microsoft.graph.{kind}", "id": member}
