"""The minimal repairs tried on a calendar object only after the target refused the original.

An object goes first as the source served it (see ``objects.py``). When the target
refuses it, each rule below changes the fewest bytes that make a strict parser accept
what is wrong, and leaves every other line as it was; the original is saved beside the
report either way. The rules, in order:

* a UTC offset out of range (``TZOFFSETFROM``/``TZOFFSETTO`` of 24 hours or more, or
  minutes or seconds of 60 or more; RFC 5545 §3.3.14) becomes the nearest valid offset:
  minutes and seconds carry over, and anything past ``±2359`` (``±235959`` when seconds are
  given) is cut to it, the sign kept;
* lines not ended by CR LF get CR LF (RFC 5545 §3.1).

Nothing is guessed beyond that: an object no rule changes is reported as refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

OFFSET_LINE = re.compile(
    r"^(TZOFFSET(?:FROM|TO)(?:;[^:]*)?:)([+-])(\d\d)(\d\d)(\d\d)?\s*$", re.IGNORECASE
)
LAST_SECOND = 24 * 3600 - 1


@dataclass(frozen=True)
class Repair:
    """The repaired bytes and one phrase per change, for the report."""

    raw: bytes
    changes: list[str]


def repair_calendar_object(raw: bytes) -> Repair | None:
    """Apply the rules above to *raw*; None when none of them changes anything."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    changes: list[str] = []
    lines = re.split(r"\r\n|\r|\n", text)
    if lines and lines[-1] == "":
        lines.pop()
    out = []
    for line in lines:
        fixed = _offset(line)
        if fixed != line:
            changes.append(f"{line.strip()} -> {fixed.partition(':')[2]}")
        out.append(fixed)
    if "\r\n".join(lines) + "\r\n" != text:
        changes.append("line ends made CR LF")
    if not changes:
        return None
    return Repair(("\r\n".join(out) + "\r\n").encode("utf-8"), changes)


def _offset(line: str) -> str:
    match = OFFSET_LINE.match(line)
    if not match:
        return line
    head, sign, hours, minutes, seconds = match.groups()
    h, m, s = int(hours), int(minutes), int(seconds or 0)
    if h < 24 and m < 60 and s < 60:
        return line
    total = min(h * 3600 + m * 60 + s, LAST_SECOND)
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    if seconds is None:
        return f"{head}{sign}{h:02d}{m:02d}"
    return f"{head}{sign}{h:02d}{m:02d}{s:02d}"
