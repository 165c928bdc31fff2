"""The Graph fake's contacts half: contact folders, contacts and their photos.

Extends :class:`tests.servers.graph_todo_fake.GraphTodoFake` (calendars and To Do; same server, tokens, schema checks and
throttling) with exactly the calls skylift's Graph contacts connector makes:
``GET/POST /users/{id}/contactFolders``, ``GET/POST /users/{id}/contactFolders/{id}/contacts``,
``PATCH/DELETE /users/{id}/contacts/{id}``, ``GET/PUT /users/{id}/contacts/{id}/photo/$value``.

What it reproduces: the role Contacts.ReadWrite (403 without); bodies checked against the
``contact`` type of the pinned CSDL slice; the source UID kept only where the client puts it
(an extended property, returned with ``$expand``); a new ``changeKey`` on every write and on a
new photo; a photo must be image bytes (JPEG or PNG), 404 when there is none; a folder name
used twice is 409.

What it cannot reproduce: Exchange's photo resizing, the three-e-mail limit's real behaviour
(the connector keeps three and reports the rest), contact linking and suggestions, delta.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from tests.servers.graph_fake import _property_values, uid_filter
from tests.servers.graph_schema import SchemaError, resolve
from tests.servers.graph_todo_fake import GraphTodoFake

IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")


class GraphContactsFake(GraphTodoFake):
    def __init__(self, tokens: Any) -> None:
        super().__init__(tokens)
        self.folders: dict[str, dict[str, dict[str, Any]]] = {}  # user -> id -> folder
        self.contacts: dict[str, dict[str, Any]] = {}  # id -> contact (with _folder, _photo)

    def people(self, user: str, folder: str) -> list[dict[str, Any]]:
        """Every contact of *user*'s folder called *folder* (for assertions)."""
        ids = {f["id"] for f in self.folders.get(user, {}).values() if f["displayName"] == folder}
        return [c for c in self.contacts.values() if c["_folder"] in ids]

    def required_role(self, path: str) -> str:
        if "/contactFolders" in path or "/contacts/" in path:
            return "Contacts.ReadWrite"
        return super().required_role(path)

    def _answer(
        self, verb: str, path: str, query: dict[str, list[str]], authorization: str, raw: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        if verb == "PUT" and path.endswith("/photo/$value"):
            claims = self._claims(authorization)
            if claims is None or self.required_role(path) not in claims.get("roles", []):
                return self._error(403, "ErrorAccessDenied", "Access is denied.")
            try:
                resolve(path)
            except SchemaError as exc:
                self.errors.append(f"PUT {path}: {exc}")
                return self._error(400, "BadRequest", str(exc))
            if not raw.startswith(IMAGE_MAGIC):
                self.errors.append(f"PUT {path}: not an image")
                return self._error(400, "BadRequest", "The photo is not a supported image.")
            contact = self.contacts.get(path.split("/")[5])
            if contact is None:
                return self._error(404, "ErrorItemNotFound", "not found")
            contact["_photo"] = raw
            self._touch(contact)
            return 200, None, {}
        return super()._answer(verb, path, query, authorization, raw)

    def _route(self, verb: str, seg: list[str], q: dict[str, str], body: Any) -> tuple[int, Any]:
        user, rest = seg[1].lower(), seg[2:]
        if rest and rest[0] == "contactFolders":
            return self._folders(user, verb, rest[1:], q, body)
        if rest and rest[0] == "contacts":
            contact = self.contacts.get(rest[1])
            if contact is None:
                return 404, {"error": {"code": "ErrorItemNotFound", "message": "not found"}}
            if rest[2:] == ["photo", "$value"] and verb == "GET":
                if not contact.get("_photo"):
                    return 404, {"error": {"code": "ImageNotFound", "message": "no photo"}}
                return 200, contact["_photo"]
            if len(rest) == 2 and verb == "PATCH":
                contact.update(body)
                self._touch(contact)
                return 200, self._contact_view(contact, {})
            if len(rest) == 2 and verb == "DELETE":
                del self.contacts[contact["id"]]
                return 204, None
        return super()._route(verb, seg, q, body)

    def _folders(
        self, user: str, verb: str, rest: list[str], q: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        home = self.folders.setdefault(user, {})
        if not rest and verb == "GET":
            return 200, {"value": list(home.values())}
        if not rest and verb == "POST":
            if any(f["displayName"] == body.get("displayName") for f in home.values()):
                return 409, {"error": {"code": "ErrorFolderExists", "message": "exists"}}
            folder = {"id": f"AAMkFld{uuid.uuid4().hex[:12]}", "displayName": body["displayName"]}
            home[folder["id"]] = folder
            return 201, folder
        if rest[0] not in home:
            return 404, {"error": {"code": "ErrorItemNotFound", "message": "no such folder"}}
        if rest[1:] == ["contacts"] and verb == "GET":
            found = [c for c in self.contacts.values() if c["_folder"] == rest[0]]
            wanted = uid_filter(q.get("$filter", ""))
            if wanted is not None:
                found = [c for c in found if wanted in _property_values(c)]
            return 200, {"value": [self._contact_view(c, q) for c in found]}
        if rest[1:] == ["contacts"] and verb == "POST":
            contact = {k: v for k, v in body.items() if k != "id"}
            contact.update(id=f"AAMkCt{uuid.uuid4().hex[:16]}", _folder=rest[0])
            self._touch(contact)
            self.contacts[contact["id"]] = contact
            return 201, self._contact_view(contact, {})
        return 405, {"error": {"code": "BadRequest", "message": f"{verb} not supported here"}}

    @staticmethod
    def _contact_view(contact: dict[str, Any], q: dict[str, str]) -> dict[str, Any]:
        out = {k: v for k, v in contact.items() if not k.startswith("_")}
        out.pop("singleValueExtendedProperties", None)
        wanted = re.search(r"\(\$filter=id eq '([^']+)'\)", q.get("$expand", ""))
        if wanted:
            out["singleValueExtendedProperties"] = [
                p for p in contact.get("singleValueExtendedProperties", [])
                if p["id"].lower() == wanted.group(1).lower()
            ]  # fmt: skip
        return out
