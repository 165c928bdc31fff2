"""Microsoft 365 contacts as a DAV-kind target: each mailbox's contact folders through Graph.

An address book is a contact folder (found again by its name); a contact is the Graph
contact carrying the vCard UID in the extended property ``UID_PROPERTY``, its href
``/contactFolders/<id>/<uid>.vcf``, its ETag the contact's ``changeKey``. Writes are
``POST /contactFolders/{id}/contacts`` or ``PATCH /contacts/{id}``, then the photo with
``PUT /contacts/{id}/photo/$value``; a rerun finds each contact by its UID, so a resume after a
kill updates instead of duplicating. What an Outlook contact has no field for is reported on
the item (``note``), the original exported.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote, unquote

from skylift.connectors.dav.base import DavCapabilities, DavTarget
from skylift.connectors.dav.graph.api import GraphError, GraphSession
from skylift.connectors.dav.graph.calendar import LIST_EXPAND, _uid, uid_filter
from skylift.connectors.dav.graph.vcard import to_contact, to_vcard
from skylift.model.dav import Collection, DavKind, Item, ItemRef, PutResult

CALLS = (
    ("GET", "/users/{id}/contactFolders"),
    ("POST", "/users/{id}/contactFolders"),
    ("GET", "/users/{id}/contactFolders/{id}/contacts"),
    ("POST", "/users/{id}/contactFolders/{id}/contacts"),
    ("PATCH", "/users/{id}/contacts/{id}"),
    ("DELETE", "/users/{id}/contacts/{id}"),
    ("PUT", "/users/{id}/contacts/{id}/photo/$value"),
    ("GET", "/users/{id}/contacts/{id}/photo/$value"),
)


def _etag(contact: dict[str, Any], photo: str = "") -> str:
    text = f"{contact['id']}={contact.get('changeKey', '')}"
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:20] + '"'


class GraphContactsAccount(DavTarget):
    """One mailbox's contact folders through the Entra app (Contacts.ReadWrite)."""

    kind = DavKind.ADDRESSBOOK
    capabilities = DavCapabilities(writes=True, rebuilds=True)

    def __init__(self, session: GraphSession) -> None:
        self.session = session

    def close(self) -> None:
        self.session.close()

    def collections(self) -> list[Collection]:
        return [
            Collection(
                kind=DavKind.ADDRESSBOOK,
                name=str(f["displayName"]),
                display_name=str(f["displayName"]),
                href=f"/contactFolders/{quote(f['id'], safe='')}/",
            )
            for f in self.session.pages("/contactFolders", {})
        ]

    def make_collection(self, spec: Collection) -> tuple[Collection, list[str], list[str]]:
        for existing in self.collections():
            if existing.name == spec.name:
                return existing, [], []
        made = self.session.call("POST", "/contactFolders", body={"displayName": spec.name})
        notes = (
            ["addressbook-description not kept (contact folders have none)"]
            if spec.description
            else []
        )
        collection = Collection(kind=DavKind.ADDRESSBOOK, name=spec.name, display_name=spec.name,
                                href=f"/contactFolders/{quote(made['id'], safe='')}/")  # fmt: skip
        return collection, [], notes

    def set_properties(self, href: str, values: Mapping[str, str], why: str = "") -> list[str]:
        return [f"property {name} not set ({why}contact folders: a name only)" for name in values]

    @staticmethod
    def _folder(href: str) -> str:
        return unquote(href.strip("/").split("/")[1])

    def _contacts(self, folder: str, uid: str | None = None) -> dict[str, dict[str, Any]]:
        path = f"/contactFolders/{quote(folder, safe='')}/contacts"
        params: dict[str, Any] = {"$top": 100, "$expand": LIST_EXPAND}
        if uid is not None:
            params["$filter"] = uid_filter(uid)
        found = self.session.pages(path, params)
        return {_uid(c): c for c in found}

    def item_href(self, collection: Collection, name: str) -> str:
        return collection.href.rstrip("/") + "/" + quote(name, safe="")

    def _uid_href(self, collection_href: str, uid: str) -> str:
        return collection_href.rstrip("/") + "/" + quote(uid, safe="") + ".vcf"

    def list_items(self, collection: Collection) -> list[ItemRef]:
        return [
            ItemRef(self._uid_href(collection.href, uid), _etag(c))
            for uid, c in self._contacts(self._folder(collection.href)).items()
        ]

    def _photo(self, contact_id: str) -> bytes | None:
        try:
            data = self.session.call("GET", f"/contacts/{contact_id}/photo/$value", raw=True)
        except GraphError as exc:
            if exc.status == 404:
                return None
            raise
        return bytes(data) or None

    def _item(self, href: str, uid: str, contact: dict[str, Any]) -> Item:
        raw = to_vcard(uid, contact, self._photo(contact["id"]))
        return Item(DavKind.ADDRESSBOOK, href, raw, etag=_etag(contact))

    def fetch(self, collection: Collection, hrefs: Sequence[str]) -> Iterator[Item]:
        contacts = self._contacts(self._folder(collection.href))
        for href in hrefs:
            uid = unquote(href.rsplit("/", 1)[1]).removesuffix(".vcf")
            if uid in contacts:
                yield self._item(href, uid, contacts[uid])

    def marker(self, collection: Collection) -> str | None:
        return None

    def get(self, href: str) -> Item | None:
        uid = unquote(href.rsplit("/", 1)[1]).removesuffix(".vcf")
        contact = self._contacts(self._folder(href), uid).get(uid)
        return None if contact is None else self._item(href, uid, contact)

    def put(
        self,
        collection: Collection,
        name: str,
        raw: bytes,
        etag: str | None = None,
        href: str | None = None,
    ) -> PutResult:
        try:
            uid, body, photo, left = to_contact(raw)
        except Exception as exc:  # vobject raises many kinds for odd input
            return PutResult(href or self.item_href(collection, name), error=f"not a vCard: {exc}")
        folder = self._folder(collection.href)
        href = self._uid_href(collection.href, uid)
        current = self._contacts(folder, uid).get(uid)
        if etag is None and current is not None:
            return PutResult(href, conflict=True, error="a contact with that UID exists")
        if etag is not None and (current is None or _etag(current) != etag):
            return PutResult(href, conflict=True, error="changed meanwhile")
        try:
            if current is None:
                path = f"/contactFolders/{quote(folder, safe='')}/contacts"
                contact_id = self.session.call("POST", path, body=body)["id"]
            else:
                contact_id = current["id"]
                body.pop("singleValueExtendedProperties")
                self.session.call("PATCH", f"/contacts/{contact_id}", body=body)
            if photo is not None:
                self.session.call("PUT", f"/contacts/{contact_id}/photo/$value", content=photo)
        except GraphError as exc:
            return PutResult(href, error=f"Graph refused it: {exc}")
        after = self._contacts(folder, uid).get(uid)
        note = f"not carried into Outlook contacts: {', '.join(left)}" if left else None
        return PutResult(href, etag=_etag(after) if after else None, note=note)

    def delete(self, href: str, etag: str | None = None) -> str | None:
        uid = unquote(href.rsplit("/", 1)[1]).removesuffix(".vcf")
        contact = self._contacts(self._folder(href), uid).get(uid)
        if contact is None:
            return None
        if etag is not None and _etag(contact) != etag:
            return "changed on the target meanwhile; left in place"
        try:
            self.session.call("DELETE", f"/contacts/{contact['id']}")
        except GraphError as exc:
            if exc.status != 404:
                return str(exc)
        return None

    def adaptation(self, raw: bytes) -> str | None:
        try:
            left = to_contact(raw)[3]
        except Exception:  # vobject raises many kinds; the write reports it
            return None
        return f"not carried into Outlook contacts: {', '.join(left)}" if left else None

    def url_of(self, href: str) -> str:
        return f"{self.session.base}{self.session.mailbox}{href}"

    def __enter__(self) -> GraphContactsAccount:
        return self
