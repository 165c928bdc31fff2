"""Open every user's IM account on both servers through the registry and move the rosters."""

from __future__ import annotations

from contextlib import ExitStack

from skylift.connectors import im_account
from skylift.connectors.endpoint import Endpoint
from skylift.engine.im.sync import RosterReport, move_rosters
from skylift.model.account import MailboxPair


def migrate_rosters(
    pairs: list[MailboxPair], source: Endpoint, target: Endpoint, dry_run: bool = False
) -> list[RosterReport]:
    """Each pair: target address (key), source login (old address) and target login."""
    renames = {p.source.user: p.key for p in pairs if p.source.user}
    with ExitStack() as stack:
        sources = {p.key: stack.enter_context(im_account(source, p.source)) for p in pairs}
        targets = {p.key: stack.enter_context(im_account(target, p.target)) for p in pairs}
        return move_rosters(sources, targets, renames, dry_run)
