"""Probe verdicts: where a tagged test message landed, and what that says about the path.

Before any MX or routing change, ``route probe`` sends one tagged message per user through
the real path and looks for the tag on both sides (and in the bounces that come back to the
probe's sender). This module only judges what was seen: delivered once on the side the
registry expects; a loop (the tag seen twice, more Received headers than a path needs, or
a bounce that says so: Postfix's "mail forwarding loop", RFC 5321's hop limit); an
unresolved recipient (refused at RCPT, or a 5.1.x bounce); or nothing within the wait.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.utils import make_msgid

TAG_HEADER = "X-Skylift-Probe"
_LOOP = re.compile(r"loops back to myself|forwarding loop|too many hops|hop count|5\.4\.6", re.I)
_UNRESOLVED = re.compile(
    r"5\.1\.[0-9]|user unknown|unknown user|doesn't exist|does not exist|no such user|"
    r"recipient address rejected|mailbox unavailable",
    re.I,
)


def probe_message(tag: str, sender: str, rcpt: str) -> bytes:
    """A small message carrying *tag* in a header and in its Message-ID."""
    mid = make_msgid(idstring=tag, domain="skylift.probe")
    return (
        f"From: {sender}\r\nTo: {rcpt}\r\nSubject: skylift routing probe {tag}\r\n"
        f"Message-ID: {mid}\r\n{TAG_HEADER}: {tag}\r\n\r\n"
        "A routing test before a cut-over; it can be deleted.\r\n"
    ).encode()


def received_count(raw: bytes) -> int:
    head = raw.split(b"\r\n\r\n", 1)[0].replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    return len(re.findall(rb"^Received:", head, re.M | re.I))


@dataclass
class Sighting:
    side: str  # "source" or "target"
    hops: int


@dataclass
class ProbeVerdict:
    user: str
    expected: str  # the side the registry says mail goes to
    verdict: str = "pending"  # ok | loop | unresolved | wrong-side | bounced | not-delivered
    detail: str = ""
    landed: list[Sighting] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.verdict == "ok"

    def as_dict(self) -> dict[str, object]:
        return {
            "user": self.user,
            "expected": self.expected,
            "verdict": self.verdict,
            "detail": self.detail,
            "landed": [s.__dict__ for s in self.landed],
        }


def judge(
    v: ProbeVerdict,
    *,
    refused: tuple[int, str] | None,
    bounce: str | None,
    max_hops: int,
    waited: float,
) -> ProbeVerdict:
    """Fill in *v*'s verdict from what was seen."""
    if refused is not None:
        code, words = refused
        unresolved = code == 550 or (code >= 500 and bool(_UNRESOLVED.search(words)))
        kind = "unresolved" if unresolved else "bounced"
        v.verdict, v.detail = kind, f"refused at RCPT: {code} {words}"
    elif len(v.landed) > 1:
        sides = ", ".join(s.side for s in v.landed)
        v.verdict, v.detail = "loop", f"the probe arrived {len(v.landed)} times ({sides})"
    elif v.landed and v.landed[0].hops > max_hops:
        v.verdict = "loop"
        v.detail = f"{v.landed[0].hops} Received headers (more than {max_hops}): mail went round"
    elif v.landed and v.landed[0].side != v.expected:
        v.verdict = "wrong-side"
        v.detail = f"landed on the {v.landed[0].side}, the registry says {v.expected}"
    elif v.landed:
        v.verdict, v.detail = "ok", f"landed on the {v.landed[0].side}, {v.landed[0].hops} hop(s)"
    elif bounce is not None:
        words = " ".join(bounce.split())[:300]
        if _LOOP.search(bounce):
            v.verdict = "loop"
        elif _UNRESOLVED.search(bounce):
            v.verdict = "unresolved"
        else:
            v.verdict = "bounced"
        v.detail = f"bounced: {words}"
    else:
        v.verdict, v.detail = "not-delivered", f"not seen on either side within {waited:g}s"
    return v


def bounce_reason(raw: bytes) -> str:
    """The human part of a delivery status notification: the diagnostic lines."""
    text = raw.decode(errors="replace")
    lines = [
        line.strip()
        for line in text.splitlines()
        if line.lower().startswith(("diagnostic-code:", "status:"))
        or _LOOP.search(line)
        or "said:" in line
    ]
    return " | ".join(dict.fromkeys(lines)) or text[:500]
