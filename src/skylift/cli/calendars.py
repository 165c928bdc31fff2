"""``skylift migrate-calendars|migrate-contacts|verify-calendars|verify-contacts|freebusy``.

Same users CSV, credentials, proxy login, TLS rules, ``--json`` and exit codes as mail:
0 all copied (or identical), 1 some objects failed or differ, 2 usage/configuration,
3 an account could not connect or log in.
"""

from __future__ import annotations

import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from skylift.cli import cloud
from skylift.cli.common import envelope, print_json
from skylift.cli.dav_sides import (
    AdminOpt,
    DeleteOpt,
    DomainOpt,
    InvitationsOpt,
    MeetingLinkOpt,
    SourceOpt,
    TargetOpt,
    TargetProfileOpt,
    UserOpt,
    UsersOpt,
    account_pairs,
    parse_domain_map,
    prepare_dav,
    signed_in_sides,
)
from skylift.cli.interrupt import graceful_stop, print_resume_hint
from skylift.cli.options import (
    AllowPlaintextOpt,
    BrokerOpt,
    DryRunOpt,
    InsecureSourceOpt,
    InsecureTargetOpt,
    JsonOpt,
    RunnerOpt,
    SourceCaOpt,
    StateOpt,
    TargetApiBaseOpt,
    TargetCaOpt,
    WaitOpt,
)
from skylift.engine.dav.plan import Action
from skylift.errors import (
    EXIT_CONNECT,
    EXIT_INTERRUPTED,
    EXIT_ITEMS_FAILED,
    EXIT_OK,
    ConfigError,
)
from skylift.model.account import MailboxPair
from skylift.model.dav import DavKind
from skylift.runners.davsync import (
    CollectionReport,
    RunOptions,
    SideSpec,
    check_schemes,
    migrate_accounts,
    open_source,
    open_target,
)
from skylift.runners.davsync_verify import CollectionCheck, verify_account
from skylift.state.dav_ledger import DavLedger


def _migrate(
    kind: DavKind,
    src: SideSpec,
    dst: SideSpec,
    pairs: list[MailboxPair],
    state: str,
    options: RunOptions,
    json_out: bool,
    parallel: int = 1,
) -> int:
    check_schemes(kind, src, dst)
    ledger = DavLedger(state)
    results: list[dict[str, object]] = []
    failed_accounts = 0
    any_failed_items = False
    stopped = 0
    try:
        with graceful_stop(options.stop):
            for result in migrate_accounts(pairs, src, dst, ledger, options, parallel):
                if result.not_started:
                    stopped += 1
                    results.append({"account": result.key, "error": "not started (Ctrl-C)"})
                    continue
                stopped += result.stopped
                if result.error is not None:
                    if len(pairs) == 1:
                        raise result.error
                    failed_accounts += 1
                    results.append({"account": result.key, "error": str(result.error)})
                    if not json_out:
                        print(f"skylift: error: {result.key}: {result.error}", file=sys.stderr)
                    continue
                any_failed_items |= any(r.failed for r in result.reports)
                results.append(
                    {"account": result.key, "collections": [r.to_json() for r in result.reports]}
                )
                if not json_out:
                    _print_reports(result.key, result.reports, options.dry_run)
    finally:
        ledger.close()
    if json_out:
        totals = _collection_totals(results)
        totals["accounts_failed"] = failed_accounts
        totals["accounts_stopped"] = stopped
        name = "migrate-calendars" if kind is DavKind.CALENDAR else "migrate-contacts"
        print_json(envelope(name, totals, results, kind=str(kind), dry_run=options.dry_run))
    if options.stop.is_set():
        if not json_out:
            print(f"{stopped} of {len(pairs)} accounts stopped before the end", file=sys.stderr)
        print_resume_hint("what was written is recorded")
        return EXIT_INTERRUPTED
    if failed_accounts:
        return EXIT_CONNECT
    return EXIT_ITEMS_FAILED if any_failed_items else EXIT_OK


def _collection_totals(results: list[dict[str, Any]]) -> dict[str, int]:
    """Sums over every account's collections: the numbers a script checks first."""
    totals: dict[str, int] = {"accounts": len(results)}
    for account in results:
        for collection in account.get("collections", []):
            for key, value in collection.get("counts", {}).items():  # create, update, ...
                totals[key] = totals.get(key, 0) + value
    return totals


def _print_reports(account: str, reports: list[CollectionReport], dry_run: bool) -> None:
    would = "would be " if dry_run else ""
    for report in reports:
        if report.unchanged:
            print(f"{account} {report.kind} {report.name}: unchanged since the last run")
            for note in report.notes:
                print(f"  {note}")
            for step in report.failed:
                print(f"  failed {step.uid or step.source_href}: {step.reason}")
            continue
        counts = ", ".join(
            f"{report.count(a)} {would}{a}d".replace("skipd", "skipped").replace("faild", "failed")
            for a in (Action.CREATE, Action.UPDATE, Action.DELETE, Action.SKIP, Action.FAIL)
        )
        new = f" ({would}created)" if report.created else ""
        cut = " (stopped by Ctrl-C)" if report.stopped else ""
        print(f"{account} {report.kind} {report.name}{new}: {counts}{cut}")
        for note in report.notes:
            print(f"  {note}")
        for step in report.outcomes:
            if step.action is Action.FAIL:
                print(f"  failed {step.uid or step.source_href}: {step.reason}")
            elif step.notice:
                print(f"  {step.action} {step.uid or step.source_href}: {step.reason}")


def _verify(
    kind: DavKind,
    src: SideSpec,
    dst: SideSpec,
    pairs: list[MailboxPair],
    window: tuple[date, date],
    domain_map: dict[str, str],
    json_out: bool,
) -> int:
    check_schemes(kind, src, dst)
    results: list[dict[str, object]] = []
    problems = 0
    for pair in pairs:
        with (
            open_source(src, kind, pair.source) as source,
            open_target(dst, kind, pair.target) as target,
        ):
            checks: list[CollectionCheck] = verify_account(source, target, kind, window, domain_map)
        problems += sum(len(c.problems) for c in checks)
        results.append({"account": pair.key, "collections": [c.to_json() for c in checks]})
        if not json_out:
            for check in checks:
                state = "identical" if not check.problems else f"{len(check.problems)} problem(s)"
                print(f"{pair.key} {kind} {check.name}: {check.checked} checked, {state}")
                for uid, text in check.problems:
                    print(f"  {uid or '-'}: {text}")
    if json_out:
        name = "verify-calendars" if kind is DavKind.CALENDAR else "verify-contacts"
        totals = {"accounts": len(results), "problems": problems}
        print_json(envelope(name, totals, results, kind=str(kind), ok=problems == 0))
    return EXIT_OK if problems == 0 else EXIT_ITEMS_FAILED


def _make_migrate(kind: DavKind):  # type: ignore[no-untyped-def]
    def command(
        source: SourceOpt,
        target: TargetOpt = None,
        users: UsersOpt = None,
        user: UserOpt = None,
        state: StateOpt = "skylift.db",
        dry_run: DryRunOpt = False,
        json_out: JsonOpt = False,
        delete: DeleteOpt = False,
        rewrite_domain: DomainOpt = None,
        rewrite_meeting_link: MeetingLinkOpt = None,
        send_invitations: InvitationsOpt = "never",
        source_admin: AdminOpt = None,
        target_admin: AdminOpt = None,
        allow_plaintext: AllowPlaintextOpt = False,
        source_ca: SourceCaOpt = None,
        target_ca: TargetCaOpt = None,
        insecure_source: InsecureSourceOpt = False,
        insecure_target: InsecureTargetOpt = False,
        parallel: Annotated[int, typer.Option(min=1, help="Accounts at once")] = 4,
        dav_workers: Annotated[
            int, typer.Option(min=1, max=32, help="Writes at once within one collection")
        ] = 4,
        export_dir: Annotated[
            Path | None,
            typer.Option(
                help="Where originals of objects not stored as they were go "
                "(default: skylift-export beside the state file)"
            ),
        ] = None,
        target_profile: TargetProfileOpt = None,
        target_oauth_service_account: cloud.TargetServiceAccount = None,
        target_api_base: TargetApiBaseOpt = None,
        target_oauth_tenant: cloud.TargetTenant = None,
        target_oauth_client_id: cloud.TargetClientId = None,
        target_oauth_client_secret_file: cloud.TargetSecretFile = None,
        target_oauth_certificate: cloud.TargetCertificate = None,
        target_oauth_authority: cloud.TargetAuthority = None,
        runner: RunnerOpt = "local",
        broker: BrokerOpt = None,
        wait: WaitOpt = False,
    ) -> int:
        params = {k: v for k, v in locals().items() if k != "kind"}
        if runner != "local":
            from skylift.cli.dav_celery import migrate_accounts_on_workers

            return migrate_accounts_on_workers(kind, params)
        if broker is not None or wait:
            raise ConfigError("--broker and --wait go with --runner celery")
        src, dst, pairs, options = prepare_dav(kind, params)
        return _migrate(kind, src, dst, pairs, state, options, json_out, parallel)

    what = "calendars (events, tasks, time zones)" if kind is DavKind.CALENDAR else "address books"
    command.__doc__ = f"Copy {what} keeping every UID; reruns copy only what changed."
    return command


def _make_verify(kind: DavKind):  # type: ignore[no-untyped-def]
    def command(
        source: SourceOpt,
        target: TargetOpt = None,
        users: UsersOpt = None,
        user: UserOpt = None,
        json_out: JsonOpt = False,
        days: Annotated[int, typer.Option(min=1, help="Window of occurrences compared")] = 366,
        start: Annotated[
            str | None, typer.Option(help="First day of the window, YYYY-MM-DD (default today)")
        ] = None,
        rewrite_domain: DomainOpt = None,
        source_admin: AdminOpt = None,
        target_admin: AdminOpt = None,
        allow_plaintext: AllowPlaintextOpt = False,
        source_ca: SourceCaOpt = None,
        target_ca: TargetCaOpt = None,
        insecure_source: InsecureSourceOpt = False,
        insecure_target: InsecureTargetOpt = False,
        target_profile: TargetProfileOpt = None,
        target_oauth_service_account: cloud.TargetServiceAccount = None,
        target_api_base: TargetApiBaseOpt = None,
        target_oauth_tenant: cloud.TargetTenant = None,
        target_oauth_client_id: cloud.TargetClientId = None,
        target_oauth_client_secret_file: cloud.TargetSecretFile = None,
        target_oauth_certificate: cloud.TargetCertificate = None,
        target_oauth_authority: cloud.TargetAuthority = None,
    ) -> int:
        if target is None and target_profile is None:
            raise ConfigError("say what to compare with: --target URL or --target-profile NAME")
        src, dst = signed_in_sides(kind, dict(locals()))
        try:
            first = date.fromisoformat(start) if start else date.today()
        except ValueError:
            raise ConfigError(f"--start wants a date like 2024-01-31: {start!r}") from None
        pairs = account_pairs(users, user, source_admin, target_admin)
        window = (first, first + timedelta(days=days))
        return _verify(
            kind, src, dst, pairs, window, parse_domain_map(rewrite_domain or []), json_out
        )

    command.__doc__ = (
        "Compare occurrences over a window (a year) by UID."
        if kind is DavKind.CALENDAR
        else "Compare every contact field by field, by UID."
    )
    return command


def register(app: typer.Typer) -> None:
    """Add the calendar and contacts commands."""
    app.command("migrate-calendars")(_make_migrate(DavKind.CALENDAR))
    app.command("migrate-contacts")(_make_migrate(DavKind.ADDRESSBOOK))
    app.command("verify-calendars")(_make_verify(DavKind.CALENDAR))
    app.command("verify-contacts")(_make_verify(DavKind.ADDRESSBOOK))
