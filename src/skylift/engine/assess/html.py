"""assessment.html: one self-contained page for a manager, charts drawn as inline SVG.

No script, no font, no stylesheet is fetched (the one script, for sorting the mailbox
table, is inline): the page reads the same from a USB stick on a plane. Each chart has its
own colour so a screenshot test can find it.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from skylift.engine.assess.checks import Finding
from skylift.engine.assess.files import ORGANIZATION, UserSummary
from skylift.engine.assess.summary import (
    group_findings,
    kind_label,
    mailbox_rows,
    status_label,
    verdict,
)
from skylift.model.units import human_bytes

TEMPLATES = Path(__file__).parent / "templates"
CHART_COLOURS = {
    "sizes": "#2563eb",
    "groups": "#16a34a",
    "blockers": "#dc2626",
    "hours": "#9333ea",
    "items": "#0891b2",
}
MAILBOX_CLASSES = (
    ("<100 MiB", 100 * 1024**2),
    ("100 MiB-1 GiB", 1024**3),
    ("1-5 GiB", 5 * 1024**3),
    ("5-10 GiB", 10 * 1024**3),
    ("10-50 GiB", 50 * 1024**3),
    (">50 GiB", None),
)
TOP_USERS = 20


def bar_chart(rows: Sequence[tuple[str, float, str]], colour: str, empty: str) -> Markup:
    """Horizontal bars: (label, value, value text) per row, scaled to the largest value."""
    if not rows or max(v for _, v, _ in rows) <= 0:
        return Markup(
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 640 40" width="100%" role="img">'
            f'<text x="10" y="25" font-size="14" fill="#555">{escape(empty)}</text></svg>'
        )
    label_w, bar_w, row_h = 250, 300, 24
    top = max(v for _, v, _ in rows)
    height = row_h * len(rows) + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {label_w + bar_w + 110} {height}" '
        f'width="100%" role="img" font-family="sans-serif" font-size="12">'
    ]
    for i, (label, value, text) in enumerate(rows):
        y = 5 + i * row_h
        width = max(2.0, bar_w * value / top) if value > 0 else 0.0
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 16}" text-anchor="end" fill="#222">'
            f"{escape(label if len(label) <= 38 else label[:37] + '…')}</text>"
            f'<rect x="{label_w}" y="{y + 2}" width="{width:.1f}" height="{row_h - 6}" '
            f'fill="{colour}"><title>{escape(label)}: {escape(text)}</title></rect>'
            f'<text x="{label_w + width + 6:.1f}" y="{y + 16}" fill="#222">{escape(text)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def group_column(summaries: Sequence[UserSummary], group_by: str | None) -> str:
    """Which column groups users in the "data per" chart: the given one, Wave, Department,
    or the mail domain."""
    columns = {c for s in summaries for c in s.extra}
    for candidate in (group_by, "Wave", "Department"):
        if candidate and candidate in columns:
            return candidate
    return "domain"


def _group_of(summary: UserSummary, column: str) -> str:
    if column == "domain":
        return summary.key.rpartition("@")[2] or "(none)"
    return summary.extra.get(column) or "(none)"


def charts(
    head: dict[str, Any], summaries: Sequence[UserSummary], group_by: str | None
) -> dict[str, Markup]:
    ok = [s for s in summaries if s.status == "ok"]
    classes = [0] * len(MAILBOX_CLASSES)
    for s in ok:
        for i, (_, bound) in enumerate(MAILBOX_CLASSES):
            if bound is None or s.bytes < bound:
                classes[i] += 1
                break
    column = group_column(summaries, group_by)
    per_group: dict[str, int] = {}
    for s in ok:
        name = _group_of(s, column)
        per_group[name] = per_group.get(name, 0) + s.bytes
    totals = head["totals"]
    kinds = totals.get("blockers_by_kind") or {}
    slowest = sorted(ok, key=lambda s: (-s.hours, s.key))[:TOP_USERS]
    histogram = totals["item_size_histogram"]
    return {
        "sizes": bar_chart(
            [
                (label, n, f"{n} mailboxes")
                for (label, _), n in zip(MAILBOX_CLASSES, classes, strict=True)
            ],
            CHART_COLOURS["sizes"],
            "No mailbox could be read.",
        ),
        "groups": bar_chart(
            [(g, b, human_bytes(b)) for g, b in sorted(per_group.items())],
            CHART_COLOURS["groups"],
            "No data.",
        ),
        "blockers": bar_chart(
            [
                (kind_label(k), n, str(n))
                for k, n in sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))
            ],
            CHART_COLOURS["blockers"],
            "No blockers.",
        ),
        "hours": bar_chart(
            [(s.key, s.hours, f"{s.hours:.1f} h ({s.bound})") for s in slowest],
            CHART_COLOURS["hours"],
            "No estimate.",
        ),
        "items": bar_chart(
            [(label, n, str(n)) for label, n in histogram.items()],
            CHART_COLOURS["items"],
            "No items.",
        ),
        "group_column": Markup(escape(column)),
    }


def limit_text(name: str, value: Any) -> str:
    """A profile limit as a person reads it: sizes in binary units, lists joined."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float) and name.endswith("_bytes"):
        return f"{human_bytes(value)} ({value:,} bytes)"
    if isinstance(value, int | float):
        return f"{value:,}"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def write_html(
    path: Path,
    head: dict[str, Any],
    summaries: Sequence[UserSummary],
    findings: Sequence[Finding],
    group_by: str | None = None,
) -> None:
    """Render the report page to *path*: the verdict, what to fix, the mailboxes, charts."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"])
    )
    env.filters["bytes"] = human_bytes
    env.filters["kind"] = kind_label
    env.filters["status"] = status_label
    env.globals["limit_text"] = limit_text
    template = env.get_template("assessment.html.j2")
    organization = [f for f in findings if f.user == ORGANIZATION]
    sample = [f for f in findings if f.user != ORGANIZATION]
    groups = group_findings(summaries, sample, organization)
    path.write_text(
        template.render(
            head=head,
            totals=head["totals"],
            profile=head["profile"],
            users=mailbox_rows(summaries),
            groups=groups,
            verdict=head.get("verdict") or verdict(head["totals"], groups).to_dict(),
            charts=charts(head, summaries, group_by),
        ),
        encoding="utf-8",
    )
