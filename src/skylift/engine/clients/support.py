"""The help-desk view: per user, where they live, how their move went, what is wrong, and
the link that sets up their devices, in words an agent can read out on the phone."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

TEMPLATES = Path(__file__).parent / "templates"
COLUMNS = ("user", "routing", "side", "wave", "migration", "notices", "problems", "setup_link")
STATE_WORDS = {
    "onprem": "not moved yet",
    "migrating": "being moved",
    "cloud": "moved (cloud)",
    "": "not in the plan",
}


@dataclass
class SupportRow:
    user: str
    routing: str
    side: str
    wave: str
    reason: str
    migration: str
    notices: list[str]
    setup_link: str
    problems: list[str] = field(default_factory=list)

    def to_csv(self) -> dict[str, str]:
        return {
            "user": self.user, "routing": self.routing or "none", "side": self.side,
            "wave": self.wave, "migration": self.migration, "notices": " ".join(self.notices),
            "problems": "; ".join(self.problems), "setup_link": self.setup_link,
        }  # fmt: skip


def problems_of(
    *,
    routing: str,
    wave: str,
    wave_start: datetime | None,
    wave_end: datetime | None,
    unit_state: str,
    unit_error: str,
    unit_problems: int,
    notices: list[str],
    now: datetime,
) -> list[str]:
    """Open problems in plain words, most urgent first."""
    found = []
    if unit_state == "failed":
        found.append(f"the mailbox copy failed: {unit_error or 'no reason recorded'}")
    elif unit_state == "partial":
        found.append(f"{unit_problems} item(s) did not arrive; rerun the migration for this user")
    if routing == "cloud" and unit_state not in ("done", "partial"):
        found.append("cut over to the cloud, but no finished mailbox copy is recorded")
    if not wave:
        found.append("in no wave: this user has no move date")
    if wave_end and now > wave_end and routing != "cloud":
        found.append(f"wave {wave} ended {wave_end:%Y-%m-%d} but this user is not cut over")
    if wave_start and now < wave_start <= now + timedelta(days=7) and "t-7" not in notices:
        found.append("moves within a week and has not been sent the T-7 notice")
    if routing == "cloud" and "done" not in notices:
        found.append('has not been sent the "done" notice with the new settings')
    return found


def render_html(rows: list[SupportRow], *, generated: datetime, domain: str) -> str:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["j2"]))
    return env.get_template("support.html.j2").render(
        rows=rows, generated=generated, domain=domain, words=STATE_WORDS,
        with_problems=sum(1 for r in rows if r.problems),
    )  # fmt: skip


def render_csv(rows: list[SupportRow]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow(row.to_csv())
    return out.getvalue()


def to_dict(rows: list[SupportRow]) -> list[dict[str, Any]]:
    return [dict(r.__dict__) for r in rows]
