"""Read-only iCalendar file source: one ``.ics`` file, or a folder of them.

A file is one calendar; a folder holds one calendar per ``.ics`` file plus one per sub-folder
of single-object files (the vdir layout of khal/vdirsyncer). Exports put many objects in one
file, while CalDAV stores one object (one UID: a master plus its RECURRENCE-ID overrides) per
resource, so files are split by UID here and each object keeps the VTIMEZONEs it names.

The split works on content lines and BEGIN/END nesting only, so every object keeps its bytes
(line endings become CRLF, a Latin-1 file becomes UTF-8) and one broken object or stray line
becomes one error item instead of failing the whole file. Values are parsed by the engine.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from skylift.connectors.dav.base import DavCapabilities, DavConnector, DavSource
from skylift.errors import ConfigError
from skylift.model.account import Login
from skylift.model.dav import Collection, DavKind, Item, ItemRef, decode_dav_text

CALENDAR_HEADER = ("VERSION", "PRODID", "CALSCALE")
TZID_PARAM = re.compile(r';TZID=(?:"([^"]*)"|([^;:]*))', re.IGNORECASE)
STORED_COMPONENTS = frozenset({"VEVENT", "VTODO", "VJOURNAL"})
DEFAULT_PRODID = "-//skylift//file import//EN"


def unfold(lines: Sequence[str]) -> list[str]:
    """Join folded continuation lines (RFC 5545 3.1)."""
    parts: list[list[str]] = []  # joined once: a 5 MB attachment stays linear
    for line in lines:
        if line[:1] in (" ", "\t") and parts:
            parts[-1].append(line[1:])
        else:
            parts.append([line])
    return ["".join(p) for p in parts]


def property_name(line: str) -> str:
    return re.split(r"[;:]", line, maxsplit=1)[0].strip().upper()


@dataclass
class _Block:
    name: str
    lines: list[str] = field(default_factory=list)

    def value_of(self, prop: str) -> str | None:
        depth = 0
        for line in unfold(self.lines):
            upper = line.upper()
            if upper.startswith("BEGIN:"):
                depth += 1
            elif upper.startswith("END:"):
                depth -= 1
            elif depth == 1 and property_name(line) == prop:
                return line.split(":", 1)[1].strip() if ":" in line else ""
        return None


@dataclass
class SplitCalendar:
    """A file's objects by key (UID), its header and its problems."""

    header: dict[str, str] = field(default_factory=dict)
    objects: dict[str, bytes] = field(default_factory=dict)
    uids: dict[str, str | None] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    components: set[str] = field(default_factory=set)


def split_calendar(raw: bytes) -> SplitCalendar:
    """Split an iCalendar stream (one or more VCALENDARs, or bare components) by UID."""
    lines = decode_dav_text(raw).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    result = SplitCalendar()
    header: list[str] = []
    timezones: dict[str, _Block] = {}
    groups: dict[str, list[_Block]] = {}
    current: _Block | None = None
    depth = 0
    in_calendar = False
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        upper = line.upper()
        if current is None and upper.startswith("BEGIN:VCALENDAR"):
            in_calendar = True
            continue
        if current is None and upper.startswith("END:VCALENDAR"):
            in_calendar = False
            continue
        if current is None and upper.startswith("BEGIN:"):
            current, depth = _Block(upper[6:].strip()), 0
        if current is not None:
            current.lines.append(line)
            if upper.startswith("BEGIN:"):
                depth += 1
            elif upper.startswith("END:"):
                depth -= 1
                if depth == 0:
                    _file_block(current, number, timezones, groups, result)
                    current = None
            continue
        if line[:1] in (" ", "\t") and header:
            header[-1] += line[1:]
        elif ":" in line and in_calendar:
            header.append(line)
        else:
            result.errors[f"line{number}"] = f"line {number}: not an iCalendar line: {line[:60]!r}"
    if current is not None:
        result.errors["truncated"] = f"{current.name} is not closed (truncated file?)"
    for line in header:
        name = property_name(line)
        if name not in result.header:
            result.header[name] = line
    head = [result.header.get(p) for p in CALENDAR_HEADER]
    head_lines = [h for h in head if h] or []
    if "VERSION" not in result.header:
        head_lines.insert(0, "VERSION:2.0")
    if "PRODID" not in result.header:
        head_lines.insert(1, f"PRODID:{DEFAULT_PRODID}")
    for key, blocks in groups.items():
        used: list[str] = []
        for block in blocks:
            for match in TZID_PARAM.finditer("\n".join(unfold(block.lines))):
                tzid = match.group(1) or match.group(2)
                if tzid not in used:
                    used.append(tzid)
        body = ["BEGIN:VCALENDAR", *head_lines]
        body += [line for tzid in used if tzid in timezones for line in timezones[tzid].lines]
        body += [line for block in blocks for line in block.lines]
        body.append("END:VCALENDAR")
        result.objects[key] = ("\r\n".join(body) + "\r\n").encode("utf-8")
        result.uids[key] = blocks[0].value_of("UID")
    return result


def _file_block(
    block: _Block,
    line_number: int,
    timezones: dict[str, _Block],
    groups: dict[str, list[_Block]],
    result: SplitCalendar,
) -> None:
    if block.name == "VTIMEZONE":
        tzid = block.value_of("TZID")
        if tzid:
            timezones.setdefault(tzid, block)
        return
    if block.name not in STORED_COMPONENTS:
        result.errors[f"line{line_number}"] = (
            f"{block.name} ending at line {line_number} skipped (not an event, task or journal)"
        )
        return
    uid = block.value_of("UID")
    result.components.add(block.name)
    key = uid or "sha-" + hashlib.sha256("\n".join(block.lines).encode()).hexdigest()[:24]
    groups.setdefault(key, []).append(block)


FILE_CAPABILITIES = DavCapabilities()  # read-only, no sync token (the marker is a hash)


class IcsFileSource(DavSource):
    """Calendars from ``.ics`` files; *path* may name a file or a folder."""

    capabilities = FILE_CAPABILITIES
    kind = DavKind.CALENDAR
    suffix = ".ics"

    def __init__(self, path: Path) -> None:
        if not path.exists():
            raise ConfigError(f"{path} does not exist")
        self.path = path
        self._cache: dict[str, dict[str, Item]] = {}

    def _sources(self) -> dict[str, list[Path]]:
        if self.path.is_file():
            return {self.path.stem: [self.path]}
        found: dict[str, list[Path]] = {}
        for child in sorted(self.path.iterdir()):
            if child.is_file() and child.suffix.lower() == self.suffix:
                found[child.stem] = [child]
            elif child.is_dir():
                files = sorted(p for p in child.iterdir() if p.suffix.lower() == self.suffix)
                if files:
                    found[child.name] = files
        return found

    def collections(self) -> list[Collection]:
        out = []
        for name, files in self._sources().items():
            header: dict[str, str] = {}
            components: set[str] = set()
            for path in files:
                split = split_calendar(path.read_bytes())
                components |= split.components
                for key, value in split.header.items():
                    header.setdefault(key, value.split(":", 1)[1] if ":" in value else "")
            out.append(
                Collection(
                    kind=self.kind,
                    name=name,
                    display_name=header.get("X-WR-CALNAME", name),
                    color=header.get("X-APPLE-CALENDAR-COLOR", ""),
                    description=header.get("X-WR-CALDESC", ""),
                    components=frozenset(components & {"VEVENT", "VTODO", "VJOURNAL"})
                    or frozenset({"VEVENT", "VTODO"}),
                    href=name,
                    ctag=_files_hash(files),
                )
            )
        return out

    def _items(self, collection: Collection) -> dict[str, Item]:
        if collection.name not in self._cache:
            items: dict[str, Item] = {}
            for path in self._sources().get(collection.name, []):
                split = split_calendar(path.read_bytes())
                for key, raw in split.objects.items():
                    href = f"{path.name}#{key}"
                    etag = hashlib.sha256(raw).hexdigest()[:32]
                    items[href] = Item(self.kind, href, raw, split.uids[key], etag)
                for key, error in split.errors.items():
                    href = f"{path.name}#{key}"
                    items[href] = Item(self.kind, href, b"", None, None, f"{path.name}: {error}")
            self._cache[collection.name] = items
        return self._cache[collection.name]

    def marker(self, collection: Collection) -> str | None:
        return _files_hash(self._sources().get(collection.name, []))

    def list_items(self, collection: Collection) -> list[ItemRef]:
        return [ItemRef(i.href, i.etag) for i in self._items(collection).values()]

    def fetch(self, collection: Collection, hrefs: Sequence[str]) -> Iterator[Item]:
        items = self._items(collection)
        for href in hrefs:
            if href in items:
                yield items[href]

    def close(self) -> None:
        self._cache.clear()

    def __enter__(self) -> IcsFileSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class IcsFileConnector(DavConnector):
    """``ics:///path`` (``{user}`` in the path is each account's user): a source only."""

    capabilities = FILE_CAPABILITIES

    def path(self, login: Login) -> Path:
        endpoint = self.endpoint
        raw = (endpoint.host + endpoint.path) if endpoint.host else endpoint.path
        return Path(raw.replace("{user}", login.user))

    def open_source(self, login: Login) -> IcsFileSource:
        return IcsFileSource(self.path(login))


def _files_hash(files: Sequence[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:32]
