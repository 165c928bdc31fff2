"""Calendars and contacts in a cut-over's deltas (steps 1 and 4), where they are configured.

The same DAV sync as ``migrate-calendars`` / ``migrate-contacts`` (``runners/davsync.py``,
one ledger in the state store), run for the wave's users with the logins of the users CSV:
step 1 copies what changed since the pre-stage, step 4 what changed during the flip. A user
whose calendars or contacts cannot be copied in step 1 stays on-prem (the report says why),
as for a mailbox that fails its final delta.
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


def dav_delta(
    deltas: list[DavDelta], pairs: list[MailboxPair], state: str, parallel: int
) -> tuple[dict[str, str], dict[str, int]]:
    """Run every configured DAV delta for *pairs*: (user -> why it failed, user -> written)."""
    why: dict[str, str] = {}
    written: dict[str, int] = {}
    if not deltas or not pairs:
        return why, written
    ledger = DavLedger(state)
    try:
        for delta in deltas:
            options = RunOptions(delta.kind, export_dir=export_dir(state))
            run = [_logins(p) for p in pairs]
            for result in migrate_accounts(
                run, delta.source, delta.target, ledger, options, parallel
            ):
                if result.error is not None:
                    why.setdefault(result.key, f"{delta.label}: {result.error}")
                    continue
                failed = [s for r in result.reports for s in r.failed]
                if failed:
                    first = failed[0]
                    why.setdefault(
                        result.key,
                        f"{delta.label}: {len(failed)} object(s) not copied, first "
                        f"{first.uid or first.source_href}: {first.reason}",
                    )
                written[result.key] = written.get(result.key, 0) + sum(
                    r.count(Action.CREATE) + r.count(Action.UPDATE) for r in result.reports
                )
    finally:
        ledger.close()
    return why, written
