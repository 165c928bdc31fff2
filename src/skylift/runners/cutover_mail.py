"""The mail side of a cut-over and its rollback: the deltas (a migrate pass each way, with
the two directions' ledgers mirrored), what they copied, who failed, and the pre-flight."""

from __future__ import annotations

from typing import TYPE_CHECKING

from skylift.connectors.mta.smtp import check_recipients
from skylift.engine.mail.folders import FolderRules
from skylift.engine.mail.report import RunReport
from skylift.engine.mail.sync import MigrateOptions
from skylift.errors import ConnectError
from skylift.model.account import MailboxPair
from skylift.runners.mail import migrate_all, verify_all
from skylift.state.ledger_mirror import inverse_folders, mirror, reverse_key
from skylift.state.store import StateStore

if TYPE_CHECKING:
    from skylift.runners.cutover import WaveJob


def mail_delta(
    job: WaveJob, pairs: list[MailboxPair], store: StateStore, *, reverse: bool = False
) -> RunReport:
    """One migrate pass (source -> target, or target -> source for a rollback)."""
    report = RunReport(command="migrate")
    if reverse:
        # each user's folders go home where they came from: one pass per folder mapping
        groups: dict[tuple[tuple[str, str], ...], list[MailboxPair]] = {}
        for p in pairs:
            home = tuple(sorted(inverse_folders(store.engine, p.key).items()))
            groups.setdefault(home, []).append(
                MailboxPair(reverse_key(p.key), p.target, p.source, p.extra)
            )
        for home, run_pairs in groups.items():
            options = MigrateOptions(rules=FolderRules(map_folder=dict(home)), stop=job.stop)
            done = migrate_all(
                run_pairs, job.target, job.source, store, options, job.settings, lambda *_: None
            )
            report.mailboxes += done.mailboxes
    elif pairs:
        report = migrate_all(
            pairs, job.source, job.target, store, MigrateOptions(stop=job.stop), job.settings,
            lambda *_: None,
        )  # fmt: skip
    for pair in pairs:  # tell the other direction what this one copied
        fwd, back = pair.key, reverse_key(pair.key)
        if reverse:
            mirror(store.engine, back, fwd)
        else:
            mirror(store.engine, fwd, back)
    return report


def copied(report: RunReport, key: str) -> int:
    for m in report.mailboxes:
        if m.mailbox in (key, reverse_key(key)):
            return m.totals()["copied"]
    return 0


def failed(report: RunReport) -> dict[str, str]:
    out = {}
    for m in report.mailboxes:
        if m.status != "ok":
            key = m.mailbox.removesuffix("#rollback")
            out[key] = m.error or f"final delta incomplete ({m.status}): rerun migrate to see why"
    return out


def preflight(job: WaveJob, pairs: list[MailboxPair], store: StateStore) -> dict[str, str]:
    """User -> why they cannot move now (verify differences, unresolved recipient)."""
    why: dict[str, str] = {}
    reports = verify_all(
        pairs, job.source, job.target, store, MigrateOptions(), job.settings, False
    )
    for r in reports:
        if r.error:
            why[r.mailbox] = f"verify: {r.error}"
        elif r.differences:
            d = r.differences[0]
            why[r.mailbox] = (
                f"verify: {len(r.differences)} difference(s), first: {d.folder}: {d.what} {d.detail}"
            )
    relay = job.routing.relay
    try:
        answers = check_recipients(relay.scheme, relay.host, relay.port, [p.key for p in pairs])
    except ConnectError as exc:
        raise ConnectError(f"pre-flight: cloud relay {relay.url}: {exc}") from None
    for user, answer in answers.items():
        if not answer.ok and user not in why:
            why[user] = f"does not resolve on {relay.url}: {answer.code} {answer.text}"
    return why
