"""Turn a source object into the bytes a CalDAV/CardDAV target stores, keeping its UID.

Objects are edited on content lines, not re-serialised, so everything the engine does not
mean to change (X- properties, alarms, attachments, VTIMEZONE blocks) keeps its exact bytes.
Each object is still parsed by icalendar first: a malformed one is refused here with the
parser's reason instead of being sent.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import icalendar

from skylift.engine.davsync_vcard import fold, prepare_vcard
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
    return prepare_calendar_object(item.raw, domain_map or {})


def prepare_calendar_object(raw: bytes, domain_map: dict[str, str]) -> Prepared:
    """Validate one calendar object resource, give it a UID, drop METHOD, rewrite domains."""
    text = decode_dav_text(raw)
    try:
        calendar = icalendar.Calendar.from_ical(text)
    except Exception as exc:  # icalendar raises many kinds for bad input
        raise MalformedObject(f"invalid iCalendar: {exc}") from exc
    components = [c for c in calendar.subcomponents if c.name in STORED_COMPONENTS]
    if not components:
        raise MalformedObject("no event, task or journal in the object")
    uids = {str(c.get("UID")) for c in components if c.get("UID")}
    if len(uids) > 1:
        raise MalformedObject(f"several UIDs in one object: {', '.join(sorted(uids))}")
    kinds: set[str] = {str(c.name) for c in components}
    if len(kinds) > 1:
        raise MalformedObject(f"mixed component types in one object: {', '.join(sorted(kinds))}")
    for component in components:
        _check_cardinality(component)
    lines = _logical_lines(text)
    missing_uid = not uids
    uid = uids.pop() if uids else "skylift-" + hashlib.sha256(raw).hexdigest()[:32]
    out: list[str] = []
    depth = 0
    changed = missing_uid
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
        out.append(physical)
        starts_component = upper.startswith("BEGIN:") and upper[6:].strip() in STORED_COMPONENTS
        if missing_uid and depth == 2 and starts_component:
            out.append(f"UID:{uid}")
    if not changed:
        return Prepared(uid, _crlf(text), resource_name(uid, DavKind.CALENDAR), kinds.pop())
    body = "\r\n".join(out) + "\r\n"
    return Prepared(uid, body.encode("utf-8"), resource_name(uid, DavKind.CALENDAR), kinds.pop())


ONCE_ONLY = ("UID", "DTSTART", "DTEND", "DUE", "DURATION", "RECURRENCE-ID", "SEQUENCE")


def _check_cardinality(component: icalendar.cal.Component) -> None:
    """Refuse what every CalDAV server refuses, with a reason a person can act on."""
    for name in ONCE_ONLY:
        value = component.get(name)
        if isinstance(value, list) and len(value) > 1:
            raise MalformedObject(f"{component.name} has {len(value)} {name} properties")
    if component.name == "VEVENT" and component.get("DTSTART") is None:
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


def _crlf(text: str) -> bytes:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n").split("\n")
    return ("\r\n".join(line for line in lines if line.strip()) + "\r\n").encode("utf-8")


def _name(line: str) -> str:
    return re.split(r"[;:]", line, maxsplit=1)[0].upper()


def _logical_lines(text: str) -> list[tuple[str, str]]:
    """Pairs of (unfolded line, the original physical lines joined by CRLF)."""
    out: list[tuple[str, str]] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if line[:1] in (" ", "\t") and out:
            logical, physical = out[-1]
            out[-1] = (logical + line[1:], physical + "\r\n" + line)
        elif line.strip():
            out.append((line, line))
    return out
