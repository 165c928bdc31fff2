"""Profiles and app-only OAuth2 for ``migrate``, ``verify`` and ``auth check`` (issue 11).

The options live here, not in ``cli/mail.py``, so the mail commands only list them and call
:meth:`SignIn.from_options`. A side signs in with OAuth2 when an ``--*-oauth-*`` option is
given or its profile says so (``microsoft365``: Entra client credentials;
``google-workspace``: a service account with domain-wide delegation).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from skylift.connectors.auth.oauth import (
    EXCHANGE_SCOPE,
    GOOGLE_SCOPE,
    MAIL_ROLES,
    MICROSOFT_AUTHORITY,
    EntraTokens,
    GoogleTokens,
    PerMailboxAuthError,
    TokenProvider,
)
from skylift.connectors.endpoint import Endpoint
from skylift.engine.profiles import TargetProfile, load_profile
from skylift.errors import ConfigError
from skylift.model.account import MailboxPair, Secret
from skylift.runners.retry import call_with_retry

_HELP = "Profiles and app-only OAuth2"


def _opt(flag: str, help_text: str) -> Any:
    return typer.Option(flag, help=help_text, rich_help_panel=_HELP)


SourceProfile = Annotated[
    str | None, _opt("--source-profile", "microsoft365, google-workspace, generic-imap or a .toml")
]
TargetProfileOpt = Annotated[
    str | None, _opt("--target-profile", "microsoft365, google-workspace, generic-imap or a .toml")
]
SourceTenant = Annotated[str | None, _opt("--source-oauth-tenant", "Entra tenant (ID or domain)")]
TargetTenant = Annotated[str | None, _opt("--target-oauth-tenant", "Entra tenant (ID or domain)")]
SourceClientId = Annotated[str | None, _opt("--source-oauth-client-id", "Entra app (client) ID")]
TargetClientId = Annotated[str | None, _opt("--target-oauth-client-id", "Entra app (client) ID")]
SourceSecretFile = Annotated[
    Path | None, _opt("--source-oauth-client-secret-file", "File with the app's client secret")
]
TargetSecretFile = Annotated[
    Path | None, _opt("--target-oauth-client-secret-file", "File with the app's client secret")
]
SourceCertificate = Annotated[
    Path | None, _opt("--source-oauth-certificate", "PEM with the app's key and certificate")
]
TargetCertificate = Annotated[
    Path | None, _opt("--target-oauth-certificate", "PEM with the app's key and certificate")
]
SourceAuthority = Annotated[
    str | None, _opt("--source-oauth-authority", f"Entra authority (default {MICROSOFT_AUTHORITY})")
]
TargetAuthority = Annotated[
    str | None, _opt("--target-oauth-authority", f"Entra authority (default {MICROSOFT_AUTHORITY})")
]
SourceServiceAccount = Annotated[
    Path | None, _opt("--source-oauth-service-account", "Google service account key (JSON)")
]
TargetServiceAccount = Annotated[
    Path | None, _opt("--target-oauth-service-account", "Google service account key (JSON)")
]
ParallelOpt = Annotated[
    int | None, typer.Option("--parallel", min=1, help="Mailboxes at once (default 4 or profile)")
]
MaxConnectionsOpt = Annotated[
    int | None, typer.Option(min=1, help="Sessions per server (default 10 or profile)")
]

_FIELDS = (
    "profile", "oauth_tenant", "oauth_client_id", "oauth_client_secret_file",
    "oauth_certificate", "oauth_authority", "oauth_service_account",
)  # fmt: skip


@dataclass
class Side:
    """One side's profile and OAuth2 options, as given."""

    name: str
    profile: TargetProfile | None = None
    oauth_tenant: str | None = None
    oauth_client_id: str | None = None
    oauth_client_secret_file: Path | None = None
    oauth_certificate: Path | None = None
    oauth_authority: str | None = None
    oauth_service_account: Path | None = None

    def url(self, given: str | None, *, pop3: bool = False) -> str:
        """The server URL: ``--source``/``--target`` if given, else the profile's."""
        if given:
            return given
        access = self.profile.mail if self.profile else None
        url = (access.pop3 if pop3 else access.imap) if access else ""
        if not url:
            why = f" (profile {self.profile.name} names no server)" if self.profile else ""
            raise ConfigError(
                f"say where the {self.name} is: --{self.name} URL or --{self.name}-profile{why}"
            )
        return url

    def flavour(self) -> str | None:
        if self.oauth_service_account is not None:
            return "oauth2-google"
        if any(
            (self.oauth_tenant, self.oauth_client_id, self.oauth_client_secret_file,
             self.oauth_certificate, self.oauth_authority)
        ):  # fmt: skip
            return "oauth2-microsoft"
        auth = self.profile.mail.auth if self.profile else "password"
        return auth if auth.startswith("oauth2") else None

    def provider(
        self, ca_file: str | None, any_role: tuple[str, ...] = MAIL_ROLES
    ) -> TokenProvider | None:
        """The token provider for this side, or None for password logins; *any_role*: the
        Exchange Online permissions of which the token must carry one (IMAP/POP, or
        SMTP.SendAsApp)."""
        flavour = self.flavour()
        if flavour is None:
            return None
        side = self.name
        if flavour == "oauth2-google":
            if self.oauth_service_account is None:
                raise ConfigError(
                    f"profile {self.profile.name if self.profile else ''} signs in with a Google "
                    f"service account: give --{side}-oauth-service-account KEY.json"
                )
            scope = (self.profile.mail.oauth_scope if self.profile else "") or GOOGLE_SCOPE
            return GoogleTokens(side, self.oauth_service_account, scope=scope, ca_file=ca_file)
        return self.entra(ca_file, any_role=any_role)

    def entra(
        self,
        ca_file: str | None,
        scope: str = EXCHANGE_SCOPE,
        roles: tuple[str, ...] = (),
        any_role: tuple[str, ...] = MAIL_ROLES,
    ) -> EntraTokens:
        """The Entra app's client-credentials tokens for *scope* (Exchange's, or Graph's with
        the application permissions *roles* checked)."""
        side = self.name
        if not (self.oauth_tenant and self.oauth_client_id):
            raise ConfigError(
                f"app-only sign-in to Microsoft 365 needs --{side}-oauth-tenant and "
                f"--{side}-oauth-client-id, and a secret (SKYLIFT_{side.upper()}_OAUTH_CLIENT_SECRET "
                f"or --{side}-oauth-client-secret-file) or --{side}-oauth-certificate"
            )
        return EntraTokens(
            side, self.oauth_tenant, self.oauth_client_id,
            secret=self._secret(), certificate=self.oauth_certificate,
            authority=self.oauth_authority or MICROSOFT_AUTHORITY, ca_file=ca_file,
            scope=scope, roles=roles, any_role=any_role,
        )  # fmt: skip

    def _secret(self) -> Secret | None:
        if self.oauth_client_secret_file is not None:
            try:
                text = self.oauth_client_secret_file.read_text().strip()
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(
                    f"cannot read --{self.name}-oauth-client-secret-file "
                    f"{self.oauth_client_secret_file}: {getattr(exc, 'strerror', exc)}"
                ) from None
            if not text:
                raise ConfigError(f"{self.oauth_client_secret_file} is empty")
            return Secret(text)
        value = os.environ.get(f"SKYLIFT_{self.name.upper()}_OAUTH_CLIENT_SECRET")
        return Secret(value) if value else None

    def attach(self, endpoint: Endpoint) -> Endpoint:
        """*endpoint* with this side's token provider (its CA also trusted for tokens)."""
        provider = self.provider(endpoint.ca_file)
        return dataclasses.replace(endpoint, oauth=provider) if provider else endpoint


@dataclass
class SignIn:
    source: Side
    target: Side

    @classmethod
    def from_options(cls, values: dict[str, Any]) -> SignIn:
        """Build both sides from a command's ``locals()`` (only the options above are read)."""
        sides = []
        for side in ("source", "target"):
            given = {f: values.get(f"{side}_{f}") for f in _FIELDS}
            name = given.pop("profile")
            profile = load_profile(name) if name else None
            sides.append(Side(side, profile, **given))
        return cls(*sides)

    def default(self, key: str, given: int | None, fallback: int) -> int:
        """--parallel/--max-connections: as given, else the target's then the source's profile."""
        if given is not None:
            return given
        for side in (self.target, self.source):
            value = getattr(side.profile.mail, key) if side.profile else None
            if value:
                return int(value)
        return fallback

    def tenant_connections(self) -> tuple[int | None, int | None]:
        """Each side's profile cap on sessions per tenant (all mailboxes together)."""
        return (
            self.source.profile.mail.tenant_connections if self.source.profile else None,
            self.target.profile.mail.tenant_connections if self.target.profile else None,
        )

    def daily_budget(self) -> int | None:
        """The target profile's bytes per user per day (ingest_bytes_per_day): the default
        of --daily-budget."""
        if self.target.profile is None:
            return None
        value = self.target.profile.value("ingest_bytes_per_day")
        return int(value) if value else None

    def max_size(self) -> int | None:
        """The target profile's largest message, as the default of --max-size."""
        if self.target.profile is None:
            return None
        value = self.target.profile.value("max_item_bytes")
        return int(value) if value else None


def preflight(endpoints: tuple[Endpoint, ...], pairs: list[MailboxPair]) -> None:
    """Mint one token per OAuth side before the run, so a wrong tenant, missing consent or a
    skewed clock is one line, not one failure per mailbox. A refusal that concerns one user
    only (Google: no such user) is left to that mailbox."""
    if not pairs:
        return
    for index, endpoint in enumerate(endpoints):
        if endpoint.oauth is None:
            continue
        pair = pairs[0]
        user = pair.source.user if index == 0 else pair.target.user
        provider = endpoint.oauth
        with contextlib.suppress(PerMailboxAuthError):
            # A throttled token endpoint says how long to wait: the one retry rule waits it.
            call_with_retry(functools.partial(provider.token, user), "token request", attempts=4)
