"""How ``notify`` signs in to its SMTP relay: none, a password, or XOAUTH2 with app-only tokens.

The options live here so ``cli/notices.py`` only lists them. XOAUTH2 reuses the target
side's OAuth2 vocabulary of ``migrate`` (``--target-oauth-*``): Microsoft 365 with an Entra
app holding ``SMTP.SendAsApp`` (the token is for Exchange Online, as for IMAP), or Google
Workspace with a service account that impersonates the sending mailbox. The token
endpoint is trusted with ``--smtp-ca``, as each side's CA is trusted for its tokens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from skylift.cli.cloud import (
    Side,
    TargetAuthority,
    TargetCertificate,
    TargetClientId,
    TargetSecretFile,
    TargetServiceAccount,
    TargetTenant,
)
from skylift.cli.options import read_secret
from skylift.errors import ConfigError

AUTH_CHOICES = ("auto", "none", "password", "oauth2")

SmtpAuthOpt = Annotated[
    str,
    typer.Option(
        "--smtp-auth",
        help="none, password, oauth2 (XOAUTH2 with --target-oauth-*), or auto: password "
        "when --smtp-user is given, else none",
    ),
]
SmtpUserOpt = Annotated[
    str,
    typer.Option(
        "--smtp-user",
        help="Sign in as (XOAUTH2: the mailbox to send as; default --from)",
    ),
]
SmtpPasswordFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--smtp-password-file",
        help="File holding the --smtp-user password (else $SKYLIFT_SMTP_PASSWORD)",
    ),
]

#: the notify options the sign-in reads, by their parameter names
OAUTH_PARAMS = (
    "target_oauth_tenant", "target_oauth_client_id", "target_oauth_client_secret_file",
    "target_oauth_certificate", "target_oauth_authority", "target_oauth_service_account",
)  # fmt: skip

__all__ = [
    "SmtpAuthOpt",
    "SmtpPasswordFileOpt",
    "SmtpUserOpt",
    "TargetAuthority",
    "TargetCertificate",
    "TargetClientId",
    "TargetSecretFile",
    "TargetServiceAccount",
    "TargetTenant",
    "build_sender",
]


def build_sender(
    smtp: str,
    *,
    auth: str,
    user: str,
    sender: str,
    password_file: Path | None,
    ca_file: Path | None,
    allow_plaintext: bool,
    profile: Any,
    oauth: dict[str, Any],
) -> Any:
    """An SmtpSender for *smtp* with the chosen sign-in; every input checked before connecting."""
    from skylift.connectors.auth.oauth import SMTP_ROLES
    from skylift.connectors.endpoint import Endpoint
    from skylift.connectors.smtp import SmtpSender

    if auth not in AUTH_CHOICES:
        raise ConfigError(f"--smtp-auth {auth}: use one of {', '.join(AUTH_CHOICES)}")
    given_oauth = {k: v for k, v in oauth.items() if v}
    if auth == "auto":
        auth = "password" if user else "none"
    if given_oauth and auth != "oauth2":
        names = ", ".join("--" + k.replace("_", "-") for k in given_oauth)
        raise ConfigError(f"{names} sign in with XOAUTH2: add --smtp-auth oauth2")
    endpoint = Endpoint.parse(
        smtp, ca_file=str(ca_file) if ca_file else None, allow_plaintext=allow_plaintext
    )
    if auth == "none":
        if password_file is not None:
            raise ConfigError("--smtp-password-file needs --smtp-user")
        return SmtpSender(endpoint)
    if auth == "password":
        if not user:
            raise ConfigError("--smtp-auth password needs --smtp-user")
        password = read_secret("SKYLIFT_SMTP_PASSWORD", password_file, "SMTP password")
        if password is None:
            raise ConfigError(
                f"no password for --smtp-user {user}: --smtp-password-file or $SKYLIFT_SMTP_PASSWORD"
            )
        return SmtpSender(endpoint, user=user, password=password)
    if password_file is not None:
        raise ConfigError("--smtp-password-file is for --smtp-auth password, not oauth2")
    fields = {k.removeprefix("target_"): v for k, v in oauth.items()}
    side = Side("target", profile, **fields)
    if side.flavour() is None:
        raise ConfigError(
            "--smtp-auth oauth2 needs the app: --target-oauth-tenant and --target-oauth-client-id "
            "(Microsoft 365) or --target-oauth-service-account (Google Workspace)"
        )
    provider = side.provider(endpoint.ca_file, any_role=SMTP_ROLES)
    return SmtpSender(endpoint, user=user or sender, oauth=provider)
