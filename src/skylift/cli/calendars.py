"""``skylift migrate-calendars|migrate-contacts|verify-calendars|verify-contacts|freebusy``.

Same users CSV, credentials, proxy login, TLS rules, ``--json`` and exit codes as mail:
0 all copied (or identical), 1 some objects failed or differ, 2 usage/configuration,
3 an account could not connect or log in.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer

from skylift.cli import cloud
from skylift.cli.common import envelope, print_json
from skylift.cli.interrupt import graceful_stop, print_resume_hint
from skylift.cli.mail_sides import load_pairs
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
from skylift.connectors.auth.oauth import GRAPH_SCOPE, GoogleTokens
from skylift.engine.dav.meetings import LinkMapError, parse_link_map
from skylift.engine.dav.plan import Action
from skylift.engine.profiles import load_profile
from skylift.errors import (
    EXIT_CONNECT,
    EXIT_INTERRUPTED,
    EXIT_ITEMS_FAILED,
    EXIT_OK,
    ConfigError,
)
from skylift.model.account import Login, MailboxPair
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

SourceOpt = Annotated[
    str, typer.Option("--source", help="caldav+https://… carddav+https://… ics:///dir vcf:///f")
]
TargetOpt = Annotated[
    str | None,
    typer.Option("--target", help="caldav+https://… carddav+https://… (or --target-profile)"),
]
TargetProfileOpt = Annotated[
    str | None,
    typer.Option("--target-profile", help="A cloud's profile, e.g. google-workspace"),
]
UsersOpt = Annotated[
    Path | None, typer.Option("--users", help="CSV: EmailAddress,UserName,Password[,Target…]")
]
UserOpt = Annotated[str | None, typer.Option("--user", help="One account (target address)")]
DeleteOpt = Annotated[
    bool, typer.Option("--delete", help="Delete on the target what was deleted at the source")
]
DomainOpt = Annotated[
    list[str] | None,
    typer.Option("--rewrite-domain", help="OLD=NEW: organizer/attendee addresses @OLD -> @NEW"),
]
AdminOpt = Annotated[
    str | None, typer.Option(help="Admin login on behalf of each user (password from env)")
]
MeetingLinkOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--rewrite-meeting-link",
        help="OLD=NEW URL prefixes: join links of the old meeting service -> the new one "
        "(calendars only)",
    ),
]

#: --send-invitations; the Graph connector applies them (connectors/dav/graph/invitations.py)
INVITATION_MODES = ("never", "future", "always")
InvitationsOpt = Annotated[
    str,
    typer.Option(
        "--send-invitations",
        help="Microsoft 365: never (default: attendees kept, nobody e-mailed), future (the "
        "organizer's meetings still to come are re-sent to their attendees) or always",
    ),
]


def parse_domain_map(values: list[str]) -> dict[str, str]:
    """``old.example=new.example`` (a leading @ is allowed) -> {"old.example": "new.example"}."""
    mapping = {}
    for value in values:
        old, sep, new = value.partition("=")
        if not sep or not old.strip("@ ") or not new.strip("@ "):
            raise ConfigError(
                f"--rewrite-domain wants OLD=NEW, e.g. old.example=new.example: {value!r}"
            )
        mapping[old.strip().lstrip("@").lower()] = new.strip().lstrip("@")
    return mapping


def account_pairs(
    users: Path | None, user: str | None, source_admin: str | None, target_admin: str | None
) -> list[MailboxPair]:
    if users is None and user is None:
        raise ConfigError("say whose data to move: --users users.csv or --user ADDRESS")
    pairs = load_pairs(users, user, None, None, source_admin, target_admin)
    fixed = []
    for pair in pairs:
        source = pair.source
        if not source.user:  # --user: the same account name on both sides unless told
            source = Login(pair.key, source.password, source.admin, source.admin_password)
        fixed.append(MailboxPair(pair.key, source, pair.target, pair.extra))
    return fixed


def dav_sides(
    source: str,
    target: str,
    allow_plaintext: bool,
    source_ca: Path | None,
    target_ca: Path | None,
    insecure_source: bool,
    insecure_target: bool,
) -> tuple[SideSpec, SideSpec]:
    for ca in (source_ca, target_ca):
        if ca is not None and not ca.is_file():
            raise ConfigError(f"CA file not found: {ca}")
    return (
        SideSpec(source, allow_plaintext, insecure_source, str(source_ca) if source_ca else None),
        SideSpec(target, allow_plaintext, insecure_target, str(target_ca) if target_ca else None),
    )


GOOGLE_SCOPES = {
    DavKind.CALENDAR: "https://www.googleapis.com/auth/calendar",
    DavKind.ADDRESSBOOK: "https://www.googleapis.com/auth/contacts",
}


def _cloud_target(
    kind: DavKind, target: str | None, profile: str | None, api_base: str | None
) -> tuple[str, str]:
    """The target URL and OAuth scope from --target, or --target-profile [+ --target-api-base]."""
    if profile is None:
        if target is None:
            raise ConfigError("say where to write: --target URL or --target-profile NAME")
        if api_base is not None:
            raise ConfigError("--target-api-base goes with --target-profile (a cloud's API)")
        return target, ""
    dav = load_profile(profile).dav
    key = "calendars" if kind is DavKind.CALENDAR else "contacts"
    url = target or dav.get(key, "")
    if not url:
        raise ConfigError(f"profile {profile} names no {key} target; give --target URL")
    if api_base is not None:
        parts = urlsplit(api_base)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise ConfigError(f"--target-api-base must be an http(s):// URL: {api_base!r}")
        url = f"{urlsplit(url).scheme.split('+')[0]}+{parts.scheme}://{parts.netloc}"
    return url, dav.get("calendar_scope" if kind is DavKind.CALENDAR else "contacts_scope", "")


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


def prepare_dav(
    kind: DavKind, p: dict[str, Any]
) -> tuple[SideSpec, SideSpec, list[MailboxPair], RunOptions]:
    """Both sides, the accounts and the run's options from migrate-calendars/-contacts'
    options by name (here, or on a scale-out worker: secrets read on that machine)."""
    url, scope = _cloud_target(kind, p["target"], p["target_profile"], p["target_api_base"])
    url = _with_invitations(url, p.get("send_invitations") or "never", kind)
    src, dst = dav_sides(
        p["source"], url, p["allow_plaintext"], p["source_ca"], p["target_ca"],
        p["insecure_source"], p["insecure_target"],
    )  # fmt: skip
    service_account = p["target_oauth_service_account"]
    if urlsplit(url).scheme.startswith("graph+"):
        entra = cloud.Side(
            "target", None, p["target_oauth_tenant"], p["target_oauth_client_id"],
            p["target_oauth_client_secret_file"], p["target_oauth_certificate"],
            p["target_oauth_authority"],
        )  # fmt: skip
        dav = load_profile(p["target_profile"]).dav if p["target_profile"] else {}
        key, default = (
            ("calendar_roles", "Calendars.ReadWrite")
            if kind is DavKind.CALENDAR
            else ("contacts_roles", "Contacts.ReadWrite")
        )
        roles = tuple(dav.get(key, default).split())
        dst = replace(dst, oauth=entra.entra(dst.ca_file, scope or GRAPH_SCOPE, roles))
    elif service_account is not None or scope:
        if service_account is None:
            raise ConfigError(
                f"profile {p['target_profile']} signs in with a Google service account: give "
                "--target-oauth-service-account KEY.json"
            )
        tokens = GoogleTokens(
            "target", service_account, scope=scope or GOOGLE_SCOPES[kind], ca_file=dst.ca_file
        )
        dst = replace(dst, oauth=tokens)
    options = RunOptions(
        kind,
        p["dry_run"],
        p["delete"],
        parse_domain_map(p["rewrite_domain"] or []),
        p["dav_workers"],
        p["export_dir"] or default_export_dir(p["state"]),
    )
    if p.get("rewrite_meeting_link"):
        if kind is not DavKind.CALENDAR:
            raise ConfigError("--rewrite-meeting-link is for migrate-calendars")
        try:
            options.link_map = parse_link_map(p["rewrite_meeting_link"])
        except LinkMapError as exc:
            raise ConfigError(str(exc)) from None
    pairs = account_pairs(p["users"], p["user"], p["source_admin"], p["target_admin"])
    return src, dst, pairs, options


def _with_invitations(url: str, mode: str, kind: DavKind) -> str:
    """The Graph target URL carrying --send-invitations (docs/calendars.md, invitations)."""
    if mode not in INVITATION_MODES:
        raise ConfigError(
            f"--send-invitations must be one of {', '.join(INVITATION_MODES)}, not {mode!r}"
        )
    if mode == "never":
        return url
    if kind is not DavKind.CALENDAR or not urlsplit(url).scheme.startswith("graph+"):
        raise ConfigError(
            "--send-invitations is for migrate-calendars into Microsoft 365 (only Graph "
            "e-mails attendees when a meeting is created)"
        )
    return url + ("&" if "?" in url else "?") + f"invitations={mode}"


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


def default_export_dir(state: str) -> Path:
    """``skylift-export`` beside a state file; in the current folder for a database URL."""
    if "://" in state:
        return Path("skylift-export")
    return Path(state).resolve().parent / "skylift-export"


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
    ) -> int:
        if target is None:
            raise ConfigError("say what to compare with: --target URL")
        src, dst = dav_sides(
            source, target, allow_plaintext, source_ca, target_ca, insecure_source, insecure_target
        )
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
