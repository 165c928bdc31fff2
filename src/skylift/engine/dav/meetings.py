"""Meeting join links in calendar objects: rewriting the old service's links to the new one's.

A meeting made on the old system carries its join link in text (LOCATION, DESCRIPTION, the
HTML description), in ``URL``/``CONFERENCE`` (RFC 7986) or in a vendor property (Teams'
``X-MICROSOFT-SKYPETEAMSMEETINGURL``, Google's ``X-GOOGLE-CONFERENCE``). After the move
those links still point at the old service (an on-prem Lync/Skype ``meet.`` host, a Jitsi the
organization retires). ``--rewrite-meeting-link OLD=NEW`` replaces every link that starts
with the OLD prefix by the NEW prefix, keeping the rest of the link (the meeting's path), in
exactly those properties; nothing else in the object changes.
"""

from __future__ import annotations

import re

LINK_PROPERTIES = frozenset({
    "LOCATION", "DESCRIPTION", "URL", "CONFERENCE", "X-ALT-DESC",
    "X-MICROSOFT-SKYPETEAMSMEETINGURL", "X-MICROSOFT-ONLINEMEETINGCONFLINK",
    "X-GOOGLE-CONFERENCE",
})  # fmt: skip
_URL = re.compile(r"https?://[^\s\"'<>\\,;]+", re.IGNORECASE)


class LinkMapError(ValueError):
    """An ``--rewrite-meeting-link`` value that is not OLD=NEW with two http(s) URLs."""


def parse_link_map(values: list[str]) -> dict[str, str]:
    """``https://meet.old.example/=https://teams.microsoft.com/l/meetup-join/`` -> a map."""
    mapping: dict[str, str] = {}
    for value in values:
        old, sep, new = value.partition("=")
        if not sep or not _URL.fullmatch(old.strip()) or not _URL.fullmatch(new.strip()):
            raise LinkMapError(
                "--rewrite-meeting-link wants OLD=NEW, two http(s) URL prefixes, e.g. "
                f"https://meet.old.example/=https://meet.new.example/: {value!r}"
            )
        mapping[old.strip()] = new.strip()
    return mapping


def rewrite_links(value: str, link_map: dict[str, str]) -> str:
    """*value* with every link starting with an OLD prefix (compared without case) moved to
    its NEW prefix; the rest of the link is kept as written."""
    if not link_map:
        return value

    def one(match: re.Match[str]) -> str:
        link = match.group(0)
        for old, new in link_map.items():
            if link.lower().startswith(old.lower()):
                return new + link[len(old) :]
        return link

    return _URL.sub(one, value)
