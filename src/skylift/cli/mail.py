"""``skylift migrate`` and ``skylift verify``: mailboxes from any mail source to a target.

Exit codes: 0 everything copied (or identical, for verify); 1 the run completed but some
items were skipped, rejected or failed (or differ); 2 usage or configuration error; 3 a
mailbox could not connect or log in.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from skylift.cli import cloud
from skylift.cli.common import envelope, print_json
from skylift.cli.detach import DetachOverOpt, LibraryOpt, LibraryUserOpt, open_library
from skylift.cli.interrupt import graceful_stop, print_resume_hint
from skylift.cli.mail_sides import load_pairs, parse_size, planned_parallel, sign_in_endpoints
from skylift.cli.options import (
    DEFAULT_TIMEOUT,
    AllowPlaintextOpt,
    BrokerOpt,
    ConnectTimeoutOpt,
    DryRunOpt,
    InsecureSourceOpt,
    InsecureTargetOpt,
    JsonOpt,
    ParallelOpt,
    RunnerOpt,
    SourceAdminPasswordFileOpt,
    SourceCaOpt,
    StateOpt,
    TargetAdminPasswordFileOpt,
    TargetCaOpt,
    TimeoutOpt,
    UsersOpt,
    WaitOpt,
)
from skylift.cli.render import MigrateProgress, print_run_summary, print_verify
from skylift.connectors.endpoint import Endpoint
from skylift.engine.mail.folders import FolderRules, parse_map_folder
from skylift.engine.mail.gmail import MODES
from skylift.engine.mail.sync import MigrateOptions
from skylift.engine.throttle import TokenBucket, parse_rate
from skylift.errors import (
    EXIT_CONNECT,
    EXIT_INTERRUPTED,
    EXIT_ITEMS_FAILED,
    EXIT_OK,
    ConfigError,
)
from skylift.model.account import MailboxPair
from skylift.runners.mail import RunSettings, migrate_all, verify_all
from skylift.state.store import StateStore

SourceOpt = Annotated[
    str | None, typer.Option("--source", help="imap://host:143, imaps://host:993, … (or a profile)")
]
TargetOpt = Annotated[
    str | None, typer.Option("--target", help="imap://host:143 or imaps://host:993 (or a profile)")
]
UserOpt = Annotated[str | None, typer.Option("--user", help="One target mailbox (archive sources)")]
IncludeOpt = Annotated[
    list[str] | None, typer.Option(help="Only folders matching this regex (repeatable)")
]
ExcludeOpt = Annotated[
    list[str] | None, typer.Option(help="Leave out folders matching this regex (repeatable)")
]

GmailLabelsOpt = Annotated[
    str,
    typer.Option(
        help="Gmail source: 'folders' (a copy in each label's folder, All Mail only for "
        "mail with no label) or 'keywords' (one copy, other labels as keywords)"
    ),
]


@dataclass
class PreparedMigration:
    """Everything a migrate run needs, built from its options (here, or on a worker)."""

    pairs: list[MailboxPair]
    source: Endpoint
    target: Endpoint
    options: MigrateOptions
    parallel: int
    max_connections: int
    tenant_connections: tuple[int | None, int | None]


def prepare_migration(p: dict[str, Any]) -> PreparedMigration:
    """Read *p* (migrate's options by name): profiles, endpoints, folder rules, the users and
    their secrets (from files and the environment of this machine)."""
    sign_in = cloud.SignIn.from_options(p)
    gmail_labels, max_size, daily_budget = p["gmail_labels"], p["max_size"], p["daily_budget"]
    if gmail_labels not in MODES:
        raise ConfigError(f"--gmail-labels must be one of {', '.join(MODES)}, not {gmail_labels!r}")
    report_dir = p["report_dir"]
    try:
        rules = FolderRules(
            p["include"] or [], p["exclude"] or [], parse_map_folder(p["map_folder"] or [])
        )
        options = MigrateOptions(
            rules=rules,
            max_size=parse_size(max_size) if max_size else sign_in.max_size(),
            dry_run=p["dry_run"],
            full=p["full"],
            bucket=TokenBucket(parse_rate(p["bwlimit"]) if p["bwlimit"] else None),
            gmail_labels=gmail_labels,
            daily_budget=(
                parse_size(daily_budget) or None if daily_budget else sign_in.daily_budget()
            ),
            export_dir=report_dir / "non-mail" if report_dir else None,
            detach_over=parse_size(p["detach_over"]) if p["detach_over"] else None,
        )
    except (ValueError, re.error) as exc:
        raise ConfigError(str(exc)) from None
    src, dst = sign_in_endpoints(
        sign_in, p["source"], p["target"], (p["source_ca"], p["target_ca"]),
        (p["insecure_source"], p["insecure_target"]), p["allow_plaintext"], p["timeout"],
        p["connect_timeout"],
    )  # fmt: skip
    oauth = (src.oauth is not None, dst.oauth is not None)
    waves, parallel = p["waves"], p["parallel"]
    pairs = load_pairs(
        p["users"], p["user"], waves, p["wave"], p["source_admin"], p["target_admin"], oauth,
        (p["source_admin_password_file"], p["target_admin_password_file"]),
    )  # fmt: skip
    cloud.preflight((src, dst), pairs)
    if parallel is None and waves is not None:
        parallel = planned_parallel(pairs, waves)
    options.library = open_library(
        options.detach_over, p["library"], p["library_user"], p["allow_plaintext"], p["timeout"]
    )
    if options.detach_over:  # over it a message is detached, not sent whole
        options.max_size = min(options.max_size or options.detach_over, options.detach_over)
    return PreparedMigration(
        pairs, src, dst, options, sign_in.default("parallel", parallel, 4),
        sign_in.default("max_connections", p["max_connections"], 10),
        sign_in.tenant_connections(),
    )  # fmt: skip


def migrate(
    source: SourceOpt = None,
    target: TargetOpt = None,
    users: UsersOpt = None,
    user: UserOpt = None,
    state: StateOpt = "skylift.db",
    parallel: cloud.ParallelOpt = None,
    max_connections: cloud.MaxConnectionsOpt = None,
    dry_run: DryRunOpt = False,
    full: Annotated[
        bool, typer.Option("--full", help="Ignore folder marks: list and compare every folder")
    ] = False,
    json_out: JsonOpt = False,
    include: IncludeOpt = None,
    exclude: ExcludeOpt = None,
    map_folder: Annotated[list[str] | None, typer.Option(help="OLD=NEW")] = None,
    max_size: Annotated[str | None, typer.Option(help="Skip larger messages, e.g. 35M")] = None,
    bwlimit: Annotated[str | None, typer.Option(help="Bandwidth cap, e.g. 10M or 80Mbit")] = None,
    daily_budget: Annotated[
        str | None,
        typer.Option(
            help="Bytes each user may upload per UTC day, e.g. 500M (default: the target "
            "profile's, 500 MB for google-workspace; 0 for none)"
        ),
    ] = None,
    gmail_labels: GmailLabelsOpt = "folders",
    detach_over: DetachOverOpt = None,
    library: LibraryOpt = None,
    library_user: LibraryUserOpt = None,
    source_ca: SourceCaOpt = None,
    target_ca: TargetCaOpt = None,
    insecure_source: InsecureSourceOpt = False,
    insecure_target: InsecureTargetOpt = False,
    allow_plaintext: AllowPlaintextOpt = False,
    source_admin: Annotated[str | None, typer.Option(help="Proxy login (source)")] = None,
    target_admin: Annotated[str | None, typer.Option(help="Proxy login (target)")] = None,
    source_admin_password_file: SourceAdminPasswordFileOpt = None,
    target_admin_password_file: TargetAdminPasswordFileOpt = None,
    waves: Annotated[Path | None, typer.Option(help="waves.csv from 'skylift plan'")] = None,
    wave: Annotated[str | None, typer.Option(help="Wave number to migrate")] = None,
    timeout: TimeoutOpt = DEFAULT_TIMEOUT,
    connect_timeout: ConnectTimeoutOpt = 15.0,
    retries: Annotated[int, typer.Option(min=0, help="Reconnects per mailbox")] = 5,
    report_dir: Annotated[
        Path | None,
        typer.Option(help="Write migrate.json and exported calendar/contact items here"),
    ] = None,
    runner: RunnerOpt = "local",
    broker: BrokerOpt = None,
    wait: WaitOpt = False,
    split_above: Annotated[
        int,
        typer.Option(
            "--split-above",
            min=0,
            metavar="MESSAGES",
            help="--runner celery: a mailbox with more messages becomes one unit per folder "
            "(0: never)",
        ),
    ] = 50_000,
    # -- profiles and app-only OAuth2 (issue 11; resolved in cli/cloud.py) --
    source_profile: cloud.SourceProfile = None,
    target_profile: cloud.TargetProfileOpt = None,
    source_oauth_tenant: cloud.SourceTenant = None,
    target_oauth_tenant: cloud.TargetTenant = None,
    source_oauth_client_id: cloud.SourceClientId = None,
    target_oauth_client_id: cloud.TargetClientId = None,
    source_oauth_client_secret_file: cloud.SourceSecretFile = None,
    target_oauth_client_secret_file: cloud.TargetSecretFile = None,
    source_oauth_certificate: cloud.SourceCertificate = None,
    target_oauth_certificate: cloud.TargetCertificate = None,
    source_oauth_authority: cloud.SourceAuthority = None,
    target_oauth_authority: cloud.TargetAuthority = None,
    source_oauth_service_account: cloud.SourceServiceAccount = None,
    target_oauth_service_account: cloud.TargetServiceAccount = None,
) -> int:
    """Copy mailboxes: folders, messages (byte for byte), flags and dates. Reruns resume."""
    params = dict(locals())
    if report_dir is not None:
        report_dir.mkdir(parents=True, exist_ok=True)
    if runner != "local":
        from skylift.cli.mail_celery import migrate_on_workers

        return migrate_on_workers(params)
    if broker is not None or wait:
        raise ConfigError("--broker and --wait go with --runner celery")
    job = prepare_migration(params)
    pairs, src, dst, options = job.pairs, job.source, job.target, job.options
    store = StateStore(state)
    live = MigrateProgress(
        enabled=not json_out and sys.stderr.isatty(), total=len(pairs), dry_run=dry_run
    )
    settings = RunSettings(
        parallel=job.parallel,
        max_connections=job.max_connections,
        retries=retries,
        tenant_connections=job.tenant_connections,
        on_mailbox_start=live.mailbox_started,
        on_mailbox_done=live.mailbox_done,
    )
    try:
        with graceful_stop(options.stop), live:
            run = migrate_all(pairs, src, dst, store, options, settings, live.advance)
    finally:
        store.close()
        if options.library is not None:
            options.library.close()
    if json_out:
        print_json(run.as_dict())
    else:
        print_run_summary(run)
    if report_dir is not None:
        (report_dir / "migrate.json").write_text(json.dumps(run.as_dict(), indent=2, default=str))
    if options.stop.is_set():
        print_resume_hint()
        return EXIT_INTERRUPTED
    if any(m.error_code == EXIT_CONNECT for m in run.mailboxes):
        return EXIT_CONNECT
    return EXIT_OK if run.ok else EXIT_ITEMS_FAILED


def verify(
    source: SourceOpt = None,
    target: TargetOpt = None,
    users: UsersOpt = None,
    user: UserOpt = None,
    state: Annotated[str | None, typer.Option(help="State file, to pair messages exactly")] = None,
    deep: Annotated[bool, typer.Option("--deep", help="Compare content hashes")] = False,
    parallel: ParallelOpt = 4,
    json_out: JsonOpt = False,
    include: IncludeOpt = None,
    exclude: ExcludeOpt = None,
    map_folder: Annotated[list[str] | None, typer.Option(help="OLD=NEW")] = None,
    gmail_labels: GmailLabelsOpt = "folders",
    source_ca: SourceCaOpt = None,
    target_ca: TargetCaOpt = None,
    insecure_source: InsecureSourceOpt = False,
    insecure_target: InsecureTargetOpt = False,
    allow_plaintext: AllowPlaintextOpt = False,
    source_admin: Annotated[str | None, typer.Option(help="Proxy login (source)")] = None,
    target_admin: Annotated[str | None, typer.Option(help="Proxy login (target)")] = None,
    source_admin_password_file: SourceAdminPasswordFileOpt = None,
    target_admin_password_file: TargetAdminPasswordFileOpt = None,
    timeout: TimeoutOpt = DEFAULT_TIMEOUT,
    connect_timeout: ConnectTimeoutOpt = 15.0,
    # -- profiles and app-only OAuth2 (issue 11; resolved in cli/cloud.py) --
    source_profile: cloud.SourceProfile = None,
    target_profile: cloud.TargetProfileOpt = None,
    source_oauth_tenant: cloud.SourceTenant = None,
    target_oauth_tenant: cloud.TargetTenant = None,
    source_oauth_client_id: cloud.SourceClientId = None,
    target_oauth_client_id: cloud.TargetClientId = None,
    source_oauth_client_secret_file: cloud.SourceSecretFile = None,
    target_oauth_client_secret_file: cloud.TargetSecretFile = None,
    source_oauth_certificate: cloud.SourceCertificate = None,
    target_oauth_certificate: cloud.TargetCertificate = None,
    source_oauth_authority: cloud.SourceAuthority = None,
    target_oauth_authority: cloud.TargetAuthority = None,
    source_oauth_service_account: cloud.SourceServiceAccount = None,
    target_oauth_service_account: cloud.TargetServiceAccount = None,
) -> int:
    """Compare source and target: folders, counts, bytes, flags, dates (--deep: content)."""
    if gmail_labels not in MODES:
        raise ConfigError(f"--gmail-labels must be one of {', '.join(MODES)}, not {gmail_labels!r}")
    try:
        rules = FolderRules(include or [], exclude or [], parse_map_folder(map_folder or []))
    except (ValueError, re.error) as exc:
        raise ConfigError(str(exc)) from None
    src, dst = sign_in_endpoints(
        cloud.SignIn.from_options(locals()), source, target, (source_ca, target_ca),
        (insecure_source, insecure_target), allow_plaintext, timeout, connect_timeout,
    )  # fmt: skip
    oauth = (src.oauth is not None, dst.oauth is not None)
    pairs = load_pairs(
        users, user, None, None, source_admin, target_admin, oauth,
        (source_admin_password_file, target_admin_password_file),
    )  # fmt: skip
    cloud.preflight((src, dst), pairs)
    store = StateStore(state, must_exist=True) if state else None
    try:
        reports = verify_all(
            pairs, src, dst, store, MigrateOptions(rules=rules, gmail_labels=gmail_labels),
            RunSettings(parallel=parallel, retries=2), deep,
        )  # fmt: skip
    finally:
        if store:
            store.close()
    if json_out:
        totals = {
            "mailboxes": len(reports),
            "differ": sum(not r.ok for r in reports),
            "errors": sum(bool(r.error) for r in reports),
            "messages": sum(r.messages for r in reports),
            "bytes": sum(r.bytes for r in reports),
        }
        ok = all(r.ok for r in reports)
        print_json(envelope("verify", totals, [r.as_dict() for r in reports], ok=ok))
    else:
        print_verify(reports)
    if any(r.error for r in reports):
        return EXIT_CONNECT
    return EXIT_OK if all(r.ok for r in reports) else EXIT_ITEMS_FAILED


def register(app: typer.Typer) -> None:
    """Add ``migrate`` and ``verify``."""
    app.command()(migrate)
    app.command()(verify)
