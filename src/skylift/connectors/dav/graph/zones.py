"""Windows <-> IANA time zone names for Graph, from a pinned CLDR ``windowsZones`` table.

Exchange stores and answers Windows zone names ("W. Europe Standard Time"); iCalendar
carries IANA names. The table is CLDR's windowsZones.xml as icalendar ships it
(``icalendar.timezone.windows_to_olson``, its CLDR commit in ``version``): Windows -> the
zone of territory 001. Writing, an IANA zone goes out as the Windows name whose 001 zone it
is, else as its IANA name (Graph takes those too); reading, a Windows name comes back as its
001 zone, so ``Europe/Paris`` may return as ``Europe/Berlin``: the same rules, another name.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON
from icalendar.timezone.windows_to_olson import version as CLDR_COMMIT

__all__ = ["CLDR_COMMIT", "graph_zone", "to_zoneinfo", "zone_of"]


@cache
def _iana_to_windows() -> dict[str, str]:
    return {iana: windows for windows, iana in WINDOWS_TO_OLSON.items()}


def graph_zone(iana: str) -> str:
    """The name Graph is sent for IANA zone *iana*."""
    if iana in ("UTC", "Etc/UTC", "GMT"):
        return "UTC"
    return _iana_to_windows().get(iana, iana)


def to_zoneinfo(name: str) -> ZoneInfo:
    """A Graph zone name (Windows or IANA) as a zone; UTC when unknown."""
    try:
        return ZoneInfo(WINDOWS_TO_OLSON.get(name, name))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def zone_of(value: dt.datetime) -> str | None:
    """The IANA name of an aware datetime's zone, "UTC", or None (a VTIMEZONE without one)."""
    tz = value.tzinfo
    key = getattr(tz, "key", None) or getattr(tz, "zone", None)
    if key:
        return str(key)
    if value.utcoffset() == dt.timedelta(0):
        return "UTC"
    return None
