"""What a manager reads first: a verdict, then each kind of problem once, with who has it.

The raw findings (one per item, thousands in a real organization) stay in assessment.json
and findings.csv; the page groups them by kind x mailbox so that six users with the same
problem cost six words, not six screens, and says in plain words what a finding id means.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from skylift.engine.assess.checks import Finding

if TYPE_CHECKING:  # assessment_files calls this module while it writes assessment.json
    from skylift.engine.assess.files import UserSummary

# A weekend cut-over window, Friday 20:00 to Monday 06:00: the yardstick of the verdict.
WEEKEND_HOURS = 58.0
MAILBOXES_SHOWN = 8
REMEDIES_SHOWN = 3

KIND_LABELS = {
    "login-failed": "Could not log in",
    "connect-failed": "Could not connect",
    "read-failed": "Could not be read",
    "shared-folder": "Folder shared by another user",
    "folder-unreadable": "Folder could not be read",
    "too-many-connections": "More connections than the target allows",
    "ingest-throttled": "Target throttles how fast mail arrives",
    "public-folder": "Public folder (no place in a mailbox)",
    "folder-too-deep": "Folder nested too deep",
    "folder-name-too-long": "Folder name too long",
    "folder-path-too-long": "Folder path too long",
    "folder-name-forbidden-char": "Folder name with a character the target refuses",
    "folder-name-reserved": "Folder name the target reserves",
    "too-many-subfolders": "Too many subfolders in one folder",
    "folder-name-collision": "Folder names that differ only in case",
    "item-too-large": "Message larger than the target accepts",
    "folder-too-many-items": "Too many messages in one folder",
    "mailbox-too-many-items": "Too many messages in the mailbox",
    "too-many-folders": "Too many folders",
    "over-target-quota": "Mailbox larger than its target quota",
    "source-quota-nearly-full": "Source mailbox nearly full",
}
STATUS_LABELS = {
    "ok": "read",
    "login-failed": "could not log in",
    "connect-failed": "could not connect",
    "read-failed": "could not be read",
}
SEVERITY_RANK = {"blocker": 0, "warning": 1, "info": 2}


def duration(hours: float) -> str:
    """ "40 min" under an hour, "12.3 h" above: how long, as a person says it."""
    return f"{max(1, round(hours * 60))} min" if hours < 1 else f"{hours:.1f} h"


def kind_label(kind: str) -> str:
    """Plain words for a finding id (an unknown id still reads as words)."""
    return KIND_LABELS.get(kind, kind.replace("-", " ").capitalize())


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status.replace("-", " "))


@dataclass
class KindGroup:
    """One kind of finding across the organization."""

    kind: str
    label: str
    severity: str
    count: int = 0
    mailboxes: list[tuple[str, int]] = field(default_factory=list)
    remedies: list[tuple[str, int]] = field(default_factory=list)
    source: str = ""

    @property
    def more_mailboxes(self) -> int:
        return max(0, len(self.mailboxes) - MAILBOXES_SHOWN)


@dataclass(frozen=True)
class Verdict:
    ready: bool
    headline: str
    to_fix: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def group_findings(
    summaries: Sequence[UserSummary],
    sample: Sequence[Finding],
    organization: Sequence[Finding] = (),
) -> list[KindGroup]:
    """Kinds of finding, blockers first then by how many items: counts from every mailbox,
    severity, remedies and source from the findings kept for the page."""
    groups: dict[str, KindGroup] = {}
    remedies: dict[str, dict[str, int]] = {}
    for finding in [*organization, *sample]:
        group = groups.get(finding.kind)
        if group is None:
            group = groups[finding.kind] = KindGroup(
                finding.kind, kind_label(finding.kind), finding.severity
            )
        if SEVERITY_RANK.get(finding.severity, 9) < SEVERITY_RANK.get(group.severity, 9):
            group.severity = finding.severity
        if finding.remedy:
            seen = remedies.setdefault(finding.kind, {})
            seen[finding.remedy] = seen.get(finding.remedy, 0) + 1
        if finding.source and not group.source:
            group.source = finding.source
    for finding in organization:
        groups[finding.kind].count += 1
    for summary in summaries:
        for kind, n in summary.kinds.items():
            group = groups.get(kind)
            if group is None:  # beyond what was kept for the page: still counted
                severity = "blocker" if kind in summary.blocker_kinds else "warning"
                group = groups[kind] = KindGroup(kind, kind_label(kind), severity)
            group.count += n
            group.mailboxes.append((summary.key, n))
    for kind, group in groups.items():
        group.mailboxes.sort(key=lambda m: (-m[1], m[0]))
        ranked = sorted(remedies.get(kind, {}).items(), key=lambda r: (-r[1], r[0]))
        group.remedies = ranked[:REMEDIES_SHOWN]
    return sorted(
        groups.values(), key=lambda g: (SEVERITY_RANK.get(g.severity, 9), -g.count, g.label)
    )


def verdict(totals: dict[str, Any], groups: Sequence[KindGroup]) -> Verdict:
    """Ready or not, and what to fix first, in one sentence and a short list."""
    blockers = [g for g in groups if g.severity == "blocker"]
    hours = float(totals.get("hours") or 0.0)
    to_fix = []
    for group in blockers:
        names = [m for m, _ in group.mailboxes]
        who = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        items = f"{group.count} × " if group.count > 1 else ""
        to_fix.append(f"{items}{group.label.lower()}" + (f" ({who})" if who else ""))
    count = sum(g.count for g in blockers)
    if count:
        noun = "blocker" if count == 1 else "blockers"
        return Verdict(False, f"Not ready: {count} {noun} to fix first", to_fix)
    if hours <= WEEKEND_HOURS:
        return Verdict(
            True,
            f"Ready for a weekend cut-over: no blockers, about {duration(hours)} in all "
            f"(a weekend is {WEEKEND_HOURS:.0f} h, Friday 20:00 to Monday 06:00)",
            [],
        )
    return Verdict(
        True,
        f"Ready, but more than one weekend: no blockers, about {duration(hours)} in all; "
        "split it into waves with 'skylift plan'",
        [],
    )


def mailbox_rows(summaries: Sequence[UserSummary]) -> list[UserSummary]:
    """Mailboxes with the most blockers first, then the biggest; unreadable ones on top."""
    return sorted(
        summaries,
        key=lambda s: (s.status == "ok", -s.severities.get("blocker", 0), -s.bytes, s.key),
    )
