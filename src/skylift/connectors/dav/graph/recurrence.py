"""RFC 5545 RRULEs <-> Graph's ``patternedRecurrence``, and which RRULEs Graph cannot hold.

Graph knows six pattern types (daily, weekly, absoluteMonthly, relativeMonthly,
absoluteYearly, relativeYearly), one ``index`` (first..fourth, last), one day of the month and
one month; a range ends on a date, after a count, or never. Anything else (HOURLY, MINUTELY,
SECONDLY, BYSETPOS other than one index, several BYMONTHDAY or BYMONTH values, BYYEARDAY,
BYWEEKNO, a fifth weekday, EXRULE, RDATE, two RRULEs) has no pattern: :func:`to_pattern`
answers why, and the connector applies its documented rule (expand into single events
linked by a category; docs/calendars.md).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from icalendar import vRecur

from skylift.connectors.dav.graph.zones import to_zoneinfo

DAYS = {"MO": "monday", "TU": "tuesday", "WE": "wednesday", "TH": "thursday",
        "FR": "friday", "SA": "saturday", "SU": "sunday"}  # fmt: skip
ICAL_DAYS = {v: k for k, v in DAYS.items()}
INDEX = {1: "first", 2: "second", 3: "third", 4: "fourth", -1: "last"}
ICAL_INDEX = {v: k for k, v in INDEX.items()}
KNOWN = {"FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTHDAY", "BYMONTH", "BYSETPOS",
         "WKST"}  # fmt: skip


class NoPattern(ValueError):
    """This recurrence has no Graph pattern; the text says which part."""


def _one(rule: vRecur, name: str) -> Any:
    values = rule.get(name) or []
    if len(values) > 1:
        raise NoPattern(f"{name} with {len(values)} values")
    return values[0] if values else None


def _split_day(text: str) -> tuple[int | None, str]:
    text = str(text)
    return (int(text[:-2]) if text[:-2] not in ("", "+") else None), text[-2:]


def to_pattern(rule: vRecur, start: dt.date | dt.datetime, zone: str) -> dict[str, Any]:
    """The ``patternedRecurrence`` for *rule* starting at *start* in *zone* (a Graph name)."""
    unknown = set(rule) - KNOWN
    if unknown:
        raise NoPattern(", ".join(sorted(unknown)))
    freq = _one(rule, "FREQ")
    interval = int(_one(rule, "INTERVAL") or 1)
    day = start.date() if isinstance(start, dt.datetime) else start
    days = rule.get("BYDAY") or []
    split = [_split_day(d) for d in days]
    setpos = _one(rule, "BYSETPOS")
    month = _one(rule, "BYMONTH")
    monthday = _one(rule, "BYMONTHDAY")
    pattern: dict[str, Any] = {"interval": interval}
    if freq == "DAILY" and not days and month is None and monthday is None and setpos is None:
        pattern["type"] = "daily"
    elif freq in ("DAILY", "WEEKLY") and month is None and monthday is None and setpos is None:
        if any(n is not None for n, _ in split):
            raise NoPattern("BYDAY with an ordinal in a weekly rule")
        if freq == "DAILY" and (interval != 1 or not days):
            raise NoPattern("DAILY with BYDAY and an INTERVAL")
        pattern["type"] = "weekly"
        names = [code for _, code in split] or [ICAL_DAYS_FROM_DATE[day.weekday()]]
        pattern["daysOfWeek"] = [DAYS[c] for c in names]
        pattern["firstDayOfWeek"] = DAYS[str(_one(rule, "WKST") or "MO")]
    elif freq in ("MONTHLY", "YEARLY"):
        yearly = freq == "YEARLY"
        if yearly:
            pattern["month"] = int(month or day.month)
        elif month is not None:
            raise NoPattern("BYMONTH in a monthly rule")
        if days:
            ordinals = {n for n, _ in split}
            if setpos is not None:
                if ordinals != {None}:
                    raise NoPattern("BYSETPOS with ordinal BYDAY")
                index = int(setpos)
            elif len(ordinals) == 1 and None not in ordinals:
                index = ordinals.pop()  # type: ignore[assignment]
            else:
                raise NoPattern("BYDAY without one ordinal")
            if index not in INDEX or monthday is not None:
                raise NoPattern(f"occurrence number {index}")
            pattern["type"] = "relativeYearly" if yearly else "relativeMonthly"
            pattern["daysOfWeek"] = [DAYS[code] for _, code in split]
            pattern["index"] = INDEX[index]
        else:
            if setpos is not None:
                raise NoPattern("BYSETPOS without BYDAY")
            value = int(monthday or day.day)
            if value < 1:
                raise NoPattern("a day counted from the end of the month")
            pattern["type"] = "absoluteYearly" if yearly else "absoluteMonthly"
            pattern["dayOfMonth"] = value
    else:
        raise NoPattern(f"FREQ={freq}")
    return {"pattern": pattern, "range": _range(rule, start, zone)}


ICAL_DAYS_FROM_DATE = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


def _range(rule: vRecur, start: dt.date | dt.datetime, zone: str) -> dict[str, Any]:
    day = start.date() if isinstance(start, dt.datetime) else start
    out: dict[str, Any] = {"startDate": day.isoformat(), "recurrenceTimeZone": zone}
    count = _one(rule, "COUNT")
    until = _one(rule, "UNTIL")
    if count is not None:
        out.update(type="numbered", numberOfOccurrences=int(count))
    elif until is not None:
        out.update(type="endDate", endDate=_until_day(until, zone, start).isoformat())
    else:
        out["type"] = "noEnd"
    return out


def _until_day(until: Any, zone: str, start: dt.date | dt.datetime) -> dt.date:
    """Graph's last day (inclusive) for RFC 5545's UNTIL (an inclusive instant): the day
    before when that day's occurrence would begin after UNTIL."""
    if not isinstance(until, dt.datetime):
        return until  # type: ignore[no-any-return]
    if not isinstance(start, dt.datetime):
        return until.date()
    if until.tzinfo is not None and start.tzinfo is not None:
        until = until.astimezone(start.tzinfo)
    elif until.tzinfo is not None:
        until = until.astimezone(to_zoneinfo(zone)).replace(tzinfo=None)
    day = until.date()
    first = dt.datetime.combine(day, start.timetz() if start.tzinfo else start.time())
    if start.tzinfo is not None:
        first = first.replace(tzinfo=start.tzinfo)
        until = until if until.tzinfo else until.replace(tzinfo=start.tzinfo)
    return day - dt.timedelta(days=1) if first > until else day


def to_rrule(recurrence: dict[str, Any], start: dt.datetime | dt.date) -> str:
    """The RRULE text for a Graph ``patternedRecurrence`` (read back)."""
    pattern, rng = recurrence["pattern"], recurrence["range"]
    kind = pattern["type"]
    parts = [
        f"FREQ={'DAILY' if kind == 'daily' else 'WEEKLY' if kind == 'weekly' else 'MONTHLY' if 'Monthly' in kind else 'YEARLY'}"
    ]
    if (pattern.get("interval") or 1) != 1:
        parts.append(f"INTERVAL={pattern['interval']}")
    days = ",".join(ICAL_DAYS[d] for d in pattern.get("daysOfWeek") or [])
    if kind == "weekly":
        parts.append(f"BYDAY={days}")
        parts.append(f"WKST={ICAL_DAYS[pattern.get('firstDayOfWeek') or 'sunday']}")
    if kind.endswith("Yearly"):
        parts.append(f"BYMONTH={pattern['month']}")
    if kind.startswith("absolute") and kind != "absoluteDaily":
        parts.append(f"BYMONTHDAY={pattern['dayOfMonth']}")
    if kind.startswith("relative"):
        parts.append(f"BYDAY={days}")
        parts.append(f"BYSETPOS={ICAL_INDEX[pattern.get('index') or 'first']}")
    if rng["type"] == "numbered":
        parts.append(f"COUNT={rng['numberOfOccurrences']}")
    elif rng["type"] == "endDate":
        end = dt.date.fromisoformat(rng["endDate"])
        if isinstance(start, dt.datetime):
            last = dt.datetime.combine(end, dt.time(23, 59, 59), tzinfo=start.tzinfo)
            parts.append("UNTIL=" + last.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ"))
        else:
            parts.append(f"UNTIL={end.strftime('%Y%m%d')}")
    return ";".join(parts)
