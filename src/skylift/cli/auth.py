"""``skylift auth check``: can skylift sign in, app-only, to the first mailboxes of a users CSV?

Before a migration an admin wants to know, per mailbox, whether the app registration (or
service account) works and, if not, which PowerShell / Admin console step is missing. This
mints a token per side, logs in to the first N mailboxes read-only and says what to fix.
Exit 0 when every check passed, 3 when one failed (the run's convention).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from skylift.cli import cloud
from skylift.cli.common import envelope, print_json
from skylift.cli.mail_sides import endpoint, load_pairs
from skylift.cli.options import DEFAULT_TIMEOUT, JsonOpt, SourceCaOpt, TargetCaOpt, TimeoutOpt
from skylift.connectors import mail_connector
from skylift.connectors.auth.oauth import PerMailboxAuthError
from skylift.connectors.endpoint import Endpoint
from skylift.errors import EXIT_CONNECT, EXIT_OK, ConfigError, SkyliftError
from skylift.model.account import Login


def _split(message: str) -> tuple[str, str]:
    detail, _, fix = message.partition("; fix: ")
    if not fix and ": in " in detail:  # token refusals carry the step after the reason
        return detail, ""
    return detail, fix


def _check_side(side: str, ep: Endpoint, logins: list[Login]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    if ep.oauth is not None:
        try:
            ep.oauth.token(logins[0].user)
            rows.append({"side": side, "mailbox": None, "check": "token", "ok": True,
                         "detail": f"{ep.oauth.describe()}: token minted", "fix": ""})  # fmt: skip
        except SkyliftError as exc:
            rows.append({"side": side, "mailbox": None, "check": "token", "ok": False,
                         "detail": str(exc), "fix": ""})  # fmt: skip
            if not isinstance(exc, PerMailboxAuthError):
                return rows
    connector = mail_connector(ep)
    for login in logins:
        row: dict[str, Any] = {"side": side, "mailbox": login.user, "check": "login"}
        try:
            with connector.open_source(login) as box:
                count = len(box.folders())
            row.update(ok=True, detail=f"logged in; {count} folders", fix="")
        except SkyliftError as exc:
            detail, fix = _split(str(exc))
            row.update(ok=False, detail=detail, fix=fix)
        rows.append(row)
    return rows


def check(
    users: Annotated[Path, typer.Option("--users", help="The users CSV of the migration")],
    source: Annotated[str | None, typer.Option(help="Source URL (or --source-profile)")] = None,
    target: Annotated[str | None, typer.Option(help="Target URL (or --target-profile)")] = None,
    first: Annotated[int, typer.Option(min=1, help="Check the first N mailboxes")] = 5,
    json_out: JsonOpt = False,
    source_ca: SourceCaOpt = None,
    target_ca: TargetCaOpt = None,
    timeout: TimeoutOpt = DEFAULT_TIMEOUT,
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
    """Mint a token per side, log in to the first N mailboxes, say what to fix."""
    sign_in = cloud.SignIn.from_options(locals())
    sides: list[tuple[str, Endpoint]] = []
    for side, url, ca in (("source", source, source_ca), ("target", target, target_ca)):
        chosen: cloud.Side = getattr(sign_in, side)
        if url is None and chosen.profile is None:
            continue
        ep = endpoint(chosen.url(url), ca, False, False, timeout)
        sides.append((side, chosen.attach(ep)))
    if not sides:
        raise ConfigError(
            "say which side to check: --source/--source-profile, --target/--target-profile"
        )
    # Password columns are optional here: a side without a token just reports the refusal.
    pairs = load_pairs(users, None, None, None, None, None, (True, True))[:first]
    rows: list[dict[str, Any]] = []
    for side, ep in sides:
        logins = [p.source if side == "source" else p.target for p in pairs]
        rows += _check_side(side, ep, logins)
    ok = all(r["ok"] for r in rows)
    if json_out:
        totals = {"checks": len(rows), "ok": sum(bool(r["ok"]) for r in rows)}
        totals["failed"] = totals["checks"] - totals["ok"]
        print_json(envelope("auth check", totals, rows, ok=ok))
    else:
        for r in rows:
            mark = "ok  " if r["ok"] else "FAIL"
            who = r["mailbox"] or "(token)"
            print(f"{mark} {r['side']:6} {who}: {r['detail']}")
            if r["fix"]:
                print(f"       fix: {r['fix']}")
        print("all checks passed" if ok else "some checks failed", file=sys.stderr)
    return EXIT_OK if ok else EXIT_CONNECT


def register(app: typer.Typer) -> None:
    """Add ``auth check``."""
    group = typer.Typer(help="Check app-only sign-in before a migration.", no_args_is_help=True)
    group.command("check")(check)
    app.add_typer(group, name="auth")
