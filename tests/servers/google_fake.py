"""A stateful loopback fake of Google Calendar API v3, checked against Google's own schema.

No emulator of Google's APIs exists, so this stands in for exactly the calls skylift's
Google calendar connector makes (``calendarList.list/patch``, ``calendars.insert``,
``events.import/list/delete``). Every request is routed and validated against the pinned
discovery slice (``tests/servers/google_schema.py``): an unknown path is 404, an unknown query
parameter, an unknown body field or a wrong type is 400 ``invalid`` as Google answers, and the
test that caused it fails (``errors`` lists each refusal).

What it reproduces (the behaviours that lose data when ignored):
- bearer tokens from the loopback token endpoint; the user is the token's ``email`` (the
  service account's subject), so each user sees only their own calendars;
- ``events.import`` requires ``iCalUID``, ``start`` and ``end``, keeps the iCalUID, and
  imports again onto the same event (an upsert by iCalUID); only ``eventType`` ``default``;
- recurrence as RFC 5545 ``RRULE``/``EXDATE``/``RDATE`` lines, refused when malformed;
  a recurring event needs ``start.timeZone``;
- overrides: an import with the series' iCalUID and ``originalStartTime`` becomes an instance
  (``recurringEventId`` set to the series' id); ``status: cancelled`` keeps it as a
  cancelled instance;
- ``events.list`` with ``iCalUID`` finds the series and its instances, pages with
  ``pageToken``; ``events.delete`` of a series removes its instances; a second delete is 410;
- throttling: ``throttle_next`` scripts answers (``403 rateLimitExceeded``, ``429``, ``503``)
  with an optional ``Retry-After``; ``calls`` records each request with its time.

People API (``contactGroups.list/create``, ``people.connections.list``,
``createContact/updateContact/deleteContact``): ``personFields`` and ``updatePersonFields``
masks required, an update with a stale ``etag`` is 400 ``failedPrecondition``, a membership
in an unknown group is refused.

Admin SDK Directory API (users, groups, members: list/get/insert/patch/delete): only the
super-admins in ``admins`` may call it (403 otherwise); ``users.insert`` requires
``primaryEmail`` in the domain, ``password`` and a given and family name, a duplicate is 409;
PATCH replaces an array field whole; a member added twice is 409 ``duplicate``.

What it cannot reproduce: Google's real recurrence expansion and RRULE subset, attendee
e-mails and notifications, quota accounting per project, ETag semantics beyond a counter, and
whether Google itself accepts an override imported with ``originalStartTime`` (Google documents
the field; the research notes it unconfirmed for ``import``); for People, the extra latency
and failures Google warns of when one user's mutate calls overlap (the connector keeps them
sequential with a lock per user; the fake serves one request at a time), photos, and the
propagation delay after a write. Recorded in docs/calendars.md.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt

from tests.servers.google_schema import SchemaError, check_body, check_query, route
from tests.servers.loopback_api import LoopbackApi

RECURRENCE_LINE = re.compile(r"^(RRULE|EXRULE|RDATE|EXDATE)[;:][^\r\n]+$")


@dataclass
class Calendar:
    id: str
    summary: str
    description: str = ""
    time_zone: str = "UTC"
    summary_override: str = ""
    events: dict[str, dict[str, Any]] = field(default_factory=dict)  # event id -> event


@dataclass
class Call:
    method: str
    path: str
    user: str
    at: float
    status: int = 0


class GoogleFake(LoopbackApi):
    """Start with :meth:`start`; ``api_base`` is what ``--target-api-base`` takes."""

    json_media_type = "application/json; charset=UTF-8"

    def __init__(self, tokens: Any) -> None:
        self.tokens = tokens  # the loopback TokenEndpoint whose tokens are honoured
        self.calendars: dict[str, dict[str, Calendar]] = {}  # user -> id -> calendar
        self.groups: dict[str, dict[str, dict[str, Any]]] = {}  # user -> resourceName -> group
        self.people: dict[str, dict[str, dict[str, Any]]] = {}  # user -> resourceName -> Person
        self.domain = "example.test"
        self.admins: set[str] = set()  # who may call the Admin SDK
        self.users: dict[str, dict[str, Any]] = {}  # Admin SDK: id -> User
        self.dgroups: dict[str, dict[str, Any]] = {}  # Admin SDK: id -> Group
        self.members: dict[str, set[str]] = {}  # group id -> user ids
        self.passwords_set = 0
        self.errors: list[str] = []
        self.calls: list[Call] = []
        self.throttle_next: list[tuple[int, str, str | None]] = []  # status, reason, Retry-After
        self.page_size = 50
        self.write_delay = 0.0  # seconds before each write is served
        self._etags = itertools.count(1)
        self._lock = threading.Lock()

    def events(self, user: str, summary: str) -> list[dict[str, Any]]:
        """Every stored event of *user*'s calendar called *summary* (for assertions)."""
        cal = next(c for c in self.calendars.get(user, {}).values() if c.summary == summary)
        return list(cal.events.values())

    # -- dispatch -------------------------------------------------------------------------
    @staticmethod
    def _error(status: int, reason: str, message: str) -> tuple[int, Any, dict[str, str]]:
        body = {
            "error": {
                "code": status,
                "message": message,
                "errors": [{"domain": "global", "reason": reason, "message": message}],
            }
        }
        return status, body, {}

    def _user(self, authorization: str) -> str | None:
        token = authorization.removeprefix("Bearer ").strip()
        if not token or token not in self.tokens.tokens:
            return None
        claims = jwt.decode(token, options={"verify_signature": False})
        if claims.get("exp", 0) < time.time() - 1:
            return None
        return str(claims.get("email", "")) or None

    def handle(
        self, verb: str, target: str, authorization: str, raw: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        parts = urlsplit(target)
        user = self._user(authorization)
        call = Call(verb, parts.path, user or "", time.monotonic())
        if self.write_delay and verb != "GET":
            time.sleep(self.write_delay)  # a slow cloud, so a test can kill a run midway
        with self._lock:
            self.calls.append(call)
            if user is None:
                answer = self._error(401, "authError", "Invalid Credentials")
            elif self.throttle_next:
                status, reason, retry_after = self.throttle_next.pop(0)
                answer = self._error(status, reason, f"{reason} (scripted)")
                if retry_after is not None:
                    answer[2]["Retry-After"] = retry_after
            else:
                answer = self._dispatch(verb, parts.path, parse_qs(parts.query), user, raw)
            call.status = answer[0]
        return answer

    def _dispatch(
        self, verb: str, path: str, query: dict[str, list[str]], user: str, raw: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        found = route(verb, path)
        if found is None:
            self.errors.append(f"{verb} {path}: no such method in the discovery slice")
            return self._error(404, "notFound", "Not Found")
        try:
            check_query(found.api, found, query)
            body = json.loads(raw) if raw else None
            if "request" in found.method:
                if body is None:
                    raise SchemaError("Missing request body")
                check_body(found.api, found.method["request"]["$ref"], body)
        except (SchemaError, ValueError) as exc:
            self.errors.append(f"{found.method_id}: {exc}")
            return self._error(400, "invalid", str(exc))
        handler = getattr(self, "_" + found.method_id.replace(".", "_"))
        q = {k: v[0] for k, v in query.items()}
        status, answer = handler(user, found.path_params, q, body)
        if status == 400:
            self.errors.append(f"{found.method_id}: {answer['error']['message']}")
        return status, answer, {}

    def _bad(self, message: str) -> tuple[int, Any]:
        return 400, self._error(400, "invalid", message)[1]

    def _home(self, user: str) -> dict[str, Calendar]:
        home = self.calendars.setdefault(user, {})
        if "primary" not in {c.id for c in home.values()} and user not in home:
            home[user] = Calendar(user, user)
        return home

    def _calendar(self, user: str, calendar_id: str) -> Calendar | None:
        home = self._home(user)
        return home.get(user if calendar_id == "primary" else calendar_id)

    # -- calendarList / calendars ----------------------------------------------------------
    def _calendar_calendarList_list(self, user: str, path: Any, q: Any, body: Any) -> Any:
        items = [
            {
                "kind": "calendar#calendarListEntry",
                "id": c.id,
                "summary": c.summary,
                "description": c.description,
                "timeZone": c.time_zone,
                "accessRole": "owner",
                "primary": c.id == user,
                **({"summaryOverride": c.summary_override} if c.summary_override else {}),
            }
            for c in self._home(user).values()
        ]
        return 200, {"kind": "calendar#calendarList", "items": items}

    def _calendar_calendarList_patch(self, user: str, path: Any, q: Any, body: Any) -> Any:
        cal = self._calendar(user, path["calendarId"])
        if cal is None:
            return 404, self._error(404, "notFound", "Not Found")[1]
        cal.summary_override = body.get("summaryOverride", cal.summary_override)
        return 200, {"id": cal.id, "summary": cal.summary, "summaryOverride": cal.summary_override}

    def _calendar_calendars_insert(self, user: str, path: Any, q: Any, body: Any) -> Any:
        if not body.get("summary"):
            return self._bad("Missing title.")
        cal = Calendar(
            f"{uuid.uuid4().hex}@group.calendar.google.com",
            body["summary"], body.get("description", ""), body.get("timeZone", "UTC"),
        )  # fmt: skip
        self._home(user)[cal.id] = cal
        return 200, {"kind": "calendar#calendar", "id": cal.id, "summary": cal.summary}

    # -- events ---------------------------------------------------------------------------
    def _calendar_events_import(self, user: str, path: Any, q: Any, body: Any) -> Any:
        cal = self._calendar(user, path["calendarId"])
        if cal is None:
            return 404, self._error(404, "notFound", "Not Found")[1]
        for name in ("iCalUID", "start", "end"):
            if not body.get(name):
                return self._bad(f"Missing {name}" if name != "iCalUID" else "Missing iCalUID")
        if body.get("eventType", "default") != "default":
            return self._bad("Only events of type default can be imported.")
        for line in body.get("recurrence", []):
            if not RECURRENCE_LINE.match(line):
                return self._bad(f"Invalid recurrence rule: {line}")
        if body.get("recurrence") and not body["start"].get("timeZone"):
            return self._bad("Missing time zone definition for start time.")
        for when in ("start", "end", "originalStartTime"):
            value = body.get(when)
            if value is not None and bool(value.get("date")) == bool(value.get("dateTime")):
                return self._bad(f"Invalid {when}: give date or dateTime")
        uid = body["iCalUID"]
        original = body.get("originalStartTime")
        series = next(
            (e for e in cal.events.values() if e["iCalUID"] == uid and "recurringEventId" not in e),
            None,
        )
        if original is not None:
            if series is None:
                return self._bad("The original event of this instance does not exist.")
            existing = next(
                (e for e in cal.events.values()
                 if e.get("recurringEventId") == series["id"]
                 and e["originalStartTime"] == original),
                None,
            )  # fmt: skip
        else:
            existing = series
        event = dict(body)
        event.pop("id", None)
        event["id"] = existing["id"] if existing else uuid.uuid4().hex
        if original is not None:
            event["recurringEventId"] = series["id"]  # type: ignore[index]
        event["etag"] = f'"{next(self._etags)}"'
        event["kind"] = "calendar#event"
        event.setdefault("status", "confirmed")
        cal.events[event["id"]] = event
        return 200, event

    def _calendar_events_list(self, user: str, path: Any, q: Any, body: Any) -> Any:
        cal = self._calendar(user, path["calendarId"])
        if cal is None:
            return 404, self._error(404, "notFound", "Not Found")[1]
        events = sorted(cal.events.values(), key=lambda e: e["id"])
        if "iCalUID" in q:
            events = [e for e in events if e["iCalUID"] == q["iCalUID"]]
        if q.get("showDeleted") != "true":
            events = [e for e in events if e["status"] != "cancelled" or "recurringEventId" in e]
        size = min(int(q.get("maxResults", 250)), self.page_size)
        start = int(q.get("pageToken", "0"))
        page = events[start : start + size]
        answer: dict[str, Any] = {"kind": "calendar#events", "items": page}
        if start + size < len(events):
            answer["nextPageToken"] = str(start + size)
        return 200, answer

    def _calendar_events_delete(self, user: str, path: Any, q: Any, body: Any) -> Any:
        cal = self._calendar(user, path["calendarId"])
        event = cal.events.get(path["eventId"]) if cal else None
        if cal is None or event is None:
            return 410, self._error(410, "deleted", "Resource has been deleted")[1]
        del cal.events[event["id"]]
        for other in [e for e in cal.events.values() if e.get("recurringEventId") == event["id"]]:
            del cal.events[other["id"]]
        return 204, None

    # -- People API -----------------------------------------------------------------------
    def contacts(self, user: str) -> list[dict[str, Any]]:
        """Every stored Person of *user* (for assertions)."""
        return list(self.people.get(user, {}).values())

    def _people_contactGroups_list(self, user: str, path: Any, q: Any, body: Any) -> Any:
        groups = [
            {"resourceName": "contactGroups/myContacts", "name": "myContacts",
             "groupType": "SYSTEM_CONTACT_GROUP"},
            *self.groups.get(user, {}).values(),
        ]  # fmt: skip
        return 200, {"contactGroups": groups, "totalItems": len(groups)}

    def _people_contactGroups_create(self, user: str, path: Any, q: Any, body: Any) -> Any:
        name = (body.get("contactGroup") or {}).get("name")
        if not name:
            return self._bad("Contact group name must not be empty.")
        groups = self.groups.setdefault(user, {})
        if any(g["name"] == name for g in groups.values()):
            return 409, self._error(409, "alreadyExists", "Contact group name already exists.")[1]
        group = {
            "resourceName": f"contactGroups/{uuid.uuid4().hex[:12]}",
            "name": name,
            "groupType": "USER_CONTACT_GROUP",
            "etag": f"g{next(self._etags)}",
        }
        groups[group["resourceName"]] = group
        return 200, group

    def _people_people_connections_list(self, user: str, path: Any, q: Any, body: Any) -> Any:
        if path["resourceName"] != "people/me":
            return self._bad("resourceName must be people/me")
        if not q.get("personFields"):
            return self._bad(
                "personFields mask is required. Please specify one or more valid paths."
            )
        people = sorted(self.people.get(user, {}).values(), key=lambda p: p["resourceName"])
        size = min(int(q.get("pageSize", 100)), self.page_size)
        start = int(q.get("pageToken", "0"))
        answer: dict[str, Any] = {"connections": people[start : start + size],
                                  "totalPeople": len(people)}  # fmt: skip
        if start + size < len(people):
            answer["nextPageToken"] = str(start + size)
        return 200, answer

    def _check_person(self, user: str, body: dict[str, Any]) -> str | None:
        for m in body.get("memberships", []):
            group = m.get("contactGroupMembership", {}).get("contactGroupResourceName")
            if group not in self.groups.get(user, {}) and group != "contactGroups/myContacts":
                return f"Contact group {group} not found."
        return None

    def _people_people_createContact(self, user: str, path: Any, q: Any, body: Any) -> Any:
        problem = self._check_person(user, body)
        if problem:
            return self._bad(problem)
        person = dict(body)
        person["resourceName"] = f"people/c{next(self._etags)}"
        person["etag"] = f"%E{next(self._etags)}"
        self.people.setdefault(user, {})[person["resourceName"]] = person
        return 200, person

    def _people_people_updateContact(self, user: str, path: Any, q: Any, body: Any) -> Any:
        current = self.people.get(user, {}).get(path["resourceName"])
        if current is None:
            return 404, self._error(404, "notFound", "Requested entity was not found.")[1]
        fields = q.get("updatePersonFields")
        if not fields:
            return self._bad("updatePersonFields mask is required.")
        if body.get("etag") != current["etag"]:
            return 400, self._error(400, "failedPrecondition",
                                    "person.etag is different than the contact's etag")[1]  # fmt: skip
        for name in fields.split(","):
            if name in body:
                current[name] = body[name]
            else:
                current.pop(name, None)
        current["etag"] = f"%E{next(self._etags)}"
        return 200, current

    def _people_people_deleteContact(self, user: str, path: Any, q: Any, body: Any) -> Any:
        if self.people.get(user, {}).pop(path["resourceName"], None) is None:
            return 404, self._error(404, "notFound", "Requested entity was not found.")[1]
        return 200, {}

    # -- Admin SDK Directory API -----------------------------------------------------------
    # One domain: users and groups by id; only addresses in ``admins`` may call it.

    def _admin(self, user: str) -> tuple[int, Any] | None:
        if user not in self.admins:
            return 403, self._error(403, "forbidden", "Not Authorized to access this resource/api")[
                1
            ]
        return None

    def _find(
        self, table: dict[str, dict[str, Any]], key: str, field: str
    ) -> dict[str, Any] | None:
        return table.get(key) or next((v for v in table.values() if v.get(field) == key), None)

    def _directory_users_list(self, user: str, path: Any, q: Any, body: Any) -> Any:
        if (refused := self._admin(user)) is not None:
            return refused
        if "customer" not in q and "domain" not in q:
            return self._bad("Bad Request: customer or domain is required")
        users = sorted(self.users.values(), key=lambda u: u["primaryEmail"])
        size = min(int(q.get("maxResults", 100)), self.page_size)
        start = int(q.get("pageToken", "0"))
        answer: dict[str, Any] = {
            "kind": "admin#directory#users",
            "users": users[start : start + size],
        }
        if start + size < len(users):
            answer["nextPageToken"] = str(start + size)
        return 200, answer

    def _directory_users_get(self, user: str, path: Any, q: Any, body: Any) -> Any:
        if (refused := self._admin(user)) is not None:
            return refused
        found = self._find(self.users, path["userKey"], "primaryEmail")
        if found is None:
            return 404, self._error(404, "notFound", "Resource Not Found: userKey")[1]
        return 200, found

    def _directory_users_insert(self, user: str, path: Any, q: Any, body: Any) -> Any:
        if (refused := self._admin(user)) is not None:
            return refused
        for name in ("primaryEmail", "password"):
            if not body.get(name):
                return self._bad(f"Invalid Input: {name}")
        name = body.get("name") or {}
        if not name.get("givenName") or not name.get("familyName"):
            return self._bad("Invalid Given/Family Name")
        if not body["primaryEmail"].lower().endswith("@" + self.domain):
            return self._bad("Invalid Input: primary_user_email (domain not in this account)")
        if self._find(self.users, body["primaryEmail"], "primaryEmail") is not None:
            return 409, self._error(409, "duplicate", "Entity already exists.")[1]
        made = {k: v for k, v in body.items() if k != "password"}
        made["id"] = str(10**20 + next(self._etags))
        made["name"] = {**name, "fullName": f"{name['givenName']} {name['familyName']}"}
        made.setdefault("suspended", False)
        self.users[made["id"]] = made
        self.passwords_set += 1
        return 200, made

    def _directory_users_patch(self, user: str, path: Any, q: Any, body: Any) -> Any:
        if (refused := self._admin(user)) is not None:
            return refused
        found = self._find(self.users, path["userKey"], "primaryEmail")
        if found is None:
            return 404, self._error(404, "notFound", "Resource Not Found: userKey")[1]
        for key, value in body.items():  # arrays are replaced whole, as Google does
            found[key] = value
        if "name" in body:
            found["name"]["fullName"] = (
                f"{body['name'].get('givenName')} {body['name'].get('familyName')}"
            )
        return 200, found

    def _directory_users_delete(self, user: str, path: Any, q: Any, body: Any) -> Any:
        if (refused := self._admin(user)) is not None:
            return refused
        found = self._find(self.users, path["userKey"], "primaryEmail")
        if found is None:
            return 404, self._error(404, "notFound", "Resource Not Found: userKey")[1]
        del self.users[found["id"]]
        for members in self.members.values():
            members.discard(found["id"])
        return 204, None

    def _directory_groups_list(self, user: str, path: Any, q: Any, body: Any) -> Any:
        if (refused := self._admin(user)) is not None:
            return refused
        groups = sorted(self.dgroups.values(), key=lambda g: g["email"])
        return 200, {"kind": "admin#directory#groups", "groups": groups}

    def _directory_groups_get(self, user: str, path: Any, q: Any, body: Any) -> Any:
        if (refused := self._admin(user)) is not None:
            return refused
        found = self._find(self.dgroups, path["groupKey"], "email")
        if found is None:
            return 404, self._error(404, "notFound", "Resource Not Found: groupKey")[1]
        return 200, found

    def _directory_groups_insert(self, user: str, path: Any, q: Any, body: Any) -> Any:
        if (refused := self._admin(user)) is not None:
            return refused
        if not body.get("email"):
            return self._bad("Missing required field: email")
        if self._find(self.dgroups, body["email"], "email") is not None:
            return 409, self._error(409, "duplicate", "Entity already exists.")[1]
        made = dict(body, id=f"0{next(self._etags):08d}", directMembersCount="0")
        self.dgroups[made["id"]] = made
        self.members[made["id"]] = set()
        return 200, made

    def _directory_groups_patch(self, user: str, path: Any, q: Any, body: Any) -> Any:
        if (refused := self._admin(user)) is not None:
            return refused
        found = self._find(self.dgroups, path["groupKey"], "email")
        if found is None:
            return 404, self._error(404, "notFound", "Resource Not Found: groupKey")[1]
        found.update(body)
        return 200, found

    def _directory_groups_delete(self, user: str, path: Any, q: Any, body: Any) -> Any:
        if (refused := self._admin(user)) is not None:
            return refused
        found = self._find(self.dgroups, path["groupKey"], "email")
        if found is None:
            return 404, self._error(404, "notFound", "Resource Not Found: groupKey")[1]
        del self.dgroups[found["id"]]
        self.members.pop(found["id"], None)
        return 204, None

    def _directory_members_list(self, user: str, path: Any, q: Any, body: Any) -> Any:
        if (refused := self._admin(user)) is not None:
            return refused
        found = self._find(self.dgroups, path["groupKey"], "email")
        if found is None:
            return 404, self._error(404, "notFound", "Resource Not Found: groupKey")[1]
        members = [
            {"kind": "admin#directory#member", "id": m, "role": "MEMBER", "status": "ACTIVE",
             "type": "USER" if m in self.users else "GROUP",
             "email": (self.users.get(m) or self.dgroups[m])["primaryEmail" if m in self.users else "email"]}
            for m in sorted(self.members[found["id"]]) if m in self.users or m in self.dgroups
        ]  # fmt: skip
        return 200, {"kind": "admin#directory#members", "members": members}

    def _directory_members_insert(self, user: str, path: Any, q: Any, body: Any) -> Any:
        if (refused := self._admin(user)) is not None:
            return refused
        found = self._find(self.dgroups, path["groupKey"], "email")
        key = body.get("id") or body.get("email") or ""
        member = self._find(self.users, key, "primaryEmail") or self._find(
            self.dgroups, key, "email"
        )
        if found is None or member is None:
            return 404, self._error(404, "notFound", "Resource Not Found: memberKey")[1]
        if member["id"] in self.members[found["id"]]:
            return 409, self._error(409, "duplicate", "Member already exists.")[1]
        self.members[found["id"]].add(member["id"])
        return 200, {"id": member["id"], "role": "MEMBER"}

    def _directory_members_delete(self, user: str, path: Any, q: Any, body: Any) -> Any:
        if (refused := self._admin(user)) is not None:
            return refused
        found = self._find(self.dgroups, path["groupKey"], "email")
        if found is None or path["memberKey"] not in self.members[found["id"]]:
            return 404, self._error(404, "notFound", "Resource Not Found: memberKey")[1]
        self.members[found["id"]].discard(path["memberKey"])
        return 204, None
