"""Publish one account's free/busy from one side to the other (run it from cron or --every).

Reads every calendar of the user on the source (except skylift's own free/busy calendar, so
two directions never echo each other), computes busy periods for the next weeks and makes
the target's ``skylift-freebusy`` calendar hold exactly those blocks: new ones created,
past or cancelled ones deleted. The calendar belongs to skylift; nothing else is touched.

The VFREEBUSY object itself (RFC 5545, what a free/busy URL serves) is written to a file
when asked (``--vfreebusy-out``), for a web server to publish as Outlook-style Internet
free/busy. It is not stored on the CalDAV side: a VFREEBUSY resource in a calendar is not
something CalDAV servers keep (Radicale answers 400), and they compute their own from the
busy blocks instead (free-busy-query REPORT; Radicale's ``?view=freebusy``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from skylift.connectors.dav.base import DavSource, DavTarget
from skylift.engine.dav.freebusy import (
    FREEBUSY_COLLECTION,
    busy_blocks,
    busy_periods,
    vfreebusy,
)
from skylift.engine.dav.objects import resource_name
from skylift.model.dav import Collection, DavKind


@dataclass
class FreeBusyReport:
    account: str
    busy: list[tuple[str, str]] = field(default_factory=list)
    created: int = 0
    deleted: int = 0
    failed: list[str] = field(default_factory=list)
    calendar_url: str = ""
    vfreebusy_file: str = ""

    def to_json(self) -> dict[str, object]:
        return {
            "account": self.account,
            "calendar_url": self.calendar_url,
            "vfreebusy_file": self.vfreebusy_file,
            "busy": [{"start": b, "end": e} for b, e in self.busy],
            "created": self.created,
            "deleted": self.deleted,
            "failed": self.failed,
        }


def publish(
    source: DavSource,
    target: DavTarget,
    account: str,
    weeks: int,
    label: str,
    dry_run: bool = False,
    now: datetime | None = None,
    vfreebusy_out: Path | None = None,
) -> FreeBusyReport:
    """Make the target's free/busy calendar hold *account*'s busy time on the source.

    With *vfreebusy_out*, also write the VFREEBUSY object to that file (not in a dry run).
    """
    start = (now or datetime.now(UTC)).replace(microsecond=0)
    end = start + timedelta(weeks=weeks)
    objects: list[bytes] = []
    for collection in source.collections():
        if collection.name.startswith(FREEBUSY_COLLECTION):
            continue
        refs = source.list_items(collection)
        objects += [item.raw for item in source.fetch(collection, [r.href for r in refs])]
    periods = busy_periods(objects, start, end)
    report = FreeBusyReport(account, [(b.isoformat(), e.isoformat()) for b, e in periods])
    wanted = busy_blocks(account, periods, label)
    if vfreebusy_out is not None and not dry_run:
        write_atomically(vfreebusy_out, vfreebusy(account, periods, start, end))
        report.vfreebusy_file = str(vfreebusy_out)
    existing = next((c for c in target.collections() if c.name == FREEBUSY_COLLECTION), None)
    if existing is None:
        spec = Collection(
            DavKind.CALENDAR,
            FREEBUSY_COLLECTION,
            label + " (other system)",
            components=frozenset({"VEVENT"}),
        )
        if dry_run:
            report.created = len(wanted)
            return report
        existing = target.create_collection(spec)
    report.calendar_url = target.url_of(existing.href)
    present = {ref.href: ref for ref in target.list_items(existing)}
    wanted_hrefs = {
        target.item_href(existing, resource_name(uid, DavKind.CALENDAR)): uid for uid in wanted
    }
    for href, uid in wanted_hrefs.items():
        if href in present:
            continue
        report.created += 1
        if not dry_run:
            result = target.put(existing, resource_name(uid, DavKind.CALENDAR), wanted[uid])
            if result.error:
                report.failed.append(f"{uid}: {result.error}")
    for href, ref in present.items():
        if href not in wanted_hrefs:
            report.deleted += 1
            if not dry_run and (refusal := target.delete(href, ref.etag)):
                report.failed.append(f"{href}: {refusal}")
    return report


def write_atomically(path: Path, data: bytes) -> None:
    """Replace *path* with *data* so a web server publishing it never serves half a file."""
    partial = path.with_name(path.name + ".part")
    partial.write_bytes(data)
    os.replace(partial, path)
