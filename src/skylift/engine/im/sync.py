"""Move every user's roster: plan per user, gate on --dry-run, execute, then read back.

The target server is the record: a rerun reads both rosters again and plans only what is
still missing (roster sets are idempotent, a repeated ``subscribe`` to an existing
subscription changes nothing), so there is no ledger to keep in step. All accounts are open
at once, so a contact who moves too approves the subscription request at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from skylift.connectors.im.base import ImAccount
from skylift.engine.im.plan import RosterPlan, plan_roster


@dataclass
class RosterReport:
    user: str
    items_set: int = 0
    subscriptions: int = 0
    unchanged: int = 0
    cannot: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "user": self.user, "items_set": self.items_set,
            "subscriptions_asked": self.subscriptions, "unchanged": self.unchanged,
            "left_to_contact": self.cannot,
        }  # fmt: skip


def move_rosters(
    sources: Mapping[str, ImAccount],
    targets: Mapping[str, ImAccount],
    renames: Mapping[str, str],
    dry_run: bool = False,
) -> list[RosterReport]:
    """*sources* and *targets* by the user's new address; *renames*: old -> new address."""
    plans: list[RosterPlan] = [
        plan_roster(user, sources[user].roster(), targets[user].roster(), renames)
        for user in sorted(targets)
    ]
    reports = []
    for plan in plans:
        report = RosterReport(
            plan.user, len(plan.set_items), len(plan.subscribe), plan.unchanged, plan.cannot
        )
        reports.append(report)
        if dry_run:
            continue
        account = targets[plan.user]
        for item in plan.set_items:
            account.set_item(item.jid, item.name, item.groups)
        for jid in plan.subscribe:
            account.subscribe(jid)
            contact = targets.get(jid)
            if contact is not None:
                contact.approve(plan.user)
    return reports
