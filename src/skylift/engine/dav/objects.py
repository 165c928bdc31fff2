"""Turn a source object into the bytes a CalDAV/CardDAV target stores, keeping its UID.

Objects are edited on content lines, not re-serialised, and only where a transform needs
it, so an object the source serves leaves byte for byte unless skylift must change it. No
strict parser gates an object: the structure CalDAV requires is checked on content lines,
and what a server's own parser makes of the rest is the target's call.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from skylift.engine.dav.meetings import LINK_PROPERTIES, rewrite_links
from skylift.engine.dav.vcard import fold, prepare_vcard
from skylift.model.dav import DavKind, Item, decode_dav_text

STORED_COMPONENTS = ("VEVENT", "VTODO", "VJOURNAL")
ADDRESS_PROPERTIES = ("ORGANIZER", "ATTENDEE")
SAFE_NAME = re.compile(r"^[A-Za-z0-9@._+-]{1,120}$")


@dataclass(frozen=True)
class Prepared:
    """An object ready for the target: its UID, bytes and resource name."""

    uid: str
    raw: bytes
    name: str
    component: str = ""

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()[:32]


class MalformedObject(ValueError):
    """The object cannot be read; the message says why, the run goes on."""


def resource_name(uid: str, kind: DavKind) -> str:
    """The target file name for *uid*: the UID itself when it is URL-safe, else its hash."""
    if SAFE_NAME.match(uid):
        return uid + kind.suffix
    return hashlib.sha256(uid.encode("utf-8")).hexdigest()[:40] + kind.suffix


def prepare(
    item: Item,
    domain_map: dict[str, str] | None = None,
    vcard_versions: frozenset[str] = frozenset({"3.0", "4.0"}),
    link_map: dict[str, str] | None = None,
) -> Prepared:
    """Prepare *item* for the target; MalformedObject with the reason if it cannot be."""
    if item.error:
        raise MalformedObject(item.error)
    if item.kind is DavKind.ADDRESSBOOK:
        try:
            raw, uid = prepare_vcard(item.raw, vcard_versions)
        except (ValueError, UnicodeError) as exc:
            raise MalformedObject(f"invalid vCard: {exc}") from exc
        return Prepared(uid, raw, resource_name(uid, item.kind), "VCARD")
    return prepare_calendar_object(item.raw, domain_map or {}, link_map or {})


def prepare_calendar_object(
    raw: bytes, domain_map: dict[str, str], link_map: dict[str, str] | None = None
) -> Prepared:
    """Find the UID and component of one calendar object on its content lines; drop METHOD,
    add a missing UID, rewrite domains and meeting links (``meetings.py``). Nothing else is
    touched: an object that needs none
    of that leaves with the bytes it came with, whatever a strict parser would say of it
    (the target decides; ``repair.py`` says what follows a refusal).
    """
    text = decode_dav_text(raw)
    lines = _logical_lines(text)
    uids, kind = _shape(lines)
    missing_uid = not uids
    uid = uids.pop() if uids else "skylift-" + hashlib.sha256(raw).hexdigest()[:32]
    out: list[str] = []
    depth = 0
    changed = missing_uid or text.encode("utf-8") != raw
    for logical, physical in lines:
        upper = logical.upper()
        if upper.startswith("BEGIN:"):
            depth += 1
        elif upper.startswith("END:"):
            depth -= 1
        if depth == 1 and upper.startswith("METHOD:"):
            changed = True
            continue
        if depth >= 2 and _name(logical) in ADDRESS_PROPERTIES:
            rewritten = rewrite_domains(logical, domain_map)
            if rewritten != logical:
                changed = True
                out.append(fold(rewritten))
                continue
        if link_map and depth >= 2 and _name(logical) in LINK_PROPERTIES:
            rewritten = rewrite_links(logical, link_map)
            if rewritten != logical:
                changed = True
                out.append(fold(rewritten))
                continue
        out.append(physical)
        starts_component = upper.startswith("BEGIN:") and upper[6:].strip() in STORED_COMPONENTS
        if missing_uid and depth == 2 and starts_component:
            out.append(f"UID:{uid}")
    name = resource_name(uid, DavKind.CALENDAR)
    if not changed:
        return Prepared(uid, raw, name, kind)
    body = "\r\n".join(out) + "\r\n"
    return Prepared(uid, body.encode("utf-8"), name, kind)


ONCE_ONLY = ("UID", "DTSTART", "DTEND", "DUE", "DURATION", "RECURRENCE-ID", "SEQUENCE")


def _shape(lines: list[tuple[str, str]]) -> tuple[set[str], str]:
    """Check what every CalDAV server refuses (RFC 4791 §4.1) on content lines: one
    VCALENDAR holding events, tasks or journals of one type and one UID, each property
    that may occur once occurring once, a DTSTART in every VEVENT. Returns (UIDs, type)."""
    stack: list[str] = []
    uids: set[str] = set()
    kinds: set[str] = set()
    counts: dict[str, int] = {}
    for logical, _ in lines:
        name = _name(logical)
        value = logical.partition(":")[2].strip()
        if name == "BEGIN":
            stack.append(value.upper())
            if len(stack) == 1 and stack[0] != "VCALENDAR":
                raise MalformedObject(f"not an iCalendar object (BEGIN:{value})")
            if len(stack) == 2 and stack[1] in STORED_COMPONENTS:
                kinds.add(stack[1])
                counts = {}
        elif name == "END":
            if not stack or stack[-1] != value.upper():
                raise MalformedObject(f"END:{value} closes nothing that is open")
            closed = stack.pop()
            if len(stack) == 1 and closed in STORED_COMPONENTS:
                _check_counts(closed, counts)
        elif len(stack) == 2 and stack[1] in STORED_COMPONENTS:
            counts[name] = counts.get(name, 0) + 1
            if name == "UID" and value:
                uids.add(value)
    if stack:
        raise MalformedObject(f"BEGIN:{stack[-1]} is never closed")
    if not kinds:
        raise MalformedObject("no event, task or journal in the object")
    if len(uids) > 1:
        raise MalformedObject(f"several UIDs in one object: {', '.join(sorted(uids))}")
    if len(kinds) > 1:
        raise MalformedObject(f"mixed component types in one object: {', '.join(sorted(kinds))}")
    return uids, kinds.pop()


def _check_counts(component: str, counts: dict[str, int]) -> None:
    for prop in ONCE_ONLY:
        if counts.get(prop, 0) > 1:
            raise MalformedObject(f"{component} has {counts[prop]} {prop} properties")
    if component == "VEVENT" and not counts.get("DTSTART"):
        raise MalformedObject("VEVENT without DTSTART (a calendar store requires one)")


def rewrite_domains(line: str, domain_map: dict[str, str]) -> str:
    """Rewrite ``mailto:x@old`` to ``mailto:x@new`` for every old->new in *domain_map*."""
    for old, new in domain_map.items():
        pattern = re.compile(
            r"(mailto:[^@\s\";:,]+)@" + re.escape(old.lstrip("@")) + r"(?![A-Za-z0-9.-])",
            re.IGNORECASE,
        )
        line = pattern.sub(r"\g<1>@" + new.lstrip("@").replace("\\", ""), line)
    return line


def _name(line: str) -> str:
    return re.split(r"[;:]", line, maxsplit=1)[0].upper()


def _logical_lines(text: str) -> list[tuple[str, str]]:
    """Pairs of (unfolded line, the original physical lines joined by CRLF)."""
    parts: list[tuple[list[str], list[str]]] = []  # joined once: a 5 MB attachment is linear
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if line[:1] in (" ", "\t") and parts:
            parts[-1][0].append(line[1:])
            parts[-1][1].append(line)
        elif line.strip():
            parts.append(([line], [line]))
    return [("".join(logical), "\r\n".join(physical)) for logical, physical in parts]
