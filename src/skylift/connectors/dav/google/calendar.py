"""Google Calendar as a DAV-kind target: each user's calendars through Calendar API v3.

Google has no CalDAV for a service account (research: unconfirmed, and no MKCALENDAR), so
this connector speaks the Calendar API and keeps the DAV contract: a collection is a Google
calendar, an object is every Google event with one iCalUID (the series and its overrides),
its href ``<calendar>/<uid>.ics``, its ETag a digest of those events' ETags. ``put`` imports
with ``events.import``, which keeps the iCalUID and imports again onto the same event, so a
rerun or a resume after a kill updates instead of duplicating; the DAV ledger maps the source
href and UID to this href, and the iCalUID finds the Google ids.

Calls (and nothing else, see ``CALLS``; the drift test holds them to the pinned schema):
``calendarList.list``, ``calendarList.patch`` (the display name as ``summaryOverride``),
``calendars.insert``, ``events.import``, ``events.list`` and ``events.delete``. A calendar's
own ``summary`` is the source collection's name, so a rerun finds it again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote, unquote

from skylift.connectors.dav.base import DavCapabilities, DavConnector, DavSource, DavTarget
from skylift.connectors.dav.google.api import GoogleApiError, GoogleSession, seg
from skylift.connectors.dav.google.events import google_bodies, to_ical, unsupported
from skylift.errors import SkyliftError
from skylift.model.account import Login
from skylift.model.dav import Collection, DavKind, Item, ItemRef, PutResult

SCOPE = "https://www.googleapis.com/auth/calendar"
CALLS = (
    ("calendar.calendarList.list", "GET", "users/me/calendarList"),
    ("calendar.calendarList.patch", "PATCH", "users/me/calendarList/{calendarId}"),
    ("calendar.calendars.insert", "POST", "calendars"),
    ("calendar.events.import", "POST", "calendars/{calendarId}/events/import"),
    ("calendar.events.list", "GET", "calendars/{calendarId}/events"),
    ("calendar.events.delete", "DELETE", "calendars/{calendarId}/events/{eventId}"),
)
ROOT = "/calendar/v3"


class GoogleCalendarConnector(DavConnector):
    """``google+https://www.googleapis.com`` for calendars, ``google+https://people.googleapis.com``
    for contacts (``google+http://127.0.0.1:PORT`` for tests)."""

    capabilities = DavCapabilities(writes=True, components=frozenset({"VEVENT"}), rebuilds=True)

    def open_source(self, login: Login) -> DavSource:
        return self.open_target(login)

    def open_target(self, login: Login) -> DavTarget:
        session = GoogleSession(self.endpoint, login.user)
        if self.kind is DavKind.ADDRESSBOOK:
            from skylift.connectors.dav.google.contacts import GoogleContactsAccount

            return GoogleContactsAccount(session, self.capabilities)
        return GoogleCalendarAccount(session)


def _digest(events: list[dict[str, Any]]) -> str:
    text = "|".join(sorted(f"{e['id']}={e.get('etag', '')}" for e in events))
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:20] + '"'

    def rule(self, raw: bytes) -> str | None:
        """Google Calendar holds events only: a task or journal is refused (events.py)."""
        return unsupported(raw) if self.kind is DavKind.CALENDAR else None


class GoogleCalendarAccount(DavTarget):
    """One user's Google calendars, impersonated through the service account."""

    capabilities = GoogleCalendarConnector.capabilities
    kind = DavKind.CALENDAR

    def __init__(self, session: GoogleSession) -> None:
        self.session = session

    def close(self) -> None:
        self.session.close()

    # -- calendars -------------------------------------------------------------------------
    def collections(self) -> list[Collection]:
        entries = self.session.pages(f"{ROOT}/users/me/calendarList", {"maxResults": 250})
        return [
            Collection(
                kind=DavKind.CALENDAR,
                name=str(e.get("summary", e["id"])),
                display_name=str(e.get("summaryOverride") or e.get("summary", "")),
                description=str(e.get("description", "")),
                components=frozenset({"VEVENT"}),
                href=f"/calendars/{quote(e['id'], safe='@')}/",
            )
            for e in entries
        ]

    def make_collection(self, spec: Collection) -> tuple[Collection, list[str], list[str]]:
        for existing in self.collections():
            if existing.name == spec.name:
                return existing, [], []
        body: dict[str, Any] = {"summary": spec.name}
        if spec.description:
            body["description"] = spec.description
        made = self.session.call("POST", f"{ROOT}/calendars", body=body)
        problems = []
        if spec.display_name and spec.display_name != spec.name:
            self.session.call(
                "PATCH", f"{ROOT}/users/me/calendarList/{seg(made['id'])}",
                body={"summaryOverride": spec.display_name},
            )  # fmt: skip
        if spec.kind is DavKind.CALENDAR and spec.color:
            problems.append(
                f"calendar-color {spec.color} not set (Google calendars take a colour from "
                "their own palette; pick it in Google Calendar)"
            )
        collection = Collection(
            kind=DavKind.CALENDAR, name=spec.name,
            display_name=spec.display_name or spec.name, description=spec.description,
            components=frozenset({"VEVENT"}), href=f"/calendars/{quote(made['id'], safe='@')}/",
        )  # fmt: skip
        return collection, problems, []

    def set_properties(self, href: str, values: Mapping[str, str], why: str = "") -> list[str]:
        return [
            f"property {name} not set ({why}Google calendars: set at creation)" for name in values
        ]

    # -- objects ---------------------------------------------------------------------------
    @staticmethod
    def _calendar_id(href: str) -> str:
        return unquote(href.strip("/").split("/")[1])

    def _events(self, calendar_id: str, uid: str | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"maxResults": 2500, "showDeleted": "true"}
        if uid is not None:
            params["iCalUID"] = uid
        events = self.session.pages(f"{ROOT}/calendars/{seg(calendar_id)}/events", params)
        return [e for e in events if e.get("status") != "cancelled" or "recurringEventId" in e]

    def _grouped(self, collection: Collection) -> dict[str, list[dict[str, Any]]]:
        groups: dict[str, list[dict[str, Any]]] = {}
        for event in self._events(self._calendar_id(collection.href)):
            groups.setdefault(event["iCalUID"], []).append(event)
        return groups

    def item_href(self, collection: Collection, name: str) -> str:
        return collection.href.rstrip("/") + "/" + quote(name, safe="")

    def _uid_href(self, collection_href: str, uid: str) -> str:
        return collection_href.rstrip("/") + "/" + quote(uid, safe="") + ".ics"

    def list_items(self, collection: Collection) -> list[ItemRef]:
        return [
            ItemRef(self._uid_href(collection.href, uid), _digest(events))
            for uid, events in self._grouped(collection).items()
        ]

    def fetch(self, collection: Collection, hrefs: Sequence[str]) -> Iterator[Item]:
        groups = self._grouped(collection)
        for href in hrefs:
            uid = unquote(href.rsplit("/", 1)[1]).removesuffix(".ics")
            if uid in groups:
                yield Item(DavKind.CALENDAR, href, to_ical(groups[uid]), etag=_digest(groups[uid]))

    def marker(self, collection: Collection) -> str | None:
        return None

    def get(self, href: str) -> Item | None:
        uid = unquote(href.rsplit("/", 1)[1]).removesuffix(".ics")
        events = self._events(self._calendar_id(href), uid)
        if not events:
            return None
        return Item(DavKind.CALENDAR, href, to_ical(events), etag=_digest(events))

    def put(
        self,
        collection: Collection,
        name: str,
        raw: bytes,
        etag: str | None = None,
        href: str | None = None,
    ) -> PutResult:
        why = unsupported(raw)
        if why is not None:
            return PutResult(href or self.item_href(collection, name), error=why)
        try:
            bodies = google_bodies(raw)
        except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
            return PutResult(
                href or self.item_href(collection, name), error=f"not importable: {exc}"
            )
        uid = bodies[0]["iCalUID"]
        calendar_id = self._calendar_id(collection.href)
        href = self._uid_href(collection.href, uid)
        current = self._events(calendar_id, uid)
        if etag is None and current:
            return PutResult(href, conflict=True, error="an event with that iCalUID exists")
        if etag is not None and (not current or _digest(current) != etag):
            return PutResult(href, conflict=True, error="changed meanwhile (events differ)")
        path = f"{ROOT}/calendars/{seg(calendar_id)}/events/import"
        try:
            imported = [self.session.call("POST", path, body=body) for body in bodies]
            kept = {e["id"] for e in imported}
            for stale in current:  # an override the source no longer has
                if stale["id"] not in kept and "recurringEventId" in stale:
                    self._delete_event(calendar_id, stale["id"])
        except GoogleApiError as exc:
            return PutResult(href, error=f"Google refused it: {exc}")
        return PutResult(href, etag=_digest(self._events(calendar_id, uid)))

    def _delete_event(self, calendar_id: str, event_id: str) -> None:
        try:
            self.session.call(
                "DELETE", f"{ROOT}/calendars/{seg(calendar_id)}/events/{seg(event_id)}"
            )
        except GoogleApiError as exc:
            if exc.status not in (404, 410):
                raise

    def delete(self, href: str, etag: str | None = None) -> str | None:
        uid = unquote(href.rsplit("/", 1)[1]).removesuffix(".ics")
        calendar_id = self._calendar_id(href)
        events = self._events(calendar_id, uid)
        if etag is not None and events and _digest(events) != etag:
            return "changed on the target meanwhile; left in place"
        try:
            for event in events:
                if "recurringEventId" not in event:
                    self._delete_event(calendar_id, event["id"])
        except (GoogleApiError, SkyliftError) as exc:
            return str(exc)
        return None

    def url_of(self, href: str) -> str:
        return f"{self.session.base}{ROOT}{href}"

    def __enter__(self) -> GoogleCalendarAccount:
        return self
