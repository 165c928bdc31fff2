"""What a person reads before and after a sync: the per-object diff and the pre-flight report.

Pure functions from a plan to rows and dicts; the runner writes them to JSON/CSV files and
the CLI prints them.
"""

from __future__ import annotations

from typing import Any

from skylift.engine.directory.matching import MatchResult
from skylift.engine.directory.plan import Change, Plan
from skylift.model.directory import User

CSV_COLUMNS = ("action", "kind", "name", "anchor", "target_id", "reason", "changes")


def _show(value: object) -> object:
    if isinstance(value, tuple | list | frozenset | set):
        return sorted(str(v) for v in value)
    return value


def change_dict(change: Change) -> dict[str, Any]:
    out: dict[str, Any] = {
        "action": change.action,
        "kind": change.kind,
        "name": change.name,
        "anchor": change.anchor,
        "target_id": change.target_id,
        "reason": change.reason,
        "changes": {
            k: {"before": _show(b), "after": _show(a)} for k, (b, a) in change.changes.items()
        },
    }
    if change.add_members or change.remove_members:
        out["members"] = {"add": list(change.add_members), "remove": list(change.remove_members)}
    return out


def plan_rows(plan: Plan) -> list[dict[str, Any]]:
    """One row per change and per conflict, for the JSON and CSV diff files."""
    rows = [change_dict(c) for c in plan.changes]
    for conflict in plan.conflicts:
        rows.append(
            {
                "action": "conflict",
                "kind": "",
                "name": "",
                "anchor": " ".join(conflict.anchors),
                "target_id": "",
                "reason": conflict.message,
                "changes": {},
            }
        )
    for line, group in zip(plan.blocked_lines(), sorted(plan.blocked), strict=True):
        rows.append(
            {
                "action": "blocked",
                "kind": "group",
                "name": group,
                "anchor": "",
                "target_id": "",
                "reason": line,
                "changes": {},
            }
        )
    return rows


def csv_row(row: dict[str, Any]) -> dict[str, str]:
    changes = row.get("changes") or {}
    parts = [f"{k}: {v['before']!r} -> {v['after']!r}" for k, v in changes.items()]
    members = row.get("members")
    if members:
        parts.append(f"members +{len(members['add'])} -{len(members['remove'])}")
    return {col: str(row.get(col, "")) for col in CSV_COLUMNS[:-1]} | {"changes": "; ".join(parts)}


def preflight(plan: Plan, matches: MatchResult) -> dict[str, Any]:
    """Before the first export: duplicates in the source, likely matches, future orphans."""
    return {
        "source_duplicates": [c.message for c in plan.conflicts if "sources claim" in c.message],
        "other_conflicts": [c.message for c in plan.conflicts if "sources claim" not in c.message],
        "likely_matches": [
            {"source": c.name, "target_id": c.target_id, "how": c.reason}
            for c in plan.changes
            if c.action == "link"
        ],
        "target_only": [
            {"kind": "user" if isinstance(o, User) else "group", "name": _name(o), "id": o.id}
            for o in matches.orphans
        ],
        "problems": list(plan.problems),
    }


def _name(obj: object) -> str:
    return str(getattr(obj, "user_name", "") or getattr(obj, "display_name", ""))
