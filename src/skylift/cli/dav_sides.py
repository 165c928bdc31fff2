"""How the calendar and contact commands read their sides: the URLs (or a cloud profile and
its API root), TLS, sign-in for Graph and Google, the accounts, and the run's options.

Kept apart from ``cli/calendars.py`` (the commands and their output) as ``mail_sides.py`` is
from ``mail.py``; a scale-out worker calls :func:`prepare_dav` with a task's options.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer

from skylift.cli import cloud
from skylift.cli.mail_sides import load_pairs
from skylift.connectors.auth.oauth import GRAPH_SCOPE, GoogleTokens
from skylift.engine.dav.meetings import LinkMapError, parse_link_map
from skylift.engine.profiles import load_profile
from skylift.errors import ConfigError
from skylift.model.account import Login, MailboxPair
from skylift.model.dav import DavKind
from skylift.runners.davsync import RunOptions, SideSpec

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


def prepare_dav(
    kind: DavKind, p: dict[str, Any]
) -> tuple[SideSpec, SideSpec, list[MailboxPair], RunOptions]:
    """Both sides, the accounts and the run's options from migrate-calendars/-contacts'
    options by name (here, or on a scale-out worker: secrets read on that machine)."""
    src, dst = signed_in_sides(kind, p)
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


def signed_in_sides(kind: DavKind, p: dict[str, Any]) -> tuple[SideSpec, SideSpec]:
    """The source and the target (a URL, or --target-profile [+ --target-api-base]) with the
    target's sign-in: an Entra app for Graph, a service account for Google."""
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
    return src, dst


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


def default_export_dir(state: str) -> Path:
    """``skylift-export`` beside a state file; in the current folder for a database URL."""
    if "://" in state:
        return Path("skylift-export")
    return Path(state).resolve().parent / "skylift-export"
