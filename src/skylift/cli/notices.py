"""``skylift notify`` (wave notices) and ``skylift support report`` (the help-desk view)."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Annotated

import typer

from skylift.cli.clients import ConfigOpt, ProfileOpt
from skylift.cli.common import print_json
from skylift.cli.interrupt import graceful_stop, print_resume_hint
from skylift.cli.options import JsonOpt, StateOpt, checked_ca
from skylift.cli.smtp_signin import OAUTH_PARAMS, build_sender
from skylift.cli.smtp_signin import SmtpAuthOpt as AuthOpt
from skylift.cli.smtp_signin import SmtpPasswordFileOpt as PasswordFileOpt
from skylift.cli.smtp_signin import SmtpUserOpt as UserOpt
from skylift.cli.smtp_signin import TargetAuthority as Authority
from skylift.cli.smtp_signin import TargetCertificate as Certificate
from skylift.cli.smtp_signin import TargetClientId as ClientId
from skylift.cli.smtp_signin import TargetSecretFile as SecretFile
from skylift.cli.smtp_signin import TargetServiceAccount as ServiceAccount
from skylift.cli.smtp_signin import TargetTenant as Tenant
from skylift.errors import EXIT_INTERRUPTED, EXIT_ITEMS_FAILED, EXIT_OK, ConfigError

PublicUrl = Annotated[
    str,
    typer.Option("--public-url", help="Base URL of `autoconfig serve` for setup links"),
]


def _directory(
    profile: str, config: Path | None, waves: Path | None, state: str | None, domain: str | None
) -> object:
    from skylift.cli.clients import _directory as build
    from skylift.runners.clients import read_waves

    if domain is None:
        known = read_waves(waves)
        if not known:
            raise ConfigError("give --domain (no user in --waves to take it from)")
        domain = next(iter(known)).rpartition("@")[2]
    return build(profile, config, domain, state, waves)


def notify(
    wave: Annotated[str, typer.Option("--wave", help="The wave whose users get the notice")],
    waves: Annotated[Path, typer.Option("--waves", help="waves.csv of `skylift plan`")],
    template: Annotated[str, typer.Option("--template", help="t-7, t-1, done or action-needed")],
    users: Annotated[
        Path | None,
        typer.Option("--users", help="Users CSV (DisplayName and Language columns are used)"),
    ] = None,
    smtp: Annotated[
        str | None,
        typer.Option("--smtp", help="Relay: smtp://host:587 (STARTTLS) or smtps://host:465"),
    ] = None,
    smtp_auth: AuthOpt = "auto",
    smtp_user: UserOpt = "",
    smtp_password_file: PasswordFileOpt = None,
    smtp_ca: Annotated[
        Path | None,
        typer.Option(
            "--smtp-ca",
            help="CA certificate(s) to trust for the relay (and the token endpoint)",
            callback=checked_ca,
        ),
    ] = None,
    smtp_allow_plaintext: Annotated[
        bool, typer.Option("--smtp-allow-plaintext", help="Allow a loopback relay without STARTTLS")
    ] = False,
    sender: Annotated[str | None, typer.Option("--from", help="From address")] = None,
    rate: Annotated[
        float, typer.Option("--rate", help="At most this many messages a minute")
    ] = 60.0,
    dry_run: Annotated[
        Path | None, typer.Option("--dry-run", help="Write the messages into this folder instead")
    ] = None,
    resend: Annotated[bool, typer.Option("--resend", help="Send even to users who got it")] = False,
    state: StateOpt = "skylift.db",
    config: ConfigOpt = None,
    target_profile: ProfileOpt = "generic-imap",
    domain: Annotated[str | None, typer.Option("--domain", help="Mail domain")] = None,
    public_url: PublicUrl = "https://autoconfig.example",
    json_out: JsonOpt = False,
    target_oauth_tenant: Tenant = None,
    target_oauth_client_id: ClientId = None,
    target_oauth_client_secret_file: SecretFile = None,
    target_oauth_certificate: Certificate = None,
    target_oauth_authority: Authority = None,
    target_oauth_service_account: ServiceAccount = None,
) -> int:
    """Send (or with --dry-run write) a wave notice to every user of one wave."""
    from skylift.runners.notify import notify as run

    if dry_run is None and smtp is None:
        raise ConfigError("give --smtp URL to send, or --dry-run FOLDER to review")
    if rate <= 0:
        raise ConfigError("--rate must be more than zero")
    directory = _directory(target_profile, config, waves, state, domain)
    sender_addr = sender or f"noreply@{directory.domain}"  # type: ignore[attr-defined]
    given = locals()
    sender_obj = None
    if dry_run is None:
        sender_obj = build_sender(
            smtp or "", auth=smtp_auth, user=smtp_user, sender=sender_addr,
            password_file=smtp_password_file, ca_file=smtp_ca,
            allow_plaintext=smtp_allow_plaintext,
            profile=directory.profile,  # type: ignore[attr-defined]
            oauth={k: given[k] for k in OAUTH_PARAMS},
        )  # fmt: skip
    stop = threading.Event()
    try:
        with graceful_stop(stop):
            result = run(
                directory,  # type: ignore[arg-type]
                notice=template,
                wave=wave,
                users=users,
                state=state,
                public_url=public_url,
                sender=sender_addr,
                provider=directory.profile.title.split(",")[0],  # type: ignore[attr-defined]
                send=sender_obj.send if sender_obj else None,
                stop=stop,
                dry_run_dir=dry_run,
                rate_per_minute=rate,
                resend=resend,
            )
    finally:
        if sender_obj is not None:
            sender_obj.close()
    summary = result.to_dict()
    if json_out:
        print_json(summary)
    else:
        for item in result.items:
            detail = item.get("error") or item.get("file") or item.get("sent_at") or ""
            print(f"{item['user']}: {item['status']} {detail}".rstrip())
        print(", ".join(f"{n} {s}" for s, n in sorted(summary["totals"].items())))
    if result.deferred_by:
        print(
            f"skylift: the relay is deferring ({result.deferred_by}); what was sent is "
            "recorded: rerun later to send the rest",
            file=sys.stderr,
        )
    if stop.is_set():
        print_resume_hint("who got the notice is recorded")
        return EXIT_INTERRUPTED
    return EXIT_ITEMS_FAILED if result.count("failed") or result.count("deferred") else EXIT_OK


def report(
    out: Annotated[Path, typer.Option("--out", help="Folder for support.html and support.csv")],
    state: StateOpt = "skylift.db",
    waves: Annotated[
        Path | None, typer.Option("--waves", help="waves.csv of `skylift plan`")
    ] = None,
    config: ConfigOpt = None,
    target_profile: ProfileOpt = "generic-imap",
    domain: Annotated[str | None, typer.Option("--domain", help="Mail domain")] = None,
    public_url: PublicUrl = "https://autoconfig.example",
    json_out: JsonOpt = False,
) -> int:
    """Per user: routing state, mailbox-copy result, open problems and the setup link."""
    from skylift.engine.clients.support import to_dict
    from skylift.runners.support import support_report

    directory = _directory(target_profile, config, waves, state, domain)
    rows = support_report(directory, state=state, out=out, public_url=public_url)  # type: ignore[arg-type]
    if json_out:
        print_json({"command": "support report", "items": to_dict(rows)})
    else:
        bad = sum(1 for r in rows if r.problems)
        print(
            f"{len(rows)} users, {bad} with open problems: {out / 'support.html'}, {out / 'support.csv'}"
        )
    return EXIT_OK


def register(app: typer.Typer) -> None:
    """Add ``notify`` and ``support report``."""
    app.command("notify")(notify)
    group = typer.Typer(help="Help-desk views.", no_args_is_help=True)
    group.command("report")(report)
    app.add_typer(group, name="support")
