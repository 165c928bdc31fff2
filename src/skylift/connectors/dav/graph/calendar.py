"""Microsoft 365 calendars as a DAV-kind target, through Microsoft Graph (no ICS import).

Exchange Online has no CalDAV, and Graph's ``iCalUId`` is read-only, so this connector keeps
the DAV contract this way: a collection is a Graph calendar (found again by its name), an
object is every Graph event carrying one source UID in the extended property
``UID_PROPERTY`` (the series master, or the single events of an expanded series), its href
``/calendars/<id>/<uid>.ics``, its ETag a digest of those events' ``changeKey``. ``put``
creates the master with a ``transactionId`` derived from the calendar and UID (Graph answers
a repeated POST with the first event, so a resume after a kill never duplicates), then makes
each exception by finding the occurrence through ``/instances`` and PATCHing or DELETEing
it. An update PATCHes the master (a new pattern drops the old exceptions on Graph's side)
and applies the exceptions again; a change of shape is delete and create. The DAV ledger maps
source href and UID to this href, so a rerun skips what did not change.

A calendar's tasks (VTODO) go to the Microsoft To Do list of the calendar's name
(:mod:`.todo`), listed and fetched with the calendar's events under ``/todo/`` hrefs.

Calls (and nothing else, see ``CALLS``; the drift test holds them to the pinned CSDL slice).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote, unquote

from skylift.connectors.dav.base import DavCapabilities, DavConnector, DavSource, DavTarget
from skylift.connectors.dav.graph.api import GraphError, GraphSession
from skylift.connectors.dav.graph.events import UID_PROPERTY, GraphPlan, plan_object, unsupported
from skylift.connectors.dav.graph.ical import to_ical
from skylift.connectors.dav.graph.invitations import (
    ATTENDEES_PROPERTY,
    DEFAULT_MODE,
    MODES,
    hold_back,
)
from skylift.connectors.dav.graph.todo import TodoLists, is_task
from skylift.errors import ConfigError, SkyliftError
from skylift.model.account import Login
from skylift.model.dav import Collection, DavKind, Item, ItemRef, PutResult

CALLS = (
    ("GET", "/users/{id}/calendars"),
    ("POST", "/users/{id}/calendars"),
    ("GET", "/users/{id}/calendars/{id}/events"),
    ("POST", "/users/{id}/calendars/{id}/events"),
    ("PATCH", "/users/{id}/events/{id}"),
    ("DELETE", "/users/{id}/events/{id}"),
    ("GET", "/users/{id}/events/{id}/instances"),
    ("GET", "/users/{id}/events/{id}/attachments"),
    ("POST", "/users/{id}/events/{id}/attachments"),
    ("POST", "/users/{id}/events/{id}/attachments/createUploadSession"),
)
EXPAND = (
    f"singleValueExtendedProperties($filter=id eq '{UID_PROPERTY}' or id eq '{ATTENDEES_PROPERTY}'),"
    "exceptionOccurrences"
)
LIST_EXPAND = f"singleValueExtendedProperties($filter=id eq '{UID_PROPERTY}')"
PAGE = 100


class GraphCalendarConnector(DavConnector):
    """``graph+https://graph.microsoft.com`` for calendars and contacts (``graph+http://127.0.0.1:PORT``
    for tests)."""

    capabilities = DavCapabilities(
        writes=True, components=frozenset({"VEVENT", "VTODO"}), rebuilds=True
    )

    def open_source(self, login: Login) -> DavSource:
        return self.open_target(login)

    def open_target(self, login: Login) -> DavTarget:
        session = GraphSession(self.endpoint, login.user)
        if self.kind is DavKind.ADDRESSBOOK:
            from skylift.connectors.dav.graph.contacts import GraphContactsAccount

            return GraphContactsAccount(session)
        mode = self.endpoint.options.get("invitations", DEFAULT_MODE)
        if mode not in MODES:
            raise ConfigError(f"--send-invitations must be one of {', '.join(MODES)}, not {mode!r}")
        return GraphCalendarAccount(session, mode)

    def rule(self, raw: bytes) -> str | None:
        return graph_rule(raw) if self.kind is DavKind.CALENDAR else None


def graph_rule(raw: bytes) -> str | None:
    """How a Microsoft 365 calendar takes *raw*: a task to To Do, a journal refused, a series
    with no Graph pattern expanded (events.py, todo.py); None when as it is."""
    if is_task(raw):
        return TodoLists.rule(raw)
    why = unsupported(raw)
    if why is not None:
        return why
    try:
        return plan_object(raw).note
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        return f"not storable: {exc}"


def _digest(events: list[dict[str, Any]]) -> str:
    text = "|".join(sorted(f"{e['id']}={e.get('changeKey', '')}" for e in events))
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:20] + '"'


def _uid(event: dict[str, Any]) -> str:
    for prop in event.get("singleValueExtendedProperties") or []:
        if str(prop.get("id", "")).lower() == UID_PROPERTY.lower():
            return str(prop.get("value", ""))
    return str(event.get("iCalUId") or event["id"])


def uid_filter(uid: str) -> str:
    """Graph's ``$filter`` for the items whose extended property holds *uid*."""
    value = uid.replace("'", "''")
    return (
        f"singleValueExtendedProperties/Any(ep: ep/id eq '{UID_PROPERTY}' and ep/value eq "
        f"'{value}')"
    )


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class GraphCalendarAccount(DavTarget):
    """One mailbox's calendars through the Entra app (application permission)."""

    capabilities = GraphCalendarConnector.capabilities
    kind = DavKind.CALENDAR

    def __init__(self, session: GraphSession, invitations: str = DEFAULT_MODE) -> None:
        self.session = session
        self.invitations = invitations  # whose attendees Graph is given (invitations.py)
        self.todo = TodoLists(session)  # where the calendars' tasks go (todo.py)

    def close(self) -> None:
        self.session.close()

    # -- calendars -------------------------------------------------------------------------
    def collections(self) -> list[Collection]:
        return [
            Collection(
                kind=DavKind.CALENDAR,
                name=str(c["name"]),
                display_name=str(c["name"]),
                components=frozenset({"VEVENT", "VTODO"}),
                href=f"/calendars/{quote(c['id'], safe='')}/",
            )
            for c in self.session.pages("/calendars", {})
        ]

    def make_collection(self, spec: Collection) -> tuple[Collection, list[str], list[str]]:
        for existing in self.collections():
            if existing.name == spec.name:
                return existing, [], []
        made = self.session.call("POST", "/calendars", body={"name": spec.name})
        notes = []  # what a Graph calendar has no place for: said, not failed
        if spec.display_name and spec.display_name != spec.name:
            notes.append(
                f"displayname {spec.display_name!r} not kept (a Graph calendar has one name: "
                f"{spec.name!r})"
            )
        if spec.description:
            notes.append("calendar-description not kept (Graph calendars have none)")
        if spec.color:
            notes.append(f"calendar-color {spec.color} not kept (Graph takes a palette name)")
        collection = Collection(
            kind=DavKind.CALENDAR, name=spec.name, display_name=spec.name,
            components=frozenset({"VEVENT", "VTODO"}), href=f"/calendars/{quote(made['id'], safe='')}/",
        )  # fmt: skip
        return collection, [], notes

    def set_properties(self, href: str, values: Mapping[str, str], why: str = "") -> list[str]:
        return [f"property {name} not set ({why}Graph calendars: a name only)" for name in values]

    # -- objects ---------------------------------------------------------------------------
    @staticmethod
    def _calendar_id(href: str) -> str:
        return unquote(href.strip("/").split("/")[1])

    def _events(
        self, calendar_id: str, full: bool = False, uid: str | None = None
    ) -> dict[str, list[dict[str, Any]]]:
        """The calendar's events grouped by source UID (only *uid*'s, filtered by Graph)."""
        params: dict[str, Any] = {"$top": PAGE, "$expand": EXPAND if full else LIST_EXPAND}
        if not full:
            params["$select"] = "id,changeKey,iCalUId,type"
        if uid is not None:
            params["$filter"] = uid_filter(uid)
        path = f"/calendars/{quote(calendar_id, safe='')}/events"
        groups: dict[str, list[dict[str, Any]]] = {}
        for event in self.session.pages(path, params):
            groups.setdefault(_uid(event), []).append(event)
        return groups

    def item_href(self, collection: Collection, name: str) -> str:
        return collection.href.rstrip("/") + "/" + quote(name, safe="")

    def _uid_href(self, collection_href: str, uid: str) -> str:
        return collection_href.rstrip("/") + "/" + quote(uid, safe="") + ".ics"

    @staticmethod
    def _href_uid(href: str) -> str:
        return unquote(href.rsplit("/", 1)[1]).removesuffix(".ics")

    def list_items(self, collection: Collection) -> list[ItemRef]:
        return [
            ItemRef(self._uid_href(collection.href, uid), _digest(events))
            for uid, events in self._events(self._calendar_id(collection.href)).items()
        ] + self.todo.list_items(collection.name)

    def fetch(self, collection: Collection, hrefs: Sequence[str]) -> Iterator[Item]:
        tasks = [h for h in hrefs if self.todo.is_todo(h)]
        for href in tasks:
            found = self.todo.get(href)
            if found is not None:
                yield found
        if len(tasks) == len(hrefs):
            return
        groups = self._events(self._calendar_id(collection.href), full=True)
        for href in hrefs:
            uid = self._href_uid(href)
            if uid in groups:
                raw = to_ical(uid, groups[uid], self._files(groups[uid]))
                yield Item(DavKind.CALENDAR, href, raw, etag=_digest(groups[uid]))

    def marker(self, collection: Collection) -> str | None:
        return None

    def get(self, href: str) -> Item | None:
        if self.todo.is_todo(href):
            return self.todo.get(href)
        uid = self._href_uid(href)
        events = self._events(self._calendar_id(href), full=True, uid=uid).get(uid)
        if not events:
            return None
        raw = to_ical(uid, events, self._files(events))
        return Item(DavKind.CALENDAR, href, raw, etag=_digest(events))

    def put(
        self,
        collection: Collection,
        name: str,
        raw: bytes,
        etag: str | None = None,
        href: str | None = None,
    ) -> PutResult:
        if is_task(raw):  # the documented rule: tasks go to Microsoft To Do (todo.py)
            return self.todo.put(collection.name, raw, etag)
        why = unsupported(raw)
        if why is not None:
            return PutResult(href or self.item_href(collection, name), error=why)
        try:
            plan = plan_object(raw)
        except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
            return PutResult(href or self.item_href(collection, name), error=f"not storable: {exc}")
        hold_back(plan, raw, self.invitations, self.session.user)  # stored as it was: no note
        calendar_id = self._calendar_id(collection.href)
        href = self._uid_href(collection.href, plan.uid)
        current = self._events(calendar_id, uid=plan.uid).get(plan.uid, [])
        if etag is None and current:
            return PutResult(href, conflict=True, error="an event with that UID exists")
        if etag is not None and (not current or _digest(current) != etag):
            return PutResult(href, conflict=True, error="changed meanwhile (events differ)")
        try:
            notes = self._write(calendar_id, plan, current)
        except GraphError as exc:
            return PutResult(href, error=f"Graph refused it: {exc}")
        after = self._events(calendar_id, uid=plan.uid).get(plan.uid, [])
        note = "; ".join(n for n in [plan.note, *notes] if n) or None
        return PutResult(href, etag=_digest(after), note=note)

    def _tx(self, calendar_id: str, uid: str, part: str = "") -> str:
        """The ``transactionId`` of one create: the same on a resume, new for new content."""
        return hashlib.sha256(f"{calendar_id}|{uid}|{part}".encode()).hexdigest()[:40]

    def _write(self, calendar_id: str, plan: GraphPlan, current: list[dict[str, Any]]) -> list[str]:
        events = f"/calendars/{quote(calendar_id, safe='')}/events"
        prop = [{"id": UID_PROPERTY, "value": plan.uid}]
        same_shape = (
            len(current) == 1 and not plan.expanded and current[0].get("type") != "singleInstance"
            if plan.master.get("recurrence")
            else len(current) == 1 and not plan.expanded and current[0].get("type") == "singleInstance"
        )  # fmt: skip
        if same_shape:
            body = {**plan.master, "singleValueExtendedProperties": [*prop, *plan.properties]}
            master = self.session.call("PATCH", f"/events/{current[0]['id']}", body=body)
            self._attach(master["id"], plan, update=True)
            return self._exceptions(master["id"], plan)
        for stale in current:
            self._delete_event(stale["id"])
        stamp = hashlib.sha256(repr(plan.master or plan.expanded).encode()).hexdigest()[:12]
        if plan.expanded:
            for i, single in enumerate(plan.expanded):
                body = {**single["body"],
                        "singleValueExtendedProperties": [*prop, *single.get("properties", [])],
                        "transactionId": self._tx(calendar_id, plan.uid, f"{stamp}/{i}")}  # fmt: skip
                self.session.call("POST", events, body=body)
            return []
        body = {**plan.master, "singleValueExtendedProperties": [*prop, *plan.properties],
                "transactionId": self._tx(calendar_id, plan.uid, stamp)}  # fmt: skip
        master = self.session.call("POST", events, body=body)
        self._attach(master["id"], plan)
        return self._exceptions(master["id"], plan)

    def _attach(self, event_id: str, plan: GraphPlan, update: bool = False) -> None:
        """The series' small files (``POST /events/{id}/attachments``); on an update only
        those not there yet, by name."""
        if not plan.attachments:
            return
        path = f"/events/{event_id}/attachments"
        have = set()
        if update:
            have = {a.get("name") for a in self.session.pages(path, {"$select": "name"})}
        for attachment in plan.attachments:
            if attachment["name"] in have:
                continue
            if "_data" not in attachment:
                self.session.call("POST", path, body=attachment)
                continue
            item = {"attachmentType": "file", "name": attachment["name"],
                    "size": attachment["size"], "contentType": attachment["contentType"]}  # fmt: skip
            made = self.session.call(
                "POST", f"{path}/createUploadSession", body={"AttachmentItem": item}
            )
            self.session.upload(made["uploadUrl"], attachment["_data"])

    def _files(self, events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        return {
            e["id"]: self.session.pages(f"/events/{e['id']}/attachments", {})
            for e in events
            if e.get("hasAttachments")
        }

    def _exceptions(self, master_id: str, plan: GraphPlan) -> list[str]:
        """Each moved, changed or cancelled occurrence, by patching or deleting that instance."""
        if not plan.exceptions:
            return []
        first, last = min(plan.exceptions), max(plan.exceptions)
        params = {
            "startDateTime": _iso(first - dt.timedelta(days=1)),
            "endDateTime": _iso(last + dt.timedelta(days=1)),
            "$select": "id,originalStart",
        }
        instances = self.session.pages(f"/events/{master_id}/instances", params)
        by_start = {}
        for instance in instances:
            moment = dt.datetime.fromisoformat(instance["originalStart"].replace("Z", "+00:00"))
            by_start[moment.astimezone(dt.UTC)] = instance["id"]
        missing = []
        for original, change in sorted(plan.exceptions.items()):
            instance_id = by_start.get(original)
            if instance_id is None:
                missing.append(original.isoformat())
                continue
            if change is None:
                self._delete_event(instance_id)
            else:
                self.session.call("PATCH", f"/events/{instance_id}", body=change)
        if missing:
            return [f"{len(missing)} exception(s) name no occurrence of the series: "
                    f"{', '.join(missing[:3])}"]  # fmt: skip
        return []

    def _delete_event(self, event_id: str) -> None:
        try:
            self.session.call("DELETE", f"/events/{event_id}")
        except GraphError as exc:
            if exc.status != 404:
                raise

    def delete(self, href: str, etag: str | None = None) -> str | None:
        if self.todo.is_todo(href):
            return self.todo.delete(href, etag)
        uid = self._href_uid(href)
        events = self._events(self._calendar_id(href), uid=uid).get(uid, [])
        if etag is not None and events and _digest(events) != etag:
            return "changed on the target meanwhile; left in place"
        try:
            for event in events:
                self._delete_event(event["id"])
        except (GraphError, SkyliftError) as exc:
            return str(exc)
        return None

    def adaptation(self, raw: bytes) -> str | None:
        if is_task(raw) or unsupported(raw) is not None:
            return graph_rule(raw) if is_task(raw) else None  # a refusal is said by the write
        try:
            plan = plan_object(raw)
        except (ValueError, KeyError, TypeError, IndexError, AttributeError):
            return None  # the write reports why it cannot be stored
        quiet = hold_back(plan, raw, self.invitations, self.session.user)
        return "; ".join(n for n in (plan.note, quiet) if n) or None

    def url_of(self, href: str) -> str:
        return f"{self.session.base}{self.session.mailbox}{href}"

    def __enter__(self) -> GraphCalendarAccount:
        return self
