"""Calendars and contacts in a cut-over's deltas (steps 1 and 4), where they are configured.

The same DAV sync as ``migrate-calendars`` / ``migrate-contacts`` (``runners/davsync.py``,
one ledger in the state store), run for the wave's users with the logins of the users CSV:
step 1 copies what changed since the pre-stage, step 4 what changed during the flip. A user
whose calendars or contacts cannot be copied in step 1 stays on-prem (the report says why),
as for a mailbox that fails its final delta.

A rollback runs the same sync the other way (cloud -> on-prem, under the key
``<user>#rollback``) for what was made in the cloud while the wave lived there. The ledger
of each direction is mirrored into the other around it (``DavLedger.mirror``): an object one
direction wrote is, for the other, an object already there, so nothing comes back twice and
an object written by the rollback is no "conflict" at the next cut-over.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from skylift.engine.dav.plan import Action
from skylift.engine.dav.sync import RunOptions
from skylift.model.account import Login, MailboxPair
from skylift.model.dav import DavKind
from skylift.runners.davsync import SideSpec, check_schemes, migrate_accounts
from skylift.state.dav_ledger import DavLedger
from skylift.state.ledger_mirror import REVERSE_SUFFIX, reverse_key


@dataclass(frozen=True)
class DavDelta:
    """One kind of DAV data to carry in the deltas: its source and target servers."""

    kind: DavKind
    source: SideSpec
    target: SideSpec

    @property
    def label(self) -> str:
        return "calendars" if self.kind is DavKind.CALENDAR else "contacts"

    def check(self) -> None:
        check_schemes(self.kind, self.source, self.target)


def export_dir(state: str) -> Path:
    """Where objects not stored as they were go (as ``migrate-calendars`` does)."""
    if "://" in state:
        return Path("skylift-export")
    return Path(state).resolve().parent / "skylift-export"


def _logins(pair: MailboxPair) -> MailboxPair:
    source = pair.source
    if not source.user:  # the same account name on both sides unless the CSV says
        source = Login(pair.key, source.password, source.admin, source.admin_password)
    return MailboxPair(pair.key, source, pair.target, pair.extra)


def _reversed(pair: MailboxPair) -> MailboxPair:
    forward = _logins(pair)
    return MailboxPair(reverse_key(pair.key), forward.target, forward.source, pair.extra)


def dav_delta(
    deltas: list[DavDelta],
    pairs: list[MailboxPair],
    state: str,
    parallel: int,
    *,
    reverse: bool = False,
) -> tuple[dict[str, str], dict[str, int]]:
    """Run every configured DAV delta for *pairs* (*reverse*: cloud -> on-prem, for a
    rollback): (user -> why it failed, user -> objects written)."""
    why: dict[str, str] = {}
    written: dict[str, int] = {}
    if not deltas or not pairs:
        return why, written
    ledger = DavLedger(state)
    try:
        for delta in deltas:
            options = RunOptions(delta.kind, export_dir=export_dir(state))
            if reverse:
                run = [_reversed(p) for p in pairs]
                for p in pairs:
                    ledger.mirror(p.key, reverse_key(p.key), delta.kind)
                source, target = delta.target, delta.source
            else:
                run = [_logins(p) for p in pairs]
                source, target = delta.source, delta.target
            for result in migrate_accounts(run, source, target, ledger, options, parallel):
                key = result.key.removesuffix(REVERSE_SUFFIX)
                if reverse:
                    ledger.mirror(result.key, key, delta.kind)
                if result.error is not None:
                    why.setdefault(key, f"{delta.label}: {result.error}")
                    continue
                failed = [s for r in result.reports for s in r.failed]
                if failed:
                    first = failed[0]
                    why.setdefault(
                        key,
                        f"{delta.label}: {len(failed)} object(s) not copied, first "
                        f"{first.uid or first.source_href}: {first.reason}",
                    )
                written[key] = written.get(key, 0) + sum(
                    r.count(Action.CREATE) + r.count(Action.UPDATE) for r in result.reports
                )
    finally:
        ledger.close()
    return why, written
