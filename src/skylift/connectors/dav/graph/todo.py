"""Tasks (VTODO) into Microsoft To Do: the documented rule for what a Graph calendar cannot hold.

An Outlook calendar holds no tasks; To Do does (``/users/{id}/todo/lists/{id}/tasks``). A
calendar's tasks go to the To Do list of the calendar's name (made on first use, found again
by name), each task carrying its source UID as a ``linkedResource`` (applicationName
``skylift``, externalId = the UID): todoTask has no extended properties, and the linked
resource is the place Graph gives an app to mark its own items. The href is
``/todo/<list id>/<uid>.ics``; the ETag a digest of the task's ``lastModifiedDateTime``.

Kept: SUMMARY, DESCRIPTION, DTSTART, DUE, COMPLETED, STATUS, PRIORITY (as importance),
CATEGORIES, the first VALARM (as a reminder at a moment), an RRULE Graph has a pattern for
(To Do wants a due date for it). Not kept, and said on the item (the original exported):
PERCENT-COMPLETE, RELATED-TO (subtasks), ATTENDEE, ATTACH, an RRULE with no pattern. The app
needs the application permission ``Tasks.ReadWrite.All``; without it each task fails with a
line naming it, and the calendar's events go on.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from typing import Any
from urllib.parse import quote, unquote

from icalendar import Alarm, Calendar, Todo

from skylift.connectors.dav.graph.api import GraphError, GraphSession
from skylift.connectors.dav.graph.events import when
from skylift.connectors.dav.graph.recurrence import NoPattern, to_pattern, to_rrule
from skylift.connectors.dav.graph.zones import to_zoneinfo
from skylift.model.dav import DavKind, Item, ItemRef, PutResult

CALLS = (
    ("GET", "/users/{id}/todo/lists"),
    ("POST", "/users/{id}/todo/lists"),
    ("GET", "/users/{id}/todo/lists/{id}/tasks"),
    ("POST", "/users/{id}/todo/lists/{id}/tasks"),
    ("PATCH", "/users/{id}/todo/lists/{id}/tasks/{id}"),
    ("DELETE", "/users/{id}/todo/lists/{id}/tasks/{id}"),
)
APP = "skylift"
ROLE = "Tasks.ReadWrite.All"
STATUS = {"NEEDS-ACTION": "notStarted", "IN-PROCESS": "inProgress", "COMPLETED": "completed",
          "CANCELLED": "deferred"}  # fmt: skip
BACK = {v: k for k, v in STATUS.items()} | {"waitingOnOthers": "IN-PROCESS"}
NOT_KEPT = ("PERCENT-COMPLETE", "RELATED-TO", "ATTENDEE", "ATTACH")


def is_task(raw: bytes) -> bool:
    """True when the object is a task (its first component a VTODO)."""
    try:
        cal = Calendar.from_ical(raw)
    except ValueError:
        return False
    names = [c.name for c in cal.subcomponents if c.name in ("VEVENT", "VTODO", "VJOURNAL")]
    return bool(names) and names[0] == "VTODO"


def _moment(value: Any) -> dict[str, str]:
    return when(value, None)


def task_body(raw: bytes) -> tuple[str, dict[str, Any], list[str]]:
    """(UID, the todoTask body, what is not kept) for one VTODO object."""
    todo = next(c for c in Calendar.from_ical(raw).walk("VTODO"))
    uid = str(todo.get("UID"))
    body: dict[str, Any] = {"title": str(todo.get("SUMMARY", ""))}
    left = [f"{name} not kept (To Do has no place for it)" for name in NOT_KEPT
            if todo.get(name) is not None]  # fmt: skip
    if todo.get("DESCRIPTION") is not None:
        body["body"] = {"contentType": "text", "content": str(todo.get("DESCRIPTION"))}
    for prop, name in (("DTSTART", "startDateTime"), ("DUE", "dueDateTime"),
                       ("COMPLETED", "completedDateTime")):  # fmt: skip
        if todo.get(prop) is not None:
            body[name] = _moment(todo.decoded(prop))
    body["status"] = STATUS.get(str(todo.get("STATUS", "NEEDS-ACTION")).upper(), "notStarted")
    priority = int(todo.get("PRIORITY", 0) or 0)
    body["importance"] = "high" if 1 <= priority <= 4 else "low" if priority >= 6 else "normal"
    categories: list[str] = []
    values = todo.get("CATEGORIES")
    for value in values if isinstance(values, list) else [values] if values is not None else []:
        categories += [str(c) for c in getattr(value, "cats", [value])]
    if categories:
        body["categories"] = categories
    reminder = _reminder(todo)
    body["isReminderOn"] = reminder is not None
    if reminder is not None:
        body["reminderDateTime"] = _moment(reminder)
    if todo.get("RRULE") is not None:
        due = todo.decoded("DUE") if todo.get("DUE") is not None else None
        if due is None:
            left.append("RRULE not kept (To Do repeats only a task with a due date)")
        else:
            try:
                body["recurrence"] = to_pattern(todo.get("RRULE"), due, when(due)["timeZone"])
            except NoPattern as exc:
                left.append(f"RRULE not kept (no To Do pattern: {exc})")
    body["linkedResources"] = [{"applicationName": APP, "externalId": uid,
                                "displayName": "source UID"}]  # fmt: skip
    return uid, body, left


def _reminder(todo: Any) -> dt.datetime | None:
    """The first VALARM's moment: absolute, or relative to DUE (else DTSTART)."""
    for alarm in todo.walk("VALARM"):
        trigger = alarm.decoded("TRIGGER") if alarm.get("TRIGGER") is not None else None
        if isinstance(trigger, dt.datetime):
            return trigger
        if isinstance(trigger, dt.timedelta):
            anchor = todo.get("DUE") or todo.get("DTSTART")
            if anchor is not None:
                base = anchor.dt
                if not isinstance(base, dt.datetime):
                    base = dt.datetime.combine(base, dt.time(), tzinfo=dt.UTC)
                return base + trigger  # type: ignore[no-any-return]
    return None


def _read(value: dict[str, str] | None) -> dt.datetime | None:
    if not value:
        return None
    moment = dt.datetime.fromisoformat(value["dateTime"][:19])
    return moment.replace(tzinfo=to_zoneinfo(value.get("timeZone") or "UTC"))


def to_vtodo(uid: str, task: dict[str, Any]) -> bytes:
    """One VCALENDAR with the VTODO a To Do task reads back as."""
    cal = Calendar()
    cal.add("PRODID", "-//skylift//Microsoft To Do export//EN")
    cal.add("VERSION", "2.0")
    out = Todo()
    out.add("UID", uid)
    if task.get("title"):
        out.add("SUMMARY", task["title"])
    content = (task.get("body") or {}).get("content")
    if content:
        out.add("DESCRIPTION", content)
    for name, prop in (("startDateTime", "DTSTART"), ("dueDateTime", "DUE"),
                       ("completedDateTime", "COMPLETED")):  # fmt: skip
        moment = _read(task.get(name))
        if moment is not None:
            out.add(prop, moment.astimezone(dt.UTC) if prop == "COMPLETED" else moment)
    out.add("STATUS", BACK.get(str(task.get("status", "")), "NEEDS-ACTION"))
    importance = task.get("importance")
    if importance in ("high", "low"):
        out.add("PRIORITY", 1 if importance == "high" else 9)
    if task.get("categories"):
        out.add("CATEGORIES", task["categories"])
    if task.get("recurrence") and task.get("dueDateTime"):
        from icalendar import vRecur

        due = _read(task["dueDateTime"])
        assert due is not None
        out.add("RRULE", vRecur.from_ical(to_rrule(task["recurrence"], due)))
    reminder = _read(task.get("reminderDateTime")) if task.get("isReminderOn") else None
    if reminder is not None:
        alarm = Alarm()
        alarm.add("ACTION", "DISPLAY")
        alarm.add("DESCRIPTION", task.get("title") or "Reminder")
        alarm.add("TRIGGER", reminder.astimezone(dt.UTC), parameters={"VALUE": "DATE-TIME"})
        out.add_component(alarm)
    cal.add_component(out)
    return cal.to_ical()  # type: ignore[no-any-return]


def _source_uid(task: dict[str, Any]) -> str | None:
    for link in task.get("linkedResources") or []:
        if link.get("applicationName") == APP and link.get("externalId"):
            return str(link["externalId"])
    return None


def _etag(task: dict[str, Any]) -> str:
    text = f"{task['id']}={task.get('lastModifiedDateTime', '')}"
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:20] + '"'


class TodoLists:
    """One mailbox's To Do lists as the tasks side of its Graph calendars.

    Lists are looked up once per run and tasks once per list, then kept up to date by this
    session's own writes (a resume after a kill finds the task a lost answer created).
    """

    def __init__(self, session: GraphSession) -> None:
        self.session = session
        self._lists: dict[str, str] | None = None  # display name -> id
        self._tasks: dict[str, dict[str, dict[str, Any]]] = {}  # list id -> uid -> task
        self.denied: str | None = None  # why To Do cannot be used (the role is missing)
        # the engine writes a collection's objects on several threads: one list made, once
        self._lock = threading.RLock()

    @staticmethod
    def is_todo(href: str) -> bool:
        return href.startswith("/todo/")

    def _names(self) -> dict[str, str]:
        with self._lock:
            return self._names_locked()

    def _names_locked(self) -> dict[str, str]:
        if self._lists is None:
            self._lists = {
                str(x.get("displayName")): str(x["id"])
                for x in self.session.pages("/todo/lists", {})
            }
        return self._lists

    def list_id(self, name: str, make: bool = False) -> str | None:
        """The To Do list called *name* (made when *make*), or None."""
        with self._lock:
            found = self._names().get(name)
            if found is None and make:
                made = self.session.call("POST", "/todo/lists", body={"displayName": name})
                found = str(made["id"])
                self._names()[name] = found
                self._tasks[found] = {}
            return found

    def _of(self, list_id: str) -> dict[str, dict[str, Any]]:
        with self._lock:
            return self._of_locked(list_id)

    def _of_locked(self, list_id: str) -> dict[str, dict[str, Any]]:
        if list_id not in self._tasks:
            path = f"/todo/lists/{quote(list_id, safe='')}/tasks"
            found: dict[str, dict[str, Any]] = {}
            for task in self.session.pages(path, {"$expand": "linkedResources", "$top": 100}):
                uid = _source_uid(task)
                if uid is not None:
                    found[uid] = task
            self._tasks[list_id] = found
        return self._tasks[list_id]

    @staticmethod
    def href(list_id: str, uid: str) -> str:
        return f"/todo/{quote(list_id, safe='')}/{quote(uid, safe='')}.ics"

    @staticmethod
    def _parts(href: str) -> tuple[str, str]:
        _, list_id, name = href.strip("/").split("/", 2)
        return unquote(list_id), unquote(name).removesuffix(".ics")

    def list_items(self, calendar_name: str) -> list[ItemRef]:
        """The tasks of the list named like the calendar; none when To Do is not permitted."""
        if self.denied is not None:
            return []
        try:
            list_id = self.list_id(calendar_name)
            if list_id is None:
                return []
            return [
                ItemRef(self.href(list_id, uid), _etag(t)) for uid, t in self._of(list_id).items()
            ]
        except GraphError as exc:
            if exc.status != 403:
                raise
            self.denied = f"the Entra app lacks {ROLE} (Microsoft To Do): {exc}"
            return []

    def get(self, href: str) -> Item | None:
        list_id, uid = self._parts(href)
        task = self._of(list_id).get(uid)
        if task is None:
            return None
        return Item(DavKind.CALENDAR, href, to_vtodo(uid, task), etag=_etag(task))

    def put(self, calendar_name: str, raw: bytes, etag: str | None) -> PutResult:
        try:
            uid, body, left = task_body(raw)
        except (ValueError, KeyError, TypeError, StopIteration, AttributeError) as exc:
            return PutResult("", error=f"not storable as a To Do task: {exc}")
        if self.denied is not None:
            return PutResult("", error=self.denied)
        try:
            list_id = self.list_id(calendar_name, make=True)
            assert list_id is not None
            tasks = self._of(list_id)
            href, current = self.href(list_id, uid), tasks.get(uid)
            if etag is None and current is not None:
                return PutResult(href, conflict=True, error="a task with that UID exists")
            if etag is not None and (current is None or _etag(current) != etag):
                return PutResult(href, conflict=True, error="changed meanwhile (task differs)")
            path = f"/todo/lists/{quote(list_id, safe='')}/tasks"
            if current is None:
                made = self.session.call("POST", path, body=body)
            else:
                patch = {k: v for k, v in body.items() if k != "linkedResources"}
                made = self.session.call("PATCH", f"{path}/{quote(current['id'], safe='')}",
                                         body=patch)  # fmt: skip
            made.setdefault("linkedResources", body["linkedResources"])
            tasks[uid] = made
        except GraphError as exc:
            if exc.status == 403:
                self.denied = f"the Entra app lacks {ROLE} (Microsoft To Do): {exc}"
                return PutResult("", error=self.denied)
            return PutResult("", error=f"Graph refused the task: {exc}")
        note = "; ".join(["a task: stored in Microsoft To Do", *left]) if left else None
        return PutResult(href, etag=_etag(made), note=note)

    def delete(self, href: str, etag: str | None = None) -> str | None:
        list_id, uid = self._parts(href)
        task = self._of(list_id).get(uid)
        if task is None:
            return None
        if etag is not None and _etag(task) != etag:
            return "changed meanwhile (task differs)"
        try:
            path = f"/todo/lists/{quote(list_id, safe='')}/tasks/{quote(task['id'], safe='')}"
            self.session.call("DELETE", path)
        except GraphError as exc:
            return str(exc)
        self._of(list_id).pop(uid, None)
        return None

    @staticmethod
    def rule(raw: bytes) -> str:
        """What --dry-run says of one task."""
        try:
            _, _, left = task_body(raw)
        except (ValueError, KeyError, TypeError, StopIteration, AttributeError):
            left = []
        where = f"a task: goes to the Microsoft To Do list named like its calendar (needs {ROLE})"
        return "; ".join([where, *left])
