"""Write assessment.json / .csv / findings.csv as users finish, memory bounded per user.

Each finished mailbox goes to a spool file at once (JSON line) and to the CSV; only a small
summary per user stays in memory. ``finish`` streams the spool into assessment.json in the
users CSV's order, so the output is the same whatever order the parallel workers finish in.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from skylift.engine.assess.checks import Finding, public_folder_finding
from skylift.engine.assess.estimate import Estimate, RateBounds, estimate_total
from skylift.engine.assess.inventory import (
    SIZE_BUCKET_LABELS,
    FolderInventory,
    MailboxInventory,
)
from skylift.engine.assess.summary import group_findings, verdict
from skylift.engine.profiles import TargetProfile
from skylift.errors import ConfigError

SCHEMA = "skylift.assessment/1"
# Findings kept in memory for the HTML page, per severity (assessment.json has them all).
FINDINGS_KEPT_FOR_REPORT = {"blocker": 500, "warning": 200, "info": 100}
ORGANIZATION = "(organization)"
CSV_COLUMNS = [
    "user",
    "login",
    "status",
    "folders",
    "items",
    "bytes",
    "largest_bytes",
    "oldest",
    "newest",
    "quota_used",
    "quota_limit",
    "hours",
    "bound",
    "blockers",
    "warnings",
    "infos",
    "finding_kinds",
    "shares_with",
]
FINDING_COLUMNS = [
    "user",
    "severity",
    "kind",
    "folder",
    "item",
    "detail",
    "remedy",
    "limit",
    "source",
]


@dataclass
class UserSummary:
    """What stays in memory per user: enough for totals, charts and the planner."""

    index: int
    key: str
    login: str
    status: str
    bytes: int
    items: int
    hours: float
    bound: str
    extra: dict[str, str]
    shares_with: list[str]
    histogram: list[int]
    severities: dict[str, int]
    kinds: dict[str, int]
    blocker_kinds: dict[str, int]


@dataclass
class AssessmentWriter:
    """Collects finished mailboxes into the output folder."""

    out_dir: Path
    profile: TargetProfile
    rates: RateBounds
    meta: dict[str, Any]
    extra_columns: list[str] = field(default_factory=list)
    summaries: list[UserSummary] = field(default_factory=list)
    findings_sample: list[Finding] = field(default_factory=list)
    public_folders: dict[str, tuple[FolderInventory, int]] = field(default_factory=dict)
    organization_findings: list[Finding] = field(default_factory=list)
    _kept: dict[str, int] = field(default_factory=dict)
    _offsets: dict[int, int] = field(default_factory=dict)
    _spool: IO[str] | None = None
    _csv_file: IO[str] | None = None
    _csv: Any = None
    _findings_file: IO[str] | None = None
    _findings_csv: Any = None

    def __post_init__(self) -> None:
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            self._spool = open(  # noqa: SIM115 - closed in finish()
                self.out_dir / ".assessment-users.jsonl", "w+", encoding="utf-8"
            )
            self._csv_file = open(  # noqa: SIM115
                self.out_dir / "assessment.csv", "w", newline="", encoding="utf-8"
            )
            self._findings_file = open(  # noqa: SIM115 - every finding, one row each
                self.out_dir / "findings.csv", "w", newline="", encoding="utf-8"
            )
        except OSError as exc:
            raise ConfigError(f"cannot write to {self.out_dir}: {exc.strerror}") from None
        self._csv = csv.writer(self._csv_file)
        self._csv.writerow(CSV_COLUMNS + self.extra_columns)
        self._findings_csv = csv.DictWriter(self._findings_file, fieldnames=FINDING_COLUMNS)
        self._findings_csv.writeheader()

    def add(
        self,
        index: int,
        inventory: MailboxInventory,
        findings: list[Finding],
        estimate: Estimate,
        extra: dict[str, str],
    ) -> UserSummary:
        """Record one finished mailbox."""
        assert self._spool is not None
        status = "ok" if inventory.ok else (inventory.error_kind or "read") + "-failed"
        record = inventory.to_dict()
        record.update(
            {
                "status": status,
                "extra": extra,
                "bytes": inventory.total_bytes,
                "items": inventory.count,
                "largest": inventory.largest_bytes,
                "oldest": _iso(inventory.oldest),
                "newest": _iso(inventory.newest),
                "histogram": inventory.histogram(),
                "shares_with": inventory.shares_with(),
                "estimate": estimate.to_dict(),
                "findings": [f.to_dict() for f in findings],
            }
        )
        self._spool.seek(0, os.SEEK_END)
        self._offsets[index] = self._spool.tell()
        self._spool.write(json.dumps(record, default=str) + "\n")
        severities: dict[str, int] = {}
        kinds: dict[str, int] = {}
        blocker_kinds: dict[str, int] = {}
        for finding in findings:
            severities[finding.severity] = severities.get(finding.severity, 0) + 1
            kinds[finding.kind] = kinds.get(finding.kind, 0) + 1
            if finding.severity == "blocker":
                blocker_kinds[finding.kind] = blocker_kinds.get(finding.kind, 0) + 1
            self._keep(finding)
            self._findings_csv.writerow({k: v or "" for k, v in finding.to_dict().items()})
        for folder in inventory.folders:
            if folder.namespace == "shared" and folder.selectable:
                seen = self.public_folders.get(folder.name)
                self.public_folders[folder.name] = (folder, (seen[1] if seen else 0) + 1)
        summary = UserSummary(
            index=index,
            key=inventory.user,
            login=inventory.login,
            status=status,
            bytes=inventory.total_bytes,
            items=inventory.count,
            hours=estimate.hours,
            bound=estimate.bound,
            extra=extra,
            shares_with=record["shares_with"],
            histogram=record["histogram"],
            severities=severities,
            kinds=kinds,
            blocker_kinds=blocker_kinds,
        )
        self.summaries.append(summary)
        self._csv.writerow(
            [
                inventory.user,
                inventory.login,
                status,
                len(inventory.own_folders()),
                inventory.count,
                inventory.total_bytes,
                inventory.largest_bytes,
                record["oldest"] or "",
                record["newest"] or "",
                "" if inventory.quota_used is None else inventory.quota_used,
                "" if inventory.quota_limit is None else inventory.quota_limit,
                f"{estimate.hours:.3f}",
                estimate.bound,
                severities.get("blocker", 0),
                severities.get("warning", 0),
                severities.get("info", 0),
                " ".join(sorted(kinds)),
                " ".join(record["shares_with"]),
            ]
            + [extra.get(col, "") for col in self.extra_columns]
        )
        return summary

    def _keep(self, finding: Finding) -> None:
        kept = self._kept.get(finding.severity, 0)
        if kept < FINDINGS_KEPT_FOR_REPORT.get(finding.severity, 0):
            self._kept[finding.severity] = kept + 1
            self.findings_sample.append(finding)

    def totals(self) -> dict[str, Any]:
        ok = [s for s in self.summaries if s.status == "ok"]
        total_bytes = sum(s.bytes for s in ok)
        hours, bound = estimate_total([s.hours for s in ok], total_bytes, self.rates)
        kinds: dict[str, int] = {}
        blockers: dict[str, int] = {}
        severities: dict[str, int] = {}
        histogram = [0] * len(SIZE_BUCKET_LABELS)
        for finding in self.organization_findings:
            kinds[finding.kind] = kinds.get(finding.kind, 0) + 1
            severities[finding.severity] = severities.get(finding.severity, 0) + 1
            if finding.severity == "blocker":
                blockers[finding.kind] = blockers.get(finding.kind, 0) + 1
        for s in self.summaries:
            for kind, n in s.kinds.items():
                kinds[kind] = kinds.get(kind, 0) + n
            for kind, n in s.blocker_kinds.items():
                blockers[kind] = blockers.get(kind, 0) + n
            for sev, n in s.severities.items():
                severities[sev] = severities.get(sev, 0) + n
            for i, n in enumerate(s.histogram):
                histogram[i] += n
        return {
            "users": len(self.summaries),
            "users_ok": len(ok),
            "users_failed": len(self.summaries) - len(ok),
            "bytes": total_bytes,
            "items": sum(s.items for s in ok),
            "hours": round(hours, 3),
            "hours_bound": bound,
            "findings_by_kind": dict(sorted(kinds.items())),
            "findings_by_severity": dict(sorted(severities.items())),
            "blockers_by_kind": dict(sorted(blockers.items())),
            "item_size_histogram": dict(zip(SIZE_BUCKET_LABELS, histogram, strict=True)),
        }

    def finish(self) -> dict[str, Any]:
        """Write assessment.json (users in input order); return its header and totals."""
        assert self._spool is not None and self._csv_file is not None
        self._csv_file.close()
        self.summaries.sort(key=lambda s: s.index)
        self.organization_findings = [
            public_folder_finding(ORGANIZATION, folder, self.profile, seen_by)
            for _, (folder, seen_by) in sorted(self.public_folders.items())
        ]
        self.findings_sample[:0] = self.organization_findings
        assert self._findings_file is not None
        for finding in self.organization_findings:
            self._findings_csv.writerow({k: v or "" for k, v in finding.to_dict().items()})
        self._findings_file.close()
        totals = self.totals()
        groups = group_findings(
            self.summaries,
            [f for f in self.findings_sample if f.user != ORGANIZATION],
            self.organization_findings,
        )
        head: dict[str, Any] = {
            "schema": SCHEMA,
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            **self.meta,
            "profile": self.profile.to_dict(),
            "rates": self.rates.to_dict(),
            "totals": totals,
            "verdict": verdict(totals, groups).to_dict(),
            "organization_findings": [f.to_dict() for f in self.organization_findings],
        }
        path = self.out_dir / "assessment.json"
        with open(path, "w", encoding="utf-8") as out:
            out.write(json.dumps(head, indent=1, default=str)[:-2] + ',\n "users": [\n')
            for n, summary in enumerate(self.summaries):
                self._spool.seek(self._offsets[summary.index])
                line = self._spool.readline().rstrip("\n")
                out.write(("  " if n == 0 else ", ") + line + "\n")
            out.write(" ]\n}\n")
        self._spool.close()
        (self.out_dir / ".assessment-users.jsonl").unlink(missing_ok=True)
        return head


def read_assessment(path: Path) -> dict[str, Any]:
    """Load an assessment.json; a wrong or foreign file is a ConfigError."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read assessment {path}: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ConfigError(f"{path} is not an assessment.json (not valid JSON)") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ConfigError(f"{path} is not a skylift assessment (schema {SCHEMA} expected)")
    return data


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
