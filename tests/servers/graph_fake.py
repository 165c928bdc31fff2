"""A stateful loopback fake of Microsoft Graph v1.0 calendars, checked against Graph's CSDL.

No emulator of Microsoft Graph exists, so this stands in for exactly the calls skylift's
Graph calendar connector makes: ``GET/POST /users/{id}/calendars``,
``GET/POST /users/{id}/calendars/{id}/events``, ``PATCH/DELETE /users/{id}/events/{id}``,
``GET /users/{id}/events/{id}/instances``, ``GET/POST /users/{id}/events/{id}/attachments``
(``fileAttachment`` only, 413 over 3 MB), ``POST .../attachments/createUploadSession`` and the
``PUT`` chunks to its pre-authenticated ``uploadUrl`` (no Authorization header, ``Content-Range``
in order, chunks under 4 MB). Every request is resolved and validated against
the pinned CSDL slice (``tests/servers/graph_schema.py``): a path segment the schema does not
define, an unknown query option or ``$select`` name, an unknown body property, an enum value
outside its type or a wrong JSON type is 400 as Graph answers, and the test that caused it
fails (``errors`` lists each refusal).

What it reproduces (the behaviours that lose data when ignored):
- app-only bearer tokens from the loopback token endpoint with audience
  ``https://graph.microsoft.com`` and the role ``Calendars.ReadWrite`` (403 without it);
- ``iCalUId`` is read-only: what a client sends is ignored and Graph makes its own, so the
  source UID survives only where the client puts it (an extended property here);
- the recurrence pattern enum (daily, weekly, absolute/relative monthly and yearly) is far
  narrower than RFC 5545: no hourly or secondly, no BYSETPOS combinations, one index;
- exceptions are made by patching or deleting an occurrence found through ``/instances``
  (which needs ``startDateTime``/``endDateTime``); a deleted occurrence shows in the master's
  ``cancelledOccurrences``, a patched one in ``$expand=exceptionOccurrences``; PATCHing the
  master's ``recurrence`` drops every exception, as Exchange does;
- ``transactionId``: a second POST with one already used returns the first event, not a
  duplicate (what makes a resume after a kill safe);
- meeting requests: Graph documents (``user-post-events``) that creating an event with
  attendees sends each attendee an invitation and that this cannot be configured, and that
  changing the attendees of an event sends updates; ``invitations`` records (user, attendee,
  subject) for each such message the real service would send;
- times come back in UTC (no ``Prefer: outlook.timezone``) with the zone given kept in
  ``originalStartTimeZone``; a zone must be a Windows name (CLDR windowsZones) or IANA;
- throttling: ``throttle_next`` scripts answers (429 with ``Retry-After``, 503); more than
  ``mailbox_concurrency`` (4) requests at once for one mailbox is 429
  ``ApplicationThrottled``/MailboxConcurrency; ``calls`` records each request with its time.

What it cannot reproduce: Exchange's real recurrence engine (DST edge cases, a start that is
not on the pattern), the meeting requests' content and attendee responses, the change keys' real format,
``Prefer`` headers, server-side paging sizes, upload session expiry, delta tokens, and throttling by
the real per-app budgets (10,000 requests per 10 minutes). Recorded in docs/calendars.md.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from email.message import Message
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit
from zoneinfo import ZoneInfo, available_timezones

import jwt
from dateutil import rrule
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from tests.servers.graph_schema import SchemaError, check_body, check_query, resolve
from tests.servers.loopback_api import LoopbackApi

GRAPH_AUD = "https://graph.microsoft.com"
DAYS = {"monday": rrule.MO, "tuesday": rrule.TU, "wednesday": rrule.WE, "thursday": rrule.TH,
        "friday": rrule.FR, "saturday": rrule.SA, "sunday": rrule.SU}  # fmt: skip
INDEX = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}
ZONES = available_timezones()


@dataclass
class Call:
    method: str
    path: str
    user: str
    at: float
    status: int = 0


@dataclass
class GraphCalendar:
    id: str
    name: str
    events: dict[str, dict[str, Any]] = field(default_factory=dict)


_UID_FILTER = re.compile(
    r"singleValueExtendedProperties/Any\(ep: ep/id eq '([^']+)' and ep/value eq '((?:[^']|'')*)'\)$"
)


def uid_filter(text: str) -> tuple[str, str] | None:
    """(property id, value) of the one ``$filter`` form the fake understands, else None;
    ValueError for any other filter (Graph would evaluate it; the fake cannot)."""
    if not text:
        return None
    match = _UID_FILTER.match(text)
    if match is None:
        raise ValueError(f"$filter not understood by the fake: {text}")
    return match.group(1).lower(), match.group(2).replace("''", "'")


def _property_values(item: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (str(p["id"]).lower(), str(p.get("value", "")))
        for p in item.get("singleValueExtendedProperties", [])
    }


def zone(name: str) -> ZoneInfo:
    """A Graph time zone name (Windows or IANA) as a zone; ValueError when unknown."""
    if name in WINDOWS_TO_OLSON:
        return ZoneInfo(WINDOWS_TO_OLSON[name])
    if name in ZONES or name == "UTC":
        return ZoneInfo(name)
    raise ValueError(f"Time zone '{name}' is not supported")


def instant(value: dict[str, str]) -> dt.datetime:
    """A ``dateTimeTimeZone`` as an aware datetime."""
    local = dt.datetime.fromisoformat(value["dateTime"][:19])
    return local.replace(tzinfo=zone(value.get("timeZone") or "UTC"))


def utc(moment: dt.datetime) -> dict[str, str]:
    text = moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000")
    return {"dateTime": text, "timeZone": "UTC"}


class GraphFake(LoopbackApi):
    bytes_media_type = "image/jpeg"  # a photo's $value
    """Start with :meth:`start`; ``api_base`` is what ``--target-api-base`` takes."""

    def __init__(self, tokens: Any) -> None:
        self.tokens = tokens
        self.calendars: dict[str, dict[str, GraphCalendar]] = {}
        self.transactions: dict[tuple[str, str], str] = {}
        self.invitations: list[tuple[str, str, str]] = []  # (mailbox, attendee, subject)
        self.errors: list[str] = []
        self.calls: list[Call] = []
        self.throttle_next: list[tuple[int, str | None]] = []  # status, Retry-After
        self.mailbox_concurrency = 4
        self.uploads: dict[str, dict[str, Any]] = {}  # upload session token -> state
        self.max_in_flight: dict[str, int] = {}
        self.page_size = 50
        self.write_delay = 0.0
        self._in_flight: dict[str, int] = {}
        self._keys = itertools.count(1)
        self._lock = threading.RLock()

    def events(self, user: str, name: str) -> list[dict[str, Any]]:
        """Every stored event of *user*'s calendar called *name* (for assertions)."""
        cal = next(c for c in self.calendars.get(user, {}).values() if c.name == name)
        return list(cal.events.values())

    # -- server ---------------------------------------------------------------------------
    def serve(
        self, verb: str, path: str, headers: Message, raw: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        if path.startswith("/upload/"):  # a pre-authenticated upload URL
            return self.upload(verb, path, headers, raw)
        return self.handle(verb, path, headers.get("Authorization", ""), raw)

    @staticmethod
    def _error(status: int, code: str, message: str) -> tuple[int, Any, dict[str, str]]:
        return status, {"error": {"code": code, "message": message}}, {}

    def _claims(self, authorization: str) -> dict[str, Any] | None:
        token = authorization.removeprefix("Bearer ").strip()
        if not token or token not in self.tokens.tokens:
            return None
        claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
        if claims.get("exp", 0) < time.time() - 1 or claims.get("aud") != GRAPH_AUD:
            return None
        return claims

    def handle(
        self, verb: str, target: str, authorization: str, raw: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        parts = urlsplit(target)
        segments = [p for p in parts.path.split("/") if p]
        mailbox = segments[2].lower() if len(segments) > 2 and segments[1] == "users" else ""
        call = Call(verb, parts.path, mailbox, time.monotonic())
        with self._lock:
            self.calls.append(call)
            busy = self._in_flight.get(mailbox, 0)
            # requests that arrived while *busy* others were in flight, refused or not
            self.max_in_flight[mailbox] = max(self.max_in_flight.get(mailbox, 0), busy + 1)
            if mailbox and busy >= self.mailbox_concurrency:
                call.status = 429
                return 429, {"error": {"code": "ApplicationThrottled", "message":
                             "Application is over its MailboxConcurrency limit."}}, {
                             "Retry-After": "1"}  # fmt: skip
            self._in_flight[mailbox] = busy + 1
        try:
            if self.write_delay and verb != "GET":
                time.sleep(self.write_delay)
            else:
                time.sleep(0.002)  # let concurrent requests overlap as they would
            with self._lock:
                answer = self._answer(verb, parts.path, parse_qs(parts.query), authorization, raw)
                call.status = answer[0]
            return answer
        finally:
            with self._lock:
                self._in_flight[mailbox] -= 1

    def _answer(
        self, verb: str, path: str, query: dict[str, list[str]], authorization: str, raw: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        claims = self._claims(authorization)
        if claims is None:
            return self._error(
                401, "InvalidAuthenticationToken", "Access token is empty or invalid."
            )
        if self.throttle_next:
            status, retry_after = self.throttle_next.pop(0)
            answer = self._error(status, "TooManyRequests" if status == 429 else "ServiceUnavailable",
                                 "scripted")  # fmt: skip
            if retry_after is not None:
                answer[2]["Retry-After"] = retry_after
            return answer
        if self.required_role(path) not in claims.get("roles", []):
            return self._error(
                403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."
            )
        try:
            kind, _many, segments = resolve(path)
            check_query(kind, segments[-1], query)
            body = json.loads(raw) if raw else None
            if verb in ("POST", "PATCH"):
                if body is None:
                    raise SchemaError("Empty Payload. JSON content expected.")
                check_body(kind, body)
        except (SchemaError, ValueError) as exc:
            self.errors.append(f"{verb} {path}: {exc}")
            return self._error(400, "BadRequest", str(exc))
        q = {k: v[0] for k, v in query.items()}
        try:
            status, answer = self._route(verb, segments, q, body)
        except ValueError as exc:  # a value Graph refuses (zone, pattern)
            status, answer = 400, {"error": {"code": "BadRequest", "message": str(exc)}}
        if status == 400 and answer["error"]["code"] == "BadRequest":  # not a directory 400
            self.errors.append(f"{verb} {path}: {answer['error']['message']}")
        return status, answer, {}

    def required_role(self, path: str) -> str:
        """The application permission a request on *path* needs."""
        return "Calendars.ReadWrite"

    # -- routes ---------------------------------------------------------------------------
    def _route(self, verb: str, seg: list[str], q: dict[str, str], body: Any) -> tuple[int, Any]:
        user = seg[1].lower()
        home = self._home(user)
        rest = seg[2:]
        if rest == ["calendars"]:
            if verb == "GET":
                return 200, {"value": [{"id": c.id, "name": c.name} for c in home.values()]}
            if verb == "POST":
                if any(c.name == body.get("name") for c in home.values()):
                    return 409, {"error": {"code": "ErrorFolderExists", "message": "exists"}}
                cal = GraphCalendar(f"AAMkCal{uuid.uuid4().hex[:12]}", body["name"])
                home[cal.id] = cal
                return 201, {"id": cal.id, "name": cal.name}
        if len(rest) == 3 and rest[0] == "calendars" and rest[2] == "events":
            cal = home.get(rest[1])
            if cal is None:
                return 404, {"error": {"code": "ErrorItemNotFound", "message": "not found"}}
            if verb == "GET":
                return 200, self._page(user, cal, q)
            if verb == "POST":
                return self._create(user, cal, body)
        if len(rest) >= 2 and rest[0] == "events":
            found = self._find(home, rest[1])
            if found is None:
                return 404, {"error": {"code": "ErrorItemNotFound", "message": "not found"}}
            cal, master, original = found
            if len(rest) == 3 and rest[2] == "instances" and verb == "GET":
                return 200, {"value": self._instances(master, q)}
            if len(rest) == 3 and rest[2] == "attachments" and original is None:
                return self._attachments(master, verb, q, body)
            if rest[2:] == ["attachments", "createUploadSession"] and verb == "POST":
                return self._upload_session(master, body["AttachmentItem"])
            if len(rest) == 2 and verb == "PATCH":
                return self._patch(cal, master, original, body)
            if len(rest) == 2 and verb == "DELETE":
                if original is None:
                    del cal.events[master["id"]]
                else:
                    master["_exceptions"][original] = None
                    self._touch(master)
                return 204, None
        return 405, {"error": {"code": "BadRequest", "message": f"{verb} not supported here"}}

    def _attachments(
        self, event: dict[str, Any], verb: str, q: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        files = event.setdefault("_attachments", [])
        if verb == "GET":
            names = q.get("$select", "").split(",") if "$select" in q else None
            view = [{k: v for k, v in f.items() if names is None or k in names or k == "id"}
                    for f in files]  # fmt: skip
            return 200, {"value": view}
        if verb == "POST":
            if body.get("@odata.type") != "#microsoft.graph.fileAttachment":
                raise ValueError("only fileAttachment is supported here")
            if len(base64.b64decode(body.get("contentBytes", ""))) > 3 * 1024 * 1024:
                return 413, {"error": {"code": "RequestEntityTooLarge", "message": "over 3 MB"}}
            made = {**body, "id": f"AAMkAtt{uuid.uuid4().hex[:10]}",
                    "size": len(base64.b64decode(body["contentBytes"]))}  # fmt: skip
            files.append(made)
            event["hasAttachments"] = True
            self._touch(event)
            return 201, made
        return 405, {"error": {"code": "BadRequest", "message": f"{verb} not supported here"}}

    def _upload_session(self, event: dict[str, Any], item: dict[str, Any]) -> tuple[int, Any]:
        if item.get("attachmentType") != "file" or not item.get("name") or not item.get("size"):
            raise ValueError("AttachmentItem needs attachmentType file, name and size")
        if item["size"] > 150 * 1024 * 1024:
            raise ValueError("The attachment size exceeds 150 MB")
        token = uuid.uuid4().hex
        self.uploads[token] = {"event": event, "item": item, "data": b""}
        return 201, {
            "uploadUrl": f"{self.api_base}/upload/{token}",
            "expirationDateTime": "2099-01-01T00:00:00Z", "nextExpectedRanges": ["0-"],
        }  # fmt: skip

    def upload(
        self, verb: str, path: str, headers: Any, raw: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        """``PUT uploadUrl`` with ``Content-Range``: no Authorization header (the URL is
        pre-authenticated; Graph answers 401 to one), chunks under 4 MB, in order."""
        with self._lock:
            self.calls.append(Call(verb, "/upload", "", time.monotonic()))
            session = self.uploads.get(path.rsplit("/", 1)[1])
            if session is None or verb != "PUT":
                return self._error(404, "NotFound", "no such upload session")
            if headers.get("Authorization"):
                self.errors.append("upload: an Authorization header on the upload URL")
                return self._error(401, "InvalidAuthenticationToken", "not expected here")
            match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", headers.get("Content-Range", ""))
            size = session["item"]["size"]
            if (
                match is None
                or int(match.group(3)) != size
                or int(match.group(1)) != len(session["data"])
            ):
                self.errors.append(f"upload: bad Content-Range {headers.get('Content-Range')}")
                return self._error(400, "InvalidRange", "Content-Range out of order")
            if len(raw) >= 4 * 1024 * 1024 or int(match.group(2)) - int(match.group(1)) + 1 != len(
                raw
            ):
                self.errors.append("upload: a chunk of 4 MB or more, or not its range's length")
                return self._error(400, "InvalidRange", "chunk too large")
            session["data"] += raw
            if len(session["data"]) < size:
                return 200, {"nextExpectedRanges": [f"{len(session['data'])}-"]}, {}
            item, event = session["item"], session["event"]
            made = {"@odata.type": "#microsoft.graph.fileAttachment", "id": f"AAMkAtt{uuid.uuid4().hex[:10]}",
                    "name": item["name"], "contentType": item.get("contentType", "application/octet-stream"),
                    "size": size, "contentBytes": base64.b64encode(session["data"]).decode()}  # fmt: skip
            event.setdefault("_attachments", []).append(made)
            event["hasAttachments"] = True
            self._touch(event)
            del self.uploads[path.rsplit("/", 1)[1]]
            return 201, None, {}

    def _home(self, user: str) -> dict[str, GraphCalendar]:
        if user not in self.calendars:
            default = GraphCalendar(f"AAMkDef{uuid.uuid4().hex[:10]}", "Calendar")
            self.calendars[user] = {default.id: default}
        return self.calendars[user]

    def _find(
        self, home: dict[str, GraphCalendar], event_id: str
    ) -> tuple[GraphCalendar, dict[str, Any], str | None] | None:
        master_id, _, original = event_id.partition(".occ.")
        for cal in home.values():
            if master_id in cal.events:
                return cal, cal.events[master_id], original or None
        return None

    def _touch(self, event: dict[str, Any]) -> None:
        event["changeKey"] = f"CK{next(self._keys)}"
        event["lastModifiedDateTime"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _create(self, user: str, cal: GraphCalendar, body: dict[str, Any]) -> tuple[int, Any]:
        tx = body.get("transactionId")
        if tx and (user, tx) in self.transactions:
            existing = self._find(self._home(user), self.transactions[(user, tx)])
            if existing is not None:
                return 201, self._view(existing[1], {})
        for need in ("start", "end"):
            if need not in body:
                return 400, {"error": {"code": "BadRequest", "message": f"{need} is required"}}
        event = {k: v for k, v in body.items() if k not in ("iCalUId", "id")}  # read-only
        event["id"] = f"AAMkEv{uuid.uuid4().hex[:16]}"
        event["iCalUId"] = "040000008200E00074C5B7101A82E008" + uuid.uuid4().hex.upper()
        event["type"] = "seriesMaster" if body.get("recurrence") else "singleInstance"
        event["_exceptions"] = {}
        event["_user"] = user
        self._validate_times(event)
        self._touch(event)
        cal.events[event["id"]] = event
        self._invite(user, event.get("attendees"), event.get("subject", ""))
        if tx:
            self.transactions[(user, tx)] = event["id"]
        return 201, self._view(event, {})

    def _invite(self, user: str, attendees: Any, subject: str) -> None:
        for person in attendees or []:
            address = (person.get("emailAddress") or {}).get("address", "")
            self.invitations.append((user, address, subject))

    def _validate_times(self, event: dict[str, Any]) -> None:
        start, end = instant(event["start"]), instant(event["end"])
        if end < start:
            raise ValueError("The end time must be after the start time.")
        if event.get("isAllDay") and (start.time() != dt.time() or end.time() != dt.time()):
            raise ValueError("all-day events must start and end at midnight")
        if event.get("recurrence"):
            list(self._expand(event, start + dt.timedelta(days=1)))  # a valid pattern

    def _patch(
        self, cal: GraphCalendar, master: dict[str, Any], original: str | None, body: Any
    ) -> tuple[int, Any]:
        body = {k: v for k, v in body.items() if k != "iCalUId"}
        if "attendees" in body:  # Graph sends updates to the attendees of a changed meeting
            subject = body.get("subject", master.get("subject", ""))
            self._invite(master.get("_user", ""), body["attendees"], subject)
        if original is not None:
            if "recurrence" in body:
                return 400, {
                    "error": {"code": "BadRequest", "message": "an occurrence has no recurrence"}
                }
            current = master["_exceptions"].get(original) or {}
            master["_exceptions"][original] = {**current, **body}
            self._touch(master)
            return 200, self._view(master, {})
        if "recurrence" in body:
            master["_exceptions"] = {}  # Exchange drops every exception with a new pattern
        master.update(body)
        master["type"] = "seriesMaster" if master.get("recurrence") else "singleInstance"
        self._validate_times(master)
        self._touch(master)
        return 200, self._view(master, {})

    # -- reading --------------------------------------------------------------------------
    def _page(self, user: str, cal: GraphCalendar, q: dict[str, str]) -> dict[str, Any]:
        skip = int(q.get("$skip", "0"))
        top = min(int(q.get("$top", str(self.page_size))), self.page_size)
        events = list(cal.events.values())  # creation order: new ones join at the end
        wanted = uid_filter(q.get("$filter", ""))
        if wanted is not None:
            events = [e for e in events if wanted in _property_values(e)]
        chunk = [self._view(e, q) for e in events[skip : skip + top]]
        out: dict[str, Any] = {"value": chunk}
        if skip + top < len(events):
            base = f"{self.api_base}/v1.0/users/{user}/calendars/{cal.id}/events"
            keep = {k: v for k, v in q.items() if k != "$skip"}
            out["@odata.nextLink"] = f"{base}?{urlencode({**keep, '$skip': skip + top})}"
        return out

    def _view(self, event: dict[str, Any], q: dict[str, str]) -> dict[str, Any]:
        out = {k: v for k, v in event.items() if not k.startswith("_")}
        out.pop("singleValueExtendedProperties", None)
        out["originalStartTimeZone"] = event["start"].get("timeZone", "UTC")
        out["originalEndTimeZone"] = event["end"].get("timeZone", "UTC")
        out["start"], out["end"] = utc(instant(event["start"])), utc(instant(event["end"]))
        if event.get("recurrence"):
            tz = zone(event["recurrence"]["range"].get("recurrenceTimeZone") or "UTC")
            out["cancelledOccurrences"] = [
                f"OID.{event['id']}.{dt.datetime.fromisoformat(key).astimezone(tz).date()}"
                for key, v in sorted(event["_exceptions"].items())
                if v is None
            ]
        expand = q.get("$expand", "")
        wanted = re.search(r"singleValueExtendedProperties\(\$filter=([^)]*)\)", expand)
        if wanted:  # "id eq 'A'" or "id eq 'A' or id eq 'B'"
            ids = {i.lower() for i in re.findall(r"id eq '([^']+)'", wanted.group(1))}
            props = [p for p in event.get("singleValueExtendedProperties", [])
                     if p["id"].lower() in ids]  # fmt: skip
            out["singleValueExtendedProperties"] = props
        if "exceptionOccurrences" in expand and event.get("recurrence"):
            out["exceptionOccurrences"] = [
                self._occurrence(event, key, changes)
                for key, changes in sorted(event["_exceptions"].items())
                if changes is not None
            ]
        return out

    def _expand(self, event: dict[str, Any], until: dt.datetime) -> list[dt.datetime]:
        rec = event["recurrence"]
        pattern, rng = rec["pattern"], rec["range"]
        start = instant(event["start"])
        tz = zone(rng.get("recurrenceTimeZone") or event["start"].get("timeZone") or "UTC")
        first = dt.datetime.combine(
            dt.date.fromisoformat(rng["startDate"]), start.astimezone(tz).time()
        ).replace(tzinfo=tz)
        freq = pattern.get("type")
        interval = pattern.get("interval") or 1
        days = [DAYS[d] for d in pattern.get("daysOfWeek") or []]
        kwargs: dict[str, Any] = {"dtstart": first.replace(tzinfo=None), "interval": interval}
        if freq == "daily":
            rule = rrule.rrule(rrule.DAILY, **kwargs)
        elif freq == "weekly":
            if not days:
                raise ValueError("weekly recurrence needs daysOfWeek")
            rule = rrule.rrule(rrule.WEEKLY, byweekday=days,
                               wkst=DAYS[pattern.get("firstDayOfWeek") or "sunday"], **kwargs)  # fmt: skip
        elif freq in ("absoluteMonthly", "absoluteYearly"):
            if not pattern.get("dayOfMonth"):
                raise ValueError(f"{freq} recurrence needs dayOfMonth")
            extra = {"bymonth": pattern["month"]} if freq == "absoluteYearly" else {}
            rule = rrule.rrule(rrule.MONTHLY if freq == "absoluteMonthly" else rrule.YEARLY,
                               bymonthday=pattern["dayOfMonth"], **extra, **kwargs)  # fmt: skip
        elif freq in ("relativeMonthly", "relativeYearly"):
            if not days:
                raise ValueError(f"{freq} recurrence needs daysOfWeek")
            extra = {"bymonth": pattern["month"]} if freq == "relativeYearly" else {}
            rule = rrule.rrule(rrule.MONTHLY if freq == "relativeMonthly" else rrule.YEARLY,
                               byweekday=days, bysetpos=INDEX[pattern.get("index") or "first"],
                               **extra, **kwargs)  # fmt: skip
        else:
            raise ValueError(f"recurrence pattern type {freq!r} not supported")
        out = []
        limit = rng.get("numberOfOccurrences") if rng["type"] == "numbered" else None
        last = (
            dt.datetime.combine(dt.date.fromisoformat(rng["endDate"]), dt.time(23, 59, 59))
            if rng["type"] == "endDate" else None
        )  # fmt: skip
        for local in rule:
            if (last is not None and local > last) or len(out) == (limit or -1):
                break
            moment = local.replace(tzinfo=tz)
            if moment > until:
                break
            out.append(moment)
        return out

    def _occurrence(
        self, master: dict[str, Any], key: str, changes: dict[str, Any] | None
    ) -> dict[str, Any]:
        original = dt.datetime.fromisoformat(key)
        length = instant(master["end"]) - instant(master["start"])
        base = {k: v for k, v in master.items() if not k.startswith("_") and k not in (
            "recurrence", "singleValueExtendedProperties", "transactionId")}  # fmt: skip
        base.update({"id": f"{master['id']}.occ.{key}", "seriesMasterId": master["id"],
                     "type": "occurrence", "originalStart": key,
                     "start": utc(original), "end": utc(original + length)})  # fmt: skip
        if changes:
            base.update(changes)
            base["type"] = "exception"
            base["start"], base["end"] = utc(instant(base["start"])), utc(instant(base["end"]))
        return base

    def _instances(self, master: dict[str, Any], q: dict[str, str]) -> list[dict[str, Any]]:
        begin = dt.datetime.fromisoformat(q["startDateTime"].replace("Z", "+00:00"))
        end = dt.datetime.fromisoformat(q["endDateTime"].replace("Z", "+00:00"))
        begin = begin if begin.tzinfo else begin.replace(tzinfo=dt.UTC)
        end = end if end.tzinfo else end.replace(tzinfo=dt.UTC)
        if not master.get("recurrence"):
            return []
        out = []
        for moment in self._expand(master, end):
            key = moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            if moment < begin or master["_exceptions"].get(key, {}) is None:
                continue
            out.append(self._occurrence(master, key, master["_exceptions"].get(key)))
        return out
