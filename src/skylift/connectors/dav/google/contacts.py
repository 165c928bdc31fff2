"""Google Contacts as a DAV-kind target: each user's contacts through the People API.

An address book is a user contact group (``contactGroups``); a contact is one ``Person``
found by the vCard UID it carries in ``clientData`` (``people.py``), its href
``/contacts/<group>/<uid>.vcf``, its ETag Google's. Writes are ``createContact``,
``updateContact`` (with the Person's etag: Google refuses a stale one) and ``deleteContact``.
Google asks that "mutate requests for the same user should be sent sequentially": every write
of one user takes that user's lock, whatever ``--dav-workers`` says.

Not batched: the DAV contract writes one object at a time and needs each write's answer
(``batchCreateContacts`` takes at most 200; using it needs a batch call in the contract).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote, unquote

from skylift.connectors.dav.base import DavTarget
from skylift.connectors.dav.google.api import GoogleApiError, GoogleSession
from skylift.connectors.dav.google.people import (
    PERSON_FIELDS,
    UPDATE_FIELDS,
    to_person,
    to_vcard,
    uid_of,
)
from skylift.model.dav import Collection, DavKind, Item, ItemRef, PutResult

SCOPE = "https://www.googleapis.com/auth/contacts"
CALLS = (
    ("people.contactGroups.list", "GET", "v1/contactGroups"),
    ("people.contactGroups.create", "POST", "v1/contactGroups"),
    ("people.people.connections.list", "GET", "v1/{+resourceName}/connections"),
    ("people.people.createContact", "POST", "v1/people:createContact"),
    ("people.people.updateContact", "PATCH", "v1/{+resourceName}:updateContact"),
    ("people.people.deleteContact", "DELETE", "v1/{+resourceName}:deleteContact"),
)
_USER_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_LOCK = threading.Lock()


def user_lock(user: str) -> threading.Lock:
    """The one lock of *user*'s mutate calls, shared by every session in this process."""
    with _LOCKS_LOCK:
        return _USER_LOCKS.setdefault(user.lower(), threading.Lock())


class GoogleContactsAccount(DavTarget):
    """One user's Google contacts, impersonated through the service account."""

    kind = DavKind.ADDRESSBOOK

    def __init__(self, session: GoogleSession, capabilities: Any) -> None:
        self.session = session
        self.capabilities = capabilities
        self._lock = user_lock(session.user)
        # group -> UID -> Person: listed once per collection and kept up to date by this
        # account's own writes, so a put does not list the whole address book again (the
        # People API allows a user 90 reads a minute; thousands of contacts would be
        # thousands of full listings)
        self._known: dict[str, dict[str, dict[str, Any]]] = {}

    def close(self) -> None:
        self.session.close()

    # -- groups ----------------------------------------------------------------------------
    def collections(self) -> list[Collection]:
        groups = []
        query: dict[str, Any] = {"pageSize": 1000}
        while True:
            answer = self.session.call("GET", "/v1/contactGroups", params=query)
            groups.extend(answer.get("contactGroups", []))
            if not answer.get("nextPageToken"):
                break
            query["pageToken"] = answer["nextPageToken"]
        return [
            self._collection(g["resourceName"], g["name"])
            for g in groups
            if g.get("groupType") == "USER_CONTACT_GROUP"
        ]

    @staticmethod
    def _collection(resource: str, name: str) -> Collection:
        return Collection(
            kind=DavKind.ADDRESSBOOK, name=name, display_name=name,
            href=f"/contacts/{quote(resource, safe='')}/", data_versions=frozenset({"3.0"}),
        )  # fmt: skip

    def make_collection(self, spec: Collection) -> tuple[Collection, list[str], list[str]]:
        for existing in self.collections():
            if existing.name == spec.name:
                return existing, [], []
        with self._lock:
            made = self.session.call(
                "POST", "/v1/contactGroups", body={"contactGroup": {"name": spec.name}}
            )
        problems = []
        if spec.description:
            problems.append("addressbook-description not set (Google contact groups have none)")
        return self._collection(made["resourceName"], spec.name), problems, []

    def set_properties(self, href: str, values: Mapping[str, str], why: str = "") -> list[str]:
        return [
            f"property {name} not set ({why}Google contact groups: a name only)" for name in values
        ]

    # -- contacts --------------------------------------------------------------------------
    @staticmethod
    def _group(href: str) -> str:
        return unquote(href.strip("/").split("/")[1])

    def _people(self, group: str) -> dict[str, dict[str, Any]]:
        """UID -> Person for the members of *group*: this account's view, listed once."""
        if group not in self._known:
            self._known[group] = self._list_people(group)
        return self._known[group]

    def _list_people(self, group: str) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        query: dict[str, Any] = {"personFields": PERSON_FIELDS, "pageSize": 1000}
        while True:
            answer = self.session.call("GET", "/v1/people/me/connections", params=query)
            for person in answer.get("connections", []):
                groups = {
                    m.get("contactGroupMembership", {}).get("contactGroupResourceName")
                    for m in person.get("memberships", [])
                }
                uid = uid_of(person)
                if group in groups and uid:
                    found[uid] = person
            if not answer.get("nextPageToken"):
                return found
            query["pageToken"] = answer["nextPageToken"]

    def item_href(self, collection: Collection, name: str) -> str:
        return collection.href.rstrip("/") + "/" + quote(name, safe="")

    @staticmethod
    def _uid(href: str) -> str:
        return unquote(href.rsplit("/", 1)[1]).removesuffix(".vcf")

    def list_items(self, collection: Collection) -> list[ItemRef]:
        group = self._group(collection.href)
        self._known[group] = people = self._list_people(group)  # a listing is always fresh
        return [
            ItemRef(self.item_href(collection, f"{uid}.vcf"), p.get("etag"))
            for uid, p in people.items()
        ]

    def fetch(self, collection: Collection, hrefs: Sequence[str]) -> Iterator[Item]:
        people = self._people(self._group(collection.href))
        for href in hrefs:
            person = people.get(self._uid(href))
            if person is not None:
                yield Item(DavKind.ADDRESSBOOK, href, to_vcard(person), etag=person.get("etag"))

    def marker(self, collection: Collection) -> str | None:
        return None

    def get(self, href: str) -> Item | None:
        person = self._people(self._group(href)).get(self._uid(href))
        if person is None:
            return None
        return Item(DavKind.ADDRESSBOOK, href, to_vcard(person), etag=person.get("etag"))

    def put(
        self,
        collection: Collection,
        name: str,
        raw: bytes,
        etag: str | None = None,
        href: str | None = None,
    ) -> PutResult:
        try:
            uid, person, _dropped = to_person(raw)
        except Exception as exc:  # vobject raises many kinds for a broken card
            return PutResult(href or self.item_href(collection, name), error=f"not a vCard: {exc}")
        group = self._group(collection.href)
        href = self.item_href(collection, f"{uid}.vcf")
        current = self._people(group).get(uid)
        if etag is None and current is not None:
            return PutResult(href, conflict=True, error="a contact with that UID exists")
        if etag is not None and (current is None or current.get("etag") != etag):
            return PutResult(href, conflict=True, error="changed meanwhile (etag differs)")
        person["memberships"] = [{"contactGroupMembership": {"contactGroupResourceName": group}}]
        try:
            with self._lock:
                if current is None:
                    made = self.session.call(
                        "POST", "/v1/people:createContact",
                        params={"personFields": PERSON_FIELDS}, body=person,
                    )  # fmt: skip
                else:
                    person["etag"] = current["etag"]
                    person.pop("memberships")
                    made = self.session.call(
                        "PATCH", f"/v1/{current['resourceName']}:updateContact",
                        params={"updatePersonFields": UPDATE_FIELDS, "personFields": PERSON_FIELDS},
                        body=person,
                    )  # fmt: skip
        except GoogleApiError as exc:
            return PutResult(href, error=f"Google refused it: {exc}")
        self._people(group)[uid] = made
        return PutResult(href, etag=made.get("etag"))

    def delete(self, href: str, etag: str | None = None) -> str | None:
        person = self._people(self._group(href)).get(self._uid(href))
        if person is None:
            return None
        if etag is not None and person.get("etag") != etag:
            return "changed on the target meanwhile; left in place"
        try:
            with self._lock:
                self.session.call("DELETE", f"/v1/{person['resourceName']}:deleteContact")
        except GoogleApiError as exc:
            return str(exc)
        self._people(self._group(href)).pop(self._uid(href), None)
        return None

    def url_of(self, href: str) -> str:
        return f"{self.session.base}{href}"

    def __enter__(self) -> GoogleContactsAccount:
        return self
