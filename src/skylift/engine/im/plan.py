"""What a roster move must change on the target, from both rosters; pure, no I/O.

Contacts who move too are renamed to their new address (the users CSV maps old to new);
others keep theirs. Name and groups are set where they differ. A subscription the source
has and the target lacks is asked for: "to" by this user (``subscribe``), and approved by
the contact when the contact is migrated too (the run holds both accounts). A "from" the
contact alone could grant is left to the contact's own plan, or reported when the contact
is not migrated. An unchanged roster plans nothing, so a rerun changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from skylift.connectors.im.base import RosterItem


@dataclass
class RosterPlan:
    """The changes for one user's roster on the target."""

    user: str
    set_items: list[RosterItem] = field(default_factory=list)
    #: contacts this user asks to see (their new addresses)
    subscribe: list[str] = field(default_factory=list)
    #: "from" subscriptions only the (not migrated) contact can restore
    cannot: list[str] = field(default_factory=list)
    unchanged: int = 0


def plan_roster(
    user: str,
    source: list[RosterItem],
    target: list[RosterItem],
    renames: Mapping[str, str],
) -> RosterPlan:
    """The plan for *user* (new address) from its *source* and *target* rosters."""
    plan = RosterPlan(user)
    there = {i.jid: i for i in target}
    for item in source:
        jid = renames.get(item.jid, item.jid)
        have = there.get(jid)
        changed = False
        if have is None or have.name != item.name or have.groups != item.groups:
            plan.set_items.append(RosterItem(jid, item.name, item.groups))
            changed = True
        if item.to and not (have and have.to):
            plan.subscribe.append(jid)
            changed = True
        if item.from_ and not (have and have.from_) and item.jid not in renames:
            plan.cannot.append(jid)
        if not changed:
            plan.unchanged += 1
    return plan
